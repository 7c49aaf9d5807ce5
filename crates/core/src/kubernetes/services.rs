//! Services: one ClusterIP Service per compose service that publishes, exposes or routes a port,
//! named after the service so that the names other services use (`db:5432`) resolve as on a
//! compose network. Every published, exposed or routed container port is a port of it; the
//! Service port is the *container* port (what other services dial on a compose network).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec as K8sServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::metadata::Meta;
use super::names::dns_label;
use super::warning::{MappingWarning, WarningKind};
use crate::stack::ServiceSpec;

/// The container ports of a service as `(port, protocol)`, sorted and deduplicated.
pub fn container_ports(
    svc: &ServiceSpec,
    route_port: Option<u16>,
    warnings: &mut Vec<MappingWarning>,
) -> BTreeSet<(u16, String)> {
    let mut out = BTreeSet::new();
    for p in &svc.ports {
        out.insert((p.target, p.protocol.to_ascii_uppercase()));
        if let Some(published) = p.published.as_deref().filter(|s| !s.is_empty() && *s != "0") {
            warnings.push(MappingWarning::service(
                &svc.name,
                format!("ports[{published}:{}]", p.target),
                WarningKind::Approximated,
                format!(
                    "a host port has no meaning in a cluster: the Service answers at {}:{} inside it; reach it from outside through the Ingress (Traefik labels) or a LoadBalancer Service",
                    dns_label(&svc.name),
                    p.target
                ),
            ));
        }
    }
    for e in &svc.host.expose {
        let (ports, proto) = match e.split_once('/') {
            Some((p, proto)) => (p, proto.to_ascii_uppercase()),
            None => (e.as_str(), "TCP".to_string()),
        };
        let (lo, hi) = match ports.split_once('-') {
            Some((a, b)) => (a.parse::<u16>().ok(), b.parse::<u16>().ok()),
            None => (ports.parse().ok(), ports.parse().ok()),
        };
        match (lo, hi) {
            (Some(lo), Some(hi)) if lo <= hi && hi - lo < 100 => {
                for p in lo..=hi {
                    out.insert((p, proto.clone()));
                }
            }
            _ => warnings.push(MappingWarning::service(
                &svc.name,
                format!("expose[{e}]"),
                WarningKind::Dropped,
                "not a port or a range of at most 100 ports",
            )),
        }
    }
    if let Some(p) = route_port.filter(|p| *p != 0) {
        out.insert((p, "TCP".to_string()));
    }
    out
}

/// The Service of a compose service, `None` without ports.
pub fn service(meta: &Meta, svc: &ServiceSpec, ports: &BTreeSet<(u16, String)>) -> Option<Service> {
    if ports.is_empty() {
        return None;
    }
    let ports = ports
        .iter()
        .map(|(port, proto)| ServicePort {
            name: Some(format!("{}-{port}", proto.to_ascii_lowercase())),
            port: i32::from(*port),
            target_port: Some(IntOrString::Int(i32::from(*port))),
            protocol: Some(proto.clone()),
            ..Default::default()
        })
        .collect();
    Some(Service {
        metadata: meta.object(&dns_label(&svc.name), meta.labels(Some(&svc.name), None)),
        spec: Some(K8sServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(meta.selector_labels(&svc.name)),
            ports: Some(ports),
            ..Default::default()
        }),
        ..Default::default()
    })
}
