//! compose room: `slipway config` against `docker compose config` over any directory of compose
//! files. Prints how many files Compose reads, how many slipway reads, how many resolve to equal
//! documents, the time of both, and the first difference of each file that differs.
//!
//! `cargo run -p slipway-benches --bin compose_corpus -- DIR [--quiet]`

#[path = "../../../tests/tests/compose_corpus_support/mod.rs"]
mod support;

use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().ok_or_else(|| anyhow::anyhow!("usage: compose_corpus DIR [--quiet]"))?;
    let quiet = args.iter().any(|a| a == "--quiet");
    let files = support::find(std::path::Path::new(dir));
    let (mut compose_ok, mut slipway_ok, mut equal, mut both) = (0, 0, 0, 0);
    let (mut ct, mut st) = (Duration::ZERO, Duration::ZERO);
    let mut refused: std::collections::BTreeMap<String, usize> = Default::default();
    for f in &files {
        let o = support::run(f);
        ct += o.compose_time;
        st += o.slipway_time;
        compose_ok += usize::from(o.compose.is_ok());
        slipway_ok += usize::from(o.slipway.is_ok());
        match (&o.compose, &o.slipway) {
            (Ok(_), Ok(_)) => {
                both += 1;
                match o.difference() {
                    None => equal += 1,
                    Some(d) if !quiet => println!("DIFF {}: {d}", f.display()),
                    Some(_) => {}
                }
            }
            (Ok(_), Err(e)) => {
                let first = e.lines().last().unwrap_or_default().to_string();
                let key = first.split('`').nth(1).unwrap_or("?").to_string();
                *refused.entry(key).or_default() += 1;
                if !quiet {
                    println!("REFUSED {}: {}", f.display(), e.replace('\n', " | "));
                }
            }
            (Err(e), _) if !quiet => println!("COMPOSE REFUSES {}: {}", o.file.display(), e.replace('\n', " | ")),
            _ => {}
        }
    }
    println!("files: {}", files.len());
    println!("docker compose reads: {compose_ok}");
    println!("slipway reads: {slipway_ok} (of those Compose reads: {both})");
    let pct = if compose_ok > 0 { 100.0 * equal as f64 / compose_ok as f64 } else { 0.0 };
    println!("equal documents: {equal} ({pct:.1}% of the files Compose reads)");
    println!(
        "time: docker compose config {:.2}s, slipway {:.3}s (in process, debug build unless --release)",
        ct.as_secs_f64(),
        st.as_secs_f64()
    );
    for (k, n) in refused {
        println!("refused at `{k}`: {n}");
    }
    Ok(())
}
