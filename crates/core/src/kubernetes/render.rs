//! `render`: a `StackSpec` to Kubernetes objects. Services are taken in dependency order; the
//! objects come out grouped by kind (Secrets, ConfigMaps, PVCs, Services, Jobs, Deployments,
//! routing), in dependency order within a kind, so the stream is the same on every run.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::KubernetesError;
use super::ingress::IngressKind;
use super::metadata::Meta;
use super::warning::MappingWarning;
use super::workloads::PodParts;
use super::{config, ingress, jobs, services, storage, unmapped, workloads};
use crate::deploy::{dependency_order, is_oneoff};
use crate::route::RouteSpec;
use crate::stack::StackSpec;

pub use super::storage::DEFAULT_VOLUME_SIZE;

/// Options of a render (builder style).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RenderOptions {
    /// `metadata.namespace` of every object (`None`: the namespace of the context at apply time).
    pub namespace: Option<String>,
    /// Ingress or Traefik IngressRoute.
    pub ingress: IngressKind,
    /// `spec.ingressClassName` of Ingress objects (default `traefik`, the labels' controller).
    pub ingress_class: Option<String>,
    /// Keys that cannot map are an error rather than warnings.
    pub strict: bool,
    /// Variables for top-level secrets with `environment:` (the process environment, usually).
    pub environment: BTreeMap<String, String>,
}

impl RenderOptions {
    /// Defaults: no namespace, Ingress objects of class `traefik`, warnings not errors.
    pub fn new() -> Self {
        Self::default()
    }
    /// Set the namespace.
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }
    /// Pick the routing object.
    pub fn ingress(mut self, kind: IngressKind) -> Self {
        self.ingress = kind;
        self
    }
    /// Set the ingress class.
    pub fn ingress_class(mut self, class: impl Into<String>) -> Self {
        self.ingress_class = Some(class.into());
        self
    }
    /// Make unmappable keys errors.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
    /// Variables for `environment:` secrets.
    pub fn environment(mut self, env: BTreeMap<String, String>) -> Self {
        self.environment = env;
        self
    }
}

/// One rendered object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Manifest {
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// The compose service it comes from (`None` for project-wide objects).
    pub service: Option<String>,
    /// The whole object, `apiVersion` and `kind` included.
    #[serde(skip)]
    pub body: serde_json::Value,
}

/// The result of a render.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Rendered {
    /// The objects, in apply order.
    pub objects: Vec<Manifest>,
    /// Keys that did not map as written (empty with `strict`).
    pub warnings: Vec<MappingWarning>,
    /// Services in dependency order, with whether each is a one-off Job.
    pub order: Vec<(String, bool)>,
}

impl Manifest {
    /// A manifest from its parts (for streams read back from a record).
    pub fn new(kind: String, name: String, service: Option<String>, body: serde_json::Value) -> Self {
        Manifest { kind, name, service, body }
    }
}

impl Rendered {
    /// The multi-document YAML stream.
    pub fn to_yaml(&self) -> String {
        super::yaml::to_yaml_stream(self.objects.iter().map(|m| &m.body))
    }
}

const KIND_ORDER: [&str; 9] = [
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Service",
    "Job",
    "StatefulSet",
    "Deployment",
    "Ingress",
    "IngressRoute",
];

fn push<T: Serialize>(
    out: &mut Vec<Manifest>,
    kind: &str,
    name: &str,
    service: Option<&str>,
    obj: &T,
) -> Result<(), KubernetesError> {
    let body = serde_json::to_value(obj).map_err(|source| KubernetesError::Serialise {
        kind: kind.into(),
        name: name.into(),
        source,
    })?;
    out.push(Manifest { kind: kind.into(), name: name.into(), service: service.map(String::from), body });
    Ok(())
}

/// Render a stack. Errors: a service without an image, a secret whose source cannot be read, a
/// dependency cycle, invalid Traefik labels, and with `strict` any key that cannot map.
pub fn render(stack: &StackSpec, opts: &RenderOptions) -> Result<Rendered, KubernetesError> {
    let meta = Meta { project: stack.name.clone(), namespace: opts.namespace.clone() };
    let mut warnings = Vec::new();
    let mut out = Vec::new();
    unmapped::stack_keys(stack, &mut warnings);
    let order = dependency_order(stack).map_err(|e| KubernetesError::Order(Box::new(e)))?;
    let mut claimed = BTreeSet::new();
    let mut used_secrets = BTreeSet::new();
    let mut used_configs = BTreeSet::new();
    let class = opts.ingress_class.clone().unwrap_or_else(|| "traefik".into());
    let mut order_out = Vec::new();
    for name in &order {
        let Some(svc) = stack.services.get(name) else { continue };
        let image = svc.image.clone().ok_or_else(|| KubernetesError::MissingImage { service: name.clone() })?;
        let oneoff = is_oneoff(stack, name);
        order_out.push((name.clone(), oneoff));
        unmapped::service_keys(svc, oneoff, &mut warnings);
        let env = config::env_objects(&meta, svc, &mut warnings);
        let mut hasher = Sha256::new();
        hasher.update(serde_json::to_vec(&svc.environment).unwrap_or_default());
        let mut st = storage::service_storage(stack, svc, &mut warnings);
        for (secret, mounts, table) in [(true, &svc.secrets, &stack.secrets), (false, &svc.configs, &stack.configs)] {
            for (i, m) in mounts.iter().enumerate() {
                let Some(spec) = table.get(&m.source) else { continue };
                let bytes =
                    config::content(if secret { "secret" } else { "config" }, &m.source, spec, &opts.environment)?;
                hasher.update(bytes.as_deref().unwrap_or_default());
                if secret {
                    used_secrets.insert(m.source.clone());
                } else {
                    used_configs.insert(m.source.clone());
                }
                let (v, vm) = config::file_mount(secret, i, m, spec);
                st.volumes.push(v);
                st.mounts.push(vm);
            }
        }
        if let Some(cm) = &env.config_map {
            push(&mut out, "ConfigMap", cm.metadata.name.as_deref().unwrap_or_default(), Some(name), cm)?;
        }
        if let Some(s) = &env.secret {
            push(&mut out, "Secret", s.metadata.name.as_deref().unwrap_or_default(), Some(name), s)?;
        }
        let named_volume = !st.claimed.is_empty();
        claimed.extend(st.claimed.iter().cloned());
        let parts = PodParts {
            volumes: st.volumes,
            mounts: st.mounts,
            env_from: env.env_from,
            config_hash: hex::encode(hasher.finalize())[..16].to_string(),
            restart_policy: oneoff.then(|| "Never".to_string()),
        };
        let template = workloads::pod_template(&meta, svc, &image, parts, &mut warnings);
        if oneoff {
            let job = jobs::job(&meta, svc, template)?;
            push(&mut out, "Job", job.metadata.name.as_deref().unwrap_or_default(), Some(name), &job)?;
            continue;
        }
        let d = workloads::deployment(&meta, svc, template, named_volume, &mut warnings);
        push(&mut out, "Deployment", d.metadata.name.as_deref().unwrap_or_default(), Some(name), &d)?;
        let route = RouteSpec::from_service(&stack.name, svc)
            .map_err(|e| KubernetesError::Route { service: name.clone(), source: Box::new(e) })?;
        let ports = services::container_ports(svc, route.as_ref().map(|r| r.port), &mut warnings);
        if let Some(s) = services::service(&meta, svc, &ports) {
            push(&mut out, "Service", s.metadata.name.as_deref().unwrap_or_default(), Some(name), &s)?;
        } else if stack.services.values().any(|o| o.depends_on.contains_key(name)) {
            warnings.push(MappingWarning::service(
                name,
                "expose",
                super::warning::WarningKind::Dropped,
                "other services depend on it but it declares no port, so no Service gives it a DNS name; add expose: [PORT]",
            ));
        }
        if let Some(route) = route {
            match opts.ingress {
                IngressKind::Ingress => {
                    for ing in ingress::ingresses(&meta, &route, Some(&class), &mut warnings) {
                        push(&mut out, "Ingress", ing.metadata.name.as_deref().unwrap_or_default(), Some(name), &ing)?;
                    }
                }
                IngressKind::Traefik => {
                    for body in ingress::ingress_routes(&meta, &route, &mut warnings) {
                        let n = body["metadata"]["name"].as_str().unwrap_or_default().to_string();
                        out.push(Manifest { kind: "IngressRoute".into(), name: n, service: Some(name.clone()), body });
                    }
                }
            }
        }
    }
    for key in &claimed {
        if let Some(pvc) = storage::claim(&meta, stack, key, &mut warnings) {
            push(&mut out, "PersistentVolumeClaim", pvc.metadata.name.as_deref().unwrap_or_default(), None, &pvc)?;
        }
    }
    for key in &used_secrets {
        let Some(spec) = stack.secrets.get(key) else { continue };
        if let Some(bytes) = config::content("secret", key, spec, &opts.environment)? {
            let s = config::secret_object(&meta, spec, bytes);
            push(&mut out, "Secret", s.metadata.name.as_deref().unwrap_or_default(), None, &s)?;
        }
    }
    for key in &used_configs {
        let Some(spec) = stack.configs.get(key) else { continue };
        if let Some(bytes) = config::content("config", key, spec, &opts.environment)? {
            let c = config::config_object(&meta, spec, bytes);
            push(&mut out, "ConfigMap", c.metadata.name.as_deref().unwrap_or_default(), None, &c)?;
        }
    }
    out.sort_by_key(|m| KIND_ORDER.iter().position(|k| *k == m.kind).unwrap_or(KIND_ORDER.len()));
    warnings.sort();
    warnings.dedup();
    if opts.strict && !warnings.is_empty() {
        return Err(KubernetesError::Unmappable { warnings });
    }
    Ok(Rendered { objects: out, warnings, order: order_out })
}
