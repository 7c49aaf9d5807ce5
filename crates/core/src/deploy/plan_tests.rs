//! Unit tests of `plan()`: no engine, only data (Kamal style).

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::stack::*;

fn service(name: &str, image: &str) -> ServiceSpec {
    let mut networks = BTreeMap::new();
    networks.insert("default".to_string(), ServiceNetwork::default());
    ServiceSpec { name: name.into(), image: Some(image.into()), networks, ..Default::default() }
}

fn depends(svc: &mut ServiceSpec, on: &str, condition: DependencyCondition) {
    svc.depends_on.insert(on.into(), Dependency { condition, required: true, restart: false });
}

/// The stack of the compose issue: app and worker from one image, a prestart, a database, a cache.
fn shop(app_image: &str) -> StackSpec {
    let mut app = service("app", app_image);
    depends(&mut app, "prestart", DependencyCondition::ServiceCompletedSuccessfully);
    depends(&mut app, "db", DependencyCondition::ServiceHealthy);
    depends(&mut app, "cache", DependencyCondition::ServiceStarted);
    app.healthcheck = Some(HealthcheckSpec {
        test: vec!["CMD".into(), "/demo-app".into(), "check".into(), "http://127.0.0.1:8080/health".into()],
        interval: Some(Duration::from_secs(1)),
        timeout: Some(Duration::from_secs(2)),
        retries: Some(3),
        start_period: None,
        start_interval: None,
    });
    let mut worker = service("worker", app_image);
    worker.command = Some(vec!["worker".into()]);
    depends(&mut worker, "db", DependencyCondition::ServiceHealthy);
    let mut prestart = service("prestart", app_image);
    prestart.command = Some(vec!["migrate".into()]);
    depends(&mut prestart, "db", DependencyCondition::ServiceHealthy);
    let mut db = service("db", "postgres:16");
    db.volumes.push(MountSpec {
        kind: MountKind::Volume,
        source: Some("data".into()),
        target: "/var/lib/postgresql/data".into(),
        read_only: false,
        create_host_path: false,
    });
    let cache = service("cache", "redis:7");
    let mut stack = StackSpec { name: "shop".into(), ..Default::default() };
    for s in [app, worker, prestart, db, cache] {
        stack.services.insert(s.name.clone(), s);
    }
    stack.networks.insert("default".into(), NetworkSpec { name: "shop_default".into(), ..Default::default() });
    stack.volumes.insert("data".into(), VolumeSpec { name: "shop_data".into(), ..Default::default() });
    stack
}

fn pins(stack: &StackSpec) -> BTreeMap<String, String> {
    stack
        .services
        .iter()
        .map(|(n, s)| {
            let img = s.image.clone().unwrap();
            let digest = crate::Digest::sha256(img.as_bytes());
            (n.clone(), format!("{}@{digest}", img.split(':').next().unwrap()))
        })
        .collect()
}

fn desired(id: u64, stack: &StackSpec) -> DesiredRelease {
    DesiredRelease::new(ReleaseId(id), stack, &pins(stack))
}

/// The state after `d` was fully deployed and recorded.
fn deployed(d: &DesiredRelease) -> ActualState {
    let mut actual = ActualState::default();
    actual.networks.insert("shop_default".into());
    actual.volumes.insert("shop_data".into());
    for (name, s) in &d.services {
        actual.images.insert(s.pinned.clone());
        let mut c = ActualContainer::new(&format!("{name}{}", d.id), name, d.id.0, &s.config_hash, 1, true);
        if is_oneoff(&d.stack, name) {
            c.oneoff = true;
            c.running = false;
            c.exit_code = Some(0);
        }
        actual.containers.push(c);
    }
    actual.history.push(record(d, ReleaseOutcome::Succeeded));
    actual
}

fn record(d: &DesiredRelease, outcome: ReleaseOutcome) -> Release {
    Release {
        id: d.id,
        project: d.project().into(),
        version: None,
        services: d.services.clone(),
        stack: d.stack.clone(),
        who: "t@h".into(),
        when: chrono::Utc::now(),
        outcome,
        parent: None,
        rollback_of: None,
        hook_failures: Vec::new(),
    }
}

fn describe(p: &Plan) -> Vec<String> {
    p.steps.iter().map(|s| s.describe()).collect()
}

fn pos(p: &Plan, pred: impl Fn(&Step) -> bool) -> usize {
    p.steps.iter().position(pred).unwrap_or_else(|| panic!("step not found in {:#?}", describe(p)))
}

#[test]
fn first_deploy_creates_everything_in_dependency_order() {
    let d = desired(1, &shop("demo:1"));
    let p = plan(&d, &ActualState::default()).unwrap();
    let steps = describe(&p);
    assert_eq!(steps[0], "hold the deploy lock of shop");
    assert_eq!(steps[1], "check the default policy");
    assert_eq!(steps[2], "create network shop_default");
    assert_eq!(steps[3], "create volume shop_data");
    // demo, postgres, redis: three distinct images pulled, before any container step.
    let pulls: Vec<usize> = (0..p.steps.len()).filter(|i| matches!(p.steps[*i], Step::Pull { .. })).collect();
    assert_eq!(pulls.len(), 3);
    let start_db = pos(&p, |s| matches!(s, Step::StartReplica { service, .. } if service == "db"));
    let oneoff = pos(&p, |s| matches!(s, Step::RunOneOff { service } if service == "prestart"));
    let start_app = pos(&p, |s| matches!(s, Step::StartReplica { service, .. } if service == "app"));
    let start_cache = pos(&p, |s| matches!(s, Step::StartReplica { service, .. } if service == "cache"));
    assert!(pulls.iter().all(|i| *i < start_db));
    assert!(start_db < oneoff && oneoff < start_app && start_cache < start_app);
    assert_eq!(p.steps[p.steps.len() - 2], Step::RecordRelease { release: ReleaseId(1) });
    assert!(matches!(p.steps.last(), Some(Step::Prune { keep: 5 })));
    assert!(!p.steps.iter().any(|s| matches!(s, Step::StopOld { .. })));
}

#[test]
fn unchanged_stack_plans_zero_steps() {
    let d1 = desired(1, &shop("demo:1"));
    let actual = deployed(&d1);
    let d2 = desired(2, &shop("demo:1"));
    let p = plan(&d2, &actual).unwrap();
    assert!(p.is_empty(), "{:#?}", describe(&p));
}

#[test]
fn upgrade_touches_only_changed_services_start_first() {
    let d1 = desired(1, &shop("demo:1"));
    let actual = deployed(&d1);
    let d2 = desired(2, &shop("demo:22"));
    let p = plan(&d2, &actual).unwrap();
    let services: std::collections::BTreeSet<&str> = p.steps.iter().filter_map(|s| s.service()).collect();
    assert_eq!(services, ["app", "prestart", "worker"].into_iter().collect());
    assert_eq!(p.steps.iter().filter(|s| matches!(s, Step::Pull { .. })).count(), 1);
    let start = pos(&p, |s| matches!(s, Step::StartReplica { service, .. } if service == "app"));
    assert!(
        matches!(&p.steps[start + 1], Step::WaitHealthy { service, gate: HealthGate::Healthcheck { .. }, .. } if service == "app")
    );
    assert!(matches!(&p.steps[start + 2], Step::StopOld { id, .. } if id == "app1"));
    let migrate = pos(&p, |s| matches!(s, Step::RunOneOff { .. }));
    assert!(migrate < start);
}

#[test]
fn database_with_named_volume_is_stop_first_and_order_overrides() {
    let d1 = desired(1, &shop("demo:1"));
    let actual = deployed(&d1);
    let mut stack = shop("demo:1");
    stack.services.get_mut("db").unwrap().image = Some("postgres:17".into());
    let p = plan(&desired(2, &stack), &actual).unwrap();
    let stop = pos(&p, |s| matches!(s, Step::StopOld { service, .. } if service == "db"));
    let start = pos(&p, |s| matches!(s, Step::StartReplica { service, .. } if service == "db"));
    assert!(stop < start, "{:#?}", describe(&p));

    stack.services.get_mut("db").unwrap().deploy.update_config =
        Some(UpdateConfig { order: Some(UpdateOrder::StartFirst), ..Default::default() });
    let p = plan(&desired(2, &stack), &actual).unwrap();
    let stop = pos(&p, |s| matches!(s, Step::StopOld { service, .. } if service == "db"));
    let start = pos(&p, |s| matches!(s, Step::StartReplica { service, .. } if service == "db"));
    assert!(start < stop);
}

#[test]
fn fixed_host_port_is_stop_first_but_ephemeral_port_is_not() {
    let mut svc = service("web", "demo:1");
    svc.ports.push(PortSpec { target: 8080, published: None, host_ip: None, protocol: "tcp".into(), mode: None });
    assert_eq!(update_order(&svc, 1), UpdateOrder::StartFirst);
    svc.ports[0].published = Some("8080".into());
    assert_eq!(update_order(&svc, 1), UpdateOrder::StopFirst);
    let mut cache = service("cache", "redis");
    cache.volumes.push(MountSpec {
        kind: MountKind::Volume,
        source: Some("d".into()),
        target: "/d".into(),
        read_only: false,
        create_host_path: false,
    });
    assert_eq!(update_order(&cache, 1), UpdateOrder::StopFirst);
    assert_eq!(update_order(&cache, 2), UpdateOrder::StartFirst);
}

#[test]
fn replicas_roll_one_at_a_time() {
    let mut stack = shop("demo:1");
    stack.services.get_mut("worker").unwrap().deploy.replicas = Some(3);
    let d1 = desired(1, &stack);
    let mut actual = deployed(&d1);
    let hash = d1.services["worker"].config_hash.clone();
    for r in [2, 3] {
        actual.containers.push(ActualContainer::new(&format!("worker1-{r}"), "worker", 1, &hash, r, true));
    }
    assert!(plan(&desired(2, &stack), &actual).unwrap().is_empty());
    let mut up = stack.clone();
    up.services.get_mut("worker").unwrap().environment.insert("X".into(), Some("1".into()));
    let p = plan(&desired(2, &up), &actual).unwrap();
    let worker: Vec<String> = p.steps.iter().filter(|s| s.service() == Some("worker")).map(|s| s.describe()).collect();
    assert_eq!(worker.len(), 9, "{worker:#?}");
    for (i, r) in [1, 2, 3].iter().enumerate() {
        assert_eq!(worker[i * 3], format!("start worker replica {r}"));
        assert!(worker[i * 3 + 1].starts_with(&format!("wait for worker replica {r}")));
        assert!(worker[i * 3 + 2].starts_with("stop old worker"));
    }
}

#[test]
fn scale_down_and_removed_service_stop_old_containers() {
    let d1 = desired(1, &shop("demo:1"));
    let mut actual = deployed(&d1);
    let hash = d1.services["worker"].config_hash.clone();
    actual.containers.push(ActualContainer::new("worker-extra", "worker", 1, &hash, 2, true));
    let mut stack = shop("demo:1");
    stack.services.remove("cache");
    stack.services.get_mut("app").unwrap().depends_on.remove("cache");
    let p = plan(&desired(2, &stack), &actual).unwrap();
    let stopped: Vec<&str> = p
        .steps
        .iter()
        .filter_map(|s| if let Step::StopOld { id, .. } = s { Some(id.as_str()) } else { None })
        .collect();
    assert!(stopped.contains(&"worker-extra") && stopped.contains(&"cache1"), "{stopped:?}");
    assert!(!p.steps.iter().any(|s| matches!(s, Step::StartReplica { .. })));
}

#[test]
fn missing_external_network_is_an_error_and_present_one_is_no_step() {
    let mut stack = shop("demo:1");
    stack.networks.insert("edge".into(), NetworkSpec { name: "edge".into(), external: true, ..Default::default() });
    stack.services.get_mut("app").unwrap().networks.insert("edge".into(), ServiceNetwork::default());
    let d = desired(1, &stack);
    let e = plan(&d, &ActualState::default()).unwrap_err();
    assert!(matches!(e, DeployError::MissingExternal { kind: "network", .. }));
    assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
    let mut actual = ActualState::default();
    actual.networks.insert("edge".into());
    let p = plan(&d, &actual).unwrap();
    assert!(!describe(&p).iter().any(|s| s == "create network edge"));
}

#[test]
fn interrupted_deploy_converges() {
    let d1 = desired(1, &shop("demo:1"));
    let mut actual = deployed(&d1);
    let d2 = desired(2, &shop("demo:22"));
    // Killed mid-release 2: a created-not-started app container and a healthy running worker.
    let mut dead = ActualContainer::new("app2", "app", 2, &d2.services["app"].config_hash, 1, false);
    dead.exit_code = None;
    actual.containers.push(dead);
    actual.containers.push(ActualContainer::new("worker2", "worker", 2, &d2.services["worker"].config_hash, 1, true));
    assert_eq!(actual.next_release_id(), ReleaseId(3));
    let d3 = desired(3, &shop("demo:22"));
    let p = plan(&d3, &actual).unwrap();
    assert!(p.steps.contains(&Step::RemoveOrphan { id: "app2".into(), name: "app2-app-1".into() }));
    // The worker of the interrupted release already is what is wanted: the old one is stopped.
    assert!(!p.steps.iter().any(|s| matches!(s, Step::StartReplica { service, .. } if service == "worker")));
    assert!(p.steps.iter().any(|s| matches!(s, Step::StopOld { id, .. } if id == "worker1")));
    assert!(p.steps.contains(&Step::RecordRelease { release: ReleaseId(3) }));
}

#[test]
fn interrupted_before_record_only_records() {
    let d1 = desired(1, &shop("demo:1"));
    let mut actual = deployed(&d1);
    actual.history.clear();
    let p = plan(&desired(2, &shop("demo:1")), &actual).unwrap();
    assert_eq!(
        describe(&p),
        [
            "hold the deploy lock of shop",
            "check the default policy",
            "record release 2",
            "prune beyond the last 5 releases"
        ]
    );
}

#[test]
fn finished_oneoff_is_not_run_again_but_changed_one_is() {
    let d1 = desired(1, &shop("demo:1"));
    let actual = deployed(&d1);
    let mut stack = shop("demo:1");
    stack.services.get_mut("prestart").unwrap().environment.insert("STEP".into(), Some("2".into()));
    let p = plan(&desired(2, &stack), &actual).unwrap();
    assert!(p.steps.contains(&Step::RunOneOff { service: "prestart".into() }));
    assert!(!p.steps.iter().any(|s| matches!(s, Step::Pull { .. } | Step::StartReplica { .. })));
}

#[test]
fn routed_service_switches_between_healthy_and_stop() {
    let d1 = desired(1, &shop("demo:1"));
    let actual = deployed(&d1);
    let mut stack = shop("demo:2");
    stack.services.get_mut("app").unwrap().labels.insert("traefik.enable".into(), "true".into());
    let p = plan(&desired(2, &stack), &actual).unwrap();
    let wait = pos(&p, |s| matches!(s, Step::WaitHealthy { service, .. } if service == "app"));
    assert!(matches!(&p.steps[wait + 1], Step::RouteSwitch { service, replica: 1 } if service == "app"));
    assert!(matches!(&p.steps[wait + 2], Step::StopOld { service, .. } if service == "app"));
    assert!(!p.steps.iter().any(|s| matches!(s, Step::RouteSwitch { service, .. } if service == "worker")));
}

#[test]
fn cycle_is_refused_and_gate_defaults_apply() {
    let mut stack = shop("demo:1");
    depends(stack.services.get_mut("db").unwrap(), "app", DependencyCondition::ServiceStarted);
    assert!(matches!(plan(&desired(1, &stack), &ActualState::default()), Err(DeployError::DependencyCycle { .. })));
    let mut w = service("w", "demo:1");
    assert_eq!(health_gate(&w, Duration::from_secs(5)), HealthGate::StillRunning { after_ms: 5000 });
    w.extensions.insert("x-slipway".into(), serde_json::json!({"min_running": "300ms"}));
    assert_eq!(health_gate(&w, Duration::from_secs(5)), HealthGate::StillRunning { after_ms: 300 });
    let app = &shop("demo:1").services["app"];
    // (1s + 2s) x (3 + 1)
    assert_eq!(health_gate(app, Duration::ZERO), HealthGate::Healthcheck { timeout_ms: 12_000 });
}

#[test]
fn rollback_redeploys_recorded_config() {
    let d1 = desired(1, &shop("demo:1"));
    let d2 = desired(2, &shop("demo:22"));
    let mut actual = deployed(&d2);
    actual.history.insert(0, record(&d1, ReleaseOutcome::Succeeded));
    let back = DesiredRelease::from_record(ReleaseId(3), &actual.history[0]);
    assert_eq!(back.rollback_of, Some(ReleaseId(1)));
    assert_eq!(back.services["app"].config_hash, d1.services["app"].config_hash);
    let p = plan(&back, &actual).unwrap();
    assert!(p.steps.iter().any(|s| matches!(s, Step::StartReplica { service, .. } if service == "app")));
    assert!(!p.steps.iter().any(|s| matches!(s, Step::StartReplica { service, .. } if service == "db")));
}

#[test]
fn oneoff_runs_before_independent_services_on_upgrade() {
    let d1 = desired(1, &shop("demo:1"));
    let actual = deployed(&d1);
    let p = plan(&desired(2, &shop("demo:3")), &actual).unwrap();
    let first_service_step = p.steps.iter().find(|s| s.service().is_some()).unwrap();
    assert_eq!(first_service_step, &Step::RunOneOff { service: "prestart".into() });
    assert_eq!(dependency_order(&shop("x")).unwrap(), ["cache", "db", "prestart", "app", "worker"]);
}

#[test]
fn slipway_probes_gate_a_service_without_healthcheck() {
    let mut w = service("w", "demo:1");
    w.extensions.insert(
        "x-slipway".into(),
        serde_json::json!({"probes": ["log://{container}?pattern=ready"], "health_timeout": "9s"}),
    );
    assert_eq!(
        health_gate(&w, Duration::from_secs(5)),
        HealthGate::Probes { targets: vec!["log://{container}?pattern=ready".into()], timeout_ms: 9000 }
    );
}
