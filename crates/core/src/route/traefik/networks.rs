//! The managed proxy's networks, the other half of joining them (`ProxyContainer::reach`):
//!
//! - [`leave_unused`]: after a route lost backends, the proxy leaves each network that held one
//!   of them when no backend in any configuration file on its volume lies in that network any
//!   more (a routed service removed from the stack, a service moved to another network);
//! - [`detach_managed_proxies`]: before a project's network is removed (`prune`), every managed
//!   proxy (a container with [`MANAGED_LABEL`]) still attached to it is disconnected.
//!
//! Everything through the engine (exec, network inspect/disconnect), so `ssh://` works the same.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use bollard::models::NetworkDisconnectRequest;
use bollard::query_parameters::InspectNetworkOptions;
use bollard::Docker;

use super::container::{subnet_holds, MANAGED_DYNAMIC_DIR, MANAGED_LABEL};
use super::exec::{exec, tail, ExecError};
use crate::route::NetworkFailure;

/// Bound of one engine request made here.
const REQUEST_BOUND: Duration = Duration::from_secs(20);
/// Networks a container has by its network mode, never left.
const BUILT_IN: [&str; 3] = ["bridge", "host", "none"];

/// Every backend address (`http://a.b.c.d`) in the proxy's configuration files (temporary files
/// of a write in flight included: leaving too little is the safe side).
async fn backend_addresses(docker: &Docker, proxy: &str) -> Result<BTreeSet<Ipv4Addr>, NetworkFailure> {
    let argv = ["grep", "-rhoE", "https?://[0-9.]+", MANAGED_DYNAMIC_DIR];
    let out = exec(docker, proxy, &argv, REQUEST_BOUND).await.map_err(NetworkFailure::Exec)?;
    match out.code {
        0 | 1 => Ok(addresses_in(&String::from_utf8_lossy(&out.stdout))),
        code => Err(NetworkFailure::Exec(ExecError::Failed {
            command: argv.join(" "),
            container: proxy.to_string(),
            code,
            stderr: tail(&out.stderr),
        })),
    }
}

/// An engine request's failure, saying what was asked.
fn engine(action: String) -> impl FnOnce(bollard::errors::Error) -> NetworkFailure {
    move |source| NetworkFailure::Engine { action, source }
}

/// The IPv4 addresses of `http://a.b.c.d` / `https://a.b.c.d` lines.
fn addresses_in(text: &str) -> BTreeSet<Ipv4Addr> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches("https://").trim_start_matches("http://").parse().ok())
        .collect()
}

/// The subnets of network `name`.
async fn subnets(docker: &Docker, name: &str) -> Result<Vec<String>, NetworkFailure> {
    let network = bounded(docker.inspect_network(name, None::<InspectNetworkOptions>))
        .await
        .map_err(engine(format!("inspect network {name}")))?;
    Ok(network.ipam.and_then(|i| i.config).unwrap_or_default().into_iter().filter_map(|c| c.subnet).collect())
}

/// `fut` bounded by [`REQUEST_BOUND`]; no answer is bollard's own timeout error.
async fn bounded<T>(
    fut: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, bollard::errors::Error> {
    tokio::time::timeout(REQUEST_BOUND, fut).await.unwrap_or(Err(bollard::errors::Error::RequestTimeoutError))
}

/// Disconnect `container` from `network` (bounded).
async fn disconnect(docker: &Docker, container: &str, network: &str) -> Result<(), bollard::errors::Error> {
    let request = NetworkDisconnectRequest { container: container.to_string(), force: Some(true) };
    bounded(docker.disconnect_network(network, request)).await
}

/// The proxy `proxy` leaves each network holding one of `gone` (backends just taken out of a
/// route) that holds no backend still configured. Returns the networks it left.
pub(crate) async fn leave_unused(
    docker: &Docker,
    proxy: &str,
    gone: &[Ipv4Addr],
) -> Result<Vec<String>, NetworkFailure> {
    if gone.is_empty() {
        return Ok(Vec::new());
    }
    let inspect = bounded(docker.inspect_container(proxy, None)).await.map_err(engine(format!("inspect {proxy}")))?;
    let on: Vec<String> =
        inspect.network_settings.and_then(|s| s.networks).map(|n| n.into_keys().collect()).unwrap_or_default();
    let still = backend_addresses(docker, proxy).await?;
    let mut left = Vec::new();
    for network in on.iter().filter(|n| !BUILT_IN.contains(&n.as_str())) {
        let subnets = subnets(docker, network).await?;
        let holds = |ip: &Ipv4Addr| subnets.iter().any(|s| subnet_holds(s, *ip));
        if gone.iter().any(holds) && !still.iter().any(holds) {
            disconnect(docker, proxy, network).await.map_err(engine(format!("disconnect {proxy} from {network}")))?;
            tracing::info!(%proxy, %network, "the proxy left a network no route uses");
            left.push(network.clone());
        }
    }
    Ok(left)
}

/// Disconnect every managed proxy attached to `network` (before the network is removed).
/// Returns the proxies' names.
pub async fn detach_managed_proxies(docker: &Docker, network: &str) -> Result<Vec<String>, bollard::errors::Error> {
    let net = bounded(docker.inspect_network(network, None::<InspectNetworkOptions>)).await?;
    let mut detached = Vec::new();
    for (id, endpoint) in net.containers.unwrap_or_default() {
        let Ok(c) = bounded(docker.inspect_container(&id, None)).await else { continue };
        if c.config.and_then(|c| c.labels).is_some_and(|l| l.contains_key(MANAGED_LABEL)) {
            disconnect(docker, &id, network).await?;
            let name = endpoint.name.unwrap_or(id);
            tracing::info!(proxy = %name, %network, "the proxy left a network about to be removed");
            detached.push(name);
        }
    }
    detached.sort();
    Ok(detached)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_addresses_are_read_from_grep_lines() {
        let found = addresses_in("http://172.18.0.3\nhttps://10.0.0.7\nhttp://not-an-ip\n\n");
        let want: BTreeSet<Ipv4Addr> = ["172.18.0.3", "10.0.0.7"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(found, want);
    }
}
