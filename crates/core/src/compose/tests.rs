//! Unit tests of the whole loading pipeline on small inline files (the corpus compared with
//! Docker Compose lives in `tests/compose` and `tests/tests/compose_*.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::stack::{DependencyCondition, MountKind, UpdateOrder};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn loads_resolves_and_warns_as_data() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "compose.yml",
        "x-img: &img\n  image: reg/app:${TAG}\nservices:\n  app:\n    <<: *img\n    build: .\n    command: serve --port \"80 80\"\n    env_file: [app.env]\n    environment: [B=2, FROM_ENV]\n    depends_on:\n      pre: {condition: service_completed_successfully}\n    volumes: [./data:/data:ro]\n    deploy: {update_config: {order: start-first}}\n    x-slipway: {min_running: 2s}\n  pre:\n    <<: *img\n    command: [migrate]\n  tool:\n    image: t\n    profiles: [tools]\n",
    );
    write(d.path(), "app.env", "A=1\nB=1\n");
    let loaded =
        load(&LoadOptions::new([d.path().join("compose.yml")]).environment(env(&[("FROM_ENV", "e")])).project("p"))
            .unwrap();
    let s = &loaded.stack;
    assert_eq!(s.name, "p");
    assert_eq!(s.services.keys().collect::<Vec<_>>(), ["app", "pre"]);
    let app = &s.services["app"];
    assert_eq!(app.image.as_deref(), Some("reg/app:"));
    assert_eq!(app.command.as_deref().unwrap(), ["serve", "--port", "80 80"]);
    let want: BTreeMap<String, Option<String>> =
        [("A", "1"), ("B", "2"), ("FROM_ENV", "e")].iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect();
    assert_eq!(app.environment, want);
    assert_eq!(app.depends_on["pre"].condition, DependencyCondition::ServiceCompletedSuccessfully);
    assert_eq!(app.volumes[0].kind, MountKind::Bind);
    assert_eq!(app.volumes[0].source.as_deref(), Some(d.path().join("data").to_str().unwrap()));
    assert_eq!(app.deploy.update_config.as_ref().unwrap().order, Some(UpdateOrder::StartFirst));
    assert_eq!(app.extensions["x-slipway"]["min_running"], "2s");
    assert_eq!(app.settings.min_running, Some(std::time::Duration::from_secs(2)));
    assert!(s.networks.contains_key("default"));
    assert!(
        matches!(&loaded.warnings[0], ComposeWarning::UnsetVariable { variable, at } if variable == "TAG" && at.line == 2)
    );
    assert!(loaded
        .warnings
        .iter()
        .any(|w| matches!(w, ComposeWarning::BuildIgnored { service, .. } if service == "app")));
    assert_eq!(loaded.warnings.len(), 2, "unset TAG is reported once");
}

#[test]
fn process_env_beats_dotenv_and_env_file_is_not_interpolated_into_the_file() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "compose.yml",
        "services:\n  a:\n    image: \"i:${T}-${ONLY_DOTENV}-${IN_ENV_FILE:-none}\"\n    env_file: e.env\n",
    );
    write(d.path(), ".env", "T=dotenv\nONLY_DOTENV=d\n");
    write(d.path(), "e.env", "IN_ENV_FILE=x\n");
    let loaded = load(&LoadOptions::new([d.path().join("compose.yml")]).environment(env(&[("T", "proc")]))).unwrap();
    assert_eq!(loaded.stack.services["a"].image.as_deref(), Some("i:proc-d-none"));
    assert_eq!(loaded.stack.services["a"].environment["IN_ENV_FILE"].as_deref(), Some("x"));
}

#[test]
fn errors_name_file_line_key() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.yml", "services:\n  app:\n    image: x\n");
    write(d.path(), "b.yml", "services:\n  app:\n    ports:\n      - target: 80\n        bogus: 1\n");
    let e =
        load(&LoadOptions::new([d.path().join("a.yml"), d.path().join("b.yml")]).environment(env(&[]))).unwrap_err();
    let at = e.location().unwrap().clone();
    assert!(matches!(e, ComposeError::UnknownKey { .. }));
    assert!(at.file.ends_with("b.yml"));
    assert_eq!((at.line, at.key.as_str()), (5, "services.app.ports[0].bogus"));
}

#[test]
fn pull_policy_reads_compose_spellings_and_refuses_build() {
    let d = tempfile::tempdir().unwrap();
    let text = "services:\n  a: {image: x, pull_policy: if_not_present}\n  b: {image: x, pull_policy: always}\n  c: {image: x}\n";
    write(d.path(), "compose.yml", text);
    let loaded = load(&LoadOptions::new([d.path().join("compose.yml")]).environment(env(&[]))).unwrap();
    let policy = |s: &str| loaded.stack.services[s].pull_policy;
    assert_eq!(policy("a"), Some(crate::stack::PullPolicy::Missing));
    assert_eq!(policy("b"), Some(crate::stack::PullPolicy::Always));
    assert_eq!(policy("c"), None);
    write(d.path(), "compose.yml", "services:\n  a:\n    image: x\n    pull_policy: build\n");
    let e = load(&LoadOptions::new([d.path().join("compose.yml")]).environment(env(&[]))).unwrap_err();
    assert!(matches!(e, ComposeError::InvalidValue { .. }), "{e}");
    assert!(e.to_string().contains("pull_policy") && e.to_string().contains("push them first"), "{e}");
}

#[test]
fn random_files_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(66);
    let pieces = [
        "services:\n",
        "  a:\n",
        "    image: x\n",
        "    ports: [",
        "\"8080:80\"",
        "]\n",
        "    volumes:\n",
        "      - ",
        "./x:/y:ro",
        "\n",
        "    depends_on: {b: {condition: service_healthy}}\n",
        "  b: &b\n",
        "    <<: *b\n",
        "${A:-${B}}",
        "$$",
        "{",
        "}",
        "- ",
        ": ",
        "x-y: 1\n",
        "    healthcheck: {test: NONE}\n",
        "networks: {n: {external: true}}\n",
        "    networks: [n]\n",
        "    deploy: {replicas: \"2\", resources: {limits: {memory: 1g}}}\n",
        "\t",
        "'",
        "\"",
        "&a ",
        "*a",
    ];
    for _ in 0..3000 {
        let n = rng.random_range(0..16);
        let text: String = (0..n).map(|_| pieces[rng.random_range(0..pieces.len())]).collect();
        let _ = parse_only(&text);
    }
}

#[test]
fn new_syntax_fixed_seed_mutations_never_panic() {
    use rand::{Rng, SeedableRng};
    let seeds = [
        "x-a: &a\n  image: a\n  labels: {x: \"1\"}\nx-b: &b\n  <<: *a\n  environment: [A=1]\nservices:\n  s:\n    <<: *b\n    ports: [\"80\"]\n  t:\n    extends: s\n    ports: !reset []\n",
        "services:\n  s:\n    image: x\n    labels: !override {y: \"2\"}\n    environment: !reset {}\n  t:\n    extends: {service: s}\n    command: !override [a]\n    secrets: [k]\nsecrets:\n  k: {environment: K}\n",
        "services:\n  a:\n    image: x\n    extends: b\n  b:\n    image: y\n    extends: a\n",
    ];
    let alphabet: Vec<char> = "!<:&* -[]{}\n\"abcsxt".chars().collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    for i in 0..3000 {
        let mut text: Vec<char> = seeds[i % seeds.len()].chars().collect();
        for _ in 0..rng.random_range(1..6) {
            let at = rng.random_range(0..text.len());
            match rng.random_range(0..3) {
                0 => text[at] = alphabet[rng.random_range(0..alphabet.len())],
                1 => text.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                _ => {
                    text.remove(at);
                }
            }
        }
        let s: String = text.into_iter().collect();
        let _ = super::parse_only_files(&[&s, seeds[(i + 1) % seeds.len()]]);
    }
}

#[test]
fn cdi_names_in_devices_become_one_cdi_request_between_reservations_and_gpus() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "compose.yml",
        "services:\n  a:\n    image: i\n    devices: [/dev/fuse, nvidia.com/gpu=0, 'vendor.com/fpga=card1', '/dev/ttyS0:/dev/serial:r']\n    gpus: all\n    deploy:\n      resources:\n        reservations:\n          devices: [{driver: nvidia, count: 1, capabilities: [gpu]}]\n",
    );
    let loaded = load(&LoadOptions::new([d.path().join("compose.yml")]).environment(env(&[]))).unwrap();
    let svc = &loaded.stack.services["a"];
    let reqs = crate::deploy::container_spec::host::device_requests(svc);
    let drivers: Vec<_> = reqs.iter().map(|r| r.driver.clone().unwrap_or_default()).collect();
    assert_eq!(drivers, ["nvidia", "cdi", ""], "reservations, then cdi, then gpus: {reqs:?}");
    assert_eq!(reqs[1].device_ids, Some(vec!["nvidia.com/gpu=0".to_string(), "vendor.com/fpga=card1".to_string()]));
    let mut hc = bollard::models::HostConfig::default();
    crate::deploy::container_spec::host::apply(&loaded.stack, svc, "1", &mut hc);
    let mapped: Vec<_> = hc.devices.unwrap_or_default().into_iter().filter_map(|m| m.path_on_host).collect();
    assert_eq!(mapped, ["/dev/fuse", "/dev/ttyS0"], "CDI names are not device mappings");
}

#[test]
fn device_reservations_and_gpus_become_the_engines_device_requests() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "compose.yml",
        "services:\n  a:\n    image: i\n    gpus:\n      - {driver: nvidia, count: 1, capabilities: [compute]}\n    deploy:\n      resources:\n        reservations:\n          devices:\n            - {driver: nvidia, count: all, capabilities: [gpu]}\n            - {device_ids: ['0', '1'], capabilities: [gpu, compute], options: {foo: bar}}\n          generic_resources:\n            - discrete_resource_spec: {kind: GPU, value: 2}\n",
    );
    let loaded = load(&LoadOptions::new([d.path().join("compose.yml")]).environment(env(&[]))).unwrap();
    let svc = &loaded.stack.services["a"];
    let reqs = crate::deploy::container_spec::host::device_requests(svc);
    let summary: Vec<_> = reqs
        .iter()
        .map(|r| (r.driver.clone().unwrap_or_default(), r.count, r.device_ids.clone(), r.capabilities.clone()))
        .collect();
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        vec![
            ("nvidia".into(), Some(-1), None, Some(vec![s(&["gpu"])])),
            (String::new(), Some(0), Some(s(&["0", "1"])), Some(vec![s(&["gpu", "compute"])])),
            ("nvidia".into(), Some(1), None, Some(vec![s(&["compute", "gpu"])])),
        ]
    );
    assert_eq!(reqs[1].options.as_ref().and_then(|o| o.get("foo")).map(String::as_str), Some("bar"));
    assert_eq!(svc.deploy.generic_resources.len(), 1);
    assert!(
        loaded.warnings.iter().any(|w| matches!(w,
        ComposeWarning::NotApplicable { key, at, .. }
            if key == "deploy.resources.reservations.generic_resources" && at.line == 12)),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn a_bad_device_count_is_refused_at_its_key() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "compose.yml",
        "services:\n  a:\n    image: i\n    deploy:\n      resources:\n        reservations:\n          devices:\n            - {count: many, capabilities: [gpu]}\n",
    );
    let e = load(&LoadOptions::new([d.path().join("compose.yml")]).environment(env(&[]))).unwrap_err();
    assert!(e.to_string().contains("`many`"), "{e}");
    let at = e.location().unwrap();
    assert_eq!((at.key.as_str(), at.line), ("services.a.deploy.resources.reservations.devices[0]", 8), "{e}");
}
