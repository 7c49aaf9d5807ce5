//! `DockerHost::apply` / `rollback` of a web service with Traefik labels and `x-slipway.traefik`:
//! the deployer switches traffic through the route room (real engine, real Traefik), and a load
//! through Traefik sees no failed request across upgrade, failed upgrade and rollback.

use std::time::Duration;

use slipway::deploy::{DeployOptions, Deployer, DockerHost};
use slipway::stack::StackSpec;
use slipway::NoopObserver;
use slipway_e2e::load::{failures, versions_between, Load};
use slipway_e2e::routed::{labelled_web_stack, WebRoute};
use slipway_e2e::traefik::TestTraefik;
use slipway_e2e::{docker, images, names, project::ProjectGuard, stacks};

fn web_stack(project: &str, demo: &str, version: &str, traefik: &TestTraefik) -> StackSpec {
    let mut stack = labelled_web_stack(project, demo, version, WebRoute::default());
    stack.slipway = serde_json::json!({"traefik": {
        "dynamic_dir": traefik.dynamic_dir(), "api": traefik.api_url(), "health_timeout": "3s"
    }});
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_switch_through_traefik_without_loss() {
    let demo = images::demo_image().await.unwrap();
    let project = names::unique("route");
    let _guard = ProjectGuard::new(&project);
    let host = DockerHost::new(docker::connect().await.unwrap());
    let traefik = TestTraefik::start().await.unwrap();
    let opts = DeployOptions::default();

    host.apply(&web_stack(&project, &demo, "v1", &traefik), &opts, &NoopObserver).await.unwrap();
    let name = format!("{project}-web-1-r1");
    let labels = host.docker().inspect_container(&name, None).await.unwrap().config.unwrap().labels.unwrap();
    assert_eq!(labels["traefik.enable"], "false", "hidden from a Traefik Docker provider");
    assert_eq!(labels["dev.slipway.route"], format!("{project}-web"));

    let url = format!("{}/version", traefik.web_url());
    let load = Load::start(traefik.client().unwrap(), &url, 100, 10, Duration::from_secs(90));
    tokio::time::sleep(Duration::from_secs(2)).await;

    host.apply(&web_stack(&project, &demo, "v2", &traefik), &opts, &NoopObserver).await.unwrap();
    let upgraded = load.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut bad = web_stack(&project, &demo, "v3", &traefik);
    stacks::set_env(&mut bad, "web", "FAIL_HEALTH", "1");
    host.apply(&bad, &opts, &NoopObserver).await.unwrap_err();
    let failed = load.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;

    host.rollback(&project, None, &opts, &NoopObserver).await.unwrap();
    let rolled_back = load.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let end = load.elapsed();

    let samples = load.stop().await;
    let failed_requests = failures(&samples);
    assert!(
        failed_requests.is_empty(),
        "{} of {} failed: {:?}",
        failed_requests.len(),
        samples.len(),
        &failed_requests[..failed_requests.len().min(5)]
    );
    assert!(!samples.iter().any(|s| s.body == "v3"), "the broken release served traffic");
    let only = |from, to, v: &str| {
        let seen = versions_between(&samples, from, to);
        assert_eq!(seen.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec![v], "{seen:?}");
    };
    only(upgraded, failed, "v2");
    only(rolled_back, end, "v1");
}

/// A later service fails after the web service was switched: the deployer's undo journal starts
/// the old web container again, the route room puts it back into the rotation (new address) and
/// takes the new one out, all under load without a failed request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_failure_routes_back_to_the_old_container() {
    let demo = images::demo_image().await.unwrap();
    let project = names::unique("route");
    let _guard = ProjectGuard::new(&project);
    let host = DockerHost::new(docker::connect().await.unwrap());
    let traefik = TestTraefik::start().await.unwrap();
    let opts = DeployOptions::default();
    let with_worker = |version: &str, crash: bool| {
        let mut stack = web_stack(&project, &demo, version, &traefik);
        let mut worker = stacks::service("zz-worker", &demo);
        worker.command = Some(vec!["worker".into()]);
        worker.environment.insert("APP_VERSION".into(), Some(version.into()));
        if crash {
            worker.environment.insert("CRASH_AFTER_MS".into(), Some("200".into()));
        }
        worker.extensions.insert("x-slipway".into(), serde_json::json!({"min_running": "1s"}));
        stack.services.insert("zz-worker".into(), worker);
        stack
    };
    host.apply(&with_worker("v1", false), &opts, &NoopObserver).await.unwrap();
    let load = Load::start(
        traefik.client().unwrap(),
        &format!("{}/version", traefik.web_url()),
        100,
        10,
        Duration::from_secs(60),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    let err = host.apply(&with_worker("v2", true), &opts, &NoopObserver).await.unwrap_err();
    assert!(err.to_string().contains("zz-worker"), "{err}");
    let undone = load.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end = load.elapsed();
    let samples = load.stop().await;
    let failed_requests = failures(&samples);
    assert!(
        failed_requests.is_empty(),
        "{} failed: {:?}",
        failed_requests.len(),
        &failed_requests[..failed_requests.len().min(5)]
    );
    assert!(samples.iter().any(|s| s.body == "v2"), "the new web container was switched in before the worker failed");
    let seen = versions_between(&samples, undone, end);
    assert_eq!(seen.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec!["v1"], "{seen:?}");
    let file = traefik.dynamic_dir().join(format!("slipway-{project}-web.yml"));
    let route = std::fs::read_to_string(&file).unwrap();
    assert_eq!(route.matches("url:").count(), 1, "one backend after the undo:\n{route}");

    // The web service leaves the stack: its container is drained and stopped, and its route is
    // retired (file gone, Traefik no longer has the router) instead of pointing at a dead backend.
    let mut without_web = with_worker("v1", false);
    without_web.services.remove("web");
    host.apply(&without_web, &opts, &NoopObserver).await.unwrap();
    assert!(!file.exists(), "the route file of the removed service is deleted");
    let status = traefik.client().unwrap().get(format!("{}/version", traefik.web_url())).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 404, "Traefik has no router for the removed service");
}

/// The routed stop-first case (one replica and a named volume): an upgrade that fails on health
/// restarts the old container *and* puts it back into Traefik (the site answers 200 from the old
/// version through Traefik as soon as `apply` returns), and the error's `UndoReport` says so. A
/// cancelled upgrade does the same, records the release as cancelled and releases the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_stop_first_upgrade_puts_the_old_container_back_into_traefik() {
    use slipway::deploy::{DeployError, DeployEvent, ReleaseOutcome};
    use slipway::Event;

    let demo = images::demo_image().await.unwrap();
    let project = names::unique("route");
    let _guard = ProjectGuard::new(&project);
    let host = DockerHost::new(docker::connect().await.unwrap());
    let traefik = TestTraefik::start().await.unwrap();
    let stop_first = |version: &str| {
        let mut stack = web_stack(&project, &demo, version, &traefik);
        let web = stack.services.get_mut("web").unwrap();
        web.volumes.push(
            serde_json::from_value(serde_json::json!({
                "kind": "volume", "source": "data", "target": "/data", "read_only": false
            }))
            .unwrap(),
        );
        let mut vol = slipway::stack::VolumeSpec::default();
        vol.name = format!("{project}_data");
        stack.volumes.insert("data".into(), vol);
        stack
    };
    let client = traefik.client().unwrap();
    let url = format!("{}/version", traefik.web_url());
    let answers = || async {
        let mut out = Vec::new();
        for _ in 0..5 {
            let r = client.get(&url).send().await.unwrap();
            out.push((r.status().as_u16(), r.text().await.unwrap().trim().to_string()));
        }
        out
    };
    let v1_only = vec![(200, "v1".to_string()); 5];

    host.apply(&stop_first("v1"), &DeployOptions::default(), &NoopObserver).await.unwrap();
    assert_eq!(answers().await, v1_only);

    let mut bad = stop_first("v2");
    stacks::set_env(&mut bad, "web", "FAIL_HEALTH", "1");
    let out = host.plan(&bad, &DeployOptions::default()).await.unwrap();
    let stop = out.steps.iter().position(|s| matches!(s, slipway::deploy::Step::StopOld { .. })).unwrap();
    let start = out.steps.iter().position(|s| matches!(s, slipway::deploy::Step::StartReplica { .. })).unwrap();
    assert!(stop < start, "stop-first: {:?}", out.steps);
    let err = host.apply(&bad, &DeployOptions::default(), &NoopObserver).await.unwrap_err();
    assert_eq!(answers().await, v1_only, "the old release serves through Traefik again: {err}");
    let slipway::Error::Deploy(inner) = &err else { panic!("{err}") };
    let DeployError::StepFailed { step, undo, .. } = inner.as_ref() else { panic!("{err}") };
    assert!(step.starts_with("wait for web replica 1"), "{err}");
    assert!(undo.restored(), "{err}");
    let reroute = undo
        .actions
        .iter()
        .find(|a| a.description.contains("back into the rotation"))
        .unwrap_or_else(|| panic!("{undo:?}"));
    let by_proxy = |c: &slipway::deploy::Confirmation| matches!(c, slipway::deploy::Confirmation::Proxy { .. });
    assert!(reroute.confirmed.iter().any(by_proxy), "confirmed through Traefik: {reroute:?}");
    assert!(err.to_string().contains("the previous release was restored"), "{err}");

    // Cancelled while the new container is being health-checked.
    let token = slipway::deploy::CancellationToken::new();
    let cancel = token.clone();
    let observer = move |e: &Event| {
        if matches!(e, Event::Deploy(DeployEvent::StepStarted { description, .. }) if description.starts_with("wait for web"))
        {
            cancel.cancel();
        }
    };
    let opts = DeployOptions::default().cancel(token);
    let err = host.apply(&stop_first("v2"), &opts, &observer).await.unwrap_err();
    assert_eq!(answers().await, v1_only, "{err}");
    let slipway::Error::Deploy(inner) = &err else { panic!("{err}") };
    assert!(matches!(inner.as_ref(), DeployError::Cancelled { undo, .. } if undo.restored()), "{err}");
    let last = host.history(&project).await.unwrap().pop().unwrap();
    assert!(matches!(last.outcome, ReleaseOutcome::Cancelled { .. }), "{last:?}");

    // The lock was released: the same upgrade goes through at once.
    host.apply(&stop_first("v2"), &DeployOptions::default(), &NoopObserver).await.unwrap();
    assert_eq!(answers().await, vec![(200, "v2".to_string()); 5]);
}
