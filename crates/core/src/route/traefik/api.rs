//! Reading Traefik's API (`/api/http/services/<name>@file`, `/api/http/routers/<name>@file`):
//! what Traefik's running configuration holds for a service right now.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::route::RouteError;

/// What Traefik shows for one service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceView {
    /// Whether the service exists in the running configuration.
    pub present: bool,
    /// Server URLs, sorted.
    pub servers: Vec<String>,
    /// `UP` / `DOWN` per server URL.
    pub status: BTreeMap<String, String>,
}

impl std::fmt::Display for ServiceView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.present {
            return f.write_str("no such service");
        }
        let parts: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("{s}={}", self.status.get(s).map(String::as_str).unwrap_or("?")))
            .collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

#[derive(Deserialize)]
struct ServiceJson {
    #[serde(rename = "loadBalancer", default)]
    load_balancer: Option<LoadBalancerJson>,
    #[serde(rename = "serverStatus", default)]
    server_status: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct LoadBalancerJson {
    #[serde(default)]
    servers: Vec<ServerJson>,
}

#[derive(Deserialize)]
struct ServerJson {
    url: String,
}

#[derive(Deserialize)]
struct RouterJson {
    #[serde(default)]
    status: String,
}

/// A client of Traefik's API.
#[derive(Debug, Clone)]
pub struct TraefikApi {
    base: String,
    http: reqwest::Client,
}

impl TraefikApi {
    /// A client for the API at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Self, RouteError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| RouteError::Api { url: base.to_string(), reason: e.to_string() })?;
        Ok(TraefikApi { base: base.trim_end_matches('/').to_string(), http })
    }

    /// The API's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get(&self, path: &str) -> Result<Option<String>, RouteError> {
        let url = format!("{}{path}", self.base);
        let err = |reason: String| RouteError::Api { url: url.clone(), reason };
        let resp = self.http.get(&url).send().await.map_err(|e| err(e.to_string()))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(err(format!("HTTP {}", resp.status())));
        }
        resp.text().await.map(Some).map_err(|e| err(e.to_string()))
    }

    /// The service `<name>@file` as Traefik runs it.
    pub async fn service(&self, name: &str) -> Result<ServiceView, RouteError> {
        let Some(body) = self.get(&format!("/api/http/services/{name}@file")).await? else {
            return Ok(ServiceView::default());
        };
        let parsed: ServiceJson = serde_json::from_str(&body).map_err(|e| RouteError::Api {
            url: format!("{}/api/http/services/{name}@file", self.base),
            reason: e.to_string(),
        })?;
        let mut servers: Vec<String> =
            parsed.load_balancer.map(|lb| lb.servers.into_iter().map(|s| s.url).collect()).unwrap_or_default();
        servers.sort();
        Ok(ServiceView { present: true, servers, status: parsed.server_status })
    }

    /// The router `<name>@file`'s status (`enabled`, `warning`, `disabled`), `None` when absent.
    pub async fn router_status(&self, name: &str) -> Result<Option<String>, RouteError> {
        let path = format!("/api/http/routers/{name}@file");
        let Some(body) = self.get(&path).await? else { return Ok(None) };
        let parsed: RouterJson = serde_json::from_str(&body)
            .map_err(|e| RouteError::Api { url: format!("{}{path}", self.base), reason: e.to_string() })?;
        Ok(Some(parsed.status))
    }
}
