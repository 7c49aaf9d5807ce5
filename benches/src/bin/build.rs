//! build: `OciBuild` vs `docker build` for the same files (the static busybox, redis-server and
//! PostgreSQL's share directory, ~600 files), side by side in one run. For each: wall time per run
//! (median of RUNS), and whether the digest repeats across runs. `docker build` uses a
//! `FROM scratch` Dockerfile with one COPY per mapping, `--no-cache` (cold) and cached.
//!
//! Run: `CARGO_TARGET_DIR=... cargo run -p slipway-benches --bin build_bench`
//! Needs: Docker, the `docker` CLI, redis-server and postgresql-15 (scripts/setup).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use slipway::build::oci::{Base, FileMapping, LayerSpec, OciOutput, Platform, PlatformImage};
use slipway::build::{Builder, OciBuild};
use slipway::registry::{Layout, Location};
use slipway::{ImageRef, NoopObserver};
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::{docker, names};

const RUNS: usize = 3;
const MAPPINGS: [(&str, &str); 3] =
    [("busybox", "/bin/busybox"), ("redis-server", "/usr/bin/redis-server"), ("share", "/usr/share/postgresql/15")];

fn copy_inputs(dir: &Path) -> anyhow::Result<()> {
    std::fs::copy("/bin/busybox", dir.join("busybox"))?;
    std::fs::copy("/usr/bin/redis-server", dir.join("redis-server"))?;
    let status = Command::new("cp").arg("-r").arg("/usr/share/postgresql/15").arg(dir.join("share")).status()?;
    if !status.success() {
        bail!("copying /usr/share/postgresql/15 failed");
    }
    let dockerfile: String = std::iter::once("FROM scratch\n".to_string())
        .chain(MAPPINGS.iter().map(|(src, dst)| format!("COPY {src} {dst}\n")))
        .chain(std::iter::once("ENTRYPOINT [\"/usr/bin/redis-server\"]\n".to_string()))
        .collect();
    std::fs::write(dir.join("Dockerfile"), dockerfile)?;
    Ok(())
}

fn oci(dir: &Path) -> OciBuild {
    let files = MAPPINGS.iter().map(|(src, dst)| FileMapping::path(dir.join(src), *dst)).collect();
    let mut config = slipway::build::oci::ImageConfig::default();
    config.entrypoint = Some(vec!["/usr/bin/redis-server".into()]);
    OciBuild::new()
        .image(PlatformImage::new(Platform::linux_amd64(), Base::Scratch).layer(LayerSpec::new(files)).config(config))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Row {
    name: &'static str,
    times: Vec<Duration>,
    digests: Vec<String>,
}

impl Row {
    fn print(&self) {
        let mut uniq = self.digests.clone();
        uniq.sort();
        uniq.dedup();
        let repeats = if uniq.len() == 1 { "yes" } else { "no" };
        let ms: Vec<String> = self.times.iter().map(|t| format!("{}", t.as_millis())).collect();
        println!(
            "{:<38} {:>8} ms  runs [{}] ms  digest repeats: {repeats:<3} ({})",
            self.name,
            median(self.times.clone()).as_millis(),
            ms.join(", "),
            &uniq[0][..19]
        );
    }
}

fn docker_build(dir: &Path, tag: &str, no_cache: bool) -> anyhow::Result<String> {
    let mut cmd = Command::new("docker");
    cmd.arg("build").arg("-q").arg("-t").arg(tag);
    if no_cache {
        cmd.arg("--no-cache");
    }
    let out = cmd.arg(dir).output().context("running docker build")?;
    if !out.status.success() {
        bail!("docker build failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let docker = docker::connect().await?;
    let cleanup = Cleanup::new();
    let work = tempfile::tempdir()?;
    let mut rows = Vec::new();

    let mut row = Row { name: "OciBuild, digest only (fresh copy each)", times: vec![], digests: vec![] };
    for i in 0..RUNS {
        let dir = work.path().join(format!("oci-{i}"));
        std::fs::create_dir_all(&dir)?;
        copy_inputs(&dir)?;
        let t = Instant::now();
        let out = oci(&dir).build(&NoopObserver).await?;
        row.times.push(t.elapsed());
        row.digests.push(out.manifest_digest.map(|d| d.to_string()).unwrap_or_default());
    }
    rows.push(row);

    let src = work.path().join("oci-0");
    let mut row = Row { name: "OciBuild -> new OCI layout", times: vec![], digests: vec![] };
    for i in 0..RUNS {
        let loc = format!("oci:{}:bench", work.path().join(format!("layout-{i}")).display());
        let Location::Layout(lr) = Location::parse(&loc)? else { bail!("not a layout") };
        let t = Instant::now();
        let layout = Arc::new(Layout::create(&lr.dir).await?);
        let out = oci(&src)
            .output(OciOutput::Registry { registry: layout, reference: lr.image_ref()? })
            .build(&NoopObserver)
            .await?;
        row.times.push(t.elapsed());
        row.digests.push(out.manifest_digest.map(|d| d.to_string()).unwrap_or_default());
    }
    rows.push(row);

    let mut row = Row { name: "OciBuild -> loaded into the engine", times: vec![], digests: vec![] };
    for _ in 0..RUNS {
        let tag = ImageRef::parse(&format!("{}:oci", names::unique("builder")))?;
        cleanup.image(tag.to_string());
        let t = Instant::now();
        let out = oci(&src).output(OciOutput::Engine { docker: docker.clone(), tag }).build(&NoopObserver).await?;
        row.times.push(t.elapsed());
        row.digests.push(out.image_id.map(|d| d.to_string()).unwrap_or_default());
    }
    rows.push(row);

    for (name, no_cache) in [("docker build --no-cache (image ID)", true), ("docker build, cached (image ID)", false)] {
        let mut row = Row { name, times: vec![], digests: vec![] };
        for _ in 0..RUNS {
            let tag = format!("{}:docker", names::unique("builder"));
            cleanup.image(&tag);
            let t = Instant::now();
            let id = docker_build(&src, &tag, no_cache)?;
            row.times.push(t.elapsed());
            row.digests.push(id);
        }
        rows.push(row);
    }

    let server = docker.version().await?.version.unwrap_or_default();
    println!("build benchmark: {RUNS} runs each, inputs = busybox + redis-server + /usr/share/postgresql/15; engine {server}");
    for r in &rows {
        r.print();
    }
    Ok(())
}
