//! [`labelled_web_stack`]: a stack of one web service (the demo app) labelled as users label it
//! for Traefik's Docker provider (`traefik.enable`, a router with a rule, entry point and optional
//! `tls.certresolver`, the service's port and Traefik health check), with a Docker healthcheck,
//! on the project's default network. Callers add the top-level `x-slipway` (a user-run Traefik,
//! or the managed proxy's name).

use std::time::Duration;

use slipway::stack::{HealthcheckSpec, NetworkSpec, StackSpec};

/// How the web service is routed.
#[derive(Debug, Clone, Copy)]
pub struct WebRoute<'a> {
    /// The router's rule, e.g. ``PathPrefix(`/`)`` or ``Host(`app.example.test`)``.
    pub rule: &'a str,
    /// The router's entry point (`web`, `websecure`).
    pub entrypoint: &'a str,
    /// The router's `tls.certresolver`.
    pub certresolver: Option<&'a str>,
    /// `x-slipway.health_timeout` of the service.
    pub health_timeout: &'a str,
}

impl Default for WebRoute<'_> {
    fn default() -> Self {
        WebRoute { rule: "PathPrefix(`/`)", entrypoint: "web", certresolver: None, health_timeout: "6s" }
    }
}

/// The stack: service `web` from `demo` answering `/version` with `version`.
pub fn labelled_web_stack(project: &str, demo: &str, version: &str, route: WebRoute<'_>) -> StackSpec {
    let mut web = crate::stacks::service("web", demo);
    web.environment.insert("APP_VERSION".into(), Some(version.into()));
    let hc: Option<HealthcheckSpec> = serde_json::from_value(serde_json::json!({
        "test": ["CMD", "/demo-app", "check", "http://127.0.0.1:8080/health"],
        "interval": "300ms", "timeout": "2s", "retries": 3, "start_period": null, "start_interval": null
    }))
    .ok();
    web.healthcheck = hc;
    web.stop_grace_period = Some(Duration::from_secs(5));
    let mut labels = vec![
        ("traefik.enable", "true"),
        ("traefik.http.routers.web.rule", route.rule),
        ("traefik.http.routers.web.entrypoints", route.entrypoint),
        ("traefik.http.services.web.loadbalancer.server.port", "8080"),
        ("traefik.http.services.web.loadbalancer.healthcheck.path", "/health"),
        ("traefik.http.services.web.loadbalancer.healthcheck.interval", "300ms"),
        ("traefik.http.services.web.loadbalancer.healthcheck.timeout", "300ms"),
    ];
    if let Some(resolver) = route.certresolver {
        labels.push(("traefik.http.routers.web.tls.certresolver", resolver));
    }
    for (k, v) in labels {
        web.labels.insert(k.into(), v.into());
    }
    web.extensions.insert(
        "x-slipway".into(),
        serde_json::json!({"health_timeout": route.health_timeout, "route": {"drain": "500ms"}}),
    );
    let mut stack = StackSpec::default();
    stack.name = project.into();
    stack.services.insert("web".into(), web);
    let mut net = NetworkSpec::default();
    net.name = format!("{project}_default");
    stack.networks.insert("default".into(), net);
    stack
}
