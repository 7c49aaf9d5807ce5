//! Unit tests of `RouteSpec::from_service`.

use std::time::Duration;

use super::*;
use crate::stack::ServiceSpec;

fn service(labels: &[(&str, &str)], slipway: Option<serde_json::Value>) -> ServiceSpec {
    let mut svc = ServiceSpec { name: "web".into(), ..Default::default() };
    for (k, v) in labels {
        svc.labels.insert(k.to_string(), v.to_string());
    }
    if let Some(s) = slipway {
        svc.extensions.insert("x-slipway".into(), s);
    }
    svc
}

#[test]
fn labels_give_routers_tls_port_and_health() {
    let svc = service(
        &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.web.rule", "Host(`app.example.com`)"),
            ("traefik.http.routers.web.entrypoints", "web"),
            ("traefik.http.routers.web-secure.rule", "Host(`app.example.com`)"),
            ("traefik.http.routers.web-secure.entrypoints", "websecure"),
            ("traefik.http.routers.web-secure.tls", "true"),
            ("traefik.http.routers.web-secure.tls.certResolver", "letsencrypt"),
            ("traefik.http.routers.web-secure.middlewares", "compress@file, auth@file"),
            ("traefik.http.services.web.loadbalancer.server.port", "8080"),
            ("traefik.http.services.web.loadbalancer.healthcheck.path", "/health"),
            ("traefik.http.services.web.loadbalancer.healthcheck.interval", "500ms"),
            ("traefik.docker.network", "edge"),
        ],
        Some(serde_json::json!({"route": {"drain": "1s", "retry_attempts": 3}})),
    );
    let spec = RouteSpec::from_service("shop", &svc).unwrap().unwrap();
    assert_eq!(spec.key(), "shop-web");
    assert_eq!(spec.port, 8080);
    assert_eq!(spec.routers.len(), 2);
    assert_eq!(spec.routers[0].name, "web");
    assert_eq!(spec.routers[0].entrypoints, vec!["web"]);
    assert_eq!(spec.routers[0].tls, None);
    let secure = &spec.routers[1];
    assert_eq!(secure.name, "web-secure");
    assert_eq!(secure.tls.as_ref().unwrap().cert_resolver.as_deref(), Some("letsencrypt"));
    assert_eq!(secure.middlewares, vec!["compress@file", "auth@file"]);
    assert_eq!(spec.health.path, "/health");
    assert_eq!(spec.health.interval, Duration::from_millis(500));
    assert_eq!(spec.drain, Duration::from_secs(1));
    assert_eq!(spec.retry_attempts, 3);
    assert_eq!(spec.network.as_deref(), Some("edge"));
}

#[test]
fn workers_and_disabled_services_are_not_routed() {
    assert_eq!(RouteSpec::from_service("s", &service(&[], None)).unwrap(), None);
    let off = service(&[("traefik.enable", "false"), ("traefik.http.routers.web.rule", "Host(`x`)")], None);
    assert_eq!(RouteSpec::from_service("s", &off).unwrap(), None);
    let off = service(&[("traefik.http.routers.web.rule", "Host(`x`)")], Some(serde_json::json!({"route": false})));
    assert_eq!(RouteSpec::from_service("s", &off).unwrap(), None);
}

#[test]
fn enable_alone_gives_a_default_host_rule_and_needs_a_port() {
    let svc = service(&[("traefik.enable", "true")], None);
    let err = RouteSpec::from_service("s", &svc).unwrap_err();
    assert!(matches!(err, RouteError::InvalidSpec { .. }));
    assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    let svc = service(&[("traefik.enable", "true")], Some(serde_json::json!({"route": {"port": 9000}})));
    let spec = RouteSpec::from_service("s", &svc).unwrap().unwrap();
    assert_eq!(spec.routers[0].rule, "Host(`web`)");
    assert_eq!(spec.port, 9000);
}

#[test]
fn bad_values_name_the_label() {
    let svc = service(
        &[
            ("traefik.http.routers.web.rule", "Host(`x`)"),
            ("traefik.http.services.web.loadbalancer.server.port", "http"),
        ],
        None,
    );
    let err = RouteSpec::from_service("s", &svc).unwrap_err().to_string();
    assert!(err.contains("loadbalancer.server.port=http"), "{err}");
    assert!(err.contains("web"), "{err}");
}
