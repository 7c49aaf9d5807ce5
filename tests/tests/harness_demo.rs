//! The demo image in the real engine: /health, /version, FAIL_HEALTH, STARTUP_DELAY_MS, graceful
//! drain on SIGTERM, worker ready line, migrate exit code, `check` as a Docker health check.

use std::time::{Duration, Instant};

use bollard::models::HealthStatusEnum;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::containers::{Running, TestContainer};
use slipway_e2e::{docker, images, names};

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// GETs `url` until it answers (any status) and returns (status, body).
async fn get_when_up(url: &str) -> (u16, String) {
    let client = client();
    slipway::wait::wait_until(url, Duration::from_secs(30), Duration::from_millis(100), || async {
        let response = client.get(url).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    })
    .await
    .unwrap()
}

async fn start_demo(cleanup: &Cleanup, configure: impl FnOnce(TestContainer) -> TestContainer) -> Running {
    let docker = docker::connect().await.unwrap();
    let image = images::demo_image().await.unwrap();
    let container = configure(TestContainer::new(image, names::unique("harness")).publish(8080));
    container.start(&docker, cleanup).await.unwrap()
}

#[tokio::test]
async fn demo_image_is_from_scratch_and_tagged_by_content() {
    let docker = docker::connect().await.unwrap();
    let first = images::demo_image().await.unwrap();
    let second = images::demo_image().await.unwrap();
    assert_eq!(first, second);
    let hash = first.strip_prefix("slipway-fixture/demo:").unwrap();
    assert_eq!(hash.len(), 16);
    let inspected = docker.inspect_image(&first).await.unwrap();
    let config = inspected.config.unwrap();
    assert_eq!(config.entrypoint, Some(vec!["/demo-app".to_owned()]));
    assert_eq!(inspected.root_fs.unwrap().layers.unwrap().len(), 1, "FROM scratch + one COPY");
}

#[tokio::test]
async fn serves_health_and_version() {
    let cleanup = Cleanup::new();
    let demo = start_demo(&cleanup, |c| c.env("APP_VERSION", "v1.2.3")).await;
    let base = demo.url(8080).unwrap();
    assert_eq!(get_when_up(&format!("{base}/health")).await, (200, "ok".to_owned()));
    assert_eq!(get_when_up(&format!("{base}/version")).await, (200, "v1.2.3".to_owned()));
    let response = client().get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(response.headers()["x-demo-version"], "v1.2.3");
}

#[tokio::test]
async fn fail_health_answers_503_and_docker_sees_unhealthy() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let check = ["/demo-app", "check", "http://127.0.0.1:8080/health"];
    let failing =
        start_demo(&cleanup, |c| c.env("FAIL_HEALTH", "1").healthcheck(check, Duration::from_millis(300), 2)).await;
    let healthy = start_demo(&cleanup, |c| c.healthcheck(check, Duration::from_millis(300), 2)).await;
    let (status, body) = get_when_up(&format!("{}/health", failing.url(8080).unwrap())).await;
    assert_eq!((status, body.as_str()), (503, "failing"));
    assert_eq!(get_when_up(&format!("{}/version", failing.url(8080).unwrap())).await, (200, "dev".to_owned()));
    failing.wait_health(&docker, HealthStatusEnum::UNHEALTHY, Duration::from_secs(30)).await.unwrap();
    healthy.wait_health(&docker, HealthStatusEnum::HEALTHY, Duration::from_secs(30)).await.unwrap();
}

#[tokio::test]
async fn startup_delay_postpones_the_first_answer() {
    let started = Instant::now();
    let cleanup = Cleanup::new();
    let demo = start_demo(&cleanup, |c| c.env("STARTUP_DELAY_MS", 2500)).await;
    let (status, _) = get_when_up(&format!("{}/health", demo.url(8080).unwrap())).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(2500), "answered after {:?}", started.elapsed());
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let demo = start_demo(&cleanup, |c| c.env("APP_VERSION", "v7")).await;
    let base = demo.url(8080).unwrap();
    get_when_up(&format!("{base}/health")).await;
    let slow = tokio::spawn(async move {
        let response = client().get(format!("{base}/slow?ms=2000")).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    });
    // Let the request reach the app (through docker-proxy) before the signal.
    tokio::time::sleep(Duration::from_millis(700)).await;
    demo.signal(&docker, "SIGTERM").await.unwrap();
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, "slept 2000 ms version=v7\n");
    assert_eq!(demo.wait_exit(&docker, Duration::from_secs(20)).await.unwrap(), 0);
    let logs = demo.logs(&docker).await.unwrap();
    assert!(logs.contains("draining after signal 15"), "{logs}");
}

#[tokio::test]
async fn worker_logs_its_ready_line_and_stops_on_sigterm() {
    let docker = docker::connect().await.unwrap();
    let image = images::demo_image().await.unwrap();
    let cleanup = Cleanup::new();
    let worker = TestContainer::new(image, names::unique("harness"))
        .cmd(["worker"])
        .env("APP_VERSION", "v2.0.0")
        .start(&docker, &cleanup)
        .await
        .unwrap();
    worker.wait_for_log(&docker, "worker ready version=v2.0.0", Duration::from_secs(20)).await.unwrap();
    worker.signal(&docker, "SIGTERM").await.unwrap();
    assert_eq!(worker.wait_exit(&docker, Duration::from_secs(10)).await.unwrap(), 0);
}

#[tokio::test]
async fn migrate_exits_with_exit_code() {
    let docker = docker::connect().await.unwrap();
    let image = images::demo_image().await.unwrap();
    let cleanup = Cleanup::new();
    for code in [0, 3] {
        let finished = TestContainer::new(&image, names::unique("harness"))
            .cmd(["migrate"])
            .env("EXIT_CODE", code)
            .run_to_end(&docker, &cleanup, Duration::from_secs(20))
            .await
            .unwrap();
        assert_eq!(finished.exit_code, code);
        assert!(finished.output.contains("migrated"), "{}", finished.output);
    }
}

#[tokio::test]
async fn versioned_demo_images_are_distinct_and_answer_their_version() {
    let docker = docker::connect().await.unwrap();
    let (v1, v2) = tokio::join!(images::demo_image_version("v1.0.0"), images::demo_image_version("v2.0.0"));
    let (v1, v2) = (v1.unwrap(), v2.unwrap());
    assert!(v1.ends_with("-v1.0.0") && v2.ends_with("-v2.0.0"), "{v1} {v2}");
    let id1 = docker.inspect_image(&v1).await.unwrap().id;
    let id2 = docker.inspect_image(&v2).await.unwrap().id;
    assert_ne!(id1, id2);
    let cleanup = Cleanup::new();
    let demo = TestContainer::new(&v2, names::unique("harness")).publish(8080).start(&docker, &cleanup).await.unwrap();
    assert_eq!(get_when_up(&format!("{}/version", demo.url(8080).unwrap())).await, (200, "v2.0.0".to_owned()));
    assert!(images::demo_image_version("bad/tag").await.is_err());
}

#[tokio::test]
async fn fail_health_after_turns_a_healthy_app_unhealthy() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let check = ["/demo-app", "check", "http://127.0.0.1:8080/health"];
    let demo =
        start_demo(&cleanup, |c| c.env("FAIL_HEALTH_AFTER_MS", 6000).healthcheck(check, Duration::from_millis(300), 1))
            .await;
    demo.wait_health(&docker, HealthStatusEnum::HEALTHY, Duration::from_secs(6)).await.unwrap();
    demo.wait_health(&docker, HealthStatusEnum::UNHEALTHY, Duration::from_secs(30)).await.unwrap();
    let (status, body) = get_when_up(&format!("{}/health", demo.url(8080).unwrap())).await;
    assert_eq!((status, body.as_str()), (503, "failing"));
}

#[tokio::test]
async fn crash_after_makes_a_worker_exit_1() {
    let docker = docker::connect().await.unwrap();
    let image = images::demo_image().await.unwrap();
    let cleanup = Cleanup::new();
    let worker = TestContainer::new(image, names::unique("harness"))
        .cmd(["worker"])
        .env("CRASH_AFTER_MS", 500)
        .start(&docker, &cleanup)
        .await
        .unwrap();
    assert_eq!(worker.wait_exit(&docker, Duration::from_secs(20)).await.unwrap(), 1);
    let logs = worker.logs(&docker).await.unwrap();
    assert!(logs.contains("worker ready") && logs.contains("crashing (CRASH_AFTER_MS=500)"), "{logs}");
}
