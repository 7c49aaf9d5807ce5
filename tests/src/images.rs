//! Fixture images built without pulling anything: the busybox base and the demo app.
//!
//! - [`busybox_base`]: `slipway-fixture/busybox:1`, imported from Debian's `busybox-static`.
//! - [`demo_binary`]: the static `examples/demo-app` binary, built once per workspace.
//! - [`demo_image`]: `slipway-fixture/demo:<hash>`, `FROM scratch` with the binary as `/demo-app`.
//! - [`demo_image_version`]: `slipway-fixture/demo:<hash>-<version>`, a distinct image per version.
//!
//! Each is idempotent and safe when several test processes ask at the same time (file locks).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;
use sha2::{Digest as _, Sha256};

use crate::fixture_lock;

/// The tag of the busybox base image.
pub const BUSYBOX_BASE: &str = "slipway-fixture/busybox:1";
/// The repository of the demo image (the tag is a content hash).
pub const DEMO_REPOSITORY: &str = "slipway-fixture/demo";
/// Where Debian's `busybox-static` installs the static busybox.
const BUSYBOX_SOURCE: &str = "/bin/busybox";
/// The Dockerfile of the demo image; its text is part of the image's tag hash.
const DEMO_DOCKERFILE: &str = "FROM scratch\n\
COPY demo-app /demo-app\n\
LABEL org.slipway.fixture=demo\n\
EXPOSE 8080\n\
ENTRYPOINT [\"/demo-app\"]\n\
CMD [\"serve\"]\n";

/// Returns `slipway-fixture/busybox:1`, importing it first when the engine lacks it.
///
/// The image holds `/bin/busybox` (static) and a symlink per applet at its usual path (`/bin/sh`,
/// `/usr/bin/wget`, `/usr/sbin/httpd`, `/bin/nc`, ...), `/etc/passwd`, `/tmp`; `PATH` is set and the
/// default command is `sh`.
pub async fn busybox_base() -> anyhow::Result<String> {
    let docker = crate::docker::connect().await?;
    if image_exists(&docker, BUSYBOX_BASE).await? {
        return Ok(BUSYBOX_BASE.to_owned());
    }
    let _in_process = fixture_lock::IN_PROCESS.lock().await;
    let mut lock = fixture_lock::open(&fixture_lock::path_for("busybox"))?;
    let _guard = fixture_lock::acquire(&mut lock).await?;
    if image_exists(&docker, BUSYBOX_BASE).await? {
        return Ok(BUSYBOX_BASE.to_owned());
    }
    let rootfs = tokio::task::spawn_blocking(busybox_rootfs_tar).await??;
    let (repo, tag) = BUSYBOX_BASE.split_once(':').context("the base tag has a ':'")?;
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .changes(vec!["ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin".to_owned(), "CMD [\"sh\"]".to_owned()])
        .build();
    let mut progress = docker.create_image(Some(options), Some(bollard::body_full(rootfs.into())), None);
    while let Some(item) = progress.next().await {
        let info = item.with_context(|| format!("importing {BUSYBOX_BASE} failed"))?;
        if let Some(detail) = info.error_detail {
            bail!("importing {BUSYBOX_BASE} failed: {:?}", detail.message);
        }
    }
    if !image_exists(&docker, BUSYBOX_BASE).await? {
        bail!("the engine accepted the import but has no {BUSYBOX_BASE}");
    }
    Ok(BUSYBOX_BASE.to_owned())
}

/// Whether the engine has an image under `reference`.
pub async fn image_exists(docker: &Docker, reference: &str) -> anyhow::Result<bool> {
    match docker.inspect_image(reference).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot inspect image {reference}")),
    }
}

/// Builds the root file system of the base image as an uncompressed tar.
fn busybox_rootfs_tar() -> anyhow::Result<Vec<u8>> {
    let busybox = std::fs::read(BUSYBOX_SOURCE)
        .with_context(|| format!("cannot read {BUSYBOX_SOURCE}: install busybox-static (scripts/setup does)"))?;
    if !is_static_elf(&busybox) {
        bail!("{BUSYBOX_SOURCE} is dynamically linked: install Debian's busybox-static (scripts/setup does)");
    }
    let listing = std::process::Command::new(BUSYBOX_SOURCE)
        .arg("--list-full")
        .output()
        .with_context(|| format!("cannot run {BUSYBOX_SOURCE} --list-full"))?;
    if !listing.status.success() {
        bail!("{BUSYBOX_SOURCE} --list-full failed: {}", listing.status);
    }
    let applets: Vec<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|line| line.trim().trim_start_matches('/').to_owned())
        .filter(|line| !line.is_empty() && line != "bin/busybox")
        .collect();

    let mut archive = tar::Builder::new(Vec::new());
    for dir in ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "var", "var/www", "home"] {
        append_dir(&mut archive, dir, 0o755)?;
    }
    append_dir(&mut archive, "tmp", 0o1777)?;
    append_file(&mut archive, "bin/busybox", &busybox, 0o755)?;
    append_file(&mut archive, "etc/passwd", PASSWD.as_bytes(), 0o644)?;
    append_file(&mut archive, "etc/group", GROUP.as_bytes(), 0o644)?;
    for applet in &applets {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        header.set_mode(0o777);
        header.set_mtime(0);
        archive
            .append_link(&mut header, applet, "/bin/busybox")
            .with_context(|| format!("cannot add the applet link {applet}"))?;
    }
    archive.into_inner().context("cannot finish the base image tar")
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

fn append_dir(archive: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_size(0);
    header.set_mode(mode);
    header.set_mtime(0);
    archive.append_data(&mut header, path, std::io::empty()).with_context(|| format!("cannot add the directory {path}"))
}

fn append_file(archive: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_mtime(0);
    archive.append_data(&mut header, path, data).with_context(|| format!("cannot add the file {path}"))
}

/// Whether `elf` is a 64-bit little-endian ELF without a program interpreter (`PT_INTERP`).
fn is_static_elf(elf: &[u8]) -> bool {
    let read = |at: usize, len: usize| -> Option<u64> {
        let bytes = elf.get(at..at + len)?;
        Some(bytes.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    };
    if elf.get(0..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (read(0x20, 8), read(0x36, 2), read(0x38, 2)) else {
        return false;
    };
    (0..phnum).all(|i| {
        let at = usize::try_from(phoff + i * phentsize).unwrap_or(usize::MAX);
        read(at, 4).is_some_and(|p_type| p_type != 3)
    })
}

/// The workspace root (the parent of the `tests/` package).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Returns the static `demo-app` binary, building it first (release, `+crt-static`) into
/// `<workspace>/target/demo-app`; cargo rebuilds it only when its sources changed. Blocks the thread.
pub fn demo_binary() -> anyhow::Result<PathBuf> {
    static BUILT: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.as_ref() {
        return Ok(path.clone());
    }
    let root = workspace_root();
    let target_dir = root.join("target").join("demo-app");
    std::fs::create_dir_all(&target_dir).with_context(|| format!("cannot create {}", target_dir.display()))?;
    let mut lock = fixture_lock::open(&target_dir.join("slipway-fixture.lock"))?;
    let _guard = fixture_lock::acquire_blocking(&mut lock)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "--target", DEMO_TARGET, "-p", "demo-app", "--target-dir"])
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .context("cannot run cargo to build the demo app")?;
    if !output.status.success() {
        bail!("building the demo app failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let binary = target_dir.join(DEMO_TARGET).join("release").join("demo-app");
    if !binary.is_file() {
        bail!("cargo built the demo app but {} is missing", binary.display());
    }
    *built = Some(binary.clone());
    Ok(binary)
}

/// The target triple of the static demo binary (the host's default on the project's machines).
const DEMO_TARGET: &str = "x86_64-unknown-linux-gnu";

/// Returns `slipway-fixture/demo:<hash>` (`FROM scratch`, `/demo-app` as entrypoint, `serve` as
/// command, port 8080), building it first when the engine lacks it. The tag is the first 16 hex
/// digits of the SHA-256 of the Dockerfile and the binary, so a changed demo app gets a new tag.
pub async fn demo_image() -> anyhow::Result<String> {
    let binary_path = tokio::task::spawn_blocking(demo_binary).await??;
    let binary =
        tokio::fs::read(&binary_path).await.with_context(|| format!("cannot read {}", binary_path.display()))?;
    let mut hasher = Sha256::new();
    hasher.update(DEMO_DOCKERFILE.as_bytes());
    hasher.update(&binary);
    let hash = hex::encode(hasher.finalize());
    let tag = format!("{DEMO_REPOSITORY}:{}", &hash[..16]);

    let docker = crate::docker::connect().await?;
    if image_exists(&docker, &tag).await? {
        return Ok(tag);
    }
    let _in_process = fixture_lock::IN_PROCESS.lock().await;
    let mut lock = fixture_lock::open(&fixture_lock::path_for("demo-image"))?;
    let _guard = fixture_lock::acquire(&mut lock).await?;
    if image_exists(&docker, &tag).await? {
        return Ok(tag);
    }
    build_image(&docker, &tag, &[("Dockerfile", DEMO_DOCKERFILE.as_bytes(), 0o644), ("demo-app", &binary, 0o755)])
        .await?;
    Ok(tag)
}

/// Returns `slipway-fixture/demo:<hash>-<version>`: the demo image with `ENV APP_VERSION=<version>`
/// and the label `org.slipway.fixture.version=<version>` baked in, so each version is a distinct
/// image (own id and digest) that answers `/version` with `version` without any environment.
/// `version` must be a valid tag (`[A-Za-z0-9_][A-Za-z0-9_.-]*`, at most 100 characters).
pub async fn demo_image_version(version: &str) -> anyhow::Result<String> {
    let valid = !version.is_empty()
        && version.len() <= 100
        && !version.starts_with(['.', '-'])
        && version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        bail!("{version:?} is not usable as an image tag suffix: use letters, digits, '_', '.', '-'");
    }
    let base = demo_image().await?;
    let tag = format!("{base}-{version}");
    let docker = crate::docker::connect().await?;
    if image_exists(&docker, &tag).await? {
        return Ok(tag);
    }
    let _in_process = fixture_lock::IN_PROCESS.lock().await;
    let mut lock = fixture_lock::open(&fixture_lock::path_for("demo-image"))?;
    let _guard = fixture_lock::acquire(&mut lock).await?;
    if image_exists(&docker, &tag).await? {
        return Ok(tag);
    }
    let dockerfile = format!("FROM {base}\nENV APP_VERSION={version}\nLABEL org.slipway.fixture.version={version}\n");
    build_image(&docker, &tag, &[("Dockerfile", dockerfile.as_bytes(), 0o644)]).await?;
    Ok(tag)
}

/// Builds `tag` with the classic builder from an in-memory context of (path, content, mode) files.
pub async fn build_image(docker: &Docker, tag: &str, files: &[(&str, &[u8], u32)]) -> anyhow::Result<()> {
    let mut archive = tar::Builder::new(Vec::new());
    for (path, content, mode) in files {
        append_file(&mut archive, path, content, *mode)?;
    }
    let context = archive.into_inner().context("cannot finish the build context")?;
    let options = BuildImageOptionsBuilder::default().dockerfile("Dockerfile").t(tag).rm(true).forcerm(true).build();
    let mut progress = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = progress.next().await {
        let info = item.with_context(|| format!("building {tag} failed"))?;
        if let Some(detail) = info.error_detail {
            bail!("building {tag} failed: {:?}", detail.message);
        }
    }
    if !image_exists(docker, tag).await? {
        bail!("the engine finished the build but has no {tag}");
    }
    Ok(())
}
