//! Bad compose files (`tests/compose/bad`): each gives its specific `ComposeError` variant at the
//! right line (asserted on the variant and the line, never on message text). Where Docker Compose
//! v2 also refuses the file, that is checked too; where it accepts it (a valid key slipway does
//! not apply, a host port published twice) slipway is stricter on purpose and says why. All the
//! problems of a file come in one error, sorted by position, each with its line and column.

use std::path::{Path, PathBuf};
use std::process::Command;

use slipway::compose::{load, ComposeError, LoadOptions};

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compose/bad").join(name)
}

fn error_of(name: &str) -> ComposeError {
    let env = [("PATH".to_string(), std::env::var("PATH").unwrap_or_default())].into_iter().collect();
    match load(&LoadOptions::new([bad(name)]).environment(env).project("bad")) {
        Ok(_) => panic!("{name} was accepted"),
        Err(e) => e,
    }
}

fn compose_rejects(name: &str) -> bool {
    let out = Command::new("docker")
        .args(["compose", "-p", "bad", "-f"])
        .arg(bad(name))
        .args(["config", "-q"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .output()
        .expect("docker compose runs");
    !out.status.success()
}

/// (file, expected line, whether Compose v2 rejects it too, variant check)
type Check = fn(&ComposeError) -> bool;
const CASES: &[(&str, usize, bool, Check)] = &[
    ("unknown-key.yml", 4, true, |e| matches!(e, ComposeError::UnknownKey { key, .. } if key == "imagee")),
    ("unknown-nested-key.yml", 6, true, |e| matches!(e, ComposeError::UnknownKey { key, .. } if key == "intervall")),
    (
        "unsupported-key.yml",
        4,
        false,
        |e| matches!(e, ComposeError::UnsupportedKey { key, reason, .. } if key == "develop" && !reason.is_empty()),
    ),
    (
        "bad-device-count.yml",
        8,
        true,
        |e| matches!(e, ComposeError::InvalidValue { at, .. } if at.key == "services.app.deploy.resources.reservations.devices[0]"),
    ),
    (
        "misspelt-key.yml",
        4,
        true,
        |e| matches!(e, ComposeError::UnknownKey { key, hint: Some(h), .. } if key == "enviroment" && h == "environment"),
    ),
    ("empty-services.yml", 1, true, |e| matches!(e, ComposeError::InvalidValue { at, .. } if at.key == "services")),
    ("empty-volumes.yml", 4, true, |e| matches!(e, ComposeError::InvalidValue { at, .. } if at.key == "volumes")),
    ("empty-service.yml", 2, true, |e| matches!(e, ComposeError::InvalidValue { at, .. } if at.key == "services.app")),
    ("bad-x-slipway.yml", 3, false, |e| {
        matches!(e, ComposeError::Several { errors } if errors.len() == 2
            && errors[0].location().is_some_and(|a| a.key == "x-slipway.hooks.timeout")
            && errors[1].location().is_some_and(|a| a.key == "services.app.x-slipway.min_runing" && a.line == 8))
    }),
    ("several-problems.yml", 4, true, |e| matches!(e, ComposeError::Several { errors } if errors.len() == 4)),
    ("wrong-type.yml", 5, true, |e| matches!(e, ComposeError::InvalidValue { .. })),
    ("wrong-shape.yml", 6, true, |e| matches!(e, ComposeError::InvalidValue { .. })),
    (
        "missing-dependency.yml",
        5,
        true,
        |e| matches!(e, ComposeError::MissingDependency { service, dependency, .. } if service == "app" && dependency == "db"),
    ),
    ("cycle.yml", 4, true, |e| matches!(e, ComposeError::DependencyCycle { cycle, .. } if cycle.len() == 3)),
    (
        "port-conflict.yml",
        7,
        false,
        |e| matches!(e, ComposeError::PortConflict { service, other, .. } if service == "b" && other == "a"),
    ),
    (
        "undeclared-network.yml",
        4,
        true,
        |e| matches!(e, ComposeError::UndeclaredNetwork { network, .. } if network == "traefik-public"),
    ),
    (
        "undeclared-volume.yml",
        4,
        true,
        |e| matches!(e, ComposeError::UndeclaredVolume { volume, .. } if volume == "db-data"),
    ),
    (
        "required-variable.yml",
        5,
        true,
        |e| matches!(e, ComposeError::RequiredVariable { variable, message, .. } if variable == "DB_PASSWORD" && message == "set DB_PASSWORD"),
    ),
    ("bad-interpolation.yml", 4, true, |e| matches!(e, ComposeError::InvalidInterpolation { .. })),
    ("bad-yaml.yml", 5, true, |e| matches!(e, ComposeError::Yaml { .. })),
    ("bad-duration.yml", 6, true, |e| matches!(e, ComposeError::InvalidValue { .. })),
    ("bad-condition.yml", 6, true, |e| matches!(e, ComposeError::InvalidValue { .. })),
    ("duplicate-key.yml", 4, true, |e| matches!(e, ComposeError::Yaml { .. })),
];

#[test]
fn every_bad_file_gets_its_error_at_its_line() {
    let mut failures = Vec::new();
    for (name, line, _, check) in CASES {
        let e = error_of(name);
        if !check(&e) || e.line() != *line {
            failures.push(format!("{name}: got line {} {e:?}", e.line()));
        }
        if let Some(at) = e.location() {
            assert!(at.file.ends_with(name), "{name}: error names {:?}", at.file);
        }
        assert_eq!(slipway::Error::from(e).kind(), slipway::ErrorKind::InvalidInput);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn several_problems_come_sorted_with_lines_columns_and_key_paths() {
    let e = error_of("several-problems.yml");
    let found: Vec<(usize, usize, String)> = e
        .problems()
        .iter()
        .map(|p| {
            let at = p.location().expect("every problem has a location");
            (at.line, at.column, at.key.clone())
        })
        .collect();
    let want = [
        (4, 5, "services.app.imagee"),
        (7, 9, "services.app.ports[0].publishd"),
        (11, 7, "services.db.healthcheck.intervall"),
        (14, 5, "networks.n.drivr"),
    ];
    let want: Vec<(usize, usize, String)> = want.iter().map(|(l, c, k)| (*l, *c, k.to_string())).collect();
    assert_eq!(found, want);
    let text = e.to_string();
    assert!(text.contains("several-problems.yml:4:5"), "{text}");
}

#[test]
fn build_without_image_is_read_and_refused_only_by_deploy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yml"), "services:\n  app:\n    build: ./app\n").unwrap();
    let env = [("PATH".to_string(), std::env::var("PATH").unwrap_or_default())].into_iter().collect();
    let loaded = load(&LoadOptions::new([dir.path().join("compose.yml")]).environment(env).project("b")).unwrap();
    let app = &loaded.stack.services["app"];
    assert_eq!(app.image, None);
    assert_eq!(app.build.as_ref().unwrap().context, dir.path().join("app").to_string_lossy());
    let refused = slipway::deploy::DeployError::MissingImage { service: "app".into() }.to_string();
    assert!(refused.contains("slipway build -f"), "{refused}");
}

#[test]
fn compose_v2_agrees_where_it_validates() {
    for (name, _, rejects, _) in CASES {
        assert_eq!(compose_rejects(name), *rejects, "{name}: docker compose config");
    }
}

#[test]
fn every_bad_file_is_covered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("compose/bad");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(CASES.iter().any(|c| c.0 == name), "{name} has no expectation");
    }
}
