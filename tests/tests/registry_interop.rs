//! Interop with the real tools: what slipway pushes from the engine, `docker pull` and `skopeo
//! inspect` read with the same digest; what `docker push` wrote, slipway copies; an image goes
//! engine -> layout -> engine without any registry.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::RngCore;
use slipway::registry::engine::{load_into_engine, push_from_engine};
use slipway::registry::{
    copy, CopyOptions, Credentials, Distribution, DistributionOptions, Layout, Location, ManifestFormat, Registry,
    RetryPolicy,
};
use slipway::{ImageRef, NoopObserver};
use slipway_e2e::registry::TestRegistry;

/// Removes the engine images a test made, also on panic.
struct Images(Vec<String>);
impl Drop for Images {
    fn drop(&mut self) {
        for i in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
    }
}

fn unique() -> String {
    format!("slipway-t-registry-{:08x}", rand::random::<u32>())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `docker import` a tar with two random files; returns the image name.
fn import_tiny_image(images: &mut Images) -> String {
    let mut tar = tar::Builder::new(Vec::new());
    for name in ["a.bin", "b.bin"] {
        let mut data = vec![0u8; 20_000];
        rand::rng().fill_bytes(&mut data);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, &data[..]).unwrap();
    }
    let bytes = tar.into_inner().unwrap();
    let name = format!("{}:v1", unique());
    let mut child = Command::new("docker")
        .args(["import", "-", &name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    assert!(child.wait().unwrap().success());
    images.0.push(name.clone());
    name
}

fn docker_config(reg: &TestRegistry) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("docker")
        .args([
            "--config",
            dir.path().to_str().unwrap(),
            "login",
            &reg.host(),
            "-u",
            reg.username(),
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(reg.password().as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "docker login failed");
    dir
}

fn skopeo_digest(reg: &TestRegistry, reference: &str) -> String {
    let creds = format!("{}:{}", reg.username(), reg.password());
    let out = run(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{reference}"),
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

async fn client(reg: &TestRegistry) -> Distribution {
    let opts = DistributionOptions::default()
        .credentials(Credentials::basic(reg.username(), reg.password()))
        .retry(RetryPolicy::new(3, Duration::from_millis(50)));
    Distribution::connect(&reg.host(), opts).await.unwrap()
}

#[tokio::test]
async fn slipway_push_is_read_by_docker_pull_and_skopeo_with_the_same_digest() {
    let reg = TestRegistry::start().await.unwrap();
    let mut images = Images(Vec::new());
    let local = import_tiny_image(&mut images);
    let docker = slipway_e2e::docker::connect().await.unwrap();
    let c = client(&reg).await;
    let dst = format!("{}/interop/app:v1", reg.host());
    let d =
        push_from_engine(&docker, &local, &c, &ImageRef::parse(&dst).unwrap(), &CopyOptions::default(), &NoopObserver)
            .await
            .unwrap();
    assert_eq!(skopeo_digest(&reg, &dst), d.to_string());
    // Pushing the same image again gives the same digest (deterministic gzip).
    let again =
        push_from_engine(&docker, &local, &c, &ImageRef::parse(&dst).unwrap(), &CopyOptions::default(), &NoopObserver)
            .await
            .unwrap();
    assert_eq!(again, d);
    let cfg = docker_config(&reg);
    images.0.push(dst.clone());
    run(Command::new("docker").args(["--config", cfg.path().to_str().unwrap(), "pull", "-q", &dst]));
    let repo_digests =
        run(Command::new("docker").args(["image", "inspect", "--format", "{{json .RepoDigests}}", &dst]));
    assert!(repo_digests.contains(&d.to_string()), "{repo_digests} lacks {d}");
    // Same image id (config digest) as the original.
    let id =
        |r: &str| run(Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", r])).trim().to_string();
    assert_eq!(id(&dst), id(&local));
}

#[tokio::test]
async fn what_docker_push_wrote_slipway_copies_with_the_same_digest() {
    let reg = TestRegistry::start().await.unwrap();
    let mut images = Images(Vec::new());
    let local = import_tiny_image(&mut images);
    let pushed = format!("{}/dockerpushed/app:v1", reg.host());
    run(Command::new("docker").args(["tag", &local, &pushed]));
    images.0.push(pushed.clone());
    let cfg = docker_config(&reg);
    run(Command::new("docker").args(["--config", cfg.path().to_str().unwrap(), "push", &pushed]));
    let src_digest = skopeo_digest(&reg, &pushed);
    let c = client(&reg).await;
    let dst = format!("{}/copied/app:v1", reg.host());
    let d = copy(
        &c,
        &ImageRef::parse(&pushed).unwrap(),
        &c,
        &ImageRef::parse(&dst).unwrap(),
        &CopyOptions::default(),
        &NoopObserver,
    )
    .await
    .unwrap();
    assert_eq!(d.to_string(), src_digest);
    assert_eq!(skopeo_digest(&reg, &dst), src_digest);
    assert_eq!(
        c.resolve(&ImageRef::parse(&dst).unwrap()).await.unwrap().media_type,
        slipway::registry::DOCKER_MANIFEST
    );
}

#[tokio::test]
async fn engine_to_layout_to_engine_without_a_registry() {
    let mut images = Images(Vec::new());
    let local = import_tiny_image(&mut images);
    let docker = slipway_e2e::docker::connect().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).await.unwrap();
    let Location::Layout(lref) = Location::parse(&format!("oci:{}:v1", dir.path().display())).unwrap() else {
        panic!()
    };
    let lr = lref.image_ref().unwrap();
    let oci = CopyOptions::default().format(ManifestFormat::Oci);
    let d = push_from_engine(&docker, &local, &layout, &lr, &oci, &NoopObserver).await.unwrap();
    assert_eq!(layout.resolve(&lr).await.unwrap().media_type, slipway::registry::OCI_MANIFEST);
    assert_eq!(layout.resolve(&lr).await.unwrap().digest, d);
    let loaded = format!("{}:loaded", unique());
    images.0.push(loaded.clone());
    assert_eq!(load_into_engine(&docker, &layout, &lr, &loaded).await.unwrap(), d);
    let id =
        |r: &str| run(Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", r])).trim().to_string();
    assert_eq!(id(&loaded), id(&local));
    // The layout also passes skopeo's reading of an OCI layout.
    let out = run(Command::new("skopeo").args(["inspect", &format!("oci:{}:v1", dir.path().display())]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Digest"].as_str().unwrap(), d.to_string());
}
