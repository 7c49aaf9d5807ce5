//! The executor over the fake engine and router: for representative stacks and every step k of
//! an upgrade, a failure injected at step k must leave what serves exactly as it was (running
//! containers, and per route the containers behind its backends), with an error naming step k and
//! an `UndoReport` that says "restored"; steps after the record leave the release standing
//! unless a post-deploy hook asks for `on_failure: rollback`. Also: the routed stop-first undo
//! puts the old container back into the route, an undo that cannot finish says so (and tells the
//! observer), and cancellation undoes and records the release as cancelled.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::executor::Executor;
use super::fake::{FakeEngine, FakeRouter, World};
use super::*;
use crate::events::{Event, Observer, RecordingObserver};
use crate::stack::*;

pub(super) fn service(name: &str, image: &str) -> ServiceSpec {
    let mut networks = BTreeMap::new();
    networks.insert("default".to_string(), ServiceNetwork::default());
    ServiceSpec { name: name.into(), image: Some(image.into()), networks, ..Default::default() }
}

pub(super) fn web(version: &str) -> ServiceSpec {
    let mut s = service("web", &format!("demo:{version}"));
    for (k, v) in [
        ("traefik.enable", "true"),
        ("traefik.http.routers.web.rule", "Host(`shop.test`)"),
        ("traefik.http.services.web.loadbalancer.server.port", "8080"),
    ] {
        s.labels.insert(k.into(), v.into());
    }
    s.healthcheck = Some(HealthcheckSpec {
        test: vec!["CMD".into(), "true".into()],
        interval: Some(Duration::from_secs(1)),
        timeout: Some(Duration::from_secs(1)),
        retries: Some(3),
        start_period: None,
        start_interval: None,
    });
    s
}

pub(super) fn worker(version: &str) -> ServiceSpec {
    let mut s = service("worker", &format!("demo:{version}"));
    s.command = Some(vec!["worker".into()]);
    s.extensions.insert("x-slipway".into(), serde_json::json!({"min_running": "1s"}));
    s
}

pub(super) fn stack_of(services: Vec<ServiceSpec>) -> StackSpec {
    let mut stack = StackSpec { name: "shop".into(), ..Default::default() };
    stack.networks.insert("default".into(), NetworkSpec { name: "shop_default".into(), ..Default::default() });
    for s in services {
        stack.services.insert(s.name.clone(), s);
    }
    stack
}

/// A stack as a function of the version.
pub(super) type StackOf = fn(&str) -> StackSpec;

/// The representative stacks.
pub(super) fn stacks() -> Vec<(&'static str, StackOf)> {
    vec![
        ("routed start-first", |v| stack_of(vec![web(v)])),
        ("routed stop-first", |v| {
            let mut w = web(v);
            w.volumes.push(MountSpec {
                kind: MountKind::Volume,
                source: Some("data".into()),
                target: "/data".into(),
                read_only: false,
                create_host_path: false,
            });
            let mut stack = stack_of(vec![w]);
            stack.volumes.insert("data".into(), VolumeSpec { name: "shop_data".into(), ..Default::default() });
            stack
        }),
        ("3 replicas", |v| {
            let mut w = web(v);
            w.deploy.replicas = Some(3);
            stack_of(vec![w])
        }),
        ("one-off + web + worker", |v| {
            let mut prestart = service("prestart", &format!("demo:{v}"));
            prestart.command = Some(vec!["migrate".into()]);
            let mut w = web(v);
            w.depends_on.insert(
                "prestart".into(),
                Dependency {
                    condition: DependencyCondition::ServiceCompletedSuccessfully,
                    required: true,
                    restart: false,
                },
            );
            stack_of(vec![prestart, w, worker(v)])
        }),
        ("hooks", |v| {
            let mut stack = stack_of(vec![web(v)]);
            stack.slipway = serde_json::json!({"hooks": {
                "pre-deploy": [{"service": "web", "command": ["migrate"]}],
                "post-deploy": [{"service": "web", "command": ["smoke"], "on_failure": "rollback"},
                                {"service": "web", "command": ["notify"]}],
            }});
            stack
        }),
    ]
}

/// A backup that goes through the world (so a failure can be injected into it).
struct FakeBackup(Arc<World>);

#[async_trait]
impl BeforeChange for FakeBackup {
    async fn before_change(
        &self,
        _: &DesiredRelease,
        _: &Plan,
        _: &dyn crate::events::Observer,
    ) -> Result<(), DeployError> {
        self.0.check("backup".into()).map_err(|reason| super::fake::engine_err("backup", reason))
    }
    fn describe(&self) -> String {
        "fake database backup".into()
    }
}

fn pins(stack: &StackSpec) -> BTreeMap<String, String> {
    stack
        .services
        .iter()
        .map(|(n, s)| {
            let img = s.image.clone().unwrap_or_default();
            (n.clone(), format!("demo@{}", crate::Digest::sha256(img.as_bytes())))
        })
        .collect()
}

pub(super) struct Deploy {
    pub(super) desired: DesiredRelease,
    pub(super) actual: ActualState,
    pub(super) plan: Plan,
}

pub(super) fn prepare(world: &World, stack: &StackSpec, backups: &[Arc<dyn BeforeChange>]) -> Deploy {
    let actual = world.actual(&Default::default());
    let desired = DesiredRelease::new(actual.next_release_id(), stack, &pins(stack));
    let opts = PlanOptions::default().backups(backups.iter().map(|b| b.describe()).collect());
    let plan = plan_with(&desired, &actual, opts).unwrap();
    Deploy { desired, actual, plan }
}

pub(super) async fn execute(
    world: &Arc<World>,
    d: &Deploy,
    backups: &[Arc<dyn BeforeChange>],
    observer: &dyn Observer,
    cancel: CancellationToken,
) -> Result<Release, DeployError> {
    execute_leased(world, d, backups, observer, cancel, CancellationToken::new()).await
}

/// [`execute`], with the token that says the deploy lock's lease was lost.
pub(super) async fn execute_leased(
    world: &Arc<World>,
    d: &Deploy,
    backups: &[Arc<dyn BeforeChange>],
    observer: &dyn Observer,
    cancel: CancellationToken,
    lease_lost: CancellationToken,
) -> Result<Release, DeployError> {
    let engine = FakeEngine::new(world.clone());
    let router = FakeRouter::new(world.clone());
    let record = Release {
        id: d.desired.id,
        project: "shop".into(),
        version: None,
        services: d.desired.services.clone(),
        stack: d.desired.stack.clone(),
        env_sha256: None,
        who: "t@h".into(),
        when: chrono::Utc::now(),
        outcome: ReleaseOutcome::Succeeded,
        parent: d.actual.current().map(|r| r.id),
        rollback_of: None,
        hook_failures: Vec::new(),
    };
    Executor::new(&engine, &d.desired, record, observer, "default")
        .router(Some(&router))
        .previous(d.actual.current().map(|r| &r.stack))
        .before_change(backups)
        .cancel(cancel)
        .lease_lost(lease_lost)
        .run(&d.plan)
        .await
}

/// A world with release 1 (`v1`) of `stack` deployed.
pub(super) async fn deployed(stack: StackOf) -> (Arc<World>, Vec<Arc<dyn BeforeChange>>) {
    let world = World::new();
    let backups: Vec<Arc<dyn BeforeChange>> = vec![Arc::new(FakeBackup(world.clone()))];
    let d = prepare(&world, &stack("v1"), &backups);
    execute(&world, &d, &backups, &crate::NoopObserver, CancellationToken::new()).await.unwrap();
    (world, backups)
}

#[tokio::test(start_paused = true)]
async fn a_failure_at_any_step_leaves_what_serves_as_it_was_and_names_the_step() {
    for (name, stack) in stacks() {
        let (world, backups) = deployed(stack).await;
        let steps = prepare(&world, &stack("v2"), &backups).plan.steps;
        let record_at = steps.iter().position(|s| matches!(s, Step::RecordRelease { .. })).unwrap() + 1;
        for k in 1..=steps.len() {
            let (world, backups) = deployed(stack).await;
            let before = world.snapshot();
            let d = prepare(&world, &stack("v2"), &backups);
            let armed = world.clone();
            let inject = move |e: &Event| match e {
                Event::Deploy(DeployEvent::StepStarted { index, .. }) if *index == k => armed.arm(),
                Event::Deploy(DeployEvent::StepDone { index, .. }) if *index == k => armed.disarm(),
                _ => {}
            };
            let result = execute(&world, &d, &backups, &inject, CancellationToken::new()).await;
            let step = &d.plan.steps[k - 1];
            let at = format!("{name}: step {k} `{}`", step.describe());
            let rollback_hook = matches!(step, Step::PostDeployHook { on_failure: OnFailure::Rollback, .. });
            match (&result, step) {
                // Taken before the plan executes: nothing to fail here.
                (Ok(_), Step::Lock { .. } | Step::Policy { .. }) => continue,
                (Ok(_), Step::Prune { .. }) => assert_ne!(world.snapshot(), before, "{at}: the release stands"),
                (Err(DeployError::PostDeployHookFailed { index, .. }), Step::PostDeployHook { .. })
                    if !rollback_hook =>
                {
                    assert_eq!(format!("post-deploy hook {index}"), step.describe().split(':').next().unwrap(), "{at}");
                    let rec = world.lock().records[&d.desired.id.0].clone();
                    assert!(rec.outcome.is_success() && rec.hook_failures.len() == 1, "{at}: {rec:?}");
                }
                (Err(DeployError::StepFailed { step: failed, undo, .. }), _) if k <= record_at || rollback_hook => {
                    assert_eq!(failed, &step.describe(), "{at}: the error names the step");
                    assert!(undo.restored(), "{at}: {}", undo.summary());
                    assert_eq!(world.snapshot(), before, "{at}: what serves is what served before");
                    let rec = world.lock().records.get(&d.desired.id.0).cloned();
                    if matches!(step, Step::Backup { .. } | Step::PreDeployHook { .. }) {
                        assert!(rec.is_none(), "{at}: nothing changed, nothing recorded");
                    } else {
                        assert!(matches!(rec.map(|r| r.outcome), Some(ReleaseOutcome::Failed { .. })), "{at}");
                    }
                }
                other => panic!("{at}: unexpected {:?}", other.0),
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn stop_first_undo_puts_the_old_container_back_into_the_route() {
    let stack = stacks()[1].1;
    let (world, backups) = deployed(stack).await;
    let before = world.snapshot();
    assert_eq!(before.1["shop-web"].len(), 1);
    let d = prepare(&world, &stack("v2"), &backups);
    let wait = d.plan.steps.iter().position(|s| matches!(s, Step::WaitHealthy { .. })).unwrap() + 1;
    let stop = d.plan.steps.iter().position(|s| matches!(s, Step::StopOld { .. })).unwrap() + 1;
    assert!(stop < wait, "stop-first");
    let armed = world.clone();
    let seen = RecordingObserver::new();
    let recorder = seen.clone();
    let obs = move |e: &Event| {
        if matches!(e, Event::Deploy(DeployEvent::StepStarted { index, .. }) if *index == wait) {
            armed.arm();
        }
        recorder.event(e);
    };
    let err = execute(&world, &d, &backups, &obs, CancellationToken::new()).await.unwrap_err();
    assert_eq!(world.snapshot(), before, "the old container serves again, through the route");
    assert!(err.to_string().contains("the previous release was restored"), "{err}");
    let calls = world.lock().calls.clone();
    assert!(calls.iter().any(|c| c.starts_with("route retire shop-web")), "{calls:?}");
    assert!(calls.iter().rev().any(|c| c.starts_with("route add shop-web")), "{calls:?}");

    // Again, but the route cannot take the old container back: the error says so, names what is
    // left and how to finish it, and the observer hears it.
    let (world, backups) = deployed(stack).await;
    let d = prepare(&world, &stack("v2"), &backups);
    let armed = world.clone();
    let seen = RecordingObserver::new();
    let recorder = seen.clone();
    let obs = move |e: &Event| {
        if matches!(e, Event::Deploy(DeployEvent::StepStarted { index, .. }) if *index == wait) {
            armed.arm();
            armed.fail_on("route add");
        }
        recorder.event(e);
    };
    let err = execute(&world, &d, &backups, &obs, CancellationToken::new()).await.unwrap_err();
    let DeployError::StepFailed { undo, .. } = &err else { panic!("{err}") };
    assert!(!undo.restored());
    let text = err.to_string();
    assert!(
        !text.contains("release was restored") && text.contains("INCOMPLETE") && text.contains("slipway-shop-web.yml"),
        "{text}"
    );
    let heard = seen
        .events()
        .iter()
        .any(|e| matches!(e, Event::Deploy(DeployEvent::UndoFailed { finish, .. }) if finish.contains("docker start")));
    assert!(heard, "the undo failure reaches the observer");
}

#[tokio::test(start_paused = true)]
async fn cancellation_undoes_and_records_the_release_as_cancelled() {
    let stack = stacks()[3].1;
    let (world, backups) = deployed(stack).await;
    let before = world.snapshot();
    let d = prepare(&world, &stack("v2"), &backups);
    // Cancel when the web's new replica is being health-checked (after the one-off ran).
    let wait =
        d.plan.steps.iter().position(|s| matches!(s, Step::WaitHealthy { service, .. } if service == "web")).unwrap()
            + 1;
    let token = CancellationToken::new();
    let cancel = token.clone();
    let obs = move |e: &Event| {
        if matches!(e, Event::Deploy(DeployEvent::StepStarted { index, .. }) if *index == wait) {
            cancel.cancel();
        }
    };
    let err = execute(&world, &d, &backups, &obs, token).await.unwrap_err();
    let DeployError::Cancelled { step, undo, .. } = &err else { panic!("{err}") };
    assert_eq!(step, &d.plan.steps[wait - 1].describe());
    assert!(undo.restored() && !undo.actions.is_empty(), "{}", undo.summary());
    assert_eq!(world.snapshot(), before);
    let rec = world.lock().records[&d.desired.id.0].clone();
    assert!(matches!(rec.outcome, ReleaseOutcome::Cancelled { .. }), "{rec:?}");
}

#[test]
fn the_plan_orders_the_whole_deploy() {
    let world = World::new();
    let backups: Vec<Arc<dyn BeforeChange>> = vec![Arc::new(FakeBackup(world.clone()))];
    let d = prepare(&world, &(stacks()[4].1)("v1"), &backups);
    let kinds: Vec<String> =
        d.plan.steps.iter().map(|s| serde_json::to_value(s).unwrap()["step"].as_str().unwrap().to_string()).collect();
    let first = |k: &str| kinds.iter().position(|x| x == k).unwrap_or_else(|| panic!("{k} in {kinds:?}"));
    let order = [
        "lock",
        "policy",
        "backup",
        "pre_deploy_hook",
        "pull",
        "start_replica",
        "record_release",
        "post_deploy_hook",
        "prune",
    ];
    for w in order.windows(2) {
        assert!(first(w[0]) < first(w[1]), "{} before {} in {kinds:?}", w[0], w[1]);
    }
    assert_eq!(kinds.last().map(String::as_str), Some("prune"));
    assert!(d
        .plan
        .steps
        .iter()
        .any(|s| s.describe() == "post-deploy hook 1: container of web: smoke (on failure: roll back)"));
}

#[tokio::test(start_paused = true)]
async fn independent_services_and_parallel_replicas_roll_together_and_undo_together() {
    let stack = |v: &str| {
        let mut w = web(v);
        w.deploy.replicas = Some(3);
        w.deploy.update_config = Some(UpdateConfig { parallelism: Some(3), ..Default::default() });
        stack_of(vec![w, worker(v)])
    };
    let (world, backups) = deployed(stack).await;
    let before = world.snapshot();
    let d = prepare(&world, &stack("v2"), &backups);
    let seen = RecordingObserver::new();
    execute(&world, &d, &backups, &seen, CancellationToken::new()).await.unwrap();
    let events: Vec<String> = seen
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Deploy(DeployEvent::StepStarted { description, .. }) => Some(format!("start {description}")),
            Event::Deploy(DeployEvent::StepDone { description, .. }) => Some(format!("done {description}")),
            _ => None,
        })
        .collect();
    let at = |e: &str| events.iter().position(|x| x.starts_with(e)).unwrap_or_else(|| panic!("{e} in {events:#?}"));
    assert!(at("start start web replica 3") < at("done stop old web"), "replicas in one batch: {events:#?}");
    assert!(at("start start worker replica 1") < at("done stop old web"), "services at once: {events:#?}");
    assert_eq!(world.snapshot().1["shop-web"].len(), 3);

    // The worker fails while the web replicas roll: everything is undone, the error names the
    // worker's step.
    let (world, backups) = deployed(stack).await;
    let d = prepare(&world, &stack("v2"), &backups);
    world.fail_on("create shop-worker");
    let err = execute(&world, &d, &backups, &crate::NoopObserver, CancellationToken::new()).await.unwrap_err();
    let DeployError::StepFailed { step, undo, .. } = &err else { panic!("{err}") };
    assert_eq!(step, "start worker replica 1");
    assert!(undo.restored(), "{}", undo.summary());
    assert_eq!(world.snapshot(), before);
}
