//! Unit tests of the Swarm plan, sealed records and the backup's reach (pure parts).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bollard::models::{
    ServiceSpec, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec,
};

use super::status::{ServiceStatus, SwarmStatus, TaskStatus};
use super::*;
use crate::deploy::{labels, DesiredRelease, ReleaseId, Step};
use crate::stack::StackSpec;

fn spec(name: &str, image: &str, hash: &str, env: &[&str]) -> ServiceSpec {
    ServiceSpec {
        name: Some(name.into()),
        labels: Some(HashMap::from([(labels::CONFIG_HASH.to_string(), hash.to_string())])),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(image.into()),
                env: Some(env.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(2),
            order: Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn load(yaml: &str) -> StackSpec {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compose.yaml");
    std::fs::write(&path, yaml).unwrap();
    let opts = crate::compose::LoadOptions {
        files: vec![path],
        working_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    crate::compose::load(&opts).unwrap().stack
}

#[test]
fn plan_shows_service_updates_not_replicas() {
    let levels = vec![vec!["db".to_string(), "migrate".to_string()], vec!["web".to_string(), "api".to_string()]];
    let jobs = BTreeSet::from(["migrate".to_string()]);
    let specs = BTreeMap::from([
        ("db".to_string(), spec("shop_db", "pg@sha256:1", "h-db", &[])),
        ("web".to_string(), spec("shop_web", "demo@sha256:2", "h-web-2", &[])),
        ("api".to_string(), spec("shop_api", "api@sha256:3", "h-api", &[])),
    ]);
    let running = BTreeMap::from([
        ("shop_db".to_string(), spec("shop_db", "pg@sha256:1", "h-db", &[])),
        ("shop_web".to_string(), spec("shop_web", "demo@sha256:1", "h-web-1", &[])),
    ]);
    let backups = vec!["PostgreSQL services of the stack".to_string()];
    let plan = swarm_plan(PlanInput {
        project: "shop",
        env: "production",
        release: ReleaseId(4),
        backups: &backups,
        levels: &levels,
        jobs: &jobs,
        specs: &specs,
        running: &running,
    });
    let lines: Vec<String> = plan.steps.iter().map(Step::describe).collect();
    assert_eq!(
        lines,
        vec![
            "hold the deploy lock of shop",
            "check the production policy",
            "back up: PostgreSQL services of the stack",
            "run one-off migrate",
            "update service web: demo@sha256:1 -> demo@sha256:2 (start-first, 2 at a time)",
            "create service api: api@sha256:3",
            "record release 4",
        ],
        "db runs exactly this spec already, so it is left out"
    );
    assert!(!plan.steps.iter().any(|s| matches!(s, Step::StartReplica { .. })));
}

#[test]
fn records_are_sealed_and_rollback_restores_by_hash() {
    let stack = load(
        "name: shop\nservices:\n  web:\n    image: demo@sha256:aa\n    environment: {DB_PASSWORD: hunter2-planted, MODE: prod}\n",
    );
    let pinned = BTreeMap::from([("web".to_string(), "demo@sha256:aa".to_string())]);
    let desired = DesiredRelease::new(ReleaseId(1), &stack, &pinned);
    let web = spec("shop_web", "demo@sha256:aa", "h", &["DB_PASSWORD=hunter2-planted", "MODE=prod"]);
    let mut record: SwarmRecord = serde_json::from_value(serde_json::json!({
        "release": desired.starting_record(None),
        "specs": {},
        "objects": [],
    }))
    .unwrap();
    record.specs.insert("web".into(), web.clone());
    let written = serde_json::to_string(&sealed(&record)).unwrap();
    assert!(!written.contains("hunter2-planted"), "{written}");
    assert!(written.contains("DB_PASSWORD"), "names are kept");
    let back: SwarmRecord = serde_json::from_str(&written).unwrap();
    let want = back.env_sha256.get("web").cloned().expect("hash kept");
    assert_eq!(Some(want.clone()), env_sha256(&web));
    let mut restored = back.specs["web"].clone();
    let other = vec!["DB_PASSWORD=rotated".to_string(), "MODE=prod".to_string()];
    assert!(!restore_env(&mut restored, &want, std::slice::from_ref(&other)), "a different value is not taken");
    let kept = vec![other, vec!["MODE=prod".to_string(), "DB_PASSWORD=hunter2-planted".to_string()]];
    assert!(restore_env(&mut restored, &want, &kept));
    assert_eq!(env_sha256(&restored), Some(want));
}

fn status(service: &str, nodes: &[(&str, &str)]) -> SwarmStatus {
    let tasks = nodes
        .iter()
        .map(|(node, state)| TaskStatus {
            id: "t".into(),
            slot: Some(1),
            node: node.to_string(),
            node_addr: None,
            state: state.to_string(),
            health: "healthy".into(),
            error: None,
            image: "pg".into(),
        })
        .collect();
    let svc = ServiceStatus {
        service: service.into(),
        name: format!("shop_{service}"),
        release: Some("1".into()),
        replicas: Some(1),
        update_state: None,
        tasks,
    };
    SwarmStatus { project: "shop".into(), current: None, services: vec![svc] }
}

#[test]
fn the_backup_refuses_a_database_out_of_the_managers_reach() {
    let stack = load("name: shop\nservices:\n  db:\n    image: postgres:16\n  web:\n    image: demo\n");
    assert!(backup_reach(&stack, &status("db", &[("mgr", "running")]), "mgr").is_ok());
    assert!(backup_reach(&stack, &status("db", &[]), "mgr").is_ok(), "nothing running: nothing to back up");
    assert!(backup_reach(&stack, &status("web", &[("w1", "running")]), "mgr").is_ok(), "not a database");
    let e = backup_reach(&stack, &status("db", &[("w1", "running"), ("mgr", "shutdown")]), "mgr").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("service db") && text.contains("w1") && text.contains("node.role == manager"), "{text}");
    assert_eq!(e.kind(), crate::error::ErrorKind::PolicyRefused);
}

#[test]
fn dns_ulimits_and_logging_map_to_the_swarm_api() {
    let stack = load(
        r#"
name: shop
services:
  web:
    image: demo
    dns: [10.0.0.53]
    dns_search: [svc.local]
    dns_opt: [ndots:2]
    ulimits: {nofile: {soft: 1024, hard: 4096}, nproc: 512}
    logging: {driver: local, options: {max-size: 5m}}
    security_opt: [no-new-privileges:true]
"#,
    );
    let defaults = UpdateDefaults { nodes: 3, monitor: std::time::Duration::from_secs(5) };
    let spec = service_spec(&stack, &stack.services["web"], "demo@sha256:aa", &ObjectNames::default(), &defaults);
    let task = spec.task_template.unwrap();
    let c = task.container_spec.unwrap();
    let dns = c.dns_config.unwrap();
    assert_eq!(dns.nameservers, Some(vec!["10.0.0.53".to_string()]));
    assert_eq!(dns.search, Some(vec!["svc.local".to_string()]));
    assert_eq!(dns.options, Some(vec!["ndots:2".to_string()]));
    let u: Vec<(String, i64, i64)> =
        c.ulimits.unwrap().into_iter().map(|u| (u.name.unwrap(), u.soft.unwrap(), u.hard.unwrap())).collect();
    assert_eq!(u, vec![("nofile".to_string(), 1024, 4096), ("nproc".to_string(), 512, 512)]);
    let log = task.log_driver.unwrap();
    assert_eq!(log.name.as_deref(), Some("local"));
    assert_eq!(log.options.unwrap().get("max-size").map(String::as_str), Some("5m"));
    let keys: Vec<String> = findings(&stack).into_iter().map(|f| f.key).collect();
    assert_eq!(keys, vec!["security_opt".to_string()], "only what the Swarm API cannot do is a warning");
}
