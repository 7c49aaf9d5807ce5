//! Pre- and post-deploy hooks against the real engine: container hooks (`{service, command}`) run
//! from the release's image with the release in their environment and on the project's network;
//! a failing pre-deploy hook stops the deploy with nothing changed and its container kept; an
//! invalid hook is refused before anything runs; hook containers never count as the project's.

use std::collections::HashMap;
use std::time::Duration;

use bollard::query_parameters::ListContainersOptions;
use slipway::deploy::{labels, DeployError, DeployEvent, DeployOptions, Deployer, DockerHost};
use slipway::stack::StackSpec;
use slipway::{Event, RecordingObserver};
use slipway_e2e::{docker, images, names, project::ProjectGuard, stacks};

/// `web` (the demo app, healthcheck) and `tool` (busybox, idles), with the given hooks.
fn stack(project: &str, demo: &str, busybox: &str, version: &str, hooks: serde_json::Value) -> StackSpec {
    let mut s = stacks::shop(project, demo, busybox, version);
    s.services.retain(|k, _| k == "app" || k == "cache");
    for svc in s.services.values_mut() {
        svc.depends_on.clear();
    }
    s.volumes.clear();
    s.slipway = serde_json::json!({ "hooks": hooks });
    s
}

fn hook_runs(events: &RecordingObserver) -> Vec<(String, i64, Vec<String>)> {
    events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Deploy(DeployEvent::HookDone { hook, exit_code, output, .. }) => Some((hook, exit_code, output)),
            _ => None,
        })
        .collect()
}

async fn containers(docker: &bollard::Docker, label: &str) -> Vec<bollard::models::ContainerSummary> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let opts = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    docker.list_containers(Some(opts)).await.unwrap()
}

/// The release label of each of the project's containers, by service.
async fn releases(docker: &bollard::Docker, project: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = containers(docker, &format!("{}={project}", labels::PROJECT))
        .await
        .into_iter()
        .map(|c| {
            let l = c.labels.unwrap_or_default();
            (l[labels::SERVICE].clone(), l[labels::RELEASE].clone())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_hooks_run_from_the_release_and_a_failing_one_changes_nothing() {
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("hooks");
    let _guard = ProjectGuard::new(&project);
    let docker = docker::connect().await.unwrap();
    let host = DockerHost::new(docker.clone());
    let opts = DeployOptions::default().min_running(Duration::from_millis(500));
    let hook_label = format!("{}={project}", labels::HOOK_PROJECT);

    // First deploy: the pre-deploy hook sees the release; the post-deploy hook reaches `app` by
    // name on the project's network (created by the deploy in between).
    let v1 = stack(
        &project,
        &demo,
        &busybox,
        "v1",
        serde_json::json!({
            "pre-deploy": [{"service": "cache", "command": ["sh", "-c", "echo pre release=$SLIPWAY_RELEASE project=$SLIPWAY_PROJECT"]}],
            "post-deploy": [{"service": "cache", "command": "wget -qO- http://app:8080/version"}],
        }),
    );
    let events = RecordingObserver::new();
    host.apply(&v1, &opts, &events).await.unwrap();
    let runs = hook_runs(&events);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].0, "pre-deploy");
    assert!(runs[0].2.iter().any(|l| l == &format!("pre release=1 project={project}")), "{runs:?}");
    assert_eq!((runs[1].0.as_str(), runs[1].1), ("post-deploy", 0));
    assert!(runs[1].2.iter().any(|l| l.contains("v1")), "the post-deploy hook reached app: {runs:?}");
    assert!(containers(&docker, &hook_label).await.is_empty(), "successful hook containers are removed");
    let before = releases(&docker, &project).await;
    assert_eq!(before, [("app".to_string(), "1".to_string()), ("cache".to_string(), "1".to_string())]);

    // An upgrade whose pre-deploy hook fails: nothing changes, the hook's container is kept.
    let mut v2 = stack(
        &project,
        &demo,
        &busybox,
        "v2",
        serde_json::json!({"pre-deploy": [{"service": "cache", "command": ["sh", "-c", "echo migration failed; exit 3"]}]}),
    );
    let err = host.apply(&v2, &opts, &RecordingObserver::new()).await.unwrap_err();
    let slipway::Error::Deploy(inner) = &err else { panic!("{err}") };
    // The hook is a step of the plan: the error names it, what it printed and the undo.
    assert!(
        matches!(inner.as_ref(), DeployError::StepFailed { step, cause, undo, .. }
            if step.starts_with("pre-deploy hook 1: container of cache")
                && cause.to_string().contains("migration failed") && cause.to_string().contains("kept")
                && undo.restored()),
        "{err}"
    );
    // The cause is kept as the hook's typed error, reachable through `source()`.
    let cause = std::error::Error::source(inner.as_ref()).expect("a source");
    let hook = cause.downcast_ref::<Box<slipway::deploy::StepFailure>>().expect("a StepFailure");
    assert!(
        matches!(hook.as_ref(), slipway::deploy::StepFailure::Deploy(d) if matches!(d.as_ref(), DeployError::HookFailed { .. })),
        "{hook:?}"
    );
    assert_eq!(releases(&docker, &project).await, before, "nothing changed");
    let kept = containers(&docker, &hook_label).await;
    assert_eq!(kept.len(), 1, "the failed hook container is kept for inspection");

    // An invalid hook is refused before anything runs.
    v2.slipway = serde_json::json!({"hooks": {"post-deploy": [{"service": "nosuch"}]}});
    let err = host.apply(&v2, &opts, &RecordingObserver::new()).await.unwrap_err();
    assert_eq!(err.kind(), slipway::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("nosuch"), "{err}");
    assert_eq!(releases(&docker, &project).await, before);

    // Fixed: the deploy goes through and the kept container of the failed hook is cleaned up.
    v2.slipway = serde_json::json!({"hooks": {"pre-deploy": [{"service": "cache", "command": ["true"]}]}});
    host.apply(&v2, &opts, &RecordingObserver::new()).await.unwrap();
    assert!(containers(&docker, &hook_label).await.is_empty());
    let after: Vec<(String, String)> =
        releases(&docker, &project).await.into_iter().filter(|(s, _)| s == "app").collect();
    assert!(after.iter().any(|(_, r)| r != "1"), "app was upgraded: {after:?}");

    // A failing post-deploy hook: the release stands, the failure is recorded on it, and the
    // error says "deployed; post-deploy hook 1 failed" (exit 1).
    let mut v3 = stack(&project, &demo, &busybox, "v3", serde_json::json!({}));
    v3.slipway = serde_json::json!({"hooks": {"post-deploy": [{"service": "cache", "command": ["sh", "-c", "echo smoke failed; exit 4"]}]}});
    let err = host.apply(&v3, &opts, &RecordingObserver::new()).await.unwrap_err();
    let slipway::Error::Deploy(inner) = &err else { panic!("{err}") };
    assert!(matches!(inner.as_ref(), DeployError::PostDeployHookFailed { index: 1, .. }), "{err}");
    assert!(err.to_string().contains("post-deploy hook 1 failed"), "{err}");
    assert_eq!(err.kind(), slipway::ErrorKind::Failed);
    let last = host.history(&project).await.unwrap().pop().unwrap();
    assert!(last.outcome.is_success(), "{last:?}");
    assert_eq!(last.hook_failures.len(), 1, "{last:?}");
    assert!(last.hook_failures[0].contains("smoke failed"), "{last:?}");
}
