//! `OciBuild` into an OCI layout (the registry room's `Layout`): `skopeo inspect oci:DIR:TAG`
//! reads it with the digest we computed; a second write uploads nothing; a two-platform index
//! from per-platform inputs is reproducible, and the registry accepts it with both platforms
//! listed by `skopeo inspect --raw`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use slipway::build::oci::open_location_with;
use slipway::build::oci::{Base, FileMapping, ImageConfig, LayerSpec, OciOutput, Platform, PlatformImage};
use slipway::build::{BuildEvent, Builder, OciBuild};
use slipway::events::{Event, NoopObserver, RecordingObserver};
use slipway::registry::{Credentials, DistributionOptions, Layout, Location};
use slipway_e2e::registry::TestRegistry;

fn skopeo(args: &[&str]) -> serde_json::Value {
    let out = Command::new("skopeo").args(args).output().expect("skopeo installed (apt-get install skopeo)");
    assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn layout_target(dir: &Path, tag: &str) -> (String, slipway::ImageRef) {
    let loc = format!("oci:{}:{tag}", dir.display());
    let Location::Layout(lr) = Location::parse(&loc).unwrap() else { panic!("not a layout") };
    (loc, lr.image_ref().unwrap())
}

/// One image per platform; each platform gets its own "prebuilt binary".
fn two_platform_build(inputs: &Path) -> OciBuild {
    let mut build = OciBuild::new().annotation("org.opencontainers.image.title", "two-platforms");
    for arch in ["amd64", "arm64"] {
        let bin = inputs.join(arch).join("app");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, format!("binary for {arch}\n")).unwrap();
        let mut config = ImageConfig::default();
        config.entrypoint = Some(vec!["/app".into()]);
        config.exposed_ports = vec!["8080".into()];
        let platform: Platform = format!("linux/{arch}").parse().unwrap();
        let layer = LayerSpec::new(vec![FileMapping::path(&bin, "/app").mode(0o755)]).comment("app");
        build = build.image(PlatformImage::new(platform, Base::Scratch).layer(layer).config(config));
    }
    build
}

#[tokio::test]
async fn layout_output_is_read_by_skopeo_and_rewrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (loc, reference) = layout_target(&dir.path().join("layout"), "v1");
    let layout = Arc::new(Layout::create(dir.path().join("layout")).await.unwrap());
    let mut config = ImageConfig::default();
    config.cmd = Some(vec!["/bin/busybox".into(), "true".into()]);
    config.labels.insert("org.example.k".into(), "v".into());
    let layer = LayerSpec::new(vec![FileMapping::path("/bin/busybox", "/bin/busybox")]);
    let image = PlatformImage::new(Platform::linux_amd64(), Base::Scratch).layer(layer).config(config);
    let build = OciBuild::new().image(image).output(OciOutput::Registry { registry: layout, reference });
    let out = build.build(&NoopObserver).await.unwrap();
    let digest = out.manifest_digest.unwrap().to_string();

    let info = skopeo(&["inspect", &loc]);
    assert_eq!(info["Digest"], digest.as_str());
    assert_eq!(info["Architecture"], "amd64");
    assert_eq!(info["Labels"]["org.example.k"], "v");
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1);

    let observer = RecordingObserver::new();
    let again = build.build(&observer).await.unwrap();
    assert_eq!(again.manifest_digest.unwrap().to_string(), digest);
    let writes: Vec<bool> = observer
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Build(BuildEvent::BlobWritten { skipped, .. }) => Some(skipped),
            _ => None,
        })
        .collect();
    assert_eq!(writes, [true, true], "the second write must find both blobs present");
}

#[tokio::test]
async fn two_platform_index_is_reproducible_and_accepted_by_the_registry() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let first = two_platform_build(a.path()).build(&NoopObserver).await.unwrap();
    let second = two_platform_build(b.path()).build(&NoopObserver).await.unwrap();
    assert_eq!(first.manifest_digest, second.manifest_digest, "index digest must repeat");

    let layout_dir = a.path().join("layout");
    let (loc, reference) = layout_target(&layout_dir, "multi");
    let layout = Arc::new(Layout::create(&layout_dir).await.unwrap());
    let out = two_platform_build(a.path())
        .output(OciOutput::Registry { registry: layout, reference })
        .build(&NoopObserver)
        .await
        .unwrap();
    let index_digest = out.manifest_digest.unwrap().to_string();
    assert_eq!(Some(index_digest.clone()), first.manifest_digest.map(|d| d.to_string()));
    let in_layout = skopeo(&["inspect", "--raw", &loc]);
    assert_eq!(in_layout["manifests"].as_array().unwrap().len(), 2, "{in_layout}");

    // Straight into the real registry (htpasswd auth) through the Distribution client.
    let registry = TestRegistry::start().await.unwrap();
    let creds = format!("{}:{}", registry.username(), registry.password());
    let options =
        DistributionOptions::default().credentials(Credentials::basic(registry.username(), registry.password()));
    let remote = format!("{}/builder/multi:v1", registry.host());
    let (dest_registry, dest_ref) = open_location_with(&remote, &options, true).await.unwrap();
    let to_registry =
        two_platform_build(b.path()).output(OciOutput::Registry { registry: dest_registry, reference: dest_ref });
    let pushed = to_registry.build(&NoopObserver).await.unwrap();
    assert_eq!(pushed.manifest_digest.map(|d| d.to_string()), Some(index_digest.clone()));
    let dest = format!("docker://{remote}");
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", "--creds", &creds, &dest]);
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    let mut platforms: Vec<String> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!("{}/{}", m["platform"]["os"].as_str().unwrap(), m["platform"]["architecture"].as_str().unwrap())
        })
        .collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let remote_digest = skopeo(&["inspect", "--tls-verify=false", "--creds", &creds, &dest])["Digest"].clone();
    assert_eq!(remote_digest, index_digest.as_str(), "the registry serves our index digest");
    assert!(
        registry.requests().iter().any(|r| r.contains("PUT /v2/builder/multi/manifests/v1")),
        "{:?}",
        registry.requests()
    );

    // Again: every blob is already there, nothing is uploaded.
    let uploads = |reg: &TestRegistry| reg.requests().iter().filter(|r| r.contains("/blobs/uploads")).count();
    let before = uploads(&registry);
    let observer = RecordingObserver::new();
    to_registry.build(&observer).await.unwrap();
    assert_eq!(uploads(&registry), before, "a rebuild must not upload blobs the registry has");
    let uploaded = observer
        .events()
        .into_iter()
        .any(|e| matches!(e, Event::Build(BuildEvent::BlobWritten { skipped: false, .. })));
    assert!(!uploaded);
}

#[tokio::test]
async fn an_image_from_a_layout_is_a_base_for_a_build_file_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let layout_dir = dir.path().join("layout");
    let (base_loc, base_ref) = layout_target(&layout_dir, "base");
    let base_layer = LayerSpec::new(vec![
        FileMapping::path("/bin/busybox", "/bin/busybox"),
        FileMapping::symlink("busybox", "/bin/sh"),
    ]);
    let mut base_config = ImageConfig::default();
    base_config.env.insert("PATH".into(), "/bin".into());
    base_config.env.insert("FROM_BASE".into(), "yes".into());
    let base = OciBuild::new()
        .image(PlatformImage::new(Platform::linux_amd64(), Base::Scratch).layer(base_layer).config(base_config))
        .output(OciOutput::Registry {
            registry: Arc::new(Layout::create(&layout_dir).await.unwrap()),
            reference: base_ref,
        });
    base.build(&NoopObserver).await.unwrap();

    let file = dir.path().join("app.toml");
    std::fs::write(
        &file,
        format!(
            "base = \"{base_loc}\"\n[config]\ncmd = [\"sh\", \"-c\", \"cat /srv/msg; echo FROM_BASE=$FROM_BASE\"]\n\
             [[layers]]\n[[layers.files]]\ncontent = \"on top of the base\\n\"\ntarget = \"/srv/msg\"\n"
        ),
    )
    .unwrap();
    let tag = format!("{}:based", slipway_e2e::names::unique("builder"));
    let cleanup = slipway_e2e::cleanup::Cleanup::new();
    cleanup.image(format!("docker.io/library/{tag}"));
    let mut req = slipway::build::OciBuildRequest::new(&file);
    req.output = Some(format!("oci:{}:app", layout_dir.display()));
    req.load = Some(tag.clone());
    let out = slipway::build::oci_build(&req, &NoopObserver).await.unwrap();

    let (app_loc, _) = layout_target(&layout_dir, "app");
    let info = skopeo(&["inspect", &app_loc]);
    assert_eq!(info["Digest"], out.manifest_digest.unwrap().to_string().as_str());
    assert_eq!(info["Layers"].as_array().unwrap().len(), 2, "base layer + ours");
    let docker = slipway_e2e::docker::connect().await.unwrap();
    let finished = slipway_e2e::containers::TestContainer::new(tag, slipway_e2e::names::unique("builder"))
        .run_to_end(&docker, &cleanup, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(finished.exit_code, 0, "{}", finished.output);
    assert_eq!(finished.output.lines().map(str::trim).collect::<Vec<_>>(), ["on top of the base", "FROM_BASE=yes"]);
}
