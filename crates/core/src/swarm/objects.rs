//! Swarm objects a release needs besides services: overlay networks (attachable where asked,
//! external ones checked), and secrets and configs created under content-derived names, so a
//! changed content is a new object and the services using it roll (rotation per release). Their
//! values are read on the operator's machine and sent only in the create call: never logged,
//! labelled or recorded.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use bollard::models::{ConfigSpec, NetworkCreateRequest, SecretSpec};
use bollard::query_parameters::{ListConfigsOptions, ListSecretsOptions};
use bollard::Docker;
use sha2::{Digest as _, Sha256};

use super::convert::{ObjectNames, STACK_NAMESPACE};
use super::error::SwarmError;
use crate::deploy::labels;
use crate::stack::{FileObjectSource, FileObjectSpec, StackSpec};

/// Label on slipway's secrets and configs: the compose key.
pub const OBJECT_KEY: &str = "dev.slipway.object";

/// `secret` or `config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A Swarm secret.
    Secret,
    /// A Swarm config.
    Config,
}

impl ObjectKind {
    fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Secret => "secret",
            ObjectKind::Config => "config",
        }
    }
}

/// The Swarm name of an object with this content: `<project>_<key>-<12 hex>`, the hex a sha256 of
/// project, key and content (the name changes when the content does; it is no copy of it).
pub fn object_name(project: &str, key: &str, content: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"slipway-swarm-object\0");
    h.update(project.as_bytes());
    h.update(b"\0");
    h.update(key.as_bytes());
    h.update(b"\0");
    h.update(content);
    format!("{project}_{key}-{}", &hex::encode(h.finalize())[..12])
}

fn content(
    stack: &StackSpec,
    kind: ObjectKind,
    key: &str,
    spec: &FileObjectSpec,
) -> Result<Option<Vec<u8>>, SwarmError> {
    let err =
        |from: String, reason: String| SwarmError::ObjectContent { kind: kind.as_str(), key: key.into(), from, reason };
    match &spec.source {
        FileObjectSource::File(path) => {
            let p = std::path::Path::new(&stack.project_dir).join(path);
            std::fs::read(&p).map(Some).map_err(|e| err(p.display().to_string(), e.to_string()))
        }
        FileObjectSource::Environment(var) => std::env::var_os(var)
            .map(|v| Some(v.into_encoded_bytes()))
            .ok_or_else(|| err(format!("variable {var}"), "not set".into())),
        FileObjectSource::Content(text) => Ok(Some(text.clone().into_bytes())),
        FileObjectSource::External(_) => Ok(None),
    }
}

/// Read every secret and config the services use, work out their names, and create the missing
/// ones (labelled with project and key only). Returns the names by key.
pub async fn ensure_objects(docker: &Docker, stack: &StackSpec) -> Result<ObjectNames, SwarmError> {
    objects(docker, stack, true).await
}

/// The names [`ensure_objects`] would use, creating nothing (for a plan): objects that do not
/// exist yet have no id.
pub async fn object_names(docker: &Docker, stack: &StackSpec) -> Result<ObjectNames, SwarmError> {
    objects(docker, stack, false).await
}

async fn objects(docker: &Docker, stack: &StackSpec, create_missing: bool) -> Result<ObjectNames, SwarmError> {
    let mut names = ObjectNames::default();
    let used = |kind: ObjectKind, key: &str| {
        stack.services.values().any(|s| match kind {
            ObjectKind::Secret => s.secrets.iter().any(|m| m.source == key),
            ObjectKind::Config => s.configs.iter().any(|m| m.source == key),
        })
    };
    for (kind, objects) in [(ObjectKind::Secret, &stack.secrets), (ObjectKind::Config, &stack.configs)] {
        let mut existing = list_names(docker, kind, &stack.name).await?;
        for (key, spec) in objects.iter().filter(|(k, _)| used(kind, k)) {
            let name = match content(stack, kind, key, spec)? {
                None => {
                    let name = match &spec.source {
                        FileObjectSource::External(n) => n.clone(),
                        _ => spec.name.clone(),
                    };
                    names.ids.insert(name.clone(), external_id(docker, kind, &name).await?);
                    name
                }
                Some(bytes) => {
                    let name = object_name(&stack.name, key, &bytes);
                    if !existing.contains_key(&name) && !create_missing {
                        match kind {
                            ObjectKind::Secret => names.secrets.insert(key.clone(), name),
                            ObjectKind::Config => names.configs.insert(key.clone(), name),
                        };
                        continue;
                    }
                    if !existing.contains_key(&name) {
                        create(docker, kind, &stack.name, key, &name, &bytes).await?;
                        existing = list_names(docker, kind, &stack.name).await?;
                    }
                    let id = existing.get(&name).cloned().ok_or_else(|| SwarmError::ObjectContent {
                        kind: kind.as_str(),
                        key: key.clone(),
                        from: name.clone(),
                        reason: "created, but the Swarm does not list it".into(),
                    })?;
                    names.ids.insert(name.clone(), id);
                    name
                }
            };
            match kind {
                ObjectKind::Secret => names.secrets.insert(key.clone(), name),
                ObjectKind::Config => names.configs.insert(key.clone(), name),
            };
        }
    }
    Ok(names)
}

/// The id of an external secret or config (it must exist).
async fn external_id(docker: &Docker, kind: ObjectKind, name: &str) -> Result<String, SwarmError> {
    let found = match kind {
        ObjectKind::Secret => docker.inspect_secret(name).await.map(|s| s.id),
        ObjectKind::Config => docker.inspect_config(name).await.map(|c| c.id),
    };
    found.ok().flatten().ok_or_else(|| SwarmError::ObjectContent {
        kind: kind.as_str(),
        key: name.into(),
        from: "the Swarm".into(),
        reason: "external object does not exist".into(),
    })
}

fn object_labels(project: &str, key: &str) -> HashMap<String, String> {
    HashMap::from([
        (labels::PROJECT.to_string(), project.to_string()),
        (STACK_NAMESPACE.to_string(), project.to_string()),
        (OBJECT_KEY.to_string(), key.to_string()),
    ])
}

async fn create(
    docker: &Docker,
    kind: ObjectKind,
    project: &str,
    key: &str,
    name: &str,
    bytes: &[u8],
) -> Result<(), SwarmError> {
    let data = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
    let labels = Some(object_labels(project, key));
    let result = match kind {
        ObjectKind::Secret => docker
            .create_secret(SecretSpec { name: Some(name.into()), labels, data, ..Default::default() })
            .await
            .map(drop),
        ObjectKind::Config => docker
            .create_config(ConfigSpec { name: Some(name.into()), labels, data, ..Default::default() })
            .await
            .map(drop),
    };
    match result {
        Ok(()) => Ok(()),
        // Another operator created the same content meanwhile: same name, same bytes.
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
        Err(e) => {
            Err(SwarmError::engine(if kind == ObjectKind::Secret { "create secret" } else { "create config" }, name, e))
        }
    }
}

/// slipway's secrets or configs of `project` (release records excluded): name -> id.
pub async fn list_names(
    docker: &Docker,
    kind: ObjectKind,
    project: &str,
) -> Result<BTreeMap<String, String>, SwarmError> {
    let filters =
        HashMap::from([("label".to_string(), vec![format!("{}={project}", labels::PROJECT), OBJECT_KEY.to_string()])]);
    let pairs: Vec<(Option<String>, Option<String>)> = match kind {
        ObjectKind::Secret => docker
            .list_secrets(Some(ListSecretsOptions { filters: Some(filters) }))
            .await
            .map_err(|e| SwarmError::engine("list secrets of", project, e))?
            .into_iter()
            .map(|s| (s.spec.and_then(|s| s.name), s.id))
            .collect(),
        ObjectKind::Config => docker
            .list_configs(Some(ListConfigsOptions { filters: Some(filters) }))
            .await
            .map_err(|e| SwarmError::engine("list configs of", project, e))?
            .into_iter()
            .map(|s| (s.spec.and_then(|s| s.name), s.id))
            .collect(),
    };
    Ok(pairs.into_iter().filter_map(|(n, i)| Some((n?, i?))).collect())
}

/// Create the stack's overlay networks that are missing (attachable where asked); check that
/// external ones exist. Nothing is created when an external network is missing.
pub async fn ensure_networks(docker: &Docker, stack: &StackSpec) -> Result<(), SwarmError> {
    let used: std::collections::BTreeSet<&str> = stack
        .services
        .values()
        .flat_map(|s| {
            if s.networks.is_empty() && s.host.network_mode.is_none() {
                vec!["default"]
            } else {
                s.networks.keys().map(String::as_str).collect()
            }
        })
        .collect();
    let mut missing = Vec::new();
    for key in &used {
        let Some(net) = stack.networks.get(*key) else { continue };
        let exists =
            docker.inspect_network(&net.name, None::<bollard::query_parameters::InspectNetworkOptions>).await.is_ok();
        if net.external && !exists {
            return Err(SwarmError::Unsupported {
                project: stack.name.clone(),
                problems: vec![format!("network {key}: external network `{}` does not exist on the Swarm", net.name)],
            });
        }
        if !exists {
            missing.push(net);
        }
    }
    for net in missing {
        let mut labels: HashMap<String, String> = net.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        labels.insert(STACK_NAMESPACE.into(), stack.name.clone());
        labels.insert(labels::PROJECT.into(), stack.name.clone());
        let req = NetworkCreateRequest {
            name: net.name.clone(),
            driver: Some(net.driver.clone().unwrap_or_else(|| "overlay".into())),
            attachable: Some(net.attachable),
            internal: Some(net.internal),
            labels: Some(labels),
            options: (!net.driver_opts.is_empty())
                .then(|| net.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };
        docker.create_network(req).await.map_err(|e| SwarmError::engine("create network", &net.name, e))?;
    }
    Ok(())
}
