//! `pre-deploy` and `post-deploy` hooks from the stack's top-level `x-slipway.hooks`. A hook is
//! - a string, run by `sh -c` on the operator machine;
//! - a list of arguments, run on the operator machine;
//! - `{service: NAME, command: [...]}`: a one-off container from that service's image in the
//!   release being deployed (see `container.rs`), e.g. a migration or a cache warm-up;
//! - an object `{command: ..., on_failure: rollback}` / `{service: ..., on_failure: rollback}`.
//!
//! The operator machine is the one running slipway (a laptop, a CI runner), not the target host
//! `-H` names; container hooks run on the target. Each hook's event says which ([`HookSite`]).
//!
//! Every hook gets the release in environment variables (`SLIPWAY_PROJECT`, `SLIPWAY_RELEASE`,
//! `SLIPWAY_VERSION`, `SLIPWAY_PARENT`, `SLIPWAY_WHO`, `SLIPWAY_ENV`, `SLIPWAY_IMAGES`) and is
//! bounded by `x-slipway.hooks.timeout` (default 10 minutes). The hooks of both points are read
//! and checked before anything changes. Each hook is one step of the plan (see `plan.rs`).

use std::time::Duration;

use super::error::DeployError;
use super::event::DeployEvent;
use super::failure::HookFailure;
use super::plan::Plan;
use super::release::ReleaseId;
use super::seam::Engine;
use super::state::DesiredRelease;
use crate::events::{Event, Observer};
use async_trait::async_trait;
use container::ContainerHook;

pub(crate) mod container;

/// A hook in Rust, run after the pre-deploy commands and before the first step changes anything
/// (the backup room takes its pre-deploy backup here). An error stops the deploy unchanged.
#[async_trait]
pub trait BeforeChange: Send + Sync {
    /// Called once per deploy or rollback that has steps to run, with the release and its plan.
    async fn before_change(
        &self,
        desired: &DesiredRelease,
        plan: &Plan,
        observer: &dyn crate::events::Observer,
    ) -> Result<(), DeployError>;
    /// How the hook is shown as a plan step (`--dry-run`), e.g. "back up databases of shop".
    fn describe(&self) -> String {
        "before-change hook".into()
    }
}

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    /// Before any change.
    PreDeploy,
    /// After the release is recorded.
    PostDeploy,
}

impl HookPoint {
    /// The key under `x-slipway.hooks`.
    pub fn key(self) -> &'static str {
        match self {
            HookPoint::PreDeploy => "pre-deploy",
            HookPoint::PostDeploy => "post-deploy",
        }
    }
}

/// One hook as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hook {
    /// A command on the operator machine (argv; a string hook is `sh -c STRING`).
    Command(Vec<String>),
    /// A one-off container from a service's image in the release.
    Container {
        /// The service whose image, environment and networks the container takes.
        service: String,
        /// The command (else the service's own).
        command: Option<Vec<String>>,
    },
}

impl Hook {
    /// How the hook is shown in progress and errors.
    pub fn describe(&self) -> String {
        match self {
            Hook::Command(argv) => argv.join(" "),
            Hook::Container { service, command } => match command {
                Some(c) => format!("container of {service}: {}", c.join(" ")),
                None => format!("container of {service}"),
            },
        }
    }

    /// Where the hook runs: a command on the operator's machine, a container on the target.
    pub fn site(&self) -> HookSite {
        match self {
            Hook::Command(_) => HookSite::Operator,
            Hook::Container { .. } => HookSite::Target,
        }
    }
}

/// Where a hook ran, carried by its event so that a remote deploy's output says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HookSite {
    /// The machine that runs slipway (the operator's laptop, the CI runner), not the target host:
    /// a command hook sees this machine's files and network, whatever `-H` names.
    Operator,
    /// The target host: a one-off container of the release, through the engine connection.
    Target,
}

impl std::fmt::Display for HookSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HookSite::Operator => "on this machine, not the target",
            HookSite::Target => "on the target host",
        })
    }
}

/// What a failing hook does to the deploy (`on_failure:` of an object hook).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnFailure {
    /// The default. A pre-deploy hook stops the deploy (what was done is undone); a post-deploy
    /// hook's failure is recorded on the release, which stands (exit 1: "deployed; post-deploy
    /// hook N failed").
    #[default]
    Stop,
    /// The deploy is undone and recorded as failed (for a post-deploy hook: the previous release
    /// is put back in service although the new one was recorded).
    Rollback,
}

/// A hook with its failure behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HookSpec {
    /// The hook.
    pub hook: Hook,
    /// What its failure does.
    pub on_failure: OnFailure,
}

/// The environment every hook gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HookEnv(pub Vec<(String, String)>);

impl HookEnv {
    pub(crate) fn new(desired: &DesiredRelease, env: &str, parent: Option<ReleaseId>) -> Self {
        let images: Vec<String> = desired.services.iter().map(|(k, v)| format!("{k}={}", v.pinned)).collect();
        let pairs = [
            ("SLIPWAY_PROJECT", desired.project().to_string()),
            ("SLIPWAY_RELEASE", desired.id.to_string()),
            ("SLIPWAY_VERSION", desired.version.clone().unwrap_or_default()),
            ("SLIPWAY_PARENT", parent.map(|p| p.to_string()).unwrap_or_default()),
            ("SLIPWAY_WHO", crate::deploy::who()),
            ("SLIPWAY_ENV", env.to_string()),
            ("SLIPWAY_IMAGES", images.join(" ")),
        ];
        HookEnv(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
}

/// The outcome of one hook run: exit code and the last output lines.
#[derive(Debug)]
pub(crate) struct HookRun {
    pub exit_code: i64,
    pub output: Vec<String>,
    /// Why it counts as failed, when it does.
    pub failure: Option<HookFailure>,
}

/// The hooks configured for `point`, checked: an entry slipway cannot run is an error naming it.
pub fn hooks_of(desired: &DesiredRelease, point: HookPoint) -> Result<Vec<Hook>, DeployError> {
    Ok(hook_specs(desired, point)?.into_iter().map(|h| h.hook).collect())
}

/// The hooks configured for `point` with their `on_failure`, checked.
pub fn hook_specs(desired: &DesiredRelease, point: HookPoint) -> Result<Vec<HookSpec>, DeployError> {
    let invalid = |i: usize, why: &str| DeployError::Invalid(format!("x-slipway.hooks.{}[{i}]: {why}", point.key()));
    let Some(hooks) = desired.stack.slipway.get("hooks") else { return Ok(Vec::new()) };
    let list = match hooks.get(point.key()) {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(a)) => a,
        Some(_) => {
            return Err(DeployError::Invalid(format!("x-slipway.hooks.{}: expected a list of hooks", point.key())))
        }
    };
    let argv = |v: &serde_json::Value| -> Option<Vec<String>> {
        match v {
            serde_json::Value::String(s) => Some(vec!["sh".into(), "-c".into(), s.clone()]),
            serde_json::Value::Array(a) if !a.is_empty() => a.iter().map(|x| x.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    };
    let mut out = Vec::new();
    for (i, h) in list.iter().enumerate() {
        let spec = match h {
            serde_json::Value::Object(m) => {
                if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "service" | "command" | "on_failure")) {
                    return Err(invalid(
                        i,
                        &format!("unknown key `{k}`; a hook object has `service`, `command` and `on_failure`"),
                    ));
                }
                let on_failure = match m.get("on_failure").map(|v| v.as_str()) {
                    None | Some(Some("stop")) => OnFailure::Stop,
                    Some(Some("rollback")) => OnFailure::Rollback,
                    Some(other) => {
                        return Err(invalid(
                            i,
                            &format!("on_failure `{}`: expected stop or rollback", other.unwrap_or("?")),
                        ))
                    }
                };
                let hook = match m.get("service") {
                    None => {
                        let c = m.get("command").ok_or_else(|| {
                            invalid(i, "a hook object names its `service` (a container hook) or its `command`")
                        })?;
                        Hook::Command(argv(c).ok_or_else(|| invalid(i, "`command` is a string or a list of strings"))?)
                    }
                    Some(s) => {
                        let service = s.as_str().ok_or_else(|| invalid(i, "`service` is a service name"))?;
                        if !desired.stack.services.contains_key(service) {
                            return Err(invalid(i, &format!("no service `{service}` in the stack")));
                        }
                        let command = match m.get("command") {
                            None => None,
                            // A string is split into words, as compose does for `command:`.
                            Some(serde_json::Value::String(s)) => Some(
                                shlex::split(s)
                                    .ok_or_else(|| invalid(i, &format!("command `{s}`: unbalanced quotes")))?,
                            ),
                            Some(v) => {
                                Some(argv(v).ok_or_else(|| invalid(i, "`command` is a string or a list of strings"))?)
                            }
                        };
                        Hook::Container { service: service.to_string(), command }
                    }
                };
                HookSpec { hook, on_failure }
            }
            other => HookSpec {
                hook: Hook::Command(
                    argv(other)
                        .ok_or_else(|| invalid(i, "a hook is a string, a list of strings or {service, command}"))?,
                ),
                on_failure: OnFailure::Stop,
            },
        };
        out.push(spec);
    }
    Ok(out)
}

/// The bound of each hook (`x-slipway.hooks.timeout`, default 10 minutes).
pub fn hook_timeout(desired: &DesiredRelease) -> Result<Duration, DeployError> {
    match desired.stack.slipway.get("hooks").and_then(|h| h.get("timeout")) {
        None => Ok(Duration::from_secs(600)),
        Some(v) => v
            .as_str()
            .and_then(|t| crate::duration::parse(t).ok())
            .ok_or_else(|| DeployError::Invalid(format!("x-slipway.hooks.timeout: `{v}` is not a duration like 5m"))),
    }
}

/// Check both points' hooks before anything changes.
pub fn check_hooks(desired: &DesiredRelease) -> Result<(), DeployError> {
    hook_timeout(desired)?;
    hook_specs(desired, HookPoint::PreDeploy)?;
    hook_specs(desired, HookPoint::PostDeploy)?;
    Ok(())
}

/// Run one hook (the `index`-th of `point`, from 0) and report it to the observer. `Err` when it
/// failed or could not be run, with its output.
pub(crate) async fn run_hook(
    engine: &dyn Engine,
    desired: &DesiredRelease,
    point: HookPoint,
    index: usize,
    hook: &Hook,
    env: &HookEnv,
    observer: &dyn Observer,
) -> Result<(), DeployError> {
    let timeout = hook_timeout(desired)?;
    let shown = hook.describe();
    let failed = |cause: HookFailure, output: Vec<String>| DeployError::HookFailed {
        hook: point.key().into(),
        command: shown.clone(),
        cause,
        output,
    };
    let run = match hook {
        Hook::Command(argv) => run_command(argv, env, timeout).await,
        Hook::Container { service, command } => {
            let hook = ContainerHook { point, index, service, command: command.as_deref() };
            engine.run_container_hook(desired, &hook, env, timeout).await
        }
    }
    .map_err(|cause| failed(cause, Vec::new()))?;
    observer.event(&Event::Deploy(DeployEvent::HookDone {
        hook: point.key().into(),
        command: shown.clone(),
        ran_on: hook.site(),
        exit_code: run.exit_code,
        output: run.output.clone(),
    }));
    match run.failure {
        Some(cause) => Err(failed(cause, run.output)),
        None => Ok(()),
    }
}

/// A command on the operator machine.
async fn run_command(argv: &[String], env: &HookEnv, timeout: Duration) -> Result<HookRun, HookFailure> {
    let Some((program, args)) = argv.split_first() else { return Err(HookFailure::EmptyCommand) };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).envs(env.0.iter().map(|(k, v)| (k, v))).kill_on_drop(true);
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| HookFailure::TimedOut { after: timeout })?
        .map_err(|source| HookFailure::Spawn { program: program.clone(), source })?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let output = lines[lines.len().saturating_sub(20)..].to_vec();
    let exit_code = out.status.code().map(i64::from).unwrap_or(-1);
    let failure = (!out.status.success()).then(|| exit_failure(out.status));
    Ok(HookRun { exit_code, output, failure })
}

/// Why a command that did not succeed failed: its exit code, or the signal that killed it.
fn exit_failure(status: std::process::ExitStatus) -> HookFailure {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return HookFailure::Killed { signal };
        }
    }
    HookFailure::Exited { code: status.code().map(i64::from).unwrap_or(-1) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::deploy::ReleaseId;
    use crate::stack::{ServiceSpec, StackSpec};

    fn desired(hooks: serde_json::Value) -> DesiredRelease {
        let mut stack =
            StackSpec { name: "shop".into(), slipway: serde_json::json!({ "hooks": hooks }), ..Default::default() };
        stack.services.insert("app".into(), ServiceSpec { name: "app".into(), ..Default::default() });
        DesiredRelease::new(ReleaseId(7), &stack, &BTreeMap::new())
    }

    #[test]
    fn hooks_are_commands_or_containers_and_bad_entries_are_named() {
        let d = desired(serde_json::json!({
            "pre-deploy": ["echo hi", ["notify", "--release"], {"service": "app", "command": "migrate --check 'a b'"}],
            "post-deploy": [{"service": "app"}],
            "timeout": "30s",
        }));
        assert_eq!(
            hooks_of(&d, HookPoint::PreDeploy).unwrap(),
            vec![
                Hook::Command(vec!["sh".into(), "-c".into(), "echo hi".into()]),
                Hook::Command(vec!["notify".into(), "--release".into()]),
                Hook::Container {
                    service: "app".into(),
                    command: Some(vec!["migrate".into(), "--check".into(), "a b".into()])
                },
            ]
        );
        assert_eq!(
            hooks_of(&d, HookPoint::PostDeploy).unwrap(),
            vec![Hook::Container { service: "app".into(), command: None }]
        );
        assert_eq!(hook_timeout(&d).unwrap(), Duration::from_secs(30));
        let d = desired(serde_json::json!({"post-deploy": [{"command": "smoke", "on_failure": "rollback"}, "notify"]}));
        let specs = hook_specs(&d, HookPoint::PostDeploy).unwrap();
        assert_eq!(specs[0].hook, Hook::Command(vec!["sh".into(), "-c".into(), "smoke".into()]));
        assert_eq!((specs[0].on_failure, specs[1].on_failure), (OnFailure::Rollback, OnFailure::Stop));
        for (bad, want) in [
            (serde_json::json!({"pre-deploy": [42]}), "pre-deploy[0]"),
            (serde_json::json!({"pre-deploy": ["ok", {"service": "nosuch"}]}), "no service `nosuch`"),
            (serde_json::json!({"post-deploy": [{"service": "app", "image": "x"}]}), "unknown key `image`"),
            (serde_json::json!({"post-deploy": [{"on_failure": "rollback"}]}), "names its `service`"),
            (serde_json::json!({"post-deploy": [{"command": "x", "on_failure": "pause"}]}), "on_failure `pause`"),
            (serde_json::json!({"pre-deploy": "echo"}), "expected a list"),
            (serde_json::json!({"timeout": "soon"}), "hooks.timeout"),
        ] {
            let err = check_hooks(&desired(bad.clone())).unwrap_err();
            assert!(matches!(err, DeployError::Invalid(_)) && err.to_string().contains(want), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn command_hooks_get_the_release_and_a_failure_is_named() {
        // Command hooks never touch the engine.
        let engine = crate::deploy::fake::FakeEngine::default();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("seen");
        let d = desired(serde_json::json!({
            "pre-deploy": [format!("echo $SLIPWAY_PROJECT $SLIPWAY_RELEASE $SLIPWAY_PARENT > {}", out.display())],
            "post-deploy": [["sh", "-c", "echo boom; exit 3"]],
        }));
        let seen = crate::RecordingObserver::new();
        let env = HookEnv::new(&d, "staging", Some(ReleaseId(6)));
        let pre = &hooks_of(&d, HookPoint::PreDeploy).unwrap()[0];
        run_hook(&engine, &d, HookPoint::PreDeploy, 0, pre, &env, &seen).await.unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), "shop 7 6");
        assert_eq!(seen.events().len(), 1);
        assert!(
            matches!(&seen.events()[0], Event::Deploy(DeployEvent::HookDone { ran_on: HookSite::Operator, .. })),
            "a command hook is labelled as run on the operator's machine: {:?}",
            seen.events()
        );
        let container = Hook::Container { service: "app".into(), command: None };
        assert_eq!(container.site(), HookSite::Target);
        let post = &hooks_of(&d, HookPoint::PostDeploy).unwrap()[0];
        let err = run_hook(&engine, &d, HookPoint::PostDeploy, 0, post, &env, &seen).await.unwrap_err();
        assert!(
            matches!(&err, DeployError::HookFailed { hook, output, cause: HookFailure::Exited { code: 3 }, .. }
                if hook == "post-deploy" && output == &["boom"]),
            "{err}"
        );
        assert!(err.to_string().contains("failed: exited with code 3"), "{err}");
        assert_eq!(seen.events().len(), 2);
    }

    #[tokio::test]
    async fn a_command_hook_says_why_it_failed_as_a_typed_cause() {
        let env = HookEnv(Vec::new());
        let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let long = Duration::from_secs(30);
        let run = run_command(&argv(&["sh", "-c", "exit 4"]), &env, long).await.unwrap();
        assert!(matches!(run.failure, Some(HookFailure::Exited { code: 4 })), "{:?}", run.failure);
        let run = run_command(&argv(&["sh", "-c", "kill -9 $$"]), &env, long).await.unwrap();
        assert!(matches!(run.failure, Some(HookFailure::Killed { signal: 9 })), "{:?}", run.failure);
        assert_eq!(run.failure.unwrap().to_string(), "killed by signal 9");
        let run = run_command(&argv(&["sh", "-c", "true"]), &env, long).await.unwrap();
        assert!(run.failure.is_none());
        let Err(e) = run_command(&argv(&["/nonexistent/hook"]), &env, long).await else { panic!("ran") };
        let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(io.map(|io| io.kind()), Some(std::io::ErrorKind::NotFound), "{e:?}");
        let Err(e) = run_command(&argv(&["sleep", "5"]), &env, Duration::from_millis(100)).await else { panic!() };
        assert!(matches!(e, HookFailure::TimedOut { .. }) && e.to_string() == "still running after 100ms", "{e}");
        assert!(matches!(run_command(&[], &env, long).await, Err(HookFailure::EmptyCommand)));
    }
}
