//! Unit tests of the pure parts: conversion, findings, update order, progress decisions, levels.

use std::time::Duration;

use bollard::models::{
    EndpointPortConfigPublishModeEnum, EndpointSpecModeEnum, Service, ServiceSpec,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, ServiceUpdateStatus,
    ServiceUpdateStatusStateEnum, Task, TaskSpec, TaskSpecContainerSpec, TaskSpecRestartPolicyConditionEnum, TaskState,
    TaskStatus,
};

use super::*;
use crate::stack::{
    Dependency, DependencyCondition, FileMountSpec, HealthcheckSpec, PortSpec, ServiceSpec as Svc, StackSpec,
};

fn defaults(nodes: usize) -> UpdateDefaults {
    UpdateDefaults { nodes, monitor: Duration::from_secs(5) }
}

fn stack() -> StackSpec {
    let yaml = r#"
name: shop
services:
  web:
    image: 10.231.0.1:5000/demo:v1
    command: ["serve", "--port", "80"]
    entrypoint: ["/app"]
    environment: {B: "2", A: "1"}
    user: "1000"
    working_dir: /srv
    stop_signal: SIGINT
    stop_grace_period: 7s
    labels: {tier: front}
    healthcheck: {test: ["CMD", "/app", "health"], interval: 2s, timeout: 1s, retries: 3, start_period: 1s}
    ports: [{target: 80, published: 8080, mode: host}]
    secrets: [{source: token, target: api_token}]
    depends_on:
      migrate: {condition: service_completed_successfully}
    deploy:
      replicas: 2
      labels: {team: shop}
      endpoint_mode: dnsrr
      placement: {constraints: ["node.role==worker"], max_replicas_per_node: 1}
      restart_policy: {condition: on-failure, delay: 2s, max_attempts: 3}
      resources:
        limits: {cpus: "0.5", memory: 64M}
        reservations: {generic_resources: [{discrete_resource_spec: {kind: SSD, value: 2}}]}
  migrate:
    image: 10.231.0.1:5000/demo:v1
    command: ["migrate"]
  worker:
    image: 10.231.0.1:5000/demo:v1
    restart: always
    depends_on: [web]
secrets:
  token: {file: ./token.txt}
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compose.yaml");
    std::fs::write(&path, yaml).unwrap();
    std::fs::write(dir.path().join("token.txt"), "s3cret").unwrap();
    let opts = crate::compose::LoadOptions {
        files: vec![path],
        working_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    crate::compose::load(&opts).unwrap().stack
}

fn web_spec(s: &StackSpec, nodes: usize) -> ServiceSpec {
    let mut objects = ObjectNames::default();
    objects.secrets.insert("token".into(), "shop_token-abc".into());
    service_spec(s, &s.services["web"], "10.231.0.1:5000/demo@sha256:aa", &objects, &defaults(nodes))
}

#[test]
fn converts_like_docker_cli() {
    let s = stack();
    let spec = web_spec(&s, 3);
    assert_eq!(spec.name.as_deref(), Some("shop_web"));
    let labels = spec.labels.clone().unwrap();
    assert_eq!(labels["team"], "shop");
    assert_eq!(labels[STACK_NAMESPACE], "shop");
    let t = spec.task_template.clone().unwrap();
    let c = t.container_spec.clone().unwrap();
    assert_eq!(c.image.as_deref(), Some("10.231.0.1:5000/demo@sha256:aa"));
    assert_eq!(c.command, Some(vec!["/app".to_string()]));
    assert_eq!(c.args, Some(vec!["serve".to_string(), "--port".into(), "80".into()]));
    assert_eq!(c.env, Some(vec!["A=1".to_string(), "B=2".into()]));
    assert_eq!(c.user.as_deref(), Some("1000"));
    assert_eq!(c.dir.as_deref(), Some("/srv"));
    assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(c.stop_grace_period, Some(7_000_000_000));
    assert_eq!(c.labels.unwrap()["tier"], "front");
    let hc = c.health_check.unwrap();
    assert_eq!(hc.interval, Some(2_000_000_000));
    assert_eq!(hc.retries, Some(3));
    let secret = &c.secrets.unwrap()[0];
    assert_eq!(secret.secret_name.as_deref(), Some("shop_token-abc"));
    assert_eq!(secret.file.as_ref().unwrap().name.as_deref(), Some("api_token"));
    assert_eq!(spec.mode.unwrap().replicated.unwrap().replicas, Some(2));
    let p = t.placement.unwrap();
    assert_eq!(p.constraints, Some(vec!["node.role==worker".to_string()]));
    assert_eq!(p.max_replicas, Some(1));
    let rp = t.restart_policy.unwrap();
    assert_eq!(rp.condition, Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE));
    assert_eq!(rp.max_attempts, Some(3));
    assert_eq!(rp.delay, Some(2_000_000_000));
    let res = t.resources.unwrap();
    let generic = res.reservations.and_then(|r| r.generic_resources).unwrap_or_default();
    let discrete = generic.first().and_then(|g| g.discrete_resource_spec.clone()).unwrap_or_default();
    assert_eq!((generic.len(), discrete.kind.as_deref(), discrete.value), (1, Some("SSD"), Some(2)));
    let lim = res.limits.unwrap();
    assert_eq!(lim.nano_cpus, Some(500_000_000));
    assert_eq!(lim.memory_bytes, Some(64 * 1024 * 1024));
    let ep = spec.endpoint_spec.unwrap();
    assert_eq!(ep.mode, Some(EndpointSpecModeEnum::DNSRR));
    let port = &ep.ports.unwrap()[0];
    assert_eq!((port.target_port, port.published_port), (Some(80), Some(8080)));
    assert_eq!(port.publish_mode, Some(EndpointPortConfigPublishModeEnum::HOST));
    let nets = t.networks.unwrap();
    assert_eq!(nets[0].target.as_deref(), Some(s.networks["default"].name.as_str()));
    assert!(nets[0].aliases.as_ref().unwrap().contains(&"web".to_string()));
    let u = spec.update_config.unwrap();
    assert_eq!(u.failure_action, Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK));
    assert_eq!(u.monitor, Some(5_000_000_000));
}

#[test]
fn restart_falls_back_to_restart_key() {
    let s = stack();
    let spec = service_spec(&s, &s.services["worker"], "r@sha256:aa", &ObjectNames::default(), &defaults(3));
    let rp = spec.task_template.unwrap().restart_policy.unwrap();
    assert_eq!(rp.condition, Some(TaskSpecRestartPolicyConditionEnum::ANY));
    assert_eq!(spec.endpoint_spec.unwrap().mode, Some(EndpointSpecModeEnum::VIP));
}

#[test]
fn host_port_clash_decides_stop_first() {
    let s = stack();
    // 2 replicas on 3 nodes: a free node takes the new task first.
    assert_eq!(update_order(&s.services["web"], &defaults(3)), crate::stack::UpdateOrder::StartFirst);
    // 2 replicas on 2 nodes: every node holds the port, the old task must stop first.
    assert_eq!(update_order(&s.services["web"], &defaults(2)), crate::stack::UpdateOrder::StopFirst);
    let spec = web_spec(&s, 2);
    assert_eq!(spec.update_config.unwrap().order, Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST));
    let mut ingress = s.services["web"].clone();
    ingress.ports = vec![PortSpec {
        target: 80,
        published: Some("8080".into()),
        host_ip: None,
        protocol: "tcp".into(),
        mode: None,
    }];
    assert_eq!(update_order(&ingress, &defaults(1)), crate::stack::UpdateOrder::StartFirst);
}

#[test]
fn findings_list_errors_first() {
    let mut s = stack();
    let web = s.services.get_mut("web").unwrap();
    web.host.privileged = true;
    web.container_name = Some("x".into());
    let f = findings(&s);
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(f[0].key, "privileged");
    assert!(f.iter().any(|x| x.key == "container_name" && x.severity == Severity::Warning));
    assert!(findings(&stack()).iter().all(|x| x.severity == Severity::Warning));
}

#[test]
fn levels_put_jobs_before_dependants() {
    let s = stack();
    assert_eq!(levels(&s).unwrap(), vec![vec!["migrate".to_string()], vec!["web".into()], vec!["worker".into()]]);
    let mut t = s.clone();
    t.services.get_mut("worker").unwrap().depends_on.clear();
    let l = levels(&t).unwrap();
    assert_eq!(l[0], vec!["migrate".to_string(), "worker".into()]);
    let _ = Dependency { condition: DependencyCondition::ServiceStarted, required: true, restart: false };
}

#[test]
fn object_names_follow_content_and_hide_it() {
    let a = object_name("shop", "token", b"one");
    assert_ne!(a, object_name("shop", "token", b"two"));
    assert_eq!(a, object_name("shop", "token", b"one"));
    assert!(a.starts_with("shop_token-") && !a.contains("one"));
}

#[test]
fn spec_hash_ignores_release_label() {
    let s = stack();
    let mut a = web_spec(&s, 3);
    let h = spec_hash(&a);
    a.labels.as_mut().unwrap().insert(crate::deploy::labels::RELEASE.into(), "9".into());
    assert_eq!(spec_hash(&a), h);
    a.labels.as_mut().unwrap().insert("other".into(), "x".into());
    assert_ne!(spec_hash(&a), h);
}

fn task(image: &str, state: TaskState, desired: TaskState, err: Option<&str>) -> Task {
    Task {
        desired_state: Some(desired),
        node_id: Some("node1".into()),
        status: Some(TaskStatus { state: Some(state), err: err.map(str::to_string), ..Default::default() }),
        spec: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec { image: Some(image.into()), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn service(replicas: i64, state: Option<ServiceUpdateStatusStateEnum>, started: Option<&str>) -> Service {
    let s: StackSpec = stack();
    let mut spec = web_spec(&s, 3);
    spec.mode.as_mut().unwrap().replicated.as_mut().unwrap().replicas = Some(replicas);
    let started: Option<bollard::models::BollardDate> =
        started.map(|t| serde_json::from_value(serde_json::Value::String(t.into())).unwrap());
    Service {
        spec: Some(spec),
        update_status: state.map(|st| ServiceUpdateStatus {
            state: Some(st),
            started_at: started,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn progress_decisions() {
    use ServiceUpdateStatusStateEnum as U;
    let new = "img@sha256:new";
    let run = |img| task(img, TaskState::RUNNING, TaskState::RUNNING, None);
    let long = Duration::from_secs(10);
    let settle = Duration::from_secs(3);
    let t1 = "2026-12-01T07:00:00Z";
    let t2 = "2026-12-01T07:05:00Z";
    // Completed, every task new: done.
    let svc = service(2, Some(U::COMPLETED), Some(t2));
    let before = service(2, Some(U::COMPLETED), Some(t1)).update_status.unwrap().started_at;
    assert_eq!(progress(&svc, before.as_ref(), &[run(new), run(new)], new, long, settle), Progress::Done);
    // An old `completed` (same start as before the change) is not this update.
    let stale_before = svc.update_status.as_ref().unwrap().started_at.clone();
    assert!(matches!(
        progress(&svc, stale_before.as_ref(), &[run("old")], new, Duration::ZERO, settle),
        Progress::Pending(_)
    ));
    // Rolled back, paused: failures.
    for st in [U::ROLLBACK_STARTED, U::ROLLBACK_COMPLETED, U::PAUSED, U::ROLLBACK_PAUSED] {
        let svc = service(2, Some(st), Some(t2));
        assert!(
            matches!(progress(&svc, before.as_ref(), &[run(new)], new, long, settle), Progress::Failed { .. }),
            "{st}"
        );
    }
    // Updating: pending.
    let svc = service(2, Some(U::UPDATING), Some(t2));
    assert!(matches!(progress(&svc, before.as_ref(), &[run(new)], new, long, settle), Progress::Pending(_)));
    // A new service (no update status): done once enough new tasks run.
    let svc = service(2, None, None);
    assert!(matches!(progress(&svc, None, &[run(new)], new, long, settle), Progress::Pending(_)));
    let starting = task(new, TaskState::STARTING, TaskState::RUNNING, None);
    assert!(matches!(progress(&svc, None, &[run(new), starting], new, long, settle), Progress::Pending(_)));
    assert_eq!(progress(&svc, None, &[run(new), run(new)], new, long, settle), Progress::Done);
    // An old task still running keeps it pending.
    assert!(matches!(progress(&svc, None, &[run(new), run(new), run("old")], new, long, settle), Progress::Pending(_)));
}

#[test]
fn failing_task_names_error_and_node() {
    let tasks = vec![
        task("a", TaskState::RUNNING, TaskState::RUNNING, None),
        task(
            "b",
            TaskState::FAILED,
            TaskState::SHUTDOWN,
            Some("task: non-zero exit (1): dockerexec: unhealthy container"),
        ),
    ];
    let (err, node) = failing_task(&tasks).unwrap();
    assert!(err.contains("unhealthy"));
    assert_eq!(node.as_deref(), Some("node1"));
    assert_eq!(failing_task(&tasks[..1]), None);
    assert_eq!(task_health(&tasks[0]), "healthy");
    assert_eq!(task_health(&tasks[1]), "unhealthy");
    assert_eq!(task_health(&task("a", TaskState::STARTING, TaskState::RUNNING, None)), "starting");
}

#[test]
fn job_spec_runs_once() {
    let s = stack();
    let spec = service_spec(&s, &s.services["migrate"], "r@sha256:aa", &ObjectNames::default(), &defaults(3));
    let j = job_spec(spec, "4");
    assert_eq!(j.name.as_deref(), Some("shop_migrate-r4"));
    let m = j.mode.unwrap().replicated_job.unwrap();
    assert_eq!((m.max_concurrent, m.total_completions), (Some(1), Some(1)));
    assert!(j.update_config.is_none());
    let _ = (
        FileMountSpec::default(),
        HealthcheckSpec {
            test: vec![],
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
            start_interval: None,
        },
        Svc::default(),
    );
}

#[test]
fn target_from_x_slipway() {
    let mut s = stack();
    assert!(!wants_swarm(&s));
    s.slipway = serde_json::json!({"target": "swarm"});
    assert!(wants_swarm(&s));
}
