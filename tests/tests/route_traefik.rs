//! The route room against the real Traefik v3: zero failed requests (HTTP and HTTPS) across an
//! upgrade, a failed upgrade and a rollback, several replicas rolled one at a time, and the undo
//! edges (a backend Traefik's own check finds down is taken out again; the last backend stays).

use std::time::Duration;

use slipway::route::traefik::TraefikRouter;
use slipway::route::{Backend, RouteError, RouteEvent, RouteSpec, TrafficRouter};
use slipway::stack::ServiceSpec;
use slipway::{Event, NoopObserver, RecordingObserver};
use slipway_e2e::load::{failures, versions_between, Load};
use slipway_e2e::traefik::TestTraefik;
use slipway_e2e::version_server::VersionServer;

/// The route of a compose service labelled as users label it for Traefik's Docker provider.
fn web_route(stack: &str) -> RouteSpec {
    let mut svc = ServiceSpec::default();
    svc.name = "web".into();
    for (k, v) in [
        ("traefik.enable", "true"),
        ("traefik.http.routers.web.rule", "PathPrefix(`/`)"),
        ("traefik.http.routers.web.entrypoints", "web"),
        ("traefik.http.routers.web-secure.rule", "PathPrefix(`/`)"),
        ("traefik.http.routers.web-secure.entrypoints", "websecure"),
        ("traefik.http.routers.web-secure.tls", "true"),
        ("traefik.http.services.web.loadbalancer.server.port", "8080"),
        ("traefik.http.services.web.loadbalancer.healthcheck.path", "/health"),
        ("traefik.http.services.web.loadbalancer.healthcheck.interval", "300ms"),
        ("traefik.http.services.web.loadbalancer.healthcheck.timeout", "300ms"),
    ] {
        svc.labels.insert(k.into(), v.into());
    }
    svc.extensions.insert("x-slipway".into(), serde_json::json!({"route": {"drain": "500ms"}}));
    RouteSpec::from_service(stack, &svc).unwrap().expect("a routed service")
}

fn router(t: &TestTraefik) -> TraefikRouter {
    TraefikRouter::new(t.dynamic_dir(), &t.api_url())
        .unwrap()
        .confirm_timeout(Duration::from_secs(15))
        .health_timeout(Duration::from_secs(3))
}

fn backend(s: &VersionServer) -> Backend {
    Backend::parse(&s.url()).unwrap()
}

fn assert_only(samples: &[slipway_e2e::load::Sample], from: Duration, to: Duration, version: &str, what: &str) {
    let seen = versions_between(samples, from, to);
    assert_eq!(seen.len(), 1, "{what}: responses between {from:?} and {to:?}: {seen:?}");
    assert_eq!(seen[0].0, version, "{what}: {seen:?}");
    assert!(seen[0].1 > 10, "{what}: too few responses to judge: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_failed_upgrade_and_rollback_lose_no_request() {
    let traefik = TestTraefik::start().await.unwrap();
    let route = web_route("slipway-t-route-a");
    let router = router(&traefik);
    let v1 = VersionServer::start("v1", true).await.unwrap();
    router.add_backend(&route, &backend(&v1), &NoopObserver).await.unwrap();

    let client = traefik.client().unwrap();
    let http = Load::start(client.clone(), &format!("{}/version", traefik.web_url()), 70, 7, Duration::from_secs(60));
    let https = Load::start(client, &format!("{}/version", traefik.websecure_url()), 30, 3, Duration::from_secs(60));
    let phase = Duration::from_secs(5);
    tokio::time::sleep(phase).await;

    // Upgrade v1 -> v2.
    let v2 = VersionServer::start("v2", true).await.unwrap();
    let obs = RecordingObserver::new();
    let report = router.switch(&route, &[backend(&v2)], &[backend(&v1)], &obs).await.unwrap();
    assert_eq!(report.removed, vec![backend(&v1)]);
    let kinds: Vec<String> = obs
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Route(r) => serde_json::to_value(r).ok().map(|v| v["type"].as_str().unwrap_or_default().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["probing", "config_written", "backend_live", "config_written", "backend_out", "draining"]);
    v1.stop().await;
    let upgraded = http.elapsed();
    tokio::time::sleep(phase).await;

    // Failed upgrade: v3 never answers its health path; it never enters the rotation.
    let v3 = VersionServer::start("v3", false).await.unwrap();
    let err = router.switch(&route, &[backend(&v3)], &[backend(&v2)], &NoopObserver).await.unwrap_err();
    assert!(matches!(err, RouteError::BackendUnhealthy { .. }), "{err}");
    assert_eq!(router.backends(&route).await.unwrap(), vec![backend(&v2)]);
    assert_eq!(v3.served(), 0, "the failed version received traffic");
    v3.stop().await;
    let failed = http.elapsed();
    tokio::time::sleep(phase).await;

    // Rollback v2 -> v1.
    let v1b = VersionServer::start("v1", true).await.unwrap();
    router.switch(&route, &[backend(&v1b)], &[backend(&v2)], &NoopObserver).await.unwrap();
    v2.stop().await;
    let rolled_back = http.elapsed();
    tokio::time::sleep(phase).await;
    let end = http.elapsed();

    let (http, https) = (http.stop().await, https.stop().await);
    for (name, samples) in [("http", &http), ("https", &https)] {
        let failed_requests = failures(samples);
        assert!(
            failed_requests.is_empty(),
            "{name}: {} of {} failed: {:?}",
            failed_requests.len(),
            samples.len(),
            &failed_requests[..failed_requests.len().min(5)]
        );
        assert!(samples.len() > 100, "{name}: only {} requests", samples.len());
        assert_only(samples, Duration::ZERO, phase, "v1", &format!("{name} before"));
        assert_only(samples, upgraded, failed, "v2", &format!("{name} after the upgrade and the failed upgrade"));
        assert_only(samples, rolled_back, end, "v1", &format!("{name} after the rollback"));
    }
    assert!(v1b.served() > 0);
    assert!(!traefik.logs().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_roll_one_at_a_time() {
    let traefik = TestTraefik::start().await.unwrap();
    let route = web_route("slipway-t-route-b");
    let router = router(&traefik);
    let mut old = Vec::new();
    for _ in 0..3 {
        let s = VersionServer::start("v1", true).await.unwrap();
        router.add_backend(&route, &backend(&s), &NoopObserver).await.unwrap();
        old.push(s);
    }
    let load = Load::start(
        traefik.client().unwrap(),
        &format!("{}/version", traefik.web_url()),
        100,
        10,
        Duration::from_secs(60),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut new = Vec::new();
    while let Some(o) = old.pop() {
        let n = VersionServer::start("v2", true).await.unwrap();
        router.switch(&route, &[backend(&n)], &[backend(&o)], &NoopObserver).await.unwrap();
        let view = router.view(&route).await.unwrap();
        assert_eq!(view.servers.len(), 3, "one replica replaced at a time: {view}");
        assert!(view.status.values().all(|s| s == "UP"), "{view}");
        o.stop().await;
        new.push(n);
    }
    let done = load.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let end = load.elapsed();
    let samples = load.stop().await;
    assert!(failures(&samples).is_empty(), "{:?}", &failures(&samples)[..failures(&samples).len().min(5)]);
    assert_only(&samples, done, end, "v2", "after the roll");
    assert!(new.iter().all(|n| n.served() > 0), "every new replica took traffic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_down_under_traefiks_own_check_is_taken_out_and_last_backend_stays() {
    let traefik = TestTraefik::start().await.unwrap();
    let route = web_route("slipway-t-route-c");
    let router = router(&traefik);
    let v1 = VersionServer::start("v1", true).await.unwrap();
    router.add_backend(&route, &backend(&v1), &NoopObserver).await.unwrap();

    // Healthy when probed directly; failing from the moment its configuration is written, so
    // only Traefik's own health check can see it.
    let flaky = VersionServer::start("flaky", true).await.unwrap();
    let flaky_backend = backend(&flaky);
    let flip = |event: &Event| {
        if let Event::Route(RouteEvent::ConfigWritten { backends, .. }) = event {
            if backends.contains(&flaky.url()) {
                flaky.set_healthy(false);
            }
        }
    };
    let result = router.add_backend(&route, &flaky_backend, &flip).await;
    let err = result.unwrap_err();
    // The error says the previous set came back only because Traefik confirmed it did.
    let restored = matches!(&err, RouteError::NotConfirmed { previous, .. }
        if **previous == slipway::route::PreviousRoute::Restored);
    assert!(restored, "{err}");
    assert!(err.to_string().contains("restored (the proxy confirmed it)"), "{err}");
    assert_eq!(router.backends(&route).await.unwrap(), vec![backend(&v1)]);
    let view = router.view(&route).await.unwrap();
    assert_eq!(view.servers, vec![v1.url()], "previous set restored in Traefik: {view}");

    let err = router.remove_backend(&route, &backend(&v1), &NoopObserver).await.unwrap_err();
    assert!(matches!(err, RouteError::LastBackend { .. }), "{err}");
    let body = traefik.client().unwrap().get(format!("{}/version", traefik.web_url())).send().await.unwrap();
    assert_eq!(body.text().await.unwrap(), "v1");

    router.retire(&route, &NoopObserver).await.unwrap();
    assert!(!router.view(&route).await.unwrap().present);
    assert!(!router.file_path(&route).exists());
}

/// The demo app in containers on a bridge network, reached by container IP as the deployer does:
/// upgrade, failed upgrade (FAIL_HEALTH) and rollback, old containers stopped with SIGTERM only
/// after the switch returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_containers_switch_without_loss() {
    use slipway::route::{backend_for_container, container_labels};
    use slipway_e2e::cleanup::Cleanup;
    use slipway_e2e::containers::{Running, TestContainer};
    use slipway_e2e::{docker, images, names};

    let docker = docker::connect().await.unwrap();
    let image = images::demo_image().await.unwrap();
    let cleanup = Cleanup::new();
    let network = names::unique("route");
    docker
        .create_network(bollard::models::NetworkCreateRequest { name: network.clone(), ..Default::default() })
        .await
        .unwrap();
    cleanup.network(&network);
    let traefik = TestTraefik::start().await.unwrap();
    let mut route = web_route(&network);
    route.network = Some(network.clone());
    let router = router(&traefik);
    let start = |version: &str, healthy: bool| {
        let mut c = TestContainer::new(&image, names::unique("route")).env("APP_VERSION", version).network(&network);
        if !healthy {
            c = c.env("FAIL_HEALTH", "1");
        }
        for (k, v) in container_labels(&route, &Default::default()) {
            c = c.label(k, v);
        }
        c.start(&docker, &cleanup)
    };
    let stop = |c: Running| {
        let docker = docker.clone();
        async move {
            c.signal(&docker, "SIGTERM").await.unwrap();
            assert_eq!(c.wait_exit(&docker, Duration::from_secs(15)).await.unwrap(), 0, "demo app drains and exits 0");
        }
    };
    let v1 = start("v1", true).await.unwrap();
    let b1 = backend_for_container(&docker, &v1.id, &route).await.unwrap();
    assert!(b1.url().starts_with("http://") && b1.url().ends_with(":8080"), "{b1}");
    router.add_backend(&route, &b1, &NoopObserver).await.unwrap();

    let url = format!("{}/version", traefik.web_url());
    let load = Load::start(traefik.client().unwrap(), &url, 100, 10, Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(3)).await;

    let v2 = start("v2", true).await.unwrap();
    let b2 = backend_for_container(&docker, &v2.id, &route).await.unwrap();
    router.switch(&route, std::slice::from_ref(&b2), std::slice::from_ref(&b1), &NoopObserver).await.unwrap();
    stop(v1).await;
    let upgraded = load.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let broken = start("v3", false).await.unwrap();
    let b3 = backend_for_container(&docker, &broken.id, &route).await.unwrap();
    let err = router.switch(&route, &[b3], std::slice::from_ref(&b2), &NoopObserver).await.unwrap_err();
    assert!(matches!(err, RouteError::BackendUnhealthy { .. }), "{err}");
    stop(broken).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let v1b = start("v1", true).await.unwrap();
    let b1b = backend_for_container(&docker, &v1b.id, &route).await.unwrap();
    router.switch(&route, &[b1b], std::slice::from_ref(&b2), &NoopObserver).await.unwrap();
    stop(v2).await;
    let rolled_back = load.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end = load.elapsed();

    let samples = load.stop().await;
    let failed = failures(&samples);
    assert!(failed.is_empty(), "{} of {} failed: {:?}", failed.len(), samples.len(), &failed[..failed.len().min(5)]);
    assert!(!samples.iter().any(|s| s.body == "v3"), "the broken version served traffic");
    assert_only(&samples, upgraded, upgraded + Duration::from_secs(3), "v2", "after the upgrade");
    assert_only(&samples, rolled_back, end, "v1", "after the rollback");
}

/// Control: the same load check does see failures when the old backend leaves before the new one
/// is live (what stop-first tools do), so "zero failed" above is a real measurement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_check_sees_a_naive_switch_fail() {
    let traefik = TestTraefik::start().await.unwrap();
    let route = web_route("slipway-t-route-d");
    let router = router(&traefik);
    let v1 = VersionServer::start("v1", true).await.unwrap();
    router.add_backend(&route, &backend(&v1), &NoopObserver).await.unwrap();
    let load = Load::start(
        traefik.client().unwrap(),
        &format!("{}/version", traefik.web_url()),
        100,
        10,
        Duration::from_secs(30),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    router.retire(&route, &NoopObserver).await.unwrap();
    v1.stop().await;
    let v2 = VersionServer::start("v2", true).await.unwrap();
    router.add_backend(&route, &backend(&v2), &NoopObserver).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let samples = load.stop().await;
    assert!(!failures(&samples).is_empty(), "a stop-first switch must lose requests");
    assert!(samples.iter().any(|s| s.status == Some(404)), "Traefik answers 404 while the route is gone");
    assert_eq!(samples.last().map(|s| s.body.as_str()), Some("v2"));
}

/// A route Traefik refuses (a router naming a middleware that does not exist) is never confirmed:
/// the error says which router and why, and the file is taken back (no previous set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_traefik_disables_is_reported_and_removed() {
    let traefik = TestTraefik::start().await.unwrap();
    let mut route = web_route("slipway-t-route-e");
    route.routers[0].middlewares = vec!["missing@file".into()];
    let router = router(&traefik).confirm_timeout(Duration::from_secs(3));
    let v1 = VersionServer::start("v1", true).await.unwrap();
    let err = router.add_backend(&route, &backend(&v1), &NoopObserver).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RouteError::NotConfirmed { .. }), "{msg}");
    assert!(msg.contains("slipway-t-route-e-web-web@file is disabled"), "{msg}");
    assert!(!router.file_path(&route).exists());
    assert!(!router.view(&route).await.unwrap().present);
}
