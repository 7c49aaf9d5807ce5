//! Engine calls the executor needs, one small function each: read the actual state of a project,
//! create/start/stop/remove containers, pull by digest, read a container's state and log tail.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::models::{ContainerSummaryStateEnum, EndpointSettings, NetworkConnectRequest};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, ListNetworksOptions, ListVolumesOptions,
    LogsOptions, RemoveContainerOptions, StopContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;

use super::container_spec::ContainerPlan;
use super::error::DeployError;
use super::labels;
use super::record::VolumeRecords;
use super::state::{ActualContainer, ActualState};
use crate::registry::distribution::credentials::{config_key, from_docker_config};
use crate::registry::distribution::Credentials;
use crate::wait::{wait_until, WaitTimeout};

/// Read slipway's containers, the networks, volumes, present images (of `images`) and the
/// history of `project`.
pub async fn read_state(docker: &Docker, project: &str, images: &BTreeSet<String>) -> Result<ActualState, DeployError> {
    let mut state = ActualState { containers: list_containers(docker, project).await?, ..Default::default() };
    let nets = docker
        .list_networks(None::<ListNetworksOptions>)
        .await
        .map_err(|e| DeployError::engine("list networks", project, e))?;
    state.networks = nets.into_iter().filter_map(|n| n.name).collect();
    let vols = docker
        .list_volumes(None::<ListVolumesOptions>)
        .await
        .map_err(|e| DeployError::engine("list volumes", project, e))?;
    state.volumes = vols.volumes.unwrap_or_default().into_iter().map(|v| v.name).collect();
    for image in images {
        if docker.inspect_image(image).await.is_ok() {
            state.images.insert(image.clone());
        }
    }
    state.history = VolumeRecords::new(docker.clone()).list(project).await?;
    Ok(state)
}

/// slipway's containers of `project` (any state), lock excluded.
pub async fn list_containers(docker: &Docker, project: &str) -> Result<Vec<ActualContainer>, DeployError> {
    let filters = HashMap::from([("label".to_string(), vec![labels::filter(labels::PROJECT, project)])]);
    let list = docker
        .list_containers(Some(ListContainersOptions { all: true, filters: Some(filters), ..Default::default() }))
        .await
        .map_err(|e| DeployError::engine("list containers of", project, e))?;
    let mut out = Vec::new();
    for c in list {
        let l = c.labels.unwrap_or_default();
        let (Some(id), Some(service)) = (c.id, l.get(labels::SERVICE)) else { continue };
        let state = c.state.unwrap_or(ContainerSummaryStateEnum::EMPTY);
        let running = matches!(
            state,
            ContainerSummaryStateEnum::RUNNING
                | ContainerSummaryStateEnum::RESTARTING
                | ContainerSummaryStateEnum::PAUSED
        );
        let status = c.status.unwrap_or_default();
        let exit_code = (state == ContainerSummaryStateEnum::EXITED).then(|| parse_exit(&status)).flatten();
        let health = ["healthy", "unhealthy", "health: starting"]
            .iter()
            .find(|h| status.contains(&format!("({h})")))
            .map(|h| h.trim_start_matches("health: ").to_string());
        out.push(ActualContainer {
            name: c.names.and_then(|n| n.first().cloned()).unwrap_or_default().trim_start_matches('/').to_string(),
            id,
            service: service.clone(),
            release: l.get(labels::RELEASE).and_then(|r| r.parse().ok()),
            config_hash: l.get(labels::CONFIG_HASH).cloned().unwrap_or_default(),
            replica: l.get(labels::REPLICA).and_then(|r| r.parse().ok()).unwrap_or(1),
            running,
            exit_code,
            oneoff: l.contains_key(labels::ONEOFF),
            image: c.image.unwrap_or_default(),
            health,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `Exited (3) 2 minutes ago` -> 3.
fn parse_exit(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split(')').next()?.parse().ok()
}

/// Create a container (connecting its further networks) without starting it; returns its id.
pub async fn create(docker: &Docker, plan: &ContainerPlan) -> Result<String, DeployError> {
    let opts =
        CreateContainerOptions { name: Some(plan.name.clone()), platform: plan.platform.clone().unwrap_or_default() };
    let created = docker
        .create_container(Some(opts), plan.body.clone())
        .await
        .map_err(|e| DeployError::engine("create container", &plan.name, e))?;
    // compose room: further networks (with their static addresses), then the copied-in secrets
    // and configs; a container left half-made is removed.
    let finish = async {
        for (net, aliases) in &plan.more_networks {
            let endpoint = EndpointSettings {
                aliases: Some(aliases.clone()),
                ipam_config: plan.static_ips.get(net).cloned(),
                ..Default::default()
            };
            let req = NetworkConnectRequest { container: created.id.clone(), endpoint_config: Some(endpoint) };
            docker.connect_network(net, req).await.map_err(|e| DeployError::engine("connect network", net, e))?;
        }
        super::container_spec::upload_files(docker, &created.id, &plan.name, &plan.files).await
    };
    if let Err(e) = finish.await {
        let _ = remove(docker, &created.id).await;
        return Err(e);
    }
    Ok(created.id)
}

/// Start a container.
pub async fn start(docker: &Docker, id: &str) -> Result<(), DeployError> {
    docker.start_container(id, None).await.map_err(|e| DeployError::engine("start container", id, e))
}

/// Stop a container with its own stop signal and grace period (set at creation).
pub async fn stop(docker: &Docker, id: &str) -> Result<(), DeployError> {
    match docker.stop_container(id, None::<StopContainerOptions>).await {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
        Err(e) => Err(DeployError::engine("stop container", id, e)),
    }
}

/// Remove a container (forced).
pub async fn remove(docker: &Docker, id: &str) -> Result<(), DeployError> {
    let opts = RemoveContainerOptions { force: true, ..Default::default() };
    match docker.remove_container(id, Some(opts)).await {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
        Err(e) => Err(DeployError::engine("remove container", id, e)),
    }
}

/// The last `n` log lines of a container (stdout and stderr), best effort.
pub async fn log_tail(docker: &Docker, id: &str, n: usize) -> Vec<String> {
    let opts = LogsOptions { stdout: true, stderr: true, tail: n.to_string(), ..Default::default() };
    let mut stream = docker.logs(id, Some(opts));
    let mut text = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    text.lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

/// Running, health status (when it has a healthcheck), exit code.
pub async fn container_state(docker: &Docker, id: &str) -> Result<(bool, Option<String>, Option<i64>), DeployError> {
    let c = docker.inspect_container(id, None).await.map_err(|e| DeployError::engine("inspect container", id, e))?;
    let s = c.state.unwrap_or_default();
    let health = s.health.and_then(|h| h.status).map(|h| h.to_string());
    let running = s.running.unwrap_or(false) && !s.restarting.unwrap_or(false);
    Ok((running, health, s.exit_code))
}

/// Wait (bounded by `limit`) until a container has exited; its exit code.
pub async fn wait_exit(docker: &Docker, id: &str, what: &str, limit: Duration) -> Result<i64, WaitTimeout> {
    wait_until(what, limit, Duration::from_millis(200), || async {
        match container_state(docker, id).await {
            Ok((false, _, Some(code))) => Some(code),
            _ => None,
        }
    })
    .await
}

/// Pull an image by digest through the engine, with the credentials Docker itself would use for
/// its registry (`config.json`: `auths`, `credHelpers`, `credsStore`; see the registry room).
pub async fn pull(docker: &Docker, image: &str) -> Result<(), DeployError> {
    let opts = CreateImageOptions { from_image: Some(image.to_string()), ..Default::default() };
    let creds = credentials_for(image).await?;
    let mut stream = docker.create_image(Some(opts), None, creds);
    while let Some(item) = stream.next().await {
        item.map_err(|e| DeployError::engine("pull image", image, e))?;
    }
    Ok(())
}

/// The engine's `X-Registry-Auth` for the image's registry (Docker's `config.json`, helpers
/// included); `None` when anonymous. Also what a Swarm target passes with its services.
pub(crate) async fn credentials_for(image: &str) -> Result<Option<DockerCredentials>, DeployError> {
    let Ok(reference) = crate::ImageRef::parse(image) else { return Ok(None) };
    let registry = reference.registry().to_string();
    let found = from_docker_config(&registry)
        .await
        .map_err(|e| DeployError::Credentials { image: image.to_string(), source: Box::new(e) })?;
    Ok(to_engine_auth(&registry, found))
}

fn to_engine_auth(registry: &str, credentials: Credentials) -> Option<DockerCredentials> {
    let serveraddress = Some(config_key(registry));
    match credentials {
        Credentials::Basic { username, password } => Some(DockerCredentials {
            username: Some(username),
            password: Some(password.expose().to_string()),
            serveraddress,
            ..Default::default()
        }),
        Credentials::IdentityToken(token) => Some(DockerCredentials {
            identitytoken: Some(token.expose().to_string()),
            serveraddress,
            ..Default::default()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exit_code_from_status() {
        assert_eq!(super::parse_exit("Exited (3) 2 minutes ago"), Some(3));
        assert_eq!(super::parse_exit("Up 2 seconds"), None);
    }
}
