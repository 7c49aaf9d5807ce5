//! Routing from the Traefik labels (read by the route room's `RouteSpec`): one Ingress per
//! router (Host and Path/PathPrefix rules, TLS hosts, entry points and certresolver as Traefik's
//! `traefik.ingress.kubernetes.io/*` annotations), or with [`IngressKind::Traefik`] one Traefik
//! `IngressRoute` per router, the rule passed through as written.

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend, IngressSpec,
    IngressTLS, ServiceBackendPort,
};
use serde_json::json;

use super::metadata::Meta;
use super::names::{dns_label, suffixed};
use super::warning::{MappingWarning, WarningKind};
use crate::route::{RouteSpec, RouterRule};

/// Which routing object to render.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IngressKind {
    /// `networking.k8s.io/v1` Ingress (any controller; Traefik reads the annotations).
    #[default]
    Ingress,
    /// Traefik's own `traefik.io/v1alpha1` IngressRoute (its CRDs must be installed).
    Traefik,
}

/// One host (or none) with one path and its `pathType` (or none) of a parsed rule.
pub type RulePart = (Option<String>, Option<(String, &'static str)>);

const ANNOTATION: &str = "traefik.ingress.kubernetes.io/router";

/// `(hosts, paths)` of a rule: `Host(`a`) || Host(`b`) && PathPrefix(`/x`)`; `None` when the
/// rule uses other matchers or grouping, which an Ingress cannot say.
pub fn parse_rule(rule: &str) -> Option<Vec<RulePart>> {
    let mut out = Vec::new();
    for alt in rule.split("||") {
        let mut hosts: Vec<String> = Vec::new();
        let mut path: Option<(String, &'static str)> = None;
        for term in alt.split("&&") {
            let term = term.trim();
            let (name, args) = term.split_once('(')?;
            let args = args.strip_suffix(')')?;
            let values: Vec<String> =
                args.split(',').map(|a| a.trim().trim_matches('`').trim_matches('"').to_string()).collect();
            if values.iter().any(|v| v.is_empty() || v.contains(['(', ')', '`'])) {
                return None;
            }
            match name.trim() {
                "Host" => hosts.extend(values),
                "PathPrefix" if values.len() == 1 && path.is_none() => path = Some((values[0].clone(), "Prefix")),
                "Path" if values.len() == 1 && path.is_none() => path = Some((values[0].clone(), "Exact")),
                _ => return None,
            }
        }
        if hosts.is_empty() {
            out.push((None, path));
        } else {
            out.extend(hosts.into_iter().map(|h| (Some(h), path.clone())));
        }
    }
    Some(out)
}

fn router_annotations(r: &RouterRule, warnings: &mut Vec<MappingWarning>, service: &str) -> Vec<(String, String)> {
    let mut a = Vec::new();
    if !r.entrypoints.is_empty() {
        a.push((format!("{ANNOTATION}.entrypoints"), r.entrypoints.join(",")));
    }
    if let Some(tls) = &r.tls {
        a.push((format!("{ANNOTATION}.tls"), "true".into()));
        if let Some(cr) = &tls.cert_resolver {
            a.push((format!("{ANNOTATION}.tls.certresolver"), cr.clone()));
        }
        if let Some(o) = &tls.options {
            a.push((format!("{ANNOTATION}.tls.options"), o.clone()));
        }
    }
    if let Some(p) = r.priority {
        a.push((format!("{ANNOTATION}.priority"), p.to_string()));
    }
    if !r.middlewares.is_empty() {
        warnings.push(MappingWarning::service(
            service,
            format!("traefik.http.routers.{}.middlewares", r.name),
            WarningKind::Dropped,
            "Docker-provider middlewares do not exist in a cluster; declare them as Traefik Middleware objects and set traefik.ingress.kubernetes.io/router.middlewares",
        ));
    }
    a
}

/// The Ingress objects of a routed service.
pub fn ingresses(
    meta: &Meta,
    route: &RouteSpec,
    class: Option<&str>,
    warnings: &mut Vec<MappingWarning>,
) -> Vec<Ingress> {
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: dns_label(&route.service),
            port: Some(ServiceBackendPort { number: Some(i32::from(route.port)), name: None }),
        }),
        resource: None,
    };
    let mut out = Vec::new();
    for r in &route.routers {
        let Some(parts) = parse_rule(&r.rule) else {
            warnings.push(MappingWarning::service(
                &route.service,
                format!("traefik.http.routers.{}.rule", r.name),
                WarningKind::Dropped,
                format!(
                    "{}: an Ingress takes Host and Path/PathPrefix only; use --ingress traefik for an IngressRoute",
                    r.rule
                ),
            ));
            continue;
        };
        let mut rules: Vec<IngressRule> = Vec::new();
        for (host, path) in parts {
            let (path, path_type) = path.unwrap_or_else(|| ("/".into(), "Prefix"));
            let p = HTTPIngressPath { path: Some(path), path_type: path_type.into(), backend: backend.clone() };
            match rules.iter_mut().find(|x| x.host == host) {
                Some(existing) => existing.http.get_or_insert_with(Default::default).paths.push(p),
                None => rules.push(IngressRule { host, http: Some(HTTPIngressRuleValue { paths: vec![p] }) }),
            }
        }
        let hosts: Vec<String> = rules.iter().filter_map(|x| x.host.clone()).collect();
        let tls =
            (r.tls.is_some() && !hosts.is_empty()).then(|| vec![IngressTLS { hosts: Some(hosts), secret_name: None }]);
        let mut metadata =
            meta.object(&suffixed(&route.service, &dns_label(&r.name)), meta.labels(Some(&route.service), None));
        let ann = router_annotations(r, warnings, &route.service);
        if !ann.is_empty() {
            metadata.annotations = Some(ann.into_iter().collect());
        }
        out.push(Ingress {
            metadata,
            spec: Some(IngressSpec {
                ingress_class_name: class.map(String::from),
                rules: Some(rules),
                tls,
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    out
}

/// The Traefik IngressRoute objects of a routed service (JSON: a CRD has no k8s-openapi type).
pub fn ingress_routes(meta: &Meta, route: &RouteSpec, warnings: &mut Vec<MappingWarning>) -> Vec<serde_json::Value> {
    route
        .routers
        .iter()
        .map(|r| {
            let mut route_obj = json!({
                "kind": "Rule",
                "match": r.rule,
                "services": [{"name": dns_label(&route.service), "port": route.port}],
            });
            if let Some(p) = r.priority {
                route_obj["priority"] = json!(p);
            }
            if !r.middlewares.is_empty() {
                warnings.push(MappingWarning::service(
                    &route.service,
                    format!("traefik.http.routers.{}.middlewares", r.name),
                    WarningKind::Approximated,
                    "referenced by name: declare the Middleware objects in the namespace",
                ));
                let m: Vec<_> =
                    r.middlewares.iter().map(|m| json!({"name": m.split('@').next().unwrap_or(m)})).collect();
                route_obj["middlewares"] = json!(m);
            }
            let mut spec = json!({"routes": [route_obj]});
            if !r.entrypoints.is_empty() {
                spec["entryPoints"] = json!(r.entrypoints);
            }
            if let Some(tls) = &r.tls {
                let mut t = json!({});
                if let Some(cr) = &tls.cert_resolver {
                    t["certResolver"] = json!(cr);
                }
                if let Some(o) = &tls.options {
                    t["options"] = json!({"name": o});
                }
                spec["tls"] = t;
            }
            let metadata =
                meta.object(&suffixed(&route.service, &dns_label(&r.name)), meta.labels(Some(&route.service), None));
            json!({"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute", "metadata": metadata, "spec": spec})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_path_rules_parse_and_others_do_not() {
        let p = parse_rule("Host(`a.example.com`) || Host(`b.example.com`) && PathPrefix(`/api`)").expect("parsed");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0], (Some("a.example.com".into()), None));
        assert_eq!(p[1], (Some("b.example.com".into()), Some(("/api".into(), "Prefix"))));
        assert!(parse_rule("HostRegexp(`{x:.+}`)").is_none());
        assert!(parse_rule("Host(`a`) && (Path(`/a`) || Path(`/b`))").is_none());
    }
}
