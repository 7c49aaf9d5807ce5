//! Images from a real registry: deploys pin them by registry digest, and a rollback works with
//! the registry stopped because the pinned images are still in the engine (no pull planned).

use std::time::Duration;

use bollard::query_parameters::{PushImageOptions, TagImageOptions};
use futures::StreamExt;
use slipway::deploy::{DeployOptions, Deployer, DockerHost, ReleaseId, Step};
use slipway::NoopObserver;
use slipway_e2e::registry::TestRegistry;
use slipway_e2e::{cleanup::Cleanup, docker, images, names, project::ProjectGuard, stacks};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_works_with_the_registry_stopped() {
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("deploy");
    let _guard = ProjectGuard::new(&project);
    let cleanup = Cleanup::new();
    let docker = docker::connect().await.unwrap();
    let registry = TestRegistry::builder().no_auth().start().await.unwrap();

    // Push the demo image to the registry as <registry>/<project>/demo:v1.0.0.
    let repo = format!("{}/{project}/demo", registry.host());
    let tag = TagImageOptions { repo: Some(repo.clone()), tag: Some("v1.0.0".into()) };
    docker.tag_image(&demo, Some(tag)).await.unwrap();
    let image = format!("{repo}:v1.0.0");
    cleanup.image(&image);
    let mut push =
        docker.push_image(&repo, Some(PushImageOptions { tag: Some("v1.0.0".into()), ..Default::default() }), None);
    while let Some(item) = push.next().await {
        let info = item.unwrap();
        assert!(info.error_detail.is_none(), "{info:?}");
    }

    let host = DockerHost::new(docker.clone());
    let opts = DeployOptions::default().min_running(Duration::from_millis(500)).env("production");
    let v1 = stacks::shop(&project, &image, &busybox, "v1");
    // Production accepts only vX.Y.Z tags and digests: the stand-ins built from the local busybox
    // fixture are left out here, the app, worker and prestart come from the registry.
    let mut v1p = v1.clone();
    for s in ["db", "cache"] {
        v1p.services.remove(s);
    }
    for s in v1p.services.values_mut() {
        s.depends_on.retain(|k, _| k == "prestart");
    }
    v1p.volumes.clear();
    let r1 = host.apply(&v1p, &opts, &NoopObserver).await.unwrap().release.unwrap();
    let pinned = &r1.services["app"].pinned;
    assert!(pinned.starts_with(&format!("{repo}@sha256:")), "pinned by registry digest: {pinned}");
    let mut v2p = v1p.clone();
    stacks::set_env(&mut v2p, "app", "APP_VERSION", "v2");
    host.apply(&v2p, &opts, &NoopObserver).await.unwrap();

    drop(registry);
    let out = host.rollback(&project, None, &opts, &NoopObserver).await.unwrap();
    let back = out.release.unwrap();
    assert_eq!(back.rollback_of, Some(ReleaseId(1)));
    assert!(!out.plan.steps.iter().any(|s| matches!(s, Step::Pull { .. })), "{:#?}", out.plan.steps);
    let status = host.status(&project).await.unwrap();
    let app = status.containers.iter().find(|c| c.service == "app" && c.running).unwrap();
    assert_eq!(app.release, Some(back.id));
    assert_eq!(&app.image, pinned);
}
