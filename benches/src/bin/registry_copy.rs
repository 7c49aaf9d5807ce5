//! Registry benchmark (prints figures; not a test). A 3-layer image of about 60 MB (random,
//! incompressible content) is built in the local engine, then, side by side in one run:
//!
//! 1. push to an empty registry: `slipway push` (library) vs `docker push`;
//! 2. copy across repositories on the same registry: slipway copy vs `skopeo copy` vs
//!    `docker tag` + `docker push`.
//!
//! Wall time and bytes uploaded (counted by a TCP proxy in front of the registry; connections are
//! closed by each client before the count is read).
//!
//! Run: `cargo run --release -p slipway-benches --bin registry_copy`

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use slipway::registry::{ops, CopyOptions, DistributionOptions, Location};
use slipway_e2e::registry::byte_counter::CountingProxy;
use slipway_e2e::registry::TestRegistry;

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

fn random_file(path: &std::path::Path, mb: usize) -> anyhow::Result<()> {
    let mut data = vec![0u8; mb * 1024 * 1024];
    let mut x: u64 = rand::random();
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    std::fs::write(path, data)?;
    Ok(())
}

/// Build the 3-layer image: an imported 20 MB base plus two COPY layers of 20 MB.
fn build_image(name: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root)?;
    random_file(&root.join("base.bin"), 20)?;
    let tar = dir.path().join("base.tar");
    run(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg("."))?;
    let base = format!("{name}-base:v1");
    run(Command::new("docker").arg("import").arg(&tar).arg(&base))?;
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx)?;
    random_file(&ctx.join("one.bin"), 20)?;
    random_file(&ctx.join("two.bin"), 20)?;
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {base}\nCOPY one.bin /one.bin\nCOPY two.bin /two.bin\n"))?;
    run(Command::new("docker")
        .args(["build", "-q", "-t", &format!("{name}:v1")])
        .arg(&ctx)
        .env("DOCKER_BUILDKIT", "0"))?;
    run(Command::new("docker").args(["rmi", &base]))?;
    Ok(())
}

struct Row {
    what: &'static str,
    tool: &'static str,
    wall: Duration,
    up: u64,
}

async fn measure<F, Fut>(proxy: &CountingProxy, what: &'static str, tool: &'static str, f: F) -> anyhow::Result<Row>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    proxy.reset();
    let start = Instant::now();
    f().await?;
    let wall = start.elapsed();
    // Let the proxy see the clients' connections close.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    Ok(Row { what, tool, wall, up: proxy.bytes_up() })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let name = format!("slipway-t-registry-bench-{:08x}", rand::random::<u32>());
    let image = format!("{name}:v1");
    eprintln!("building {image} (3 layers, ~60 MB)...");
    build_image(&name)?;
    let result = bench(&image).await;
    let _ = Command::new("docker").args(["rmi", "-f", &image]).output();
    result
}

async fn bench(image: &str) -> anyhow::Result<()> {
    let reg = TestRegistry::builder().no_auth().start().await?;
    let proxy = CountingProxy::start(&reg.host()).await?;
    let h = proxy.host();
    let opts = DistributionOptions::default();
    let copts = CopyOptions::default();
    let obs = slipway::NoopObserver;
    let docker = slipway::engine::connect_host(None).await?;
    let loc = |s: String| Location::parse(&s);
    let mut rows = Vec::new();

    rows.push(
        measure(&proxy, "push to empty registry", "slipway push", || async {
            ops::push(Some(&docker), image, &loc(format!("{h}/bench/slipway:v1"))?, &opts, &copts, &obs).await?;
            Ok(())
        })
        .await?,
    );
    let docker_ref = format!("{h}/bench/docker:v1");
    run(Command::new("docker").args(["tag", image, &docker_ref]))?;
    rows.push(
        measure(&proxy, "push to empty registry", "docker push", || async {
            run(Command::new("docker").args(["push", &docker_ref]))?;
            Ok(())
        })
        .await?,
    );

    let src = format!("{h}/bench/slipway:v1");
    rows.push(
        measure(&proxy, "copy to another repository", "slipway copy", || async {
            ops::copy_location(&loc(src.clone())?, &loc(format!("{h}/prod/slipway:v1"))?, &opts, &copts, &obs).await?;
            Ok(())
        })
        .await?,
    );
    rows.push(
        measure(&proxy, "copy to another repository", "skopeo copy", || async {
            run(Command::new("skopeo").args([
                "copy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                &format!("docker://{src}"),
                &format!("docker://{h}/prod/skopeo:v1"),
            ]))?;
            Ok(())
        })
        .await?,
    );
    let tagged = format!("{h}/prod/docker:v1");
    rows.push(
        measure(&proxy, "copy to another repository", "docker tag + push", || async {
            run(Command::new("docker").args(["tag", image, &tagged]))?;
            run(Command::new("docker").args(["push", &tagged]))?;
            Ok(())
        })
        .await?,
    );
    rows.push(
        measure(&proxy, "promote in one repository", "slipway copy", || async {
            ops::copy_location(&loc(src.clone())?, &loc(format!("{h}/bench/slipway:v1.0.0"))?, &opts, &copts, &obs)
                .await?;
            Ok(())
        })
        .await?,
    );
    for r in [&docker_ref, &tagged] {
        let _ = Command::new("docker").args(["rmi", r]).output();
    }

    println!("{:<28} {:<20} {:>10} {:>16}", "scenario", "tool", "wall (s)", "bytes uploaded");
    for r in &rows {
        println!("{:<28} {:<20} {:>10.2} {:>16}", r.what, r.tool, r.wall.as_secs_f64(), r.up);
    }
    Ok(())
}
