//! `up`: run the managed proxy with the given settings. Same settings (the hash label) = nothing
//! to do; changed settings = a new container made beside the old one, the old stopped, the new
//! started (the gap measured: old stopped -> new API answering), the old removed; absent = created.
//! Every failure removes what this call made and leaves what ran before running.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, HostConfig, Mount, MountType, NetworkConnectRequest, PortBinding,
    RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, RenameContainerOptions,
    StopContainerOptions, UploadToContainerOptions,
};
use bollard::Docker;
use serde::Serialize;
use tokio::time::Instant;

use super::error::{NotReadyReason, ProxyError};
use super::settings::{ProxySettings, ResolvedSettings};
use super::{
    emit, ManagedProxy, ProxyEvent, ACME_DIR, API_ADDR, CA_PATH, DYNAMIC_DIR, HASH_LABEL, PROXY_LABEL, SETTINGS_LABEL,
};
use crate::events::Observer;
use crate::route::traefik::exec::exec;

/// How long a new proxy gets until its API answers.
const READY_BOUND: Duration = Duration::from_secs(30);
/// The old proxy's stop grace period on recreate.
const STOP_SECS: i32 = 10;

/// What `up` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UpAction {
    /// The proxy was created.
    Created,
    /// It already ran with these settings.
    Unchanged,
    /// It existed with these settings but was stopped: started again.
    Started,
    /// The settings changed: recreated.
    Recreated,
}

/// The result of `up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProxyUp {
    /// The container.
    pub name: String,
    /// What was done.
    pub action: UpAction,
    /// On recreate: how long no proxy served (old stopped -> new API answering), milliseconds.
    pub gap_ms: Option<u64>,
    /// The settings' hash (the container's label).
    pub settings_hash: String,
    /// The image.
    pub image: String,
    /// Entry point `web`'s published address.
    pub http: String,
    /// Entry point `websecure`'s published address.
    pub https: String,
}

pub(super) async fn up(
    proxy: &ManagedProxy,
    settings: &ProxySettings,
    observer: &dyn Observer,
) -> Result<ProxyUp, ProxyError> {
    let resolved = settings.resolve()?;
    let hash = resolved.hash();
    let (docker, host) = (&proxy.docker, proxy.host.as_str());
    let result = |action, gap_ms| ProxyUp {
        name: resolved.name.clone(),
        action,
        gap_ms,
        settings_hash: hash.clone(),
        image: resolved.image.clone(),
        http: resolved.http.to_string(),
        https: resolved.https.to_string(),
    };
    let existing = inspect(docker, host, &resolved.name).await?;
    if let Some(old) = &existing {
        if label(old, HASH_LABEL).as_deref() == Some(hash.as_str()) {
            if old.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
                emit(observer, ProxyEvent::Unchanged { name: resolved.name.clone(), settings_hash: hash.clone() });
                return Ok(result(UpAction::Unchanged, None));
            }
            start(docker, host, &resolved.name).await?;
            wait_ready(docker, &resolved.name, observer).await?;
            return Ok(result(UpAction::Started, None));
        }
    }
    ensure_image(docker, host, &resolved.image, observer).await?;
    check_ports(docker, host, &resolved, existing.as_ref().and_then(|c| c.id.as_deref())).await?;
    let made_volumes = ensure_volumes(docker, host, &resolved, observer).await?;
    let outcome = match &existing {
        None => create_and_start(docker, host, &resolved, &hash, &resolved.name, &[], observer).await.map(|_| None),
        Some(old) => recreate(docker, host, &resolved, &hash, old, observer).await.map(Some),
    };
    match outcome {
        Ok(None) => Ok(result(UpAction::Created, None)),
        Ok(Some(gap)) => Ok(result(UpAction::Recreated, Some(gap))),
        Err(e) => {
            for volume in &made_volumes {
                let _ = docker.remove_volume(volume, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
            }
            Err(e)
        }
    }
}

fn engine(action: &'static str, what: &str, host: &str) -> impl FnOnce(bollard::errors::Error) -> ProxyError {
    let (what, host) = (what.to_string(), host.to_string());
    move |source| ProxyError::Engine { action, what, host, source }
}

fn label(c: &ContainerInspectResponse, key: &str) -> Option<String> {
    c.config.as_ref()?.labels.as_ref()?.get(key).cloned()
}

async fn inspect(docker: &Docker, host: &str, name: &str) -> Result<Option<ContainerInspectResponse>, ProxyError> {
    match docker.inspect_container(name, None).await {
        Ok(c) => Ok(Some(c)),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(e) => Err(engine("inspect container", name, host)(e)),
    }
}

async fn ensure_image(docker: &Docker, host: &str, image: &str, observer: &dyn Observer) -> Result<(), ProxyError> {
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
        Err(e) => return Err(engine("inspect image", image, host)(e)),
    }
    emit(observer, ProxyEvent::Pulling { image: image.to_string() });
    crate::deploy::pull_image(docker, image).await.map_err(|source| ProxyError::ImageUnavailable {
        image: image.to_string(),
        host: host.to_string(),
        source: Box::new(source),
    })
}

/// Refuse addresses another container already publishes (the engine knows who holds them);
/// a host process holding one shows when the container starts.
async fn check_ports(
    docker: &Docker,
    host: &str,
    resolved: &ResolvedSettings,
    except: Option<&str>,
) -> Result<(), ProxyError> {
    let opts = ListContainersOptions { all: false, ..Default::default() };
    let containers = docker.list_containers(Some(opts)).await.map_err(engine("list containers", "", host))?;
    for c in containers.iter().filter(|c| c.id.as_deref() != except) {
        for port in c.ports.iter().flatten() {
            for (flag, wanted) in [("--http", &resolved.http), ("--https", &resolved.https)] {
                let same_port = port.public_port == Some(wanted.port);
                let ip = port.ip.as_deref().unwrap_or("");
                let overlaps =
                    wanted.ip.is_empty() || ip.is_empty() || ip == "0.0.0.0" || ip == "::" || ip == wanted.ip;
                if same_port && overlaps {
                    let holder = c.names.iter().flatten().next().map(|n| n.trim_start_matches('/').to_string());
                    return Err(ProxyError::PortTaken {
                        flag,
                        address: wanted.to_string(),
                        host: host.to_string(),
                        holder,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Create the volumes that do not exist yet; the ones created by this call.
async fn ensure_volumes(
    docker: &Docker,
    host: &str,
    resolved: &ResolvedSettings,
    observer: &dyn Observer,
) -> Result<Vec<String>, ProxyError> {
    let mut made: Vec<String> = Vec::new();
    for volume in [resolved.dynamic_volume(), resolved.acme_volume()] {
        match docker.inspect_volume(&volume).await {
            Ok(_) => continue,
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => return Err(engine("inspect volume", &volume, host)(e)),
        }
        let labels = HashMap::from([(PROXY_LABEL.to_string(), resolved.name.clone())]);
        let req = VolumeCreateRequest { name: Some(volume.clone()), labels: Some(labels), ..Default::default() };
        if let Err(e) = docker.create_volume(req).await {
            for v in &made {
                let _ = docker.remove_volume(v, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
            }
            return Err(engine("create volume", &volume, host)(e));
        }
        emit(observer, ProxyEvent::VolumeCreated { volume: volume.clone() });
        made.push(volume);
    }
    Ok(made)
}

fn container_body(resolved: &ResolvedSettings, hash: &str) -> ContainerCreateBody {
    let binding = |a: &super::ListenAddress| {
        vec![PortBinding { host_ip: (!a.ip.is_empty()).then(|| a.ip.clone()), host_port: Some(a.port.to_string()) }]
    };
    let settings_json = serde_json::to_string(resolved).unwrap_or_default();
    let labels = HashMap::from([
        (PROXY_LABEL.to_string(), resolved.name.clone()),
        (HASH_LABEL.to_string(), hash.to_string()),
        (SETTINGS_LABEL.to_string(), settings_json),
    ]);
    let mount = |source: String, target: &str| Mount {
        typ: Some(MountType::VOLUME),
        source: Some(source),
        target: Some(target.to_string()),
        ..Default::default()
    };
    let env = resolved.env();
    ContainerCreateBody {
        image: Some(resolved.image.clone()),
        cmd: Some(resolved.traefik_args()),
        env: (!env.is_empty()).then_some(env),
        labels: Some(labels),
        exposed_ports: Some(vec!["80/tcp".to_string(), "443/tcp".to_string()]),
        host_config: Some(HostConfig {
            port_bindings: Some(HashMap::from([
                ("80/tcp".to_string(), Some(binding(&resolved.http))),
                ("443/tcp".to_string(), Some(binding(&resolved.https))),
            ])),
            mounts: Some(vec![mount(resolved.dynamic_volume(), DYNAMIC_DIR), mount(resolved.acme_volume(), ACME_DIR)]),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn remove(docker: &Docker, id: &str) {
    let opts = RemoveContainerOptions { force: true, ..Default::default() };
    let _ = docker.remove_container(id, Some(opts)).await;
}

async fn start(docker: &Docker, host: &str, id: &str) -> Result<(), ProxyError> {
    match docker.start_container(id, None).await {
        Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
        Err(e) => Err(engine("start container", id, host)(e)),
    }
}

/// Create container `name` from the settings, join `networks`, copy the CA file, start it and wait
/// until its API answers. On failure the container is removed again.
async fn create_and_start(
    docker: &Docker,
    host: &str,
    resolved: &ResolvedSettings,
    hash: &str,
    name: &str,
    networks: &[String],
    observer: &dyn Observer,
) -> Result<(), ProxyError> {
    let id = create(docker, host, resolved, hash, name, networks).await?;
    let started = async {
        if let Err(e) = docker.start_container(&id, None).await {
            return Err(start_error(host, resolved, name, e));
        }
        wait_ready(docker, &id, observer).await
    };
    match started.await {
        Ok(()) => Ok(()),
        Err(e) => {
            remove(docker, &id).await;
            Err(e)
        }
    }
}

async fn create(
    docker: &Docker,
    host: &str,
    resolved: &ResolvedSettings,
    hash: &str,
    name: &str,
    networks: &[String],
) -> Result<String, ProxyError> {
    let opts = CreateContainerOptions { name: Some(name.to_string()), ..Default::default() };
    let created = docker.create_container(Some(opts), container_body(resolved, hash)).await.map_err(engine(
        "create container",
        name,
        host,
    ))?;
    let prepare = async {
        for network in networks {
            let request = NetworkConnectRequest { container: created.id.clone(), ..Default::default() };
            docker.connect_network(network, request).await.map_err(engine("connect to network", network, host))?;
        }
        if let Some(pem) = &resolved.ca_pem {
            let archive = ca_archive(pem).map_err(|source| ProxyError::Archive { what: "--acme-ca".into(), source })?;
            let opts = UploadToContainerOptions { path: "/".into(), ..Default::default() };
            docker
                .upload_to_container(&created.id, Some(opts), bollard::body_full(archive.into()))
                .await
                .map_err(engine("copy the ACME CA into", name, host))?;
        }
        Ok(())
    };
    match prepare.await {
        Ok(()) => Ok(created.id),
        Err(e) => {
            remove(docker, &created.id).await;
            Err(e)
        }
    }
}

fn ca_archive(pem: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    let path = CA_PATH.trim_start_matches('/');
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_size(0);
    dir.set_mode(0o755);
    dir.set_mtime(0);
    let parent = std::path::Path::new(path).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    archive.append_data(&mut dir, &parent, std::io::empty())?;
    let mut file = tar::Header::new_gnu();
    file.set_entry_type(tar::EntryType::Regular);
    file.set_size(pem.len() as u64);
    file.set_mode(0o644);
    file.set_mtime(0);
    archive.append_data(&mut file, path, pem)?;
    archive.into_inner()
}

/// A start failure: an address already in use is [`ProxyError::PortTaken`] (the engine says so
/// only in its message, from the kernel's `bind`), anything else the engine's error.
fn start_error(host: &str, resolved: &ResolvedSettings, name: &str, e: bollard::errors::Error) -> ProxyError {
    if let bollard::errors::Error::DockerResponseServerError { message, .. } = &e {
        let in_use = message.contains("address already in use") || message.contains("port is already allocated");
        if in_use {
            let https = message.contains(&format!(":{}", resolved.https.port));
            let (flag, address) =
                if https { ("--https", resolved.https.to_string()) } else { ("--http", resolved.http.to_string()) };
            return ProxyError::PortTaken { flag, address, host: host.to_string(), holder: None };
        }
    }
    engine("start container", name, host)(e)
}

/// Wait (bounded) until the proxy's API answers inside the container.
async fn wait_ready(docker: &Docker, id: &str, observer: &dyn Observer) -> Result<(), ProxyError> {
    let started = Instant::now();
    let url = format!("http://{API_ADDR}/api/overview");
    let mut last = NotReadyReason::NotAsked;
    while started.elapsed() < READY_BOUND {
        match exec(docker, id, &["timeout", "2", "wget", "-q", "-O", "/dev/null", &url], Duration::from_secs(10)).await
        {
            Ok(out) if out.code == 0 => {
                let name = docker
                    .inspect_container(id, None)
                    .await
                    .ok()
                    .and_then(|c| c.name)
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_else(|| id.to_string());
                emit(observer, ProxyEvent::Ready { name, waited_ms: started.elapsed().as_millis() as u64 });
                return Ok(());
            }
            Ok(out) => last = NotReadyReason::Wget { code: out.code },
            Err(e) => last = NotReadyReason::Exec(e),
        }
        let exited = docker
            .inspect_container(id, None)
            .await
            .ok()
            .and_then(|c| c.state)
            .is_some_and(|s| !s.running.unwrap_or(false) && !s.restarting.unwrap_or(false));
        if exited {
            last = NotReadyReason::Exited;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = crate::deploy::container_log_tail(docker, id, 20).await.join("\n");
    let name = id.get(..12).unwrap_or(id).to_string();
    Err(ProxyError::NotReady { name, waited_secs: READY_BOUND.as_secs(), last: Box::new(last), logs })
}

/// Recreate: the new container is made (and joins the old one's networks) while the old one
/// serves; then old stopped -> new started and ready (the gap) -> old removed, new renamed. If
/// the new one fails, it is removed and the old one started again.
async fn recreate(
    docker: &Docker,
    host: &str,
    resolved: &ResolvedSettings,
    hash: &str,
    old: &ContainerInspectResponse,
    observer: &dyn Observer,
) -> Result<u64, ProxyError> {
    let old_id = old.id.clone().unwrap_or_else(|| resolved.name.clone());
    emit(
        observer,
        ProxyEvent::Recreating {
            name: resolved.name.clone(),
            from_hash: label(old, HASH_LABEL).unwrap_or_default(),
            to_hash: hash.to_string(),
        },
    );
    let networks: Vec<String> = old
        .network_settings
        .as_ref()
        .and_then(|s| s.networks.as_ref())
        .map(|n| n.keys().filter(|k| *k != "bridge").cloned().collect())
        .unwrap_or_default();
    let next = format!("{}-next", resolved.name);
    remove(docker, &next).await;
    let new_id = create(docker, host, resolved, hash, &next, &networks).await?;
    let stopped = Instant::now();
    let stop = StopContainerOptions { t: Some(STOP_SECS), ..Default::default() };
    if let Err(e) = docker.stop_container(&old_id, Some(stop)).await {
        remove(docker, &new_id).await;
        return Err(engine("stop container", &resolved.name, host)(e));
    }
    let started = async {
        if let Err(e) = docker.start_container(&new_id, None).await {
            return Err(start_error(host, resolved, &next, e));
        }
        wait_ready(docker, &new_id, observer).await
    };
    if let Err(e) = started.await {
        remove(docker, &new_id).await;
        // Put the old proxy back: it ran before this call.
        if start(docker, host, &old_id).await.is_ok() {
            let _ = wait_ready(docker, &old_id, observer).await;
        }
        return Err(e);
    }
    let gap = stopped.elapsed().as_millis() as u64;
    remove(docker, &old_id).await;
    let rename = RenameContainerOptions { name: resolved.name.clone() };
    docker.rename_container(&new_id, rename).await.map_err(engine("rename container", &next, host))?;
    emit(observer, ProxyEvent::Recreated { name: resolved.name.clone(), gap_ms: gap });
    Ok(gap)
}
