//! The Traefik dynamic configuration slipway writes for one service: pure functions from
//! (`RouteSpec`, server set) to the YAML text, and back from the text to the server set.
//! One file per service, `slipway-<stack>-<service>.yml`, holding its routers, a retry
//! middleware and the load-balanced service with Traefik's own health check.

use serde_json::{json, Map, Value};

use crate::route::{Backend, RouteSpec};

/// The first line of every file slipway writes.
pub const HEADER: &str = "# Written by slipway (route room). Changes are overwritten on the next deploy.\n";

/// The file name for a route.
pub fn file_name(route: &RouteSpec) -> String {
    format!("slipway-{}.yml", route.key())
}

/// The name of a router of the route in Traefik (`<stack>-<service>-<router>`).
pub fn router_name(route: &RouteSpec, router: &str) -> String {
    format!("{}-{router}", route.key())
}

/// The name of the route's retry middleware.
pub fn retry_name(route: &RouteSpec) -> String {
    format!("{}-retry", route.key())
}

/// The dynamic configuration as a JSON value (keys in a stable order).
pub fn render_value(route: &RouteSpec, backends: &[Backend]) -> Value {
    let key = route.key();
    let mut routers = Map::new();
    for r in &route.routers {
        let mut router = Map::new();
        router.insert("rule".into(), json!(r.rule));
        if !r.entrypoints.is_empty() {
            router.insert("entryPoints".into(), json!(r.entrypoints));
        }
        router.insert("service".into(), json!(key));
        let mut middlewares = Vec::new();
        if route.retry_attempts > 0 {
            middlewares.push(retry_name(route));
        }
        middlewares.extend(r.middlewares.iter().cloned());
        if !middlewares.is_empty() {
            router.insert("middlewares".into(), json!(middlewares));
        }
        if let Some(p) = r.priority {
            router.insert("priority".into(), json!(p));
        }
        if let Some(tls) = &r.tls {
            let mut t = Map::new();
            if let Some(resolver) = &tls.cert_resolver {
                t.insert("certResolver".into(), json!(resolver));
            }
            if let Some(options) = &tls.options {
                t.insert("options".into(), json!(options));
            }
            router.insert("tls".into(), Value::Object(t));
        }
        routers.insert(router_name(route, &r.name), Value::Object(router));
    }
    let servers: Vec<Value> = backends.iter().map(|b| json!({ "url": b.url() })).collect();
    let service = json!({
        "loadBalancer": {
            "servers": servers,
            "passHostHeader": true,
            "healthCheck": {
                "path": route.health.path,
                "interval": format!("{}ms", route.health.interval.as_millis()),
                "timeout": format!("{}ms", route.health.timeout.as_millis()),
            },
        }
    });
    let mut http = Map::new();
    http.insert("routers".into(), Value::Object(routers));
    if route.retry_attempts > 0 {
        http.insert(
            "middlewares".into(),
            json!({ retry_name(route): { "retry": { "attempts": route.retry_attempts, "initialInterval": "50ms" } } }),
        );
    }
    http.insert("services".into(), json!({ key: service }));
    json!({ "http": Value::Object(http) })
}

/// The dynamic configuration as YAML text, with the header comment.
pub fn render(route: &RouteSpec, backends: &[Backend]) -> Result<String, serde_yaml_ng::Error> {
    Ok(format!("{HEADER}{}", serde_yaml_ng::to_string(&render_value(route, backends))?))
}

/// The server set written in a file rendered by [`render`] (empty when the service is missing).
pub fn servers_in(route: &RouteSpec, text: &str) -> Result<Vec<Backend>, serde_yaml_ng::Error> {
    let value: Value = serde_yaml_ng::from_str(text)?;
    let servers = value
        .pointer(&format!("/http/services/{}/loadBalancer/servers", route.key()))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(servers.iter().filter_map(|s| s.get("url")?.as_str()).filter_map(|u| Backend::parse(u).ok()).collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::route::TlsSpec;

    #[test]
    fn renders_routers_tls_retry_health_and_round_trips_servers() {
        let mut route = RouteSpec::new("shop", "web", "Host(`app.example.com`)", 8080);
        route.routers[0].entrypoints = vec!["websecure".into()];
        route.routers[0].tls = Some(TlsSpec { cert_resolver: Some("le".into()), options: None });
        route.routers[0].middlewares = vec!["auth@file".into()];
        route.health.path = "/health".into();
        route.health.interval = Duration::from_millis(500);
        let backends = vec![Backend::http("172.18.0.5", 8080), Backend::http("172.18.0.6", 8080)];
        let text = render(&route, &backends).unwrap();
        assert!(text.starts_with(HEADER));
        let v: Value = serde_yaml_ng::from_str(&text).unwrap();
        let router = &v["http"]["routers"]["shop-web-web"];
        assert_eq!(router["rule"], "Host(`app.example.com`)");
        assert_eq!(router["service"], "shop-web");
        assert_eq!(router["entryPoints"], json!(["websecure"]));
        assert_eq!(router["tls"]["certResolver"], "le");
        assert_eq!(router["middlewares"], json!(["shop-web-retry", "auth@file"]));
        assert_eq!(v["http"]["middlewares"]["shop-web-retry"]["retry"]["attempts"], 2);
        let lb = &v["http"]["services"]["shop-web"]["loadBalancer"];
        assert_eq!(lb["healthCheck"]["path"], "/health");
        assert_eq!(lb["healthCheck"]["interval"], "500ms");
        assert_eq!(servers_in(&route, &text).unwrap(), backends);
        assert_eq!(render(&route, &backends).unwrap(), text, "rendering is deterministic");
    }

    #[test]
    fn no_retry_middleware_when_disabled() {
        let mut route = RouteSpec::new("s", "api", "PathPrefix(`/`)", 80);
        route.retry_attempts = 0;
        let v = render_value(&route, &[]);
        assert!(v["http"].get("middlewares").is_none());
        assert!(v["http"]["routers"]["s-api-api"].get("middlewares").is_none());
        assert!(v["http"]["routers"]["s-api-api"].get("tls").is_none());
    }
}
