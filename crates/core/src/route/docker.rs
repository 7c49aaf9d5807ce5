//! Backends from Docker containers: the address at which the proxy reaches a container of a
//! routed service (its IP on the route's network, or on its first network with an address; a
//! port published on the host when it has no network address), and the labels that keep
//! Traefik's Docker provider away from containers whose traffic slipway switches itself.

use std::collections::BTreeMap;

use bollard::Docker;

use super::{Backend, RouteError, RouteSpec};

/// The label slipway puts on containers of routed services, naming the route (`<stack>-<service>`).
pub const ROUTE_LABEL: &str = "dev.slipway.route";

/// Labels for a new container of a routed service: its compose labels plus `traefik.enable=false`
/// (so a Traefik Docker provider never routes it on its own timing; slipway's file-provider
/// route does) and [`ROUTE_LABEL`].
pub fn container_labels(route: &RouteSpec, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = labels.clone();
    out.insert("traefik.enable".into(), "false".into());
    out.insert(ROUTE_LABEL.into(), route.key());
    out
}

/// The backend of container `id` for `route`, from the engine's view of the container.
pub async fn backend_for_container(docker: &Docker, id: &str, route: &RouteSpec) -> Result<Backend, RouteError> {
    let err = |reason: String| RouteError::ContainerAddress {
        service: route.service.clone(),
        container: id.to_string(),
        reason,
    };
    let info = docker.inspect_container(id, None).await.map_err(|e| RouteError::ContainerInspect {
        service: route.service.clone(),
        container: id.to_string(),
        source: e,
    })?;
    let settings = info.network_settings.ok_or_else(|| err("no network settings".into()))?;
    let networks: BTreeMap<String, String> = settings
        .networks
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, ep)| ep.ip_address.filter(|ip| !ip.is_empty()).map(|ip| (name, ip)))
        .collect();
    let ip = match &route.network {
        Some(wanted) => {
            let found = networks.iter().find(|(name, _)| *name == wanted || name.ends_with(&format!("_{wanted}")));
            Some(found.map(|(_, ip)| ip.clone()).ok_or_else(|| {
                err(format!("not attached to network {wanted} (attached: {:?})", networks.keys().collect::<Vec<_>>()))
            })?)
        }
        None => networks.values().next().cloned(),
    };
    if let Some(ip) = ip {
        return Backend::parse(&format!("{}://{ip}:{}", route.scheme, route.port));
    }
    let published = settings
        .ports
        .unwrap_or_default()
        .get(&format!("{}/tcp", route.port))
        .cloned()
        .flatten()
        .unwrap_or_default()
        .into_iter()
        .find_map(|b| b.host_port.filter(|p| !p.is_empty()));
    match published {
        Some(port) => Backend::parse(&format!("{}://127.0.0.1:{port}", route.scheme)),
        None => Err(err(format!("no network address and port {} is not published", route.port))),
    }
}
