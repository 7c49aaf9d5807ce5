//! Secrets and configs whose content is not a file (`environment:`, `content:`) copied into a
//! created, not yet started container, as `docker compose up` does: one tar archive extracted at
//! `/` through the engine's archive API (so it works over `ssh://` and TLS alike), each entry at
//! the mount's target (`/run/secrets/NAME` or `/NAME` by default), mode `0444` unless `mode:`,
//! owner `uid`/`gid` as written, else the numeric `user:` of the service, else root. File-sourced
//! ones stay read-only bind mounts (`host.rs`), as Compose does on a plain engine.
//!
//! The contents are [`Secret`]s: a [`FileCopy`]'s `Debug` and every error name the target and the
//! object, never the value; the archive is built in memory and handed to the engine only.

use bollard::query_parameters::UploadToContainerOptions;
use bollard::Docker;

use crate::deploy::error::DeployError;
use crate::deploy::failure::FileObjectProblem;
use crate::secret::Secret;
use crate::stack::{FileMountSpec, FileObjectSource, ServiceSpec, StackSpec};

/// One file to put into the container before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCopy {
    /// `secret` or `config`.
    pub kind: &'static str,
    /// The key in the top-level `secrets:` / `configs:`.
    pub object: String,
    /// Absolute path in the container.
    pub target: String,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// The content (`None`: an `environment:` source whose variable is not set).
    pub content: Option<Secret>,
}

/// The mounts of `svc` whose content is copied in, in the order written (secrets, then configs).
pub fn file_copies(stack: &StackSpec, svc: &ServiceSpec) -> Vec<FileCopy> {
    let secrets = svc.secrets.iter().map(|m| ("secret", m, stack.secrets.get(&m.source)));
    let configs = svc.configs.iter().map(|m| ("config", m, stack.configs.get(&m.source)));
    secrets
        .chain(configs)
        .filter_map(|(kind, m, def)| {
            let def = def?;
            let content = match &def.source {
                FileObjectSource::Environment(_) => def.value.clone(),
                FileObjectSource::Content(c) => Some(Secret::new(c.clone())),
                _ => return None,
            };
            let (uid, gid) = owner(m, svc.user.as_deref());
            Some(FileCopy {
                kind,
                object: m.source.clone(),
                target: m.target.clone(),
                mode: m.mode.unwrap_or(0o444),
                uid,
                gid,
                content,
            })
        })
        .collect()
}

/// `uid`/`gid` as written, else the numeric parts of `user: UID[:GID]` (as Compose takes them),
/// else root.
fn owner(m: &FileMountSpec, user: Option<&str>) -> (u64, u64) {
    let mut parts = user.unwrap_or_default().splitn(2, ':');
    let from_user = (parts.next(), parts.next());
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<u64>().ok());
    let uid = num(m.uid.as_deref()).or_else(|| m.gid.is_none().then(|| num(from_user.0)).flatten());
    let gid = num(m.gid.as_deref()).or_else(|| m.uid.is_none().then(|| num(from_user.1)).flatten());
    (uid.unwrap_or(0), gid.unwrap_or(0))
}

/// Refuse, before anything changes, what Compose refuses when it copies contents in: an
/// `environment:` source whose variable is not set, and a `read_only` service.
pub fn check(stack: &StackSpec) -> Result<(), DeployError> {
    for (name, svc) in &stack.services {
        // As Compose on a plain engine ("unsupported external secret"): nothing to mount.
        let secrets = svc.secrets.iter().map(|m| ("secret", m, stack.secrets.get(&m.source)));
        let configs = svc.configs.iter().map(|m| ("config", m, stack.configs.get(&m.source)));
        for (kind, m, def) in secrets.chain(configs) {
            if let Some(FileObjectSource::External(engine_name)) = def.map(|d| &d.source) {
                return Err(DeployError::FileObject {
                    service: name.clone(),
                    object: format!("{kind} `{}`", m.source),
                    problem: FileObjectProblem::External { engine_name: engine_name.clone() },
                });
            }
        }
        for f in file_copies(stack, svc) {
            let variable = |k: &str| match (k, stack.secrets.get(&f.object), stack.configs.get(&f.object)) {
                ("secret", Some(d), _) | ("config", _, Some(d)) => match &d.source {
                    FileObjectSource::Environment(v) => v.clone(),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            let problem = if f.content.is_none() {
                FileObjectProblem::UnsetVariable { variable: variable(f.kind) }
            } else if svc.host.read_only {
                FileObjectProblem::ReadOnly
            } else {
                continue;
            };
            return Err(DeployError::FileObject {
                service: name.clone(),
                object: format!("{} `{}`", f.kind, f.object),
                problem,
            });
        }
    }
    Ok(())
}

/// sha256 of what `svc` gets copied in (targets, modes, owners, contents), for its config hash;
/// `None` when nothing is.
pub(crate) fn digest(stack: &StackSpec, svc: &ServiceSpec) -> Option<String> {
    use sha2::{Digest as _, Sha256};
    let files = file_copies(stack, svc);
    if files.is_empty() {
        return None;
    }
    let mut hasher = Sha256::new();
    for f in &files {
        let content = f.content.as_ref().map(Secret::expose).unwrap_or_default();
        hasher.update(format!("{}\0{:o}\0{}\0{}\0{}\0", f.target, f.mode, f.uid, f.gid, content.len()).as_bytes());
        hasher.update(content.as_bytes());
    }
    Some(hex::encode(hasher.finalize()))
}

/// The tar archive of `files`, entries named by their absolute targets (extracted at `/`).
pub fn archive(files: &[FileCopy]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for f in files {
        let data = f.content.as_ref().map(|s| s.expose().as_bytes()).unwrap_or_default();
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(f.mode);
        header.set_uid(f.uid);
        header.set_gid(f.gid);
        header.set_size(data.len() as u64);
        header.set_mtime(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
        builder.append_data(&mut header, f.target.trim_start_matches('/'), data)?;
    }
    builder.into_inner()
}

/// Copy `files` into created container `id` (not started yet).
pub(crate) async fn upload(docker: &Docker, id: &str, container: &str, files: &[FileCopy]) -> Result<(), DeployError> {
    if files.is_empty() {
        return Ok(());
    }
    let targets = files.iter().map(|f| f.target.as_str()).collect::<Vec<_>>().join(", ");
    let bytes = archive(files).map_err(|source| DeployError::FileCopy {
        container: container.to_string(),
        targets: targets.clone(),
        source,
    })?;
    let opts = UploadToContainerOptions { path: "/".into(), ..Default::default() };
    docker
        .upload_to_container(id, Some(opts), bollard::body_full(bytes.into()))
        .await
        .map_err(|e| DeployError::engine("copy secrets and configs into", format!("{container} ({targets})"), e))
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;
    use crate::stack::FileObjectSpec;

    fn stack() -> StackSpec {
        let object = |name: &str, source: FileObjectSource, value: Option<&str>| FileObjectSpec {
            name: name.into(),
            source,
            value: value.map(Secret::new),
        };
        let mut stack = StackSpec { name: "shop".into(), ..Default::default() };
        let env = |v: &str| FileObjectSource::Environment(v.into());
        stack.secrets.insert("token".into(), object("shop_token", env("TOKEN"), Some("hunter2-planted")));
        stack.secrets.insert("unset".into(), object("shop_unset", env("NOPE"), None));
        stack.secrets.insert("disk".into(), object("shop_disk", FileObjectSource::File("/srv/disk".into()), None));
        stack.configs.insert("ini".into(), object("shop_ini", FileObjectSource::Content("a=1\n".into()), None));
        stack
    }

    fn mount(source: &str, target: &str) -> FileMountSpec {
        FileMountSpec { source: source.into(), target: target.into(), ..Default::default() }
    }

    #[test]
    fn environment_and_content_sources_are_copied_with_mode_and_owner() {
        let stack = stack();
        let mut svc = ServiceSpec { name: "web".into(), user: Some("1000:2000".into()), ..Default::default() };
        svc.secrets = vec![
            FileMountSpec { mode: Some(0o440), uid: Some("7".into()), ..mount("token", "/run/secrets/token") },
            mount("disk", "/run/secrets/disk"),
        ];
        svc.configs = vec![mount("ini", "/etc/app.ini")];
        let files = file_copies(&stack, &svc);
        assert_eq!(files.len(), 2, "the file source stays a bind mount");
        assert_eq!(
            (files[0].target.as_str(), files[0].mode, files[0].uid, files[0].gid),
            ("/run/secrets/token", 0o440, 7, 0)
        );
        assert_eq!(
            (files[1].target.as_str(), files[1].mode, files[1].uid, files[1].gid),
            ("/etc/app.ini", 0o444, 1000, 2000)
        );
        assert!(!format!("{files:?}").contains("hunter2-planted"));

        let bytes = archive(&files).expect("archive");
        let mut tar = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for entry in tar.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let mut text = String::new();
            entry.read_to_string(&mut text).expect("read");
            let h = entry.header();
            seen.push((entry.path().expect("path").display().to_string(), h.mode().ok(), h.uid().ok(), text));
        }
        assert_eq!(seen[0], ("run/secrets/token".into(), Some(0o440), Some(7), "hunter2-planted".into()));
        assert_eq!(seen[1], ("etc/app.ini".into(), Some(0o444), Some(1000), "a=1\n".into()));
    }

    #[test]
    fn unset_variables_and_read_only_services_are_refused_naming_the_object() {
        let mut stack = stack();
        let mut svc = ServiceSpec { name: "web".into(), ..Default::default() };
        svc.secrets = vec![mount("unset", "/run/secrets/unset")];
        stack.services.insert("web".into(), svc.clone());
        let e = check(&stack).expect_err("unset");
        assert!(matches!(&e, DeployError::FileObject { service, .. } if service == "web"), "{e}");
        assert!(e.to_string().contains("`NOPE` is not set"), "{e}");

        svc.secrets = vec![mount("token", "/run/secrets/token")];
        svc.host.read_only = true;
        stack.services.insert("web".into(), svc.clone());
        let e = check(&stack).expect_err("read only");
        assert!(e.to_string().contains("read_only"), "{e}");
        assert!(!format!("{e} {e:?}").contains("hunter2-planted"));

        svc.host.read_only = false;
        stack.services.insert("web".into(), svc.clone());
        check(&stack).expect("fine");

        stack.secrets.insert(
            "swarm".into(),
            FileObjectSpec { name: "swarm".into(), source: FileObjectSource::External("swarm".into()), value: None },
        );
        svc.secrets.push(mount("swarm", "/run/secrets/swarm"));
        stack.services.insert("web".into(), svc);
        let e = check(&stack).expect_err("external");
        assert!(e.to_string().contains("secret `swarm`") && e.to_string().contains("external"), "{e}");
    }

    #[test]
    fn values_are_sealed_out_of_records_and_restored_for_rollback() {
        let stack = stack();
        let (sealed, values) = crate::deploy::env_store::seal(&stack);
        let json = serde_json::to_string(&stack).expect("json");
        assert!(!json.contains("hunter2-planted") && !format!("{stack:?} {values:?}").contains("hunter2-planted"));
        assert_eq!(sealed.secrets["token"].value, None);
        let mut back = sealed;
        crate::deploy::env_store::unseal(&mut back, &values);
        assert_eq!(back.secrets["token"].value.as_ref().map(Secret::expose), Some("hunter2-planted"));

        // A changed value changes the service's config hash (a new container), unseen in it.
        let mut svc = ServiceSpec { name: "web".into(), ..Default::default() };
        svc.secrets = vec![mount("token", "/run/secrets/token")];
        let before = digest(&back, &svc).expect("digest");
        back.secrets.get_mut("token").expect("token").value = Some(Secret::new("other"));
        assert_ne!(digest(&back, &svc), Some(before));
        assert_eq!(digest(&back, &ServiceSpec::default()), None);
    }
}
