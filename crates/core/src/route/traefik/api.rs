//! Reading Traefik's API (`/api/http/services/<name>@file`, `/api/http/routers/<name>@file`):
//! what Traefik's running configuration holds for a service right now. The answers are parsed by
//! pure functions ([`service_path`], [`parse_service`], ...), so every [`super::ProxyAccess`]
//! (HTTP from here, or exec inside the managed proxy) reads them the same way.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::route::{ApiFailure, RouteError};

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
            .map_err(|e| RouteError::Api { url: base.to_string(), source: Box::new(ApiFailure::Client(e)) })?;
        Ok(TraefikApi { base: base.trim_end_matches('/').to_string(), http })
    }

    /// The API's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET` of `path`: the body, `None` on 404.
    pub(crate) async fn get(&self, path: &str) -> Result<Option<String>, RouteError> {
        let url = format!("{}{path}", self.base);
        let err = |source: ApiFailure| RouteError::Api { url: url.clone(), source: Box::new(source) };
        let resp = self.http.get(&url).send().await.map_err(|e| err(ApiFailure::Request(e)))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(err(ApiFailure::Status { status: resp.status().as_u16() }));
        }
        resp.text().await.map(Some).map_err(|e| err(ApiFailure::Request(e)))
    }

    /// The service `<name>@file` as Traefik runs it.
    pub async fn service(&self, name: &str) -> Result<ServiceView, RouteError> {
        let path = service_path(name);
        parse_service(&self.base, &path, self.get(&path).await?)
    }

    /// The router `<name>@file`'s status (`enabled`, `warning`, `disabled`), `None` when absent.
    pub async fn router_status(&self, name: &str) -> Result<Option<String>, RouteError> {
        let path = router_path(name);
        parse_router_status(&self.base, &path, self.get(&path).await?)
    }
}

/// The API path of service `<name>@file`.
pub(crate) fn service_path(name: &str) -> String {
    format!("/api/http/services/{name}@file")
}

/// The API path of router `<name>@file`.
pub(crate) fn router_path(name: &str) -> String {
    format!("/api/http/routers/{name}@file")
}

/// The view of a service from its API answer (`None` = 404: no such service). `base` and `path`
/// name the request in errors.
pub(crate) fn parse_service(base: &str, path: &str, body: Option<String>) -> Result<ServiceView, RouteError> {
    let Some(body) = body else { return Ok(ServiceView::default()) };
    let parsed: ServiceJson = serde_json::from_str(&body)
        .map_err(|e| RouteError::Api { url: format!("{base}{path}"), source: Box::new(ApiFailure::Answer(e)) })?;
    let mut servers: Vec<String> =
        parsed.load_balancer.map(|lb| lb.servers.into_iter().map(|s| s.url).collect()).unwrap_or_default();
    servers.sort();
    Ok(ServiceView { present: true, servers, status: parsed.server_status })
}

/// A router's status from its API answer (`None` = 404: no such router).
pub(crate) fn parse_router_status(base: &str, path: &str, body: Option<String>) -> Result<Option<String>, RouteError> {
    let Some(body) = body else { return Ok(None) };
    let parsed: RouterJson = serde_json::from_str(&body)
        .map_err(|e| RouteError::Api { url: format!("{base}{path}"), source: Box::new(ApiFailure::Answer(e)) })?;
    Ok(Some(parsed.status))
}
