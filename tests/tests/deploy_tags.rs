//! A moving tag deploys what the registry holds now, not a stale copy in the engine: the deployer
//! asks the registry for the tag's digest with Docker's own credentials (here a `credHelpers`
//! program), and the engine pulls that digest with the same credentials. `pull_policy` changes
//! the order, and a registry that is down falls back to the engine's image (or fails, with
//! `always`). One test in this binary: it sets process-wide `DOCKER_CONFIG` and `PATH`.

use std::time::Duration;

use bollard::query_parameters::{ListContainersOptions, TagImageOptions};
use slipway::deploy::{resolve_images, DeployOptions, Deployer, DockerHost, Step};
use slipway::registry::engine::push_from_engine;
use slipway::registry::{CopyOptions, Credentials, Distribution, DistributionOptions};
use slipway::stack::{NetworkSpec, PullPolicy, StackSpec};
use slipway::{Event, ImageRef, NoopObserver, RecordingObserver};
use slipway_e2e::registry::{CredentialHelper, TestRegistry};
use slipway_e2e::{cleanup::Cleanup, docker, images, names, project::ProjectGuard, stacks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_tags_come_from_the_registry_with_dockers_credentials() {
    let old = images::demo_image_version("tags-old").await.unwrap();
    let new = images::demo_image_version("tags-new").await.unwrap();
    let project = names::unique("deploy");
    let _guard = ProjectGuard::new(&project);
    let cleanup = Cleanup::new();
    let docker = docker::connect().await.unwrap();
    let registry = TestRegistry::start().await.unwrap();
    let host = registry.host();
    let repo = format!("{host}/{project}/demo");
    let image = format!("{repo}:staging-latest");

    // CI pushed the new build as staging-latest ...
    let writer =
        DistributionOptions::default().credentials(Credentials::basic(registry.username(), registry.password()));
    let dst = Distribution::connect(&host, writer).await.unwrap();
    let target = ImageRef::parse(&image).unwrap();
    let digest = push_from_engine(&docker, &new, &dst, &target, &CopyOptions::default(), &NoopObserver).await.unwrap();
    let by_digest = format!("{repo}@{digest}");
    // ... while this host still holds the previous staging-latest.
    let tag = TagImageOptions { repo: Some(repo.clone()), tag: Some("staging-latest".into()) };
    docker.tag_image(&old, Some(tag)).await.unwrap();
    cleanup.image(&image).image(&by_digest);
    let old_id = docker.inspect_image(&old).await.unwrap().id.unwrap();
    let new_id = docker.inspect_image(&new).await.unwrap().id.unwrap();

    // Docker's configuration: a credential helper answers for the registry and logs each call.
    let cfg = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let helper = CredentialHelper::write(bin.path(), "slipwaytags", registry.username(), registry.password()).unwrap();
    let config = serde_json::json!({"auths": {}, "credHelpers": {host.clone(): helper.name.clone()}});
    std::fs::write(cfg.path().join("config.json"), config.to_string()).unwrap();
    std::env::set_var("DOCKER_CONFIG", cfg.path());
    std::env::set_var("PATH", format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default()));

    let mut stack = StackSpec::default();
    stack.name = project.clone();
    stack.services.insert("app".into(), stacks::service("app", &image));
    let mut net = NetworkSpec::default();
    net.name = format!("{project}_default");
    stack.networks.insert("default".into(), net);
    let with_policy = |policy: Option<PullPolicy>| {
        let mut s = stack.clone();
        if let Some(svc) = s.services.get_mut("app") {
            svc.pull_policy = policy;
        }
        s
    };

    // `missing` and `never` take the engine's copy; the default asks the registry.
    for policy in [PullPolicy::Missing, PullPolicy::Never] {
        let pins = resolve_images(&docker, &with_policy(Some(policy)), None, &NoopObserver).await.unwrap();
        assert_eq!(pins["app"], old_id, "{policy:?}");
    }
    let events = RecordingObserver::new();
    let pins = resolve_images(&docker, &stack, None, &events).await.unwrap();
    assert_eq!(pins["app"], by_digest);
    let reported = events.events().iter().any(|e| matches!(e, Event::Deploy(slipway::deploy::DeployEvent::Resolved { from, pinned, .. }) if from == "registry" && pinned == &by_digest));
    assert!(reported, "{:?}", events.events());

    // The deploy pulls that digest through the engine (the helper's credentials) and runs it.
    let opts = DeployOptions::default().env("staging").min_running(Duration::from_millis(500));
    let out = DockerHost::new(docker.clone()).apply(&stack, &opts, &NoopObserver).await.unwrap();
    assert_eq!(out.release.unwrap().services["app"].pinned, by_digest);
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("com.docker.compose.project={project}"), "com.docker.compose.service=app".to_string()],
    )]);
    let list = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    let running = docker.list_containers(Some(list)).await.unwrap();
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0].image_id.as_deref(), Some(new_id.as_str()), "the new build runs");
    let log = helper.calls();
    assert!(log.lines().any(|l| l == format!("get {host}")), "the helper was asked: {log}");

    // Redeploying asks the registry again: nothing moved, nothing to do. `--pull never` (the
    // deploy option over every service) takes the engine's older staging-latest instead.
    assert!(DockerHost::new(docker.clone()).plan(&stack, &opts).await.unwrap().steps.is_empty());
    let never = DeployOptions::default().env("staging").pull(Some(PullPolicy::Never));
    let steps = DockerHost::new(docker.clone()).plan(&stack, &never).await.unwrap().steps;
    assert!(steps.iter().any(|s| matches!(s, Step::StartReplica { service, .. } if service == "app")), "{steps:?}");

    // The registry goes away: the default falls back to the engine's image and says so;
    // `always` refuses to deploy an image it could not refresh.
    let password = registry.password().to_string();
    drop(registry);
    let events = RecordingObserver::new();
    let pins = resolve_images(&docker, &stack, None, &events).await.unwrap();
    assert_eq!(pins["app"], old_id);
    let said = events.events().iter().any(|e| matches!(e, Event::Deploy(slipway::deploy::DeployEvent::Message { text }) if text.contains("did not answer")));
    assert!(said, "{:?}", events.events());
    let err = resolve_images(&docker, &with_policy(Some(PullPolicy::Always)), None, &NoopObserver).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&image) && text.contains("registry"), "{text}");
    assert!(!text.contains(&password), "{text}");
}
