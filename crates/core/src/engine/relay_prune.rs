//! Relay helpers and prune (engine room): helpers left over by commands that could not remove
//! theirs are removed, and live ones leave a network that prune is about to remove.

use std::collections::HashMap;

use bollard::models::NetworkDisconnectRequest;
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;

use super::relay::{status_of, step, IDLE_SECS, RELAY_LABEL};
use super::EngineError;

/// A stopped helper younger than this may be one being created and started right now.
const STARTING_SECS: i64 = 45;

/// Remove helper containers left over by commands that ended without removing theirs: stopped
/// ones (older than a helper's create + start can take), and running ones older than the idle
/// bound with no exec in them. Returns their names.
pub async fn remove_left_over_relays(docker: &Docker) -> Result<Vec<String>, EngineError> {
    let host = "the engine";
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([("label".to_string(), vec![format!("{RELAY_LABEL}=1")])])),
        ..Default::default()
    };
    let found = step(host, "list helper containers", docker.list_containers(Some(options))).await?;
    let now = chrono::Utc::now().timestamp();
    let mut removed = Vec::new();
    for c in found {
        let Some(id) = c.id else { continue };
        let running = c.state.as_ref().is_some_and(|s| s.to_string() == "running");
        let age = c.created.map(|t| now - t).unwrap_or_default();
        if !running && age <= STARTING_SECS {
            continue;
        }
        if running && age <= IDLE_SECS as i64 {
            continue;
        }
        if running {
            let inspect = step(host, "inspect a helper", docker.inspect_container(&id, None)).await?;
            if inspect.exec_ids.is_some_and(|e| !e.is_empty()) {
                continue;
            }
        }
        let opts = RemoveContainerOptions { force: true, ..Default::default() };
        if step(host, "remove a helper", docker.remove_container(&id, Some(opts))).await.is_ok() {
            removed.extend(c.names.unwrap_or_default().into_iter().map(|n| n.trim_start_matches('/').to_string()));
        }
    }
    Ok(removed)
}

/// Disconnect every helper container from `network` (before the network is removed).
pub async fn detach_relays(docker: &Docker, network: &str) -> Result<(), EngineError> {
    let host = "the engine";
    let filters = HashMap::from([
        ("label".to_string(), vec![format!("{RELAY_LABEL}=1")]),
        ("network".to_string(), vec![network.to_string()]),
    ]);
    let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    for c in step(host, "list helper containers", docker.list_containers(Some(options))).await? {
        let Some(id) = c.id else { continue };
        let request = NetworkDisconnectRequest { container: id, force: Some(true) };
        match step(host, "disconnect a helper", docker.disconnect_network(network, request)).await {
            Ok(()) => {}
            Err(e) if matches!(status_of(&e), Some(404)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
