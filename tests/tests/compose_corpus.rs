//! The corpus `tests/compose-corpus/` (compose files written for slipway, modelled on public
//! patterns: see its README) resolved by Docker Compose v2 and by slipway: every file Compose
//! reads must be read by slipway with a whole document equal to Compose's; a failure names the
//! file and the first differing key path.

mod compose_corpus_support;

use std::path::Path;

#[test]
fn every_corpus_file_resolves_as_docker_compose_resolves_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("compose-corpus");
    let files = compose_corpus_support::find(&root);
    assert!(files.len() >= 100, "the corpus has {} compose files, expected at least 100", files.len());
    let mut failures = Vec::new();
    let (mut compose_time, mut slipway_time) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for f in &files {
        let o = compose_corpus_support::run(f);
        compose_time += o.compose_time;
        slipway_time += o.slipway_time;
        let name = o.file.strip_prefix(&root).unwrap_or(&o.file).display().to_string();
        match (&o.compose, &o.slipway) {
            (Err(e), _) => failures.push(format!("{name}: docker compose refuses it: {e}")),
            (Ok(_), Err(e)) => failures.push(format!("{name}: slipway refuses it: {e}")),
            (Ok(_), Ok(_)) => {
                if let Some(d) = o.difference() {
                    failures.push(format!("{name}: {d}"));
                }
            }
        }
    }
    // Figures only (speed is measured by the compose_corpus bench, never asserted).
    eprintln!("docker compose config {compose_time:?}, slipway {slipway_time:?} over {} files", files.len());
    assert!(failures.is_empty(), "{} of {} files differ:\n{}", failures.len(), files.len(), failures.join("\n"));
}
