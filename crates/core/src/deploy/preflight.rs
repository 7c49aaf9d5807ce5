//! Preflight (remote room): what must already exist on the target host before a deploy changes
//! anything. A bind mount written in the long syntax (no `bind.create_host_path: true`) needs its
//! source on the target; the engine is asked, not the operator's disk, so a remote host is judged
//! by itself. The list of paths is a pure function of the stack; the check is one `create` per
//! path with an image id that cannot exist: the engine validates mounts before it looks up the
//! image, so "no such image" means the path is there and nothing was created.

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::Docker;

use super::error::DeployError;
use crate::stack::{FileObjectSource, MountKind, StackSpec};

/// An image id no engine holds: the create stops at the image lookup, after mount validation.
const NO_IMAGE: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// A bind source the target must already have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequiredPath {
    /// The service that mounts it.
    pub service: String,
    /// The host path.
    pub path: String,
    /// compose room: the `file:` secret or config it is the source of (`secret `NAME``).
    pub object: Option<String>,
}

/// The bind sources of `stack` the engine will not create (long syntax, no `create_host_path`).
pub(crate) fn required_paths(stack: &StackSpec) -> Vec<RequiredPath> {
    let mut out = Vec::new();
    for (name, svc) in &stack.services {
        for m in svc.volumes.iter().filter(|m| m.kind == MountKind::Bind && !m.create_host_path) {
            if let Some(path) = &m.source {
                out.push(RequiredPath { service: name.clone(), path: path.clone(), object: None });
            }
        }
        // compose room: `file:` secrets and configs are bind mounts of a path on the engine's host.
        let secrets = svc.secrets.iter().map(|m| ("secret", m, stack.secrets.get(&m.source)));
        let configs = svc.configs.iter().map(|m| ("config", m, stack.configs.get(&m.source)));
        for (kind, m, o) in secrets.chain(configs) {
            if let Some(FileObjectSource::File(path)) = o.map(|o| &o.source) {
                let object = Some(format!("{kind} `{}`", m.source));
                out.push(RequiredPath { service: name.clone(), path: path.clone(), object });
            }
        }
    }
    out
}

/// Every [`required_paths`] entry exists on the engine's host; else an error naming the service
/// and the path, before anything changed.
pub(crate) async fn check_bind_sources(docker: &Docker, stack: &StackSpec) -> Result<(), DeployError> {
    for req in required_paths(stack) {
        let mount = Mount {
            typ: Some(MountType::BIND),
            source: Some(req.path.clone()),
            target: Some("/slipway-preflight".into()),
            read_only: Some(true),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(NO_IMAGE.into()),
            host_config: Some(HostConfig { mounts: Some(vec![mount]), ..Default::default() }),
            ..Default::default()
        };
        match docker.create_container(None, body).await {
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 400, message }) => {
                return Err(DeployError::Invalid(match &req.object {
                    // As Compose: a `file:` secret or config is a bind mount of a path on the engine's host.
                    Some(object) => format!(
                        "service {}: the file {} of {object} does not exist on the engine's host ({message}); a \
                         `file:` source is mounted from there, as Compose does: put the file there, or use an \
                         `environment:` source, whose value is copied into the container",
                        req.service, req.path
                    ),
                    None => format!(
                        "service {}: the bind mount source {} does not exist on the target host ({message}); create \
                         it there, or write the mount in the short syntax or with `bind: create_host_path: true` to \
                         have it created empty",
                        req.service, req.path
                    ),
                }));
            }
            Err(source) => {
                return Err(DeployError::Engine { action: "checking bind mount source", target: req.path, source });
            }
            Ok(created) => {
                // Not expected (the image id cannot exist); leave nothing behind.
                let _ = docker.remove_container(&created.id, None).await;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{MountSpec, ServiceSpec};

    fn mount(kind: MountKind, source: &str, create: bool) -> MountSpec {
        let mut m: MountSpec = serde_json::from_value(serde_json::json!({
            "kind": "bind", "source": source, "target": "/t", "read_only": false
        }))
        .expect("mount");
        m.kind = kind;
        m.create_host_path = create;
        m
    }

    #[test]
    fn only_long_syntax_binds_must_exist() {
        let svc = ServiceSpec {
            volumes: vec![
                mount(MountKind::Bind, "/srv/conf", false),
                mount(MountKind::Bind, "/srv/created", true),
                mount(MountKind::Volume, "data", false),
            ],
            ..Default::default()
        };
        let mut stack = StackSpec::default();
        stack.services.insert("web".into(), svc);
        assert_eq!(
            required_paths(&stack),
            vec![RequiredPath { service: "web".into(), path: "/srv/conf".into(), object: None }]
        );
    }

    #[test]
    fn file_secrets_and_configs_must_exist_on_the_engine_host() {
        use crate::stack::{FileMountSpec, FileObjectSpec};
        let object = |source: FileObjectSource| FileObjectSpec { name: "n".into(), source, value: None };
        let mut stack = StackSpec::default();
        stack.secrets.insert("key".into(), object(FileObjectSource::File("/srv/key".into())));
        stack.secrets.insert("env".into(), object(FileObjectSource::Environment("TOKEN".into())));
        let svc = ServiceSpec {
            secrets: ["key", "env"]
                .iter()
                .map(|s| FileMountSpec {
                    source: (*s).into(),
                    target: format!("/run/secrets/{s}"),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        stack.services.insert("web".into(), svc);
        let want = RequiredPath { service: "web".into(), path: "/srv/key".into(), object: Some("secret `key`".into()) };
        assert_eq!(required_paths(&stack), vec![want], "the environment source is copied in, not mounted");
    }
}
