//! `slipway build -f compose.yml` against the real engine and the harness's registry: every
//! service with `build:` is built (context + dockerfile + args + target + labels, and
//! `dockerfile_inline`), services sharing an image are built once, the image is tagged as
//! `image:` plus `build.tags` (or with the tag policy for an event) and pushed with Docker's
//! credentials (`DOCKER_CONFIG/config.json`). One test in this binary: it sets `DOCKER_CONFIG`.

use std::collections::BTreeMap;

use base64::Engine as _;

use slipway::build::{compose_build, ComposeBuildRequest, EventRequest};
use slipway::compose::LoadOptions;
use slipway_e2e::cleanup::Cleanup;

#[tokio::test]
async fn compose_services_are_built_once_tagged_and_pushed() {
    let base = slipway_e2e::images::busybox_base().await.expect("busybox fixture");
    let registry = slipway_e2e::registry::TestRegistry::start().await.expect("registry");
    let host = registry.host().to_string();
    let cfg = tempfile::tempdir().unwrap();
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", registry.username(), registry.password()));
    let config = serde_json::json!({"auths": {host.clone(): {"auth": auth}}});
    std::fs::write(cfg.path().join("config.json"), config.to_string()).unwrap();
    std::env::set_var("DOCKER_CONFIG", cfg.path());

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(
        dir.path().join("app/Dockerfile.prod"),
        format!("FROM {base} AS build\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\nFROM build AS runtime\nLABEL stage=runtime\n"),
    )
    .unwrap();
    let project = slipway_e2e::names::unique("cbuild");
    let compose = format!(
        "services:\n  web:\n    image: {host}/{project}/app:dev\n    build:\n      context: ./app\n      dockerfile: Dockerfile.prod\n      target: runtime\n      args: [GREETING=hello]\n      labels: {{org.example.team: web}}\n      tags: [\"{host}/{project}/app:extra\"]\n  worker:\n    image: {host}/{project}/app:dev\n    build:\n      context: ./app\n      dockerfile: Dockerfile.prod\n  tool:\n    build:\n      context: .\n      dockerfile_inline: |\n        FROM {base}\n        RUN echo inline > /inline\n  db:\n    image: {base}\n"
    );
    std::fs::write(dir.path().join("compose.yml"), compose).unwrap();
    let cleanup = Cleanup::new();
    cleanup.image(format!("{host}/{project}/app:dev")).image(format!("{host}/{project}/app:extra"));
    cleanup.image(format!("{project}-tool"));

    let env: BTreeMap<String, String> =
        [("PATH".to_string(), std::env::var("PATH").unwrap_or_default())].into_iter().collect();
    let mut req = ComposeBuildRequest::default();
    req.load = LoadOptions::new([dir.path().join("compose.yml")]).environment(env.clone()).project(&project);
    req.push = false;
    let images = compose_build(&req, &slipway::events::NoopObserver).await.expect("compose build");
    let by_image: BTreeMap<&str, &Vec<String>> = images.iter().map(|i| (i.image.as_str(), &i.services)).collect();
    // web and worker share one image: one build; db has no build section; tool is named PROJECT-tool.
    assert_eq!(images.len(), 2, "{by_image:?}");
    assert_eq!(by_image[format!("{host}/{project}/app:dev").as_str()], &vec!["web".to_string(), "worker".to_string()]);
    assert_eq!(by_image[format!("{project}-tool").as_str()], &vec!["tool".to_string()]);
    let docker = slipway_e2e::docker::connect().await.unwrap();
    let web = docker.inspect_image(&format!("{host}/{project}/app:extra")).await.expect("extra tag");
    let labels = web.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(labels.get("org.example.team").map(String::as_str), Some("web"));
    assert_eq!(labels.get("stage").map(String::as_str), Some("runtime"), "target stage built");

    // Only `web` this time, with a pre-release event, pushed with config.json's credentials.
    let mut req = ComposeBuildRequest::default();
    req.load = LoadOptions::new([dir.path().join("compose.yml")]).environment(env).project(&project);
    req.services = vec!["web".into()];
    req.push = true;
    let mut event = EventRequest::new("pre-release");
    event.sha = Some("4f2a9c1e0b".into());
    req.event = Some(event);
    let images = compose_build(&req, &slipway::events::NoopObserver).await.expect("compose build --push");
    assert_eq!(images.len(), 1);
    let tags = &images[0].output.tags;
    assert!(tags.iter().any(|t| t.ends_with(":sha-4f2a9c1")), "{tags:?}");
    for t in tags {
        cleanup.image(t);
    }
    assert!(images[0].output.manifest_digest.is_some(), "pushed: the registry's digest is known");
    let requests = registry.requests();
    assert!(
        requests.iter().any(|r| r.contains(&format!("PUT /v2/{project}/app/manifests/sha-4f2a9c1"))),
        "{requests:?}"
    );
}
