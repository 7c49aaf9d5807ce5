//! Engine helpers for backups: find a service's container, run a command in it with its output
//! captured, streamed to a file (hashed on the way) or its input streamed from a file, and read a
//! file out of a container through the archive endpoint.

use std::collections::HashMap;
use std::path::Path;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{DownloadFromContainerOptionsBuilder, ListContainersOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::error::BackupError;
use crate::digest::{Digest, Sha256Hasher};

/// How many bytes of a command's error output are kept for messages.
const STDERR_TAIL: usize = 4096;

/// A running container that serves a service.
#[derive(Debug, Clone)]
pub(crate) struct ServiceContainer {
    /// Container id.
    pub id: String,
    /// Its image (as configured).
    pub image: String,
    /// Its environment (`KEY=VALUE`). May hold secrets: never log it.
    pub env: Vec<String>,
}

impl ServiceContainer {
    /// The value of `key` in the container's environment.
    pub fn env_var(&self, key: &str) -> Option<String> {
        self.env.iter().find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')).map(str::to_string))
    }
}

/// The running container of `project`/`service` (Compose's labels, which slipway also sets);
/// a slipway `current` replica is preferred, then the lowest name, so the choice is stable.
pub(crate) async fn service_container(
    docker: &Docker,
    project: &str,
    service: &str,
) -> Result<ServiceContainer, BackupError> {
    let compose =
        vec![format!("com.docker.compose.project={project}"), format!("com.docker.compose.service={service}")];
    // swarm room: a Swarm task of `<project>_<service>` on this engine's node.
    let swarm = vec![format!("{STACK_NAMESPACE}={project}"), format!("{SWARM_SERVICE}={project}_{service}")];
    let mut list = Vec::new();
    for labels in [compose, swarm] {
        let filters: HashMap<&str, Vec<String>> =
            HashMap::from([("label", labels), ("status", vec!["running".to_string()])]);
        let opts = ListContainersOptionsBuilder::new().all(false).filters(&filters).build();
        list.extend(
            docker
                .list_containers(Some(opts))
                .await
                .map_err(BackupError::engine(format!("listing containers of {project}/{service}")))?,
        );
    }
    list.sort_by_key(|c| {
        let current = c.labels.as_ref().and_then(|l| l.get("dev.slipway.role")).is_some_and(|r| r == "current");
        (!current, c.names.clone().unwrap_or_default())
    });
    let id = list
        .first()
        .and_then(|c| c.id.clone())
        .ok_or_else(|| BackupError::NoContainer { project: project.into(), service: service.into() })?;
    let info = docker.inspect_container(&id, None).await.map_err(BackupError::engine(format!("inspecting {id}")))?;
    let config = info.config.unwrap_or_default();
    Ok(ServiceContainer { id, image: config.image.unwrap_or_default(), env: config.env.unwrap_or_default() })
}

/// `(service, image)` of every running container of `project`, by Compose's labels.
pub(crate) async fn project_containers(docker: &Docker, project: &str) -> Result<Vec<(String, String)>, BackupError> {
    let mut out = Vec::new();
    for label in [format!("com.docker.compose.project={project}"), format!("{STACK_NAMESPACE}={project}")] {
        let filters: HashMap<&str, Vec<String>> =
            HashMap::from([("label", vec![label]), ("status", vec!["running".to_string()])]);
        let opts = ListContainersOptionsBuilder::new().all(false).filters(&filters).build();
        let list = docker
            .list_containers(Some(opts))
            .await
            .map_err(BackupError::engine(format!("listing containers of {project}")))?;
        out.extend(list.into_iter().filter_map(|c| {
            let l = c.labels.as_ref()?;
            let service = match l.get("com.docker.compose.service") {
                Some(s) => s.clone(),
                // A Swarm task: `<project>_<service>`.
                None => l.get(SWARM_SERVICE)?.strip_prefix(&format!("{project}_"))?.to_string(),
            };
            Some((service, c.image.unwrap_or_default()))
        }));
    }
    Ok(out)
}

/// The stack label docker's Swarm puts on task containers (also `swarm::STACK_NAMESPACE`).
const STACK_NAMESPACE: &str = "com.docker.stack.namespace";
/// The Swarm service a task container belongs to.
const SWARM_SERVICE: &str = "com.docker.swarm.service.name";

/// What a command printed and how it exited.
#[derive(Debug)]
pub(crate) struct ExecOutput {
    pub code: i64,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

fn tail(buf: &[u8]) -> String {
    let start = buf.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&buf[start..]).trim().to_string()
}

/// Where a command's stdout goes.
enum Stdout<'a> {
    /// Kept in memory.
    Memory(&'a mut Vec<u8>),
    /// Written to a file and hashed on the way.
    File { file: &'a mut tokio::fs::File, path: &'a Path, hasher: &'a mut Sha256Hasher, size: &'a mut u64 },
}

impl Stdout<'_> {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), BackupError> {
        match self {
            Stdout::Memory(buf) => buf.extend_from_slice(bytes),
            Stdout::File { file, path, hasher, size } => {
                hasher.update(bytes);
                **size += bytes.len() as u64;
                file.write_all(bytes).await.map_err(BackupError::io(*path))?;
            }
        }
        Ok(())
    }
}

/// Run `cmd` in `container`: `stdin` (a file) streamed in, stdout to `stdout`; returns the exit
/// code and the tail of stderr. The one exec loop every helper below goes through.
async fn run(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
    env: &[String],
    stdin: Option<&Path>,
    mut stdout: Stdout<'_>,
) -> Result<(i64, String), BackupError> {
    let what = cmd.first().copied().unwrap_or("command");
    let opts = CreateExecOptions {
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        env: Some(env.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        attach_stdin: Some(stdin.is_some()),
        ..Default::default()
    };
    let exec = docker
        .create_exec(container, opts)
        .await
        .map_err(BackupError::engine(format!("exec {what} in {container}")))?;
    let mut stderr = Vec::new();
    let started = docker
        .start_exec(&exec.id, None)
        .await
        .map_err(BackupError::engine(format!("starting {what} in {container}")))?;
    if let StartExecResults::Attached { mut output, mut input } = started {
        let writer = async {
            if let Some(path) = stdin {
                let mut file = tokio::fs::File::open(path).await.map_err(BackupError::io(path))?;
                tokio::io::copy(&mut file, &mut input).await.map_err(BackupError::io(path))?;
                input.shutdown().await.map_err(BackupError::io(path))?;
            }
            Ok::<(), BackupError>(())
        };
        let reader = async {
            while let Some(chunk) = output.next().await {
                match chunk.map_err(BackupError::engine(format!("reading output of {what}")))? {
                    LogOutput::StdOut { message } => stdout.write(&message).await?,
                    LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
                    _ => {}
                }
            }
            Ok::<(), BackupError>(())
        };
        let (written, read) = tokio::join!(writer, reader);
        written?;
        read?;
    }
    let info =
        docker.inspect_exec(&exec.id).await.map_err(BackupError::engine(format!("inspecting exec of {what}")))?;
    Ok((info.exit_code.unwrap_or(-1), tail(&stderr)))
}

fn failed(cmd: &[&str], container: &str, code: i64, stderr: String) -> BackupError {
    BackupError::Command {
        what: cmd.first().copied().unwrap_or("command").into(),
        container: container.into(),
        code,
        stderr,
    }
}

/// Run `cmd` in `container`, keep stdout in memory (for small outputs: queries, versions).
pub(crate) async fn exec_capture(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
    env: &[String],
) -> Result<ExecOutput, BackupError> {
    let mut stdout = Vec::new();
    let (code, stderr) = run(docker, container, cmd, env, None, Stdout::Memory(&mut stdout)).await?;
    Ok(ExecOutput { code, stdout, stderr })
}

/// Like [`exec_capture`] but fails with [`BackupError::Command`] on a non-zero exit.
pub(crate) async fn exec_ok(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
    env: &[String],
) -> Result<Vec<u8>, BackupError> {
    let out = exec_capture(docker, container, cmd, env).await?;
    if out.code != 0 {
        return Err(failed(cmd, container, out.code, out.stderr));
    }
    Ok(out.stdout)
}

/// Run `cmd` and stream its stdout into `path`; returns the file's sha256 and size.
/// On failure the partial file is removed.
pub(crate) async fn exec_to_file(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
    env: &[String],
    path: &Path,
) -> Result<(Digest, u64), BackupError> {
    let result = async {
        let mut file = tokio::fs::File::create(path).await.map_err(BackupError::io(path))?;
        let mut hasher = Sha256Hasher::new();
        let mut size = 0u64;
        let sink = Stdout::File { file: &mut file, path, hasher: &mut hasher, size: &mut size };
        let (code, stderr) = run(docker, container, cmd, env, None, sink).await?;
        file.flush().await.map_err(BackupError::io(path))?;
        file.sync_all().await.map_err(BackupError::io(path))?;
        if code != 0 {
            return Err(failed(cmd, container, code, stderr));
        }
        Ok((hasher.finish(), size))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

/// Run `cmd` with `path`'s contents on its stdin; fails on a non-zero exit.
pub(crate) async fn exec_from_file(
    docker: &Docker,
    container: &str,
    cmd: &[&str],
    env: &[String],
    path: &Path,
) -> Result<(), BackupError> {
    let mut ignored = Vec::new();
    let (code, stderr) = run(docker, container, cmd, env, Some(path), Stdout::Memory(&mut ignored)).await?;
    if code != 0 {
        return Err(failed(cmd, container, code, stderr));
    }
    Ok(())
}

/// Read one file out of a container (through the archive endpoint: needs no tool in the image).
pub(crate) async fn read_file(docker: &Docker, container: &str, file: &str) -> Result<Vec<u8>, BackupError> {
    let opts = DownloadFromContainerOptionsBuilder::new().path(file).build();
    let mut stream = docker.download_from_container(container, Some(opts));
    let mut tar_bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        tar_bytes.extend_from_slice(&chunk.map_err(BackupError::engine(format!("reading {file} from {container}")))?);
    }
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let entries = archive.entries().map_err(BackupError::io(file))?;
    for entry in entries {
        let mut entry = entry.map_err(BackupError::io(file))?;
        if entry.header().entry_type().is_file() {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut out).map_err(BackupError::io(file))?;
            return Ok(out);
        }
    }
    Err(BackupError::Invalid(format!("{file} in container {container} is not a regular file")))
}
