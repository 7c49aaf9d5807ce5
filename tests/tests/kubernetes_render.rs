//! Golden Kubernetes renders of representative stacks (tests/kubernetes/stacks/*), compared
//! byte for byte with tests/kubernetes/golden/, and every golden validated strictly with
//! `kubernetes-validate` (offline schemas, from scripts/setup's .venv) for several Kubernetes
//! minor versions. `SLIPWAY_UPDATE_GOLDEN=1` rewrites the goldens instead of comparing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use slipway::compose::{load, LoadOptions};
use slipway::kubernetes::{render, IngressKind, KubernetesError, RenderOptions, WarningKind};

/// Kubernetes minor versions the goldens must validate against.
const VERSIONS: [&str; 3] = ["1.30.0", "1.33.0", "1.37.0"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("kubernetes")
}

/// The variables a stack is rendered with: fixed, so the goldens do not depend on the machine.
fn variables(stack: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if stack == "users-stack" {
        for (k, v) in [
            ("IMAGE_REGISTRY", "registry.example.com"),
            ("IMAGE_REPO", "shop/backend"),
            ("IMAGE_TAG", "v1.4.2"),
            ("POSTGRES_PASSWORD", "example-only-not-a-secret"),
            ("DOMAIN", "shop.example.com"),
        ] {
            env.insert(k.to_string(), v.to_string());
        }
    }
    env
}

fn stack_file(stack: &str) -> PathBuf {
    match stack {
        "users-stack" => Path::new(env!("CARGO_MANIFEST_DIR")).join("compose/good/users-stack/compose.yml"),
        other => root().join("stacks").join(other).join("compose.yml"),
    }
}

fn render_stack(stack: &str, opts: RenderOptions) -> Result<slipway::kubernetes::Rendered, KubernetesError> {
    let loaded = load(&LoadOptions::new([stack_file(stack)]).environment(variables(stack))).expect("stack loads");
    render(&loaded.stack, &opts)
}

/// (golden name, stack, options)
fn cases() -> Vec<(&'static str, &'static str, RenderOptions)> {
    vec![
        ("production", "production", RenderOptions::new().namespace("shop")),
        ("production-traefik", "production", RenderOptions::new().namespace("shop").ingress(IngressKind::Traefik)),
        ("web-worker", "web-worker", RenderOptions::new()),
        ("users-stack", "users-stack", RenderOptions::new().namespace("shop")),
    ]
}

fn golden(name: &str, ext: &str) -> PathBuf {
    root().join("golden").join(format!("{name}.{ext}"))
}

fn check_golden(path: &Path, actual: &str) {
    if std::env::var_os("SLIPWAY_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("golden dir");
        std::fs::write(path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with SLIPWAY_UPDATE_GOLDEN=1 to create it", path.display()));
    assert!(
        expected == actual,
        "{} differs from the render; if the change is intended, rerun with SLIPWAY_UPDATE_GOLDEN=1 and review the diff\n--- render ---\n{actual}",
        path.display()
    );
}

#[test]
fn renders_match_the_goldens_and_are_deterministic() {
    for (name, stack, opts) in cases() {
        let a = render_stack(stack, opts.clone()).expect("renders");
        let b = render_stack(stack, opts).expect("renders again");
        assert_eq!(a.to_yaml(), b.to_yaml(), "{name}: two renders differ");
        check_golden(&golden(name, "yaml"), &a.to_yaml());
        let warnings: String = a.warnings.iter().map(|w| format!("{w}\n")).collect();
        check_golden(&golden(name, "warnings.txt"), &warnings);
    }
}

#[test]
fn goldens_validate_strictly_for_several_kubernetes_versions() {
    let validator = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/kubernetes-validate");
    assert!(
        validator.is_file(),
        "{} is missing: run scripts/setup (it pip-installs kubernetes-validate into .venv); this test does not skip",
        validator.display()
    );
    for (name, _, _) in cases() {
        let file = golden(name, "yaml");
        for version in VERSIONS {
            let out = Command::new(&validator)
                .args(["--strict", "--quiet", "-k", version])
                .arg(&file)
                .output()
                .expect("kubernetes-validate runs");
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "{} does not validate for Kubernetes {version}:\n{text}", file.display());
            assert!(!text.contains("ERROR"), "{name} @ {version}: {text}");
            // Only Traefik's CRD may lack a schema; every core object is checked.
            for line in text.lines().filter(|l| l.contains("Couldn't find schema")) {
                assert!(line.contains("IngressRoute"), "{name} @ {version}: unchecked object: {line}");
            }
        }
    }
}

#[test]
fn the_production_stack_maps_without_warnings_and_keeps_secrets_out_of_pod_specs() {
    let r = render_stack("production", RenderOptions::new().strict(true)).expect("maps fully under --strict");
    let kinds: Vec<(&str, &str)> = r.objects.iter().map(|m| (m.kind.as_str(), m.name.as_str())).collect();
    let job = kinds.iter().find(|(k, _)| *k == "Job").expect("a Job for prestart");
    assert!(job.1.starts_with("prestart-"), "{kinds:?}");
    for d in ["db", "redis", "backend", "worker"] {
        assert!(kinds.contains(&("Deployment", d)), "{d}: {kinds:?}");
    }
    for s in ["db", "redis", "backend"] {
        assert!(kinds.contains(&("Service", s)), "{s}: {kinds:?}");
    }
    assert!(kinds.contains(&("Ingress", "backend-shop-backend")), "{kinds:?}");
    assert!(kinds.contains(&("PersistentVolumeClaim", "shop-db-data")), "{kinds:?}");
    for m in r.objects.iter().filter(|m| matches!(m.kind.as_str(), "Deployment" | "Job")) {
        let pod = m.body["spec"]["template"].to_string();
        assert!(!pod.contains("example-only"), "{} {} has a secret value inline: {pod}", m.kind, m.name);
    }
    let db = r.objects.iter().find(|m| m.kind == "Deployment" && m.name == "db").expect("db");
    assert_eq!(db.body["spec"]["strategy"]["type"], "Recreate", "one pod per volume");
    let backend = r.objects.iter().find(|m| m.kind == "Deployment" && m.name == "backend").expect("backend");
    assert_eq!(backend.body["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0, "start-first");
    let c = &backend.body["spec"]["template"]["spec"]["containers"][0];
    assert!(c.get("livenessProbe").is_none(), "a healthcheck gates readiness, it does not restart");
    assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
    assert_eq!(c["startupProbe"]["failureThreshold"], 9, "20 s start period at 5 s, then 5 retries");
    let order: Vec<&str> = r.order.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        order,
        ["db", "prestart", "redis", "backend", "worker"],
        "dependencies first, one-offs first among the ready"
    );
}

#[test]
fn strict_refuses_keys_that_cannot_map_and_names_them() {
    let err =
        render_stack("web-worker", RenderOptions::new().strict(true)).expect_err("web-worker has unmappable keys");
    let KubernetesError::Unmappable { warnings } = &err else { panic!("unexpected error: {err}") };
    let keys: Vec<&str> = warnings.iter().map(|w| w.key.as_str()).collect();
    assert!(keys.contains(&"container_name") && keys.contains(&"stop_signal"), "{keys:?}");
    assert!(warnings.iter().any(|w| w.kind == WarningKind::Approximated && w.key.starts_with("ports[")), "{keys:?}");
    assert_eq!(slipway::Error::from(err).kind(), slipway::ErrorKind::InvalidInput);
}
