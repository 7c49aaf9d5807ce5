//! (tests) The typed causes behind a failed deploy, over the fake engine: a failed health gate's
//! `StepFailed` has a `source()` chain reaching its [`GateFailure`] (and, for an engine error
//! inside the gate, the engine's own error); a hook that cannot be started reaches the operating
//! system's `io::Error`; a refused image reaches the policy room's `PolicyError`.

use std::error::Error;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::fake_tests::{deployed, execute, prepare, stack_of, stacks, web};
use super::*;
use crate::events::Event;

/// Every error of `e`'s source chain, `e` first.
fn chain<'a>(e: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    std::iter::successors(Some(e), |e: &&'a (dyn Error + 'static)| (*e).source()).collect()
}

/// The first error of type `T` in `e`'s source chain.
fn find<'a, T: Error + 'static>(e: &'a (dyn Error + 'static)) -> Option<&'a T> {
    chain(e).into_iter().find_map(|e| e.downcast_ref::<T>())
}

#[tokio::test(start_paused = true)]
async fn a_crashing_release_fails_its_gate_with_a_typed_cause() {
    let stack = stacks()[0].1;
    let (world, backups) = deployed(stack).await;
    let before = world.snapshot();
    world.lock().crashing.insert("web".into(), 3);
    let d = prepare(&world, &stack("v2"), &backups);
    let err = execute(&world, &d, &backups, &crate::NoopObserver, CancellationToken::new()).await.unwrap_err();
    let DeployError::StepFailed { cause, step, undo, .. } = &err else { panic!("{err}") };
    assert!(step.contains("wait for web"), "{step}");
    assert!(matches!(cause.as_ref(), StepFailure::Gate(GateFailure::Exited { code: Some(3) })), "{cause:?}");
    let gate = find::<GateFailure>(&err).expect("the chain reaches the gate's failure");
    assert!(matches!(gate, GateFailure::Exited { code: Some(3) }), "{gate:?}");
    assert!(err.to_string().contains("the container exited (code 3)"), "{err}");
    assert!(undo.restored(), "{}", undo.summary());
    assert_eq!(world.snapshot(), before);
}

#[tokio::test(start_paused = true)]
async fn an_engine_error_inside_a_gate_keeps_the_engine_error() {
    let stack = stacks()[0].1;
    let (world, backups) = deployed(stack).await;
    let d = prepare(&world, &stack("v2"), &backups);
    let wait = d.plan.steps.iter().position(|s| matches!(s, Step::WaitHealthy { .. })).unwrap() + 1;
    let armed = world.clone();
    let obs = move |e: &Event| {
        if matches!(e, Event::Deploy(DeployEvent::StepStarted { index, .. }) if *index == wait) {
            armed.arm(); // the gate's first state request fails
        }
    };
    let err = execute(&world, &d, &backups, &obs, CancellationToken::new()).await.unwrap_err();
    let gate = find::<GateFailure>(&err).expect("the chain reaches the gate's failure");
    assert!(matches!(gate, GateFailure::Engine(e) if matches!(e.as_ref(), DeployError::Engine { .. })), "{gate:?}");
    let engine = find::<bollard::errors::Error>(&err).expect("the chain reaches the engine's error");
    assert!(engine.to_string().contains("injected failure at state"), "{engine}");
    assert!(err.to_string().contains("injected failure at state"), "{err}");
}

#[tokio::test]
async fn a_hook_that_cannot_start_keeps_the_io_error() {
    let mut stack = stack_of(vec![web("v1")]);
    stack.slipway = serde_json::json!({"hooks": {"pre-deploy": [["/nonexistent/slipway-test-hook", "--now"]]}});
    let world = super::fake::World::new();
    let backups: Vec<Arc<dyn BeforeChange>> = Vec::new();
    let d = prepare(&world, &stack, &backups);
    let err = execute(&world, &d, &backups, &crate::NoopObserver, CancellationToken::new()).await.unwrap_err();
    let DeployError::StepFailed { cause, .. } = &err else { panic!("{err}") };
    let StepFailure::Deploy(hook) = cause.as_ref() else { panic!("{cause:?}") };
    let DeployError::HookFailed { cause, .. } = hook.as_ref() else { panic!("{hook:?}") };
    assert!(matches!(cause, HookFailure::Spawn { program, .. } if program == "/nonexistent/slipway-test-hook"));
    let io = find::<std::io::Error>(&err).expect("the chain reaches the io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert!(find::<HookFailure>(&err).is_some(), "the chain passes the hook's failure");
    let failed_hook = find::<Box<DeployError>>(&err).expect("the chain passes the failed hook");
    assert!(matches!(failed_hook.as_ref(), DeployError::HookFailed { .. }), "{failed_hook:?}");
    assert!(err.to_string().contains("cannot run /nonexistent/slipway-test-hook"), "{err}");
    let hook_step = d.plan.steps.iter().find(|s| matches!(s, Step::PreDeployHook { .. })).unwrap().describe();
    assert_eq!(err.step(), Some(hook_step.as_str()));
    assert!(world.lock().containers.is_empty(), "nothing was created");
}

#[test]
fn a_refused_image_keeps_the_policy_error() {
    let stack = stack_of(vec![super::fake_tests::service("app", "registry.test/app:latest")]);
    let policies = crate::policy::EnvironmentPolicies::builtin();
    let err = check_policy(&stack, "production", &policies).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::PolicyRefused);
    let policy = find::<Box<crate::policy::PolicyError>>(&err).expect("the chain reaches the policy error");
    let refusal = &policy.refusals()[0];
    assert_eq!(refusal.environment, "production");
    let text = err.to_string();
    assert!(text.contains("refused by the production policy") && text.contains(&refusal.to_string()), "{text}");

    // An environment the policies do not know is refused too, with the policy room's error.
    let err = check_policy(&stack, "nosuchenv", &policies).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::PolicyRefused);
    let policy = find::<Box<crate::policy::PolicyError>>(&err).expect("the chain reaches the policy error");
    assert!(matches!(policy.as_ref(), crate::policy::PolicyError::UnknownEnvironment { .. }), "{policy:?}");
}
