//! `DockerBuild` against the real engine: a multi-stage Dockerfile on the local busybox base,
//! built with a target and build args, `.dockerignore` honoured, labels present, the image runs
//! and answers; a failing step is reported with its step and output.

use std::time::Duration;

use slipway::build::{BuildError, BuildEvent, BuildMetadata, Builder, DockerBuild};
use slipway::events::{Event, RecordingObserver};
use slipway::ImageRef;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::containers::TestContainer;
use slipway_e2e::{docker, images, names};

const DOCKERFILE: &str = r#"ARG BASE=scratch
FROM ${BASE} AS builder
ARG GREETING=hello
COPY . /ctx/
RUN mkdir -p /out && echo "$GREETING from builder" > /out/index.html && ls -A /ctx > /out/files.txt
FROM ${BASE} AS final
COPY --from=builder /out /www
EXPOSE 8080
CMD ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
FROM ${BASE} AS never
RUN echo this stage is after the target && false
"#;

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(dir.path().join("kept.txt"), "kept").unwrap();
    std::fs::write(dir.path().join("secret.env"), "TOKEN=x").unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/a.log"), "log").unwrap();
    std::fs::write(dir.path().join(".dockerignore"), "*.env\nlogs\n").unwrap();
    dir
}

#[tokio::test]
async fn multi_stage_build_with_target_args_labels_runs_and_answers() {
    let docker = docker::connect().await.unwrap();
    let base = images::busybox_base().await.unwrap();
    let cleanup = Cleanup::new();
    let ctx = context();
    let tag = ImageRef::parse(&format!("{}:v1", names::unique("builder"))).unwrap();
    cleanup.image(tag.to_string());
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let build = DockerBuild::new(docker.clone(), ctx.path())
        .target("final")
        .build_arg("BASE", &base)
        .build_arg("GREETING", "howdy")
        .label("org.example.team", "ships")
        .metadata(BuildMetadata::new().revision(sha).version("1.2.3").source("https://example.com/app.git"))
        .tag(tag.clone());
    let observer = RecordingObserver::new();
    let out = build.build(&observer).await.unwrap();
    let image_id = out.image_id.clone().unwrap();
    assert_eq!(out.tags, [tag.to_string()]);
    let steps: Vec<String> = observer
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Build(BuildEvent::Step { step }) => Some(step),
            _ => None,
        })
        .collect();
    assert!(steps.iter().any(|s| s.contains("COPY --from=builder")), "{steps:?}");
    assert!(!steps.iter().any(|s| s.contains("after the target")), "the stage after the target ran: {steps:?}");

    let inspect = docker.inspect_image(&tag.to_string()).await.unwrap();
    assert_eq!(inspect.id.as_deref(), Some(image_id.to_string().as_str()));
    let labels = inspect.config.unwrap().labels.unwrap();
    assert_eq!(labels["org.opencontainers.image.revision"], sha);
    assert_eq!(labels["org.opencontainers.image.version"], "1.2.3");
    assert_eq!(labels["org.opencontainers.image.source"], "https://example.com/app.git");
    assert_eq!(labels["org.example.team"], "ships");

    let running = TestContainer::new(tag.to_string(), names::unique("builder"))
        .publish(8080)
        .start(&docker, &cleanup)
        .await
        .unwrap();
    let url = running.url(8080).unwrap();
    let client = reqwest::Client::new();
    let body = slipway::wait::wait_until("httpd answers", Duration::from_secs(20), Duration::from_millis(200), || {
        let client = client.clone();
        let url = format!("{url}/index.html");
        async move { client.get(url).send().await.ok()?.text().await.ok() }
    })
    .await
    .unwrap();
    assert_eq!(body.trim(), "howdy from builder");
    let files = client.get(format!("{url}/files.txt")).send().await.unwrap().text().await.unwrap();
    let files: Vec<&str> = files.lines().collect();
    assert!(files.contains(&"kept.txt") && files.contains(&"Dockerfile"), "{files:?}");
    assert!(!files.contains(&"secret.env") && !files.contains(&"logs"), ".dockerignore not honoured: {files:?}");
}

#[tokio::test]
async fn failing_step_reports_the_step_and_its_last_lines() {
    let docker = docker::connect().await.unwrap();
    let base = images::busybox_base().await.unwrap();
    let ctx = tempfile::tempdir().unwrap();
    let dockerfile =
        format!("FROM {base}\nRUN echo first-ok\nRUN echo boom-output-line && exit 3\nRUN echo unreached\n");
    std::fs::write(ctx.path().join("Dockerfile"), dockerfile).unwrap();
    let err = DockerBuild::new(docker, ctx.path()).no_cache(true).build(&RecordingObserver::new()).await.unwrap_err();
    match &err {
        BuildError::StepFailed { step, message, last_lines } => {
            assert!(step.starts_with("Step 3/4 : RUN echo boom-output-line"), "{step}");
            assert!(last_lines.contains("boom-output-line"), "{last_lines}");
            assert!(message.contains("non-zero code: 3"), "{message}");
        }
        other => panic!("expected StepFailed, got {other:?}"),
    }
    assert_eq!(slipway::Error::from(err).kind(), slipway::ErrorKind::Failed);
}

#[tokio::test]
async fn build_tag_push_in_one_call_reports_the_registry_digest() {
    let docker = docker::connect().await.unwrap();
    let registry = slipway_e2e::registry::TestRegistry::start().await.unwrap();
    let creds = slipway::registry::Credentials::basic(registry.username(), registry.password());
    let cleanup = Cleanup::new();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM scratch\nCOPY app.txt /app.txt\n").unwrap();
    std::fs::write(ctx.path().join("app.txt"), names::unique("builder")).unwrap();
    let tags: Vec<ImageRef> = ["v1", "latest"]
        .iter()
        .map(|t| ImageRef::parse(&format!("{}/builder/pushed:{t}", registry.host())).unwrap())
        .collect();
    for t in &tags {
        cleanup.image(t.to_string());
    }
    let out = DockerBuild::new(docker, ctx.path())
        .tags(tags.clone())
        .registry_options(slipway::registry::DistributionOptions::default().credentials(creds))
        .push(true)
        .build(&RecordingObserver::new())
        .await
        .unwrap();
    let digest = out.manifest_digest.clone().expect("pushed builds report the manifest digest");
    for t in &tags {
        let o = std::process::Command::new("skopeo")
            .args([
                "inspect",
                "--tls-verify=false",
                "--creds",
                &format!("{}:{}", registry.username(), registry.password()),
            ])
            .arg(format!("docker://{t}"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(info["Digest"], digest.to_string().as_str(), "{t}");
    }
    assert!(registry.requests().iter().any(|r| r.contains("PUT /v2/builder/pushed/manifests/v1")));
}
