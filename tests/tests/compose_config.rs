//! The compose corpus (`tests/compose/good`) loaded by slipway and by Docker Compose v2
//! (`docker compose config --format json`) with the same files and environment, compared field by
//! field after a documented normalisation (see `normalise`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use slipway::compose::{load, render, ComposeWarning, LoadOptions};

struct Case {
    dir: &'static str,
    files: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    env_file: Option<&'static str>,
    profiles: &'static [&'static str],
    project: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        dir: "users-stack",
        files: &["compose.yml"],
        env: &[("IMAGE_TAG", "v1.2.3")],
        env_file: None,
        profiles: &[],
        project: None,
    },
    Case {
        dir: "interpolation",
        files: &["compose.yml"],
        env: &[
            ("SET_VAR", "value"),
            ("EMPTY_VAR", ""),
            ("BOTH", "from-process"),
            ("PASSTHROUGH", "passed"),
            ("TAG", "1.37"),
        ],
        env_file: Some("vars.env"),
        profiles: &[],
        project: Some("interp"),
    },
    Case {
        dir: "shapes",
        files: &["compose.yml"],
        env: &[("C", "fromenv")],
        env_file: None,
        profiles: &[],
        project: None,
    },
    Case {
        dir: "shapes",
        files: &["compose.yml"],
        env: &[("C", "fromenv"), ("IMAGE_TAG", "t")],
        env_file: None,
        profiles: &["tools"],
        project: Some("shapes-tools"),
    },
    Case {
        dir: "multi-file",
        files: &["compose.yml", "compose.prod.yml"],
        env: &[("TAG", "2.0")],
        env_file: None,
        profiles: &["tools"],
        project: None,
    },
    Case {
        dir: "multi-file",
        files: &["compose.yml"],
        env: &[("TAG", "2.0"), ("COMPOSE_PROFILES", "debug,tools")],
        env_file: None,
        profiles: &[],
        project: None,
    },
    Case {
        dir: "merge-rules",
        files: &["compose.yml", "compose.override.yml"],
        env: &[],
        env_file: None,
        profiles: &[],
        project: Some("merge"),
    },
    Case {
        dir: "merge-lists",
        files: &["compose.yml", "compose.override.yml"],
        env: &[],
        env_file: None,
        profiles: &["p"],
        project: Some("lists"),
    },
];

fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compose/good").join(dir)
}

/// The environment both tools see: only PATH, HOME and the case's variables.
fn environment(case: &Case) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = case.env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
    env.insert("HOME".into(), std::env::var("HOME").unwrap_or_default());
    env
}

fn compose_json(case: &Case) -> Value {
    let dir = corpus(case.dir);
    let mut cmd = Command::new("docker");
    cmd.arg("compose");
    for f in case.files {
        cmd.arg("-f").arg(dir.join(f));
    }
    if let Some(e) = case.env_file {
        cmd.arg("--env-file").arg(dir.join(e));
    }
    for p in case.profiles {
        cmd.arg("--profile").arg(p);
    }
    if let Some(p) = case.project {
        cmd.arg("-p").arg(p);
    }
    cmd.args(["config", "--format", "json"]).current_dir(&dir).env_clear().envs(environment(case));
    let out = cmd.output().expect("docker compose runs (scripts/setup installs Compose v2)");
    assert!(
        out.status.success(),
        "docker compose config failed for {}: {}",
        case.dir,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn slipway_json(case: &Case) -> (Value, Vec<ComposeWarning>) {
    let dir = corpus(case.dir);
    let mut opts = LoadOptions::new(case.files.iter().map(|f| dir.join(f)))
        .profiles(case.profiles.iter().copied())
        .environment(environment(case))
        .working_dir(&dir);
    if let Some(e) = case.env_file {
        opts = opts.env_file(dir.join(e));
    }
    if let Some(p) = case.project {
        opts = opts.project(p);
    }
    let loaded = load(&opts).unwrap_or_else(|e| panic!("slipway rejects {}: {e}", case.dir));
    (render(&loaded.stack), loaded.warnings)
}

/// Fields compose adds that slipway does not render: `ipam: {}` on networks, `placement: {}` in
/// deploy, `volume: {}` on short-syntax volume mounts, `command: null`/`entrypoint: null`, and
/// top-level `x-*` keys other than `x-slipway`, an empty `deploy.resources`; a service network `{}`
/// is the same as `null`. Compose drops service-level `x-*` keys, which slipway renders.
fn normalise(v: &mut Value) {
    let Some(top) = v.as_object_mut() else { return };
    top.retain(|k, _| !k.starts_with("x-") || k == "x-slipway");
    if let Some(Value::Object(nets)) = top.get_mut("networks") {
        for n in nets.values_mut() {
            if let Some(o) = n.as_object_mut() {
                o.remove("ipam");
            }
        }
    }
    if let Some(Value::Object(services)) = top.get_mut("services") {
        for s in services.values_mut() {
            let Some(s) = s.as_object_mut() else { continue };
            s.retain(|k, v| !((k == "command" || k == "entrypoint") && v.is_null()) && !k.starts_with("x-"));
            if let Some(Value::Object(d)) = s.get_mut("deploy") {
                d.retain(|k, v| {
                    !((k == "placement" || k == "resources") && v.as_object().is_some_and(|o| o.is_empty()))
                });
            }
            if let Some(Value::Array(vols)) = s.get_mut("volumes") {
                for m in vols.iter_mut().filter_map(Value::as_object_mut) {
                    if m.get("volume").is_some_and(|p| p.as_object().is_some_and(|o| o.is_empty())) {
                        m.remove("volume");
                    }
                }
            }
            if let Some(Value::Object(nets)) = s.get_mut("networks") {
                for n in nets.values_mut() {
                    if n.as_object().is_some_and(|o| o.is_empty()) {
                        *n = Value::Null;
                    }
                }
            }
        }
    }
}

fn compare(case: &Case) -> Vec<ComposeWarning> {
    let mut expected = compose_json(case);
    let (mut actual, warnings) = slipway_json(case);
    normalise(&mut expected);
    normalise(&mut actual);
    let (e, a) = (expected.as_object().unwrap(), actual.as_object().unwrap());
    let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<std::collections::BTreeSet<_>>();
    assert_eq!(keys(a), keys(e), "{}: top-level keys", case.dir);
    for (k, ev) in e {
        if k == "services" {
            continue;
        }
        assert_eq!(&a[k], ev, "{}: top-level `{k}`", case.dir);
    }
    let (es, as_) = (e["services"].as_object().unwrap(), a["services"].as_object().unwrap());
    assert_eq!(keys(as_), keys(es), "{}: services", case.dir);
    for (name, esvc) in es {
        let (esvc, asvc) = (esvc.as_object().unwrap(), as_[name].as_object().unwrap());
        assert_eq!(keys(asvc), keys(esvc), "{}: fields of service {name}", case.dir);
        for (field, ev) in esvc {
            assert_eq!(&asvc[field], ev, "{}: services.{name}.{field}", case.dir);
        }
    }
    assert_eq!(actual, expected);
    warnings
}

#[test]
fn users_stack_matches_compose() {
    let w = compare(&CASES[0]);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn every_interpolation_form_matches_compose() {
    let w = compare(&CASES[1]);
    let unset: Vec<_> = w
        .iter()
        .filter_map(|w| match w {
            ComposeWarning::UnsetVariable { variable, .. } => Some(variable.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(unset, ["UNSET_VAR"]);
}

#[test]
fn every_shape_matches_compose() {
    compare(&CASES[2]);
    compare(&CASES[3]);
}

#[test]
fn merged_files_and_profiles_match_compose() {
    compare(&CASES[4]);
    compare(&CASES[5]);
    compare(&CASES[6]);
    compare(&CASES[7]);
}

/// Differential check of the interpolation grammar: fixed-seed random templates, each an
/// environment value; those slipway accepts are loaded by both tools in one file and must give the
/// same value; those slipway refuses must be refused by Compose too.
#[test]
fn random_templates_interpolate_like_compose() {
    use rand::{Rng, SeedableRng};
    let pieces = [
        "$", "$", "{", "}", ":", "-", "+", "?", "A", "B", "E", "_", "x", " ", "1", "$$", "${A}", "${E:-", "${U-",
        "${B:+",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(2024);
    let env: &[(&str, &str)] = &[("A", "aa"), ("E", ""), ("B", "bb")];
    let dir = tempfile::tempdir().unwrap();
    let lookup = |n: &str| env.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string());
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        let n = rng.random_range(1..9);
        let t: String = (0..n).map(|_| pieces[rng.random_range(0..pieces.len())]).collect();
        match slipway::compose::interpolate::interpolate(&t, &lookup) {
            Ok(_) => accepted.push(t),
            Err(_) => refused.push(t),
        }
    }
    let run = |text: &str| {
        std::fs::write(dir.path().join("compose.yml"), text).unwrap();
        let case = Case { dir: "", files: &[], env, env_file: None, profiles: &[], project: Some("rnd") };
        let out = Command::new("docker")
            .args(["compose", "-p", "rnd", "-f"])
            .arg(dir.path().join("compose.yml"))
            .args(["config", "--format", "json"])
            .env_clear()
            .envs(environment(&case))
            .output()
            .unwrap();
        let slip =
            load(&LoadOptions::new([dir.path().join("compose.yml")]).environment(environment(&case)).project("rnd"));
        (out, slip)
    };
    let mut text = String::from("services:\n  s:\n    image: x\n    environment:\n");
    for (i, t) in accepted.iter().enumerate() {
        text.push_str(&format!("      V{i}: {}\n", serde_json::to_string(t).unwrap()));
    }
    let (out, slip) = run(&text);
    assert!(
        out.status.success(),
        "compose refused a template slipway accepts: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = render(&slip.unwrap().stack);
    for (i, t) in accepted.iter().enumerate() {
        let k = format!("V{i}");
        assert_eq!(s["services"]["s"]["environment"][&k], c["services"]["s"]["environment"][&k], "template {t:?}");
    }
    for t in refused.iter().take(15) {
        let (out, slip) = run(&format!(
            "services:\n  s:\n    image: x\n    environment:\n      V: {}\n",
            serde_json::to_string(t).unwrap()
        ));
        assert!(!out.status.success(), "compose accepts {t:?}");
        assert!(slip.is_err());
    }
}
