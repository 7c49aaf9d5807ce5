//! `pre-deploy` and `post-deploy` hooks from the stack's top-level `x-slipway.hooks`: commands
//! run on the operator machine with the release in environment variables (`SLIPWAY_PROJECT`,
//! `SLIPWAY_RELEASE`, `SLIPWAY_VERSION`, `SLIPWAY_PARENT`, `SLIPWAY_WHO`, `SLIPWAY_ENV`,
//! `SLIPWAY_IMAGES`). A hook is a list of arguments, or a string run by `sh -c`; each is bounded
//! by `x-slipway.hooks.timeout` (default 10 minutes).

use std::time::Duration;

use async_trait::async_trait;

use super::error::DeployError;
use super::plan::Plan;
use super::release::ReleaseId;
use super::state::DesiredRelease;

/// A hook in Rust, run after the pre-deploy commands and before the first step changes anything
/// (the backup room takes its pre-deploy backup here). An error stops the deploy unchanged.
#[async_trait]
pub trait BeforeChange: Send + Sync {
    /// Called once per deploy or rollback that has steps to run, with the release and its plan.
    async fn before_change(&self, desired: &DesiredRelease, plan: &Plan) -> Result<(), DeployError>;
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
    fn key(self) -> &'static str {
        match self {
            HookPoint::PreDeploy => "pre-deploy",
            HookPoint::PostDeploy => "post-deploy",
        }
    }
}

/// The commands configured for `point`, each as argv.
pub fn hook_commands(desired: &DesiredRelease, point: HookPoint) -> Vec<Vec<String>> {
    let hooks = desired.stack.slipway.get("hooks");
    let list = hooks.and_then(|h| h.get(point.key())).and_then(|v| v.as_array()).cloned().unwrap_or_default();
    list.iter()
        .filter_map(|h| match h {
            serde_json::Value::String(s) => Some(vec!["sh".into(), "-c".into(), s.clone()]),
            serde_json::Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_string)).collect(),
            _ => None,
        })
        .collect()
}

/// Run the hooks of `point` in order; the first failure stops and is returned.
pub async fn run_hooks(
    desired: &DesiredRelease,
    point: HookPoint,
    env: &str,
    parent: Option<ReleaseId>,
) -> Result<(), DeployError> {
    let timeout = desired
        .stack
        .slipway
        .get("hooks")
        .and_then(|h| h.get("timeout"))
        .and_then(|t| t.as_str())
        .and_then(|t| humantime::parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(600));
    let images: Vec<String> = desired.services.iter().map(|(k, v)| format!("{k}={}", v.pinned)).collect();
    for argv in hook_commands(desired, point) {
        let Some((program, args)) = argv.split_first() else { continue };
        let shown = argv.join(" ");
        let fail = |reason: String, output: Vec<String>| DeployError::HookFailed {
            hook: point.key().into(),
            command: shown.clone(),
            reason,
            output,
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env("SLIPWAY_PROJECT", desired.project())
            .env("SLIPWAY_RELEASE", desired.id.to_string())
            .env("SLIPWAY_VERSION", desired.version.clone().unwrap_or_default())
            .env("SLIPWAY_PARENT", parent.map(|p| p.to_string()).unwrap_or_default())
            .env("SLIPWAY_WHO", super::release::who())
            .env("SLIPWAY_ENV", env)
            .env("SLIPWAY_IMAGES", images.join(" "))
            .kill_on_drop(true);
        let out = tokio::time::timeout(timeout, cmd.output())
            .await
            .map_err(|_| fail(format!("still running after {}s", timeout.as_secs()), vec![]))?
            .map_err(|e| fail(e.to_string(), vec![]))?;
        if !out.status.success() {
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            let tail = lines[lines.len().saturating_sub(20)..].to_vec();
            return Err(fail(format!("exited with {}", out.status), tail));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::deploy::ReleaseId;
    use crate::stack::StackSpec;

    fn desired(hooks: serde_json::Value) -> DesiredRelease {
        let stack =
            StackSpec { name: "shop".into(), slipway: serde_json::json!({ "hooks": hooks }), ..Default::default() };
        DesiredRelease::new(ReleaseId(7), &stack, &BTreeMap::new())
    }

    #[tokio::test]
    async fn hooks_get_the_release_and_a_failure_stops() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("seen");
        let d = desired(serde_json::json!({
            "pre-deploy": [format!("echo $SLIPWAY_PROJECT $SLIPWAY_RELEASE $SLIPWAY_PARENT > {}", out.display())],
            "post-deploy": [["sh", "-c", "echo boom; exit 3"]],
        }));
        assert_eq!(hook_commands(&d, HookPoint::PostDeploy), vec![vec!["sh", "-c", "echo boom; exit 3"]]);
        run_hooks(&d, HookPoint::PreDeploy, "staging", Some(ReleaseId(6))).await.unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), "shop 7 6");
        let err = run_hooks(&d, HookPoint::PostDeploy, "staging", None).await.unwrap_err();
        assert!(
            matches!(&err, DeployError::HookFailed { hook, output, .. } if hook == "post-deploy" && output == &["boom"])
        );
    }
}
