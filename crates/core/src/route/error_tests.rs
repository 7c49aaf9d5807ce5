//! The route room's errors keep their causes: each test fails one real operation (a closed port,
//! an unreadable or unparsable configuration file, a bad address or duration) and walks the
//! error's `source()` chain down to the library error that caused it.

use std::error::Error as _;
use std::time::Duration;

use super::*;
use crate::events::NoopObserver;
use crate::route::traefik::{TraefikApi, TraefikRouter};
use crate::route::{Backend, RouteSpec, TrafficRouter};

/// Every error in `e`'s chain, `e` first.
fn chain<'a>(e: &'a (dyn std::error::Error + 'static)) -> Vec<&'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| (*e).source()).collect()
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn refused(e: &(dyn std::error::Error + 'static)) -> bool {
    chain(e).iter().any(|s| {
        s.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

#[tokio::test]
async fn an_api_request_to_a_closed_port_keeps_the_http_error() {
    let api = TraefikApi::new(&format!("http://127.0.0.1:{}", closed_port())).unwrap();
    let err = api.service("shop-web").await.unwrap_err();
    let RouteError::Api { source, .. } = &err else { panic!("{err:?}") };
    let ApiFailure::Request(request) = source.as_ref() else { panic!("{err:?}") };
    assert!(request.is_connect(), "{request:?}");
    let causes = chain(&err);
    // RouteError -> ApiFailure (boxed) -> reqwest::Error -> ... -> io::Error (refused).
    assert!(causes[2].downcast_ref::<reqwest::Error>().is_some_and(|r| r.is_connect()), "{causes:?}");
    assert!(refused(&err), "{causes:?}");
    assert!(err.to_string().contains("cannot reach the proxy API at http://127.0.0.1:"), "{err}");
}

#[tokio::test]
async fn a_backend_that_refuses_its_probe_is_unhealthy_with_the_refusal_as_cause() {
    let dir = tempfile::tempdir().unwrap();
    let router = TraefikRouter::new(dir.path(), &format!("http://127.0.0.1:{}", closed_port()))
        .unwrap()
        .health_timeout(Duration::from_millis(300))
        .poll_interval(Duration::from_millis(50));
    let route = RouteSpec::new("s", "web", "PathPrefix(`/`)", 80);
    let backend = Backend::http("127.0.0.1", closed_port());
    let err = router.add_backend(&route, &backend, &NoopObserver).await.unwrap_err();
    let RouteError::BackendUnhealthy { last: Some(last), .. } = &err else { panic!("{err:?}") };
    assert!(matches!(last.as_ref(), ProbeFailure::Request(_)), "{last:?}");
    assert!(chain(&err).iter().any(|s| s.is::<reqwest::Error>()), "{err:?}");
    assert!(refused(&err), "{err:?}");
    assert!(err.to_string().contains("(last: "), "{err}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "an unhealthy backend is never written");
}

#[tokio::test]
async fn an_unreadable_or_unparsable_config_file_keeps_its_io_or_yaml_error() {
    let dir = tempfile::tempdir().unwrap();
    let router = TraefikRouter::new(dir.path(), "http://127.0.0.1:1").unwrap();
    let route = RouteSpec::new("s", "web", "PathPrefix(`/`)", 80);
    let file = router.file_path(&route);
    // A directory where the file should be: reading it fails with the OS's error.
    std::fs::create_dir(&file).unwrap();
    let err = router.backends(&route).await.unwrap_err();
    let RouteError::ConfigFile { action: "read", source, .. } = &err else { panic!("{err:?}") };
    assert!(source.raw_os_error().is_some(), "{source:?}");
    assert!(err.source().and_then(|s| s.downcast_ref::<std::io::Error>()).is_some(), "{err:?}");
    assert!(err.to_string().contains(&format!("cannot read {}", file.display())), "{err}");

    std::fs::remove_dir(&file).unwrap();
    std::fs::write(&file, "http: [unclosed").unwrap();
    let err = router.backends(&route).await.unwrap_err();
    assert!(matches!(err, RouteError::ConfigText { action: "parse", .. }), "{err:?}");
    assert!(err.source().and_then(|s| s.downcast_ref::<serde_yaml_ng::Error>()).is_some(), "{err:?}");
}

#[test]
fn bad_backends_and_durations_keep_the_parsers_errors() {
    let err = Backend::parse("not a url").unwrap_err();
    assert!(err.source().and_then(|s| s.downcast_ref::<url::ParseError>()).is_some(), "{err:?}");
    assert!(err.to_string().contains("(relative URL without a base)"), "{err}");
    let err = Backend::parse("ftp://host:21").unwrap_err();
    assert!(matches!(err, RouteError::InvalidBackend { source: None, .. }) && err.source().is_none(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "backend \"ftp://host:21\" is not a valid address; expected http://HOST:PORT or https://HOST:PORT"
    );
    assert_eq!(err.kind(), ErrorKind::InvalidInput);

    let stack = crate::stack::StackSpec {
        slipway: serde_json::json!({"traefik": {"dynamic_dir": "/d", "api": "http://127.0.0.1:8080", "confirm_timeout": "soon"}}),
        ..Default::default()
    };
    let err = TraefikRouter::from_stack(&stack).unwrap_err();
    assert!(err.source().and_then(|s| s.downcast_ref::<humantime::DurationError>()).is_some(), "{err:?}");
    assert!(err.to_string().starts_with("service x-slipway.traefik: invalid routing settings: confirm_timeout=soon: "));
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn leaf_failures_read_as_before() {
    let status = ProbeFailure::Status { status: 503, from: Some("slipway-proxy".into()) };
    assert_eq!(status.to_string(), "HTTP 503 Service Unavailable (probed from slipway-proxy)");
    assert_eq!(ApiFailure::Status { status: 500 }.to_string(), "HTTP 500 Internal Server Error");
    let err = RouteError::Unreachable {
        backend: "http://127.0.0.1:80".into(),
        proxy: "p".into(),
        source: Box::new(NetworkFailure::Loopback),
    };
    assert!(
        err.to_string().contains("cannot be reached from proxy p: a loopback address is the proxy container"),
        "{err}"
    );
}

#[test]
fn route_errors_stay_small() {
    // The deployer's error holds a RouteError unboxed: clippy's result_large_err limit is 128 bytes.
    assert!(std::mem::size_of::<RouteError>() <= 120, "{}", std::mem::size_of::<RouteError>());
}
