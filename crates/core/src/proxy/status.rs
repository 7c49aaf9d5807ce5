//! `status`, `logs`, `down` of the managed proxy: what runs (from the container's labels, so
//! any operator machine sees the same) and what Traefik's API says (read by exec).

use bollard::query_parameters::{LogsOptions, RemoveContainerOptions, StopContainerOptions};
use futures::StreamExt;
use serde::Serialize;

use super::error::ProxyError;
use super::{emit, ManagedProxy, ProxyEvent, API_ADDR, HASH_LABEL, PROXY_LABEL, SETTINGS_LABEL};
use crate::events::Observer;
use crate::route::traefik::exec::exec;

/// What `status` reports (the keys of `slipway proxy status --json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ProxyStatus {
    /// The container's name.
    pub name: String,
    /// The engine.
    pub host: String,
    /// Whether a managed proxy container exists under the name.
    pub exists: bool,
    /// Whether it runs.
    pub running: bool,
    /// Its image.
    pub image: Option<String>,
    /// Entry point `web`'s published address.
    pub http: Option<String>,
    /// Entry point `websecure`'s published address.
    pub https: Option<String>,
    /// HTTP -> HTTPS redirection.
    pub redirect_https: Option<bool>,
    /// The ACME resolver `letsencrypt` (email, server, CA file), when configured.
    pub acme: Option<serde_json::Value>,
    /// The settings' hash.
    pub settings_hash: Option<String>,
    /// Networks the proxy is attached to, sorted.
    pub networks: Vec<String>,
    /// Traefik's version, from its API.
    pub version: Option<String>,
    /// HTTP routers Traefik runs (from its API).
    pub routers: Option<u64>,
    /// HTTP services Traefik runs (from its API).
    pub services: Option<u64>,
}

/// What `down` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProxyDown {
    /// The container.
    pub name: String,
    /// Whether a container was removed (false: there was none).
    pub removed: bool,
    /// The volumes kept (configuration and certificates).
    pub kept_volumes: Vec<String>,
}

fn engine(action: &'static str, what: &str, host: &str) -> impl FnOnce(bollard::errors::Error) -> ProxyError {
    let (what, host) = (what.to_string(), host.to_string());
    move |source| ProxyError::Engine { action, what, host, source }
}

pub(super) async fn status(proxy: &ManagedProxy, name: &str) -> Result<ProxyStatus, ProxyError> {
    let mut st = ProxyStatus { name: name.to_string(), host: proxy.host.clone(), ..Default::default() };
    let c = match proxy.docker.inspect_container(name, None).await {
        Ok(c) => c,
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => return Ok(st),
        Err(e) => return Err(engine("inspect container", name, &proxy.host)(e)),
    };
    let labels = c.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
    if !labels.contains_key(PROXY_LABEL) {
        return Ok(st);
    }
    st.exists = true;
    st.running = c.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    st.settings_hash = labels.get(HASH_LABEL).cloned();
    let settings: serde_json::Value =
        labels.get(SETTINGS_LABEL).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
    st.image = settings.get("image").and_then(|v| v.as_str()).map(str::to_string);
    let address = |key: &str| {
        settings.get(key).map(|a| {
            let ip = a.get("ip").and_then(|v| v.as_str()).unwrap_or("");
            let port = a.get("port").and_then(|v| v.as_u64()).unwrap_or(0);
            if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            }
        })
    };
    st.http = address("http");
    st.https = address("https");
    st.redirect_https = settings.get("redirect_https").and_then(|v| v.as_bool());
    st.acme = settings.get("acme").filter(|v| !v.is_null()).cloned();
    let mut networks: Vec<String> =
        c.network_settings.and_then(|s| s.networks).map(|n| n.into_keys().collect()).unwrap_or_default();
    networks.sort();
    st.networks = networks;
    if st.running {
        let api = |path: &str| {
            let url = format!("http://{API_ADDR}{path}");
            let docker = proxy.docker.clone();
            let name = name.to_string();
            async move {
                let out = exec(
                    &docker,
                    &name,
                    &["timeout", "5", "wget", "-q", "-O", "-", &url],
                    std::time::Duration::from_secs(15),
                )
                .await
                .ok()?;
                (out.code == 0).then(|| serde_json::from_slice::<serde_json::Value>(&out.stdout).ok()).flatten()
            }
        };
        if let Some(v) = api("/api/version").await {
            st.version = v.get("Version").and_then(|v| v.as_str()).map(str::to_string);
        }
        if let Some(o) = api("/api/overview").await {
            st.routers = o.pointer("/http/routers/total").and_then(|v| v.as_u64());
            st.services = o.pointer("/http/services/total").and_then(|v| v.as_u64());
        }
    }
    Ok(st)
}

pub(super) async fn logs(proxy: &ManagedProxy, name: &str, tail: Option<usize>) -> Result<Vec<String>, ProxyError> {
    if !super::running(&proxy.docker, name).await && proxy.docker.inspect_container(name, None).await.is_err() {
        return Err(ProxyError::NotRunning { name: name.to_string(), host: proxy.host.clone() });
    }
    let tail = tail.map(|n| n.to_string()).unwrap_or_else(|| "all".into());
    let opts = LogsOptions { stdout: true, stderr: true, tail, ..Default::default() };
    let mut stream = proxy.docker.logs(name, Some(opts));
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(engine("read logs of", name, &proxy.host))?;
        text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    Ok(text.lines().map(str::to_string).collect())
}

pub(super) async fn down(proxy: &ManagedProxy, name: &str, observer: &dyn Observer) -> Result<ProxyDown, ProxyError> {
    let kept_volumes = vec![format!("{name}-dynamic"), format!("{name}-acme")];
    let c = match proxy.docker.inspect_container(name, None).await {
        Ok(c) => c,
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
            return Ok(ProxyDown { name: name.to_string(), removed: false, kept_volumes })
        }
        Err(e) => return Err(engine("inspect container", name, &proxy.host)(e)),
    };
    let ours = c.config.as_ref().and_then(|c| c.labels.as_ref()).is_some_and(|l| l.contains_key(PROXY_LABEL));
    if !ours {
        return Err(ProxyError::NotRunning { name: name.to_string(), host: proxy.host.clone() });
    }
    let stop = StopContainerOptions { t: Some(10), ..Default::default() };
    match proxy.docker.stop_container(name, Some(stop)).await {
        Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => {}
        Err(e) => return Err(engine("stop container", name, &proxy.host)(e)),
    }
    let opts = RemoveContainerOptions { force: true, ..Default::default() };
    proxy.docker.remove_container(name, Some(opts)).await.map_err(engine("remove container", name, &proxy.host))?;
    emit(observer, ProxyEvent::Removed { name: name.to_string() });
    Ok(ProxyDown { name: name.to_string(), removed: true, kept_volumes })
}
