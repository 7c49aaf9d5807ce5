//! Where the environment values of a release live: never in a label, a record's JSON, an event or
//! an error, but in a root-only file (`slipway/env.json`, mode 0600, uid 0) inside the release's
//! record volume on the host. The file is written and read through the engine API alone (archive
//! upload/download on a created-but-never-started carrier container that mounts the volume, as
//! the backup room does), so any operator machine that reaches the engine can roll back with the
//! exact environment, and nobody without engine (= root) access can read it.
//!
//! A record's JSON keeps the variables' names (values `null`) and `env_sha256`, the sha256 of the
//! values, which the file must match when a rollback reads it back.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, ListImagesOptions, RemoveContainerOptions,
    UploadToContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use sha2::{Digest as _, Sha256};

use super::error::DeployError;
use super::failure::RecordProblem;
use crate::stack::StackSpec;

/// Where the carrier container mounts the record volume.
const MOUNT: &str = "/slipway-record";
/// The file inside the volume (a root-only directory holding a root-only file).
const DIR: &str = "slipway";
const FILE: &str = "env.json";
/// An upper bound for the values file read back (a stack's environment, not a data set).
const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The environment values of a stack: service -> variable -> value. Its `Debug` names the
/// variables only.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EnvValues(BTreeMap<String, BTreeMap<String, String>>);

impl fmt::Debug for EnvValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: BTreeMap<&String, Vec<&String>> =
            self.0.iter().map(|(s, vars)| (s, vars.keys().collect())).collect();
        f.debug_tuple("EnvValues").field(&names).finish()
    }
}

impl EnvValues {
    /// True when no service has a variable with a value.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(BTreeMap::is_empty)
    }

    /// sha256 (hex) of the values, keys sorted: what a record keeps in `env_sha256`.
    pub fn sha256(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(serde_json::to_string(&self.0).unwrap_or_default().as_bytes());
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }
}

/// Split `stack` into the stack without environment values (names kept, values `None`) and the
/// values.
pub fn seal(stack: &StackSpec) -> (StackSpec, EnvValues) {
    let mut sealed = stack.clone();
    let mut values = BTreeMap::new();
    for (name, svc) in sealed.services.iter_mut() {
        let mut vars = BTreeMap::new();
        for (k, v) in svc.environment.iter_mut() {
            if let Some(v) = v.take() {
                vars.insert(k.clone(), v);
            }
        }
        if !vars.is_empty() {
            values.insert(name.clone(), vars);
        }
    }
    // compose room: the values of `environment:`-sourced secrets and configs are sealed the same
    // way, under keys no service can have (service names have no `/`).
    for (key, objects) in [(SECRETS, &mut sealed.secrets), (CONFIGS, &mut sealed.configs)] {
        let vars: BTreeMap<String, String> = objects
            .iter_mut()
            .filter_map(|(k, o)| o.value.take().map(|v| (k.clone(), v.expose().to_string())))
            .collect();
        if !vars.is_empty() {
            values.insert(key.to_string(), vars);
        }
    }
    (sealed, EnvValues(values))
}

/// Where the values of `environment:`-sourced secrets and configs are sealed.
const SECRETS: &str = "/secrets";
const CONFIGS: &str = "/configs";

/// `stack` with its environment values left out (names kept): what `--json` outputs show.
pub fn without_env_values(stack: &StackSpec) -> StackSpec {
    seal(stack).0
}

/// Put `values` back into a sealed stack.
pub fn unseal(stack: &mut StackSpec, values: &EnvValues) {
    for (key, objects) in [(SECRETS, &mut stack.secrets), (CONFIGS, &mut stack.configs)] {
        for (k, v) in values.0.get(key).into_iter().flatten() {
            if let Some(o) = objects.get_mut(k) {
                o.value = Some(crate::secret::Secret::new(v.clone()));
            }
        }
    }
    for (service, vars) in &values.0 {
        if let Some(svc) = stack.services.get_mut(service) {
            for (k, v) in vars {
                svc.environment.insert(k.clone(), Some(v.clone()));
            }
        }
    }
}

fn record_error(project: &str, problem: RecordProblem) -> DeployError {
    DeployError::Record { project: project.to_string(), problem }
}

/// Write `values` as the root-only file of record volume `volume` (which exists).
pub async fn write(docker: &Docker, project: &str, volume: &str, values: &EnvValues) -> Result<(), DeployError> {
    let json = serde_json::to_vec(values).map_err(|source| DeployError::RecordJson {
        project: project.to_string(),
        what: format!("the environment file of {volume}"),
        source,
    })?;
    let archive = tar_of(&json).map_err(|source| DeployError::RecordArchive {
        project: project.to_string(),
        what: format!("the environment file of {volume}"),
        source,
    })?;
    let carrier = Carrier::create(docker, volume).await?;
    let opts = UploadToContainerOptions { path: MOUNT.to_string(), ..Default::default() };
    let result = docker
        .upload_to_container(&carrier.id, Some(opts), bollard::body_full(archive.into()))
        .await
        .map_err(|e| DeployError::engine("write the environment file of", volume, e));
    carrier.remove(docker).await;
    result
}

/// Read the values file of record volume `volume`; `expected` is the record's `env_sha256`.
pub async fn read(docker: &Docker, project: &str, volume: &str, expected: &str) -> Result<EnvValues, DeployError> {
    let carrier = Carrier::create(docker, volume).await?;
    let opts = DownloadFromContainerOptions { path: format!("{MOUNT}/{DIR}/{FILE}") };
    let mut stream = docker.download_from_container(&carrier.id, Some(opts));
    let mut archive = Vec::new();
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) if (archive.len() + bytes.len()) as u64 <= MAX_BYTES => archive.extend_from_slice(&bytes),
            Ok(_) => {
                failed = Some(record_error(project, RecordProblem::EnvFileTooLarge { volume: volume.to_string() }));
                break;
            }
            Err(e) => {
                failed = Some(DeployError::engine("read the environment file of", volume, e));
                break;
            }
        }
    }
    drop(stream);
    carrier.remove(docker).await;
    if let Some(e) = failed {
        return Err(e);
    }
    let json = file_in_tar(&archive).map_err(|source| DeployError::RecordArchive {
        project: project.to_string(),
        what: format!("the environment file of {volume}"),
        source,
    })?;
    let values: EnvValues = serde_json::from_slice(&json).map_err(|source| DeployError::RecordJson {
        project: project.to_string(),
        what: format!("the environment file of {volume}"),
        source,
    })?;
    if values.sha256() != expected {
        let problem = RecordProblem::EnvFileMismatch { volume: volume.to_string(), expected: expected.to_string() };
        return Err(record_error(project, problem));
    }
    Ok(values)
}

/// A tar holding `slipway/` (0700) and `slipway/env.json` (0600), both owned by root.
fn tar_of(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o700);
    dir.set_uid(0);
    dir.set_gid(0);
    dir.set_size(0);
    dir.set_mtime(0);
    builder.append_data(&mut dir, format!("{DIR}/"), std::io::empty())?;
    let mut file = tar::Header::new_gnu();
    file.set_mode(0o600);
    file.set_uid(0);
    file.set_gid(0);
    file.set_size(json.len() as u64);
    file.set_mtime(0);
    builder.append_data(&mut file, format!("{DIR}/{FILE}"), json)?;
    builder.into_inner()
}

/// The content of the single file the engine's archive endpoint returns.
fn file_in_tar(archive: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let mut out = Vec::new();
            entry.read_to_end(&mut out)?;
            return Ok(out);
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no file in the archive"))
}

/// A created, never-started container mounting a record volume.
struct Carrier {
    id: String,
}

impl Carrier {
    async fn create(docker: &Docker, volume: &str) -> Result<Self, DeployError> {
        let image = any_image(docker).await?;
        let name = format!("{volume}-carrier-{}", hex::encode(rand::random::<[u8; 4]>()));
        let body = ContainerCreateBody {
            image: Some(image),
            cmd: Some(vec!["/slipway-carrier-never-started".into()]),
            entrypoint: Some(vec![]),
            labels: Some([(super::labels::CARRIER.to_string(), volume.to_string())].into()),
            host_config: Some(HostConfig { binds: Some(vec![format!("{volume}:{MOUNT}")]), ..Default::default() }),
            ..Default::default()
        };
        let opts = CreateContainerOptions { name: Some(name.clone()), ..Default::default() };
        let created = docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| DeployError::engine("create a carrier container for", volume, e))?;
        Ok(Self { id: created.id })
    }

    async fn remove(self, docker: &Docker) {
        let opts = RemoveContainerOptions { force: true, v: false, ..Default::default() };
        if let Err(e) = docker.remove_container(&self.id, Some(opts)).await {
            tracing::warn!(container = %self.id, error = %e, "could not remove a record carrier container");
        }
    }
}

/// Any image in the engine, for never-started helper containers (the deploy lock, carriers).
pub(crate) async fn any_image(docker: &Docker) -> Result<String, DeployError> {
    let images = docker
        .list_images(Some(ListImagesOptions { all: false, ..Default::default() }))
        .await
        .map_err(|e| DeployError::engine("list images", "for a helper container", e))?;
    images.into_iter().map(|i| i.id).min().ok_or(DeployError::NoHelperImage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::ServiceSpec;

    fn stack() -> StackSpec {
        let mut s = StackSpec { name: "shop".into(), ..Default::default() };
        let mut web = ServiceSpec { name: "web".into(), image: Some("demo:1".into()), ..Default::default() };
        web.environment.insert("SECRET".into(), Some("hunter2".into()));
        web.environment.insert("UNSET".into(), None);
        s.services.insert("web".into(), web);
        s.services.insert("db".into(), ServiceSpec { name: "db".into(), ..Default::default() });
        s
    }

    #[test]
    fn seal_keeps_names_drops_values_and_unseal_restores_them() {
        let original = stack();
        let (mut sealed, values) = seal(&original);
        let json = serde_json::to_string(&sealed).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains("SECRET"), "{json}");
        assert!(!format!("{values:?}").contains("hunter2"));
        assert!(values.sha256().starts_with("sha256:"));
        unseal(&mut sealed, &values);
        assert_eq!(sealed, original);
        assert!(seal(&StackSpec::default()).1.is_empty());
    }

    #[test]
    fn archive_round_trips_with_root_only_modes() {
        let bytes = tar_of(b"{\"a\":1}").unwrap();
        let mut tar = tar::Archive::new(bytes.as_slice());
        let modes: Vec<(String, u32, u64)> = tar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.header().mode().unwrap(), e.header().uid().unwrap())
            })
            .collect();
        assert_eq!(modes, vec![("slipway/".into(), 0o700, 0), ("slipway/env.json".into(), 0o600, 0)]);
        assert_eq!(file_in_tar(&bytes).unwrap(), b"{\"a\":1}");
    }
}
