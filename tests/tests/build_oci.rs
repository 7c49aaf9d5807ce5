//! `OciBuild` against the real engine: the same inputs copied to two directories with
//! different mtimes give identical digests; the image loads into the engine and runs with its
//! config (entrypoint, env, user, workdir, healthcheck).

use std::path::Path;
use std::time::{Duration, SystemTime};

use slipway::build::oci::Base;
use slipway::build::oci::{FileMapping, Healthcheck, ImageConfig, LayerSpec, OciOutput, Platform, PlatformImage};
use slipway::build::{Builder, OciBuild};
use slipway::events::NoopObserver;
use slipway::ImageRef;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::containers::TestContainer;
use slipway_e2e::{docker, names};

/// Inputs: the static busybox as the program, a data directory, written into `root`.
fn write_inputs(root: &Path, mtime: SystemTime) {
    std::fs::create_dir_all(root.join("data/nested")).unwrap();
    std::fs::copy("/bin/busybox", root.join("busybox")).unwrap();
    std::fs::write(root.join("data/hello.txt"), "hello from oci\n").unwrap();
    std::fs::write(root.join("data/nested/z.txt"), "z\n").unwrap();
    for f in ["busybox", "data/hello.txt", "data/nested/z.txt"] {
        std::fs::File::options().write(true).open(root.join(f)).unwrap().set_modified(mtime).unwrap();
    }
}

fn build_from(root: &Path) -> OciBuild {
    let layer = LayerSpec::new(vec![
        FileMapping::path(root.join("busybox"), "/bin/busybox"),
        FileMapping::symlink("busybox", "/bin/sh"),
        FileMapping::symlink("busybox", "/bin/cat"),
        FileMapping::path(root.join("data"), "/srv/data"),
        FileMapping::contents("app:x:1000:1000::/srv:/bin/sh\n", "/etc/passwd"),
    ])
    .comment("busybox and data");
    let mut config = ImageConfig::default();
    config.entrypoint = Some(vec!["/bin/sh".into(), "-c".into()]);
    config.cmd = Some(vec!["cat /srv/data/hello.txt; echo GREETING=$GREETING; id -u; pwd".into()]);
    config.env.insert("GREETING".into(), "hi".into());
    config.env.insert("PATH".into(), "/bin".into());
    config.user = Some("1000:1000".into());
    config.workdir = Some("/srv".into());
    config.healthcheck = Some(Healthcheck::new(vec!["CMD".into(), "/bin/cat".into(), "/srv/data/hello.txt".into()]));
    let image = PlatformImage::new(Platform::linux_amd64(), Base::Scratch).layer(layer).config(config);
    OciBuild::new().image(image).annotation("org.opencontainers.image.title", "repro").source_date_epoch(1_700_000_000)
}

#[tokio::test]
async fn same_inputs_in_different_directories_give_the_same_digest_and_the_image_runs() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write_inputs(a.path(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_000));
    write_inputs(b.path(), SystemTime::now());
    let first = build_from(a.path()).build(&NoopObserver).await.unwrap();
    let second = build_from(b.path()).build(&NoopObserver).await.unwrap();
    assert_eq!(first.manifest_digest, second.manifest_digest);
    assert_eq!(first.image_id, second.image_id);

    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let tag = ImageRef::parse(&format!("{}:repro", names::unique("builder"))).unwrap();
    cleanup.image(tag.to_string());
    let out = build_from(b.path())
        .output(OciOutput::Engine { docker: docker.clone(), tag: tag.clone() })
        .build(&NoopObserver)
        .await
        .unwrap();
    assert_eq!(out.manifest_digest, first.manifest_digest);
    let inspect = docker.inspect_image(&tag.to_string()).await.unwrap();
    assert_eq!(inspect.id.as_deref().map(String::from), first.image_id.as_ref().map(|d| d.to_string()));
    let config = inspect.config.unwrap();
    assert_eq!(config.working_dir.as_deref(), Some("/srv"));
    assert!(config.healthcheck.is_some(), "healthcheck lost on load");

    let finished = TestContainer::new(tag.to_string(), names::unique("builder"))
        .run_to_end(&docker, &cleanup, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(finished.exit_code, 0, "{}", finished.output);
    let lines: Vec<&str> = finished.output.lines().map(str::trim).collect();
    assert_eq!(lines, ["hello from oci", "GREETING=hi", "1000", "/srv"], "{}", finished.output);
}
