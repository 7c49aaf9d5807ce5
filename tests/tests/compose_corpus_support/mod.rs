//! Shared by the corpus test and the corpus bench: find compose files under a directory, resolve
//! each with `docker compose config --format json` and with slipway (same file, same directory,
//! same environment: only PATH and HOME), and compare the whole documents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use slipway::compose::{diff::first_difference, load, render, LoadOptions, DEFAULT_FILES};

/// What happened to one file.
#[derive(Debug)]
pub struct Outcome {
    /// The compose file.
    pub file: PathBuf,
    /// Compose's document, or its error.
    pub compose: Result<Value, String>,
    /// slipway's document, or its error.
    pub slipway: Result<Value, String>,
    /// Time of `docker compose config` (process included).
    pub compose_time: Duration,
    /// Time of slipway's load + render (in process).
    pub slipway_time: Duration,
}

impl Outcome {
    /// The first differing path when both read the file.
    pub fn difference(&self) -> Option<String> {
        match (&self.compose, &self.slipway) {
            (Ok(c), Ok(s)) => first_difference(c, s),
            _ => None,
        }
    }
}

/// Every compose file under `root` (the default names and `docker-compose.*.yml`/`compose.*.yaml`).
pub fn find(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() && name != ".git" && name != "node_modules" {
                stack.push(p);
            } else if DEFAULT_FILES.contains(&name.as_str()) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn env() -> BTreeMap<String, String> {
    ["PATH", "HOME"].iter().filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v))).collect()
}

/// `docker compose config --format json` of one file, in its directory.
pub fn compose_config(file: &Path) -> (Result<Value, String>, Duration) {
    let dir = file.parent().unwrap_or(Path::new("."));
    let start = Instant::now();
    let out = Command::new("docker")
        .args(["compose", "-f"])
        .arg(file)
        .args(["config", "--format", "json"])
        .current_dir(dir)
        .env_clear()
        .envs(env())
        .output();
    let took = start.elapsed();
    let r = match out {
        Err(e) => Err(format!("cannot run docker compose: {e}")),
        Ok(o) if !o.status.success() => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Ok(o) => serde_json::from_slice(&o.stdout).map_err(|e| e.to_string()),
    };
    (r, took)
}

/// slipway's resolved document of one file (library, in process).
pub fn slipway_config(file: &Path) -> (Result<Value, String>, Duration) {
    let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let start = Instant::now();
    let opts = LoadOptions::new([file.to_path_buf()]).environment(env()).working_dir(dir);
    let r = load(&opts).map(|l| render(&l.stack)).map_err(|e| e.to_string());
    (r, start.elapsed())
}

/// Both tools on one file.
pub fn run(file: &Path) -> Outcome {
    let (compose, compose_time) = compose_config(file);
    let (slipway, slipway_time) = slipway_config(file);
    Outcome { file: file.to_path_buf(), compose, slipway, compose_time, slipway_time }
}
