//! Options of a deploy (`DeployOptions`, a builder) and what a deploy returns (`DeployOutcome`,
//! `Status`).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::hooks::BeforeChange;
use super::labels::Role;
use super::plan::Plan;
use super::release::{Release, ReleaseId};
use super::resolve::{DigestResolver, ImagePolicy};
use crate::route::TrafficRouter;
use crate::stack::PullPolicy;
use tokio_util::sync::CancellationToken;

/// How to deploy. Build with `DeployOptions::default()` and the setters.
#[derive(Clone)]
#[non_exhaustive]
pub struct DeployOptions {
    /// Environment name for the policy (`production` refuses moving tags); default `default`.
    pub env: String,
    /// A version for people (`--tag`).
    pub version: Option<String>,
    /// How long to wait for another deploy's lock (default 0: refuse at once).
    pub lock_wait: Duration,
    /// A lock older than this is stale (default 1 hour).
    pub stale_lock_after: Duration,
    /// Releases whose containers and images are kept (default 5).
    pub retain: usize,
    /// "Still running after" for services without a healthcheck (default 5 s).
    pub min_running: Duration,
    /// Run the stack's pre-/post-deploy hooks (default true).
    pub hooks: bool,
    /// The environment policy (default: the built-in `production` and `staging` policies).
    pub policy: Arc<dyn ImagePolicy>,
    /// A registry resolver for tags, asked before the image's own registry.
    pub resolver: Option<Arc<dyn DigestResolver>>,
    /// A pull policy for every service, over the stack's own `pull_policy` (`--pull`).
    pub pull: Option<PullPolicy>,
    /// The traffic router for routed services when the stack has no `x-slipway.traefik`
    /// (default none: network aliases carry the traffic).
    pub router: Option<Arc<dyn TrafficRouter>>,
    /// Rust hooks run before anything changes (e.g. a database backup), in order.
    pub before_change: Vec<Arc<dyn BeforeChange>>,
    /// Cancels the deploy: the executor stops the current step within its bound, undoes what
    /// was done, records the release as cancelled and releases the lock (default: never).
    pub cancel: CancellationToken,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            env: "default".into(),
            version: None,
            lock_wait: Duration::ZERO,
            stale_lock_after: Duration::from_secs(3600),
            retain: 5,
            min_running: Duration::from_secs(5),
            hooks: true,
            policy: Arc::new(crate::policy::EnvironmentPolicies::builtin()),
            resolver: None,
            pull: None,
            router: None,
            before_change: Vec::new(),
            cancel: CancellationToken::new(),
        }
    }
}

impl std::fmt::Debug for DeployOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployOptions")
            .field("env", &self.env)
            .field("version", &self.version)
            .field("lock_wait", &self.lock_wait)
            .field("retain", &self.retain)
            .field("min_running", &self.min_running)
            .finish_non_exhaustive()
    }
}

impl DeployOptions {
    /// Set the environment.
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = env.into();
        self
    }
    /// Set the version shown in history.
    pub fn version(mut self, v: Option<String>) -> Self {
        self.version = v;
        self
    }
    /// Set the lock wait.
    pub fn lock_wait(mut self, d: Duration) -> Self {
        self.lock_wait = d;
        self
    }
    /// Set the stale-lock age.
    pub fn stale_lock_after(mut self, d: Duration) -> Self {
        self.stale_lock_after = d;
        self
    }
    /// Set the retention.
    pub fn retain(mut self, n: usize) -> Self {
        self.retain = n;
        self
    }
    /// Set the default "still running after" duration.
    pub fn min_running(mut self, d: Duration) -> Self {
        self.min_running = d;
        self
    }
    /// Enable or disable hooks.
    pub fn hooks(mut self, on: bool) -> Self {
        self.hooks = on;
        self
    }
    /// Set the environment policy.
    pub fn policy(mut self, p: Arc<dyn ImagePolicy>) -> Self {
        self.policy = p;
        self
    }
    /// Apply `policy` to every service's image, whatever the stack says (`--pull`).
    pub fn pull(mut self, policy: Option<PullPolicy>) -> Self {
        self.pull = policy;
        self
    }
    /// Set a registry resolver.
    pub fn resolver(mut self, r: Arc<dyn DigestResolver>) -> Self {
        self.resolver = Some(r);
        self
    }
    /// Add a hook run before anything changes.
    pub fn before_change(mut self, hook: Arc<dyn BeforeChange>) -> Self {
        self.before_change.push(hook);
        self
    }
    /// Set the traffic router (used when the stack has no `x-slipway.traefik`).
    pub fn router(mut self, r: Arc<dyn TrafficRouter>) -> Self {
        self.router = Some(r);
        self
    }
    /// Cancel the deploy through `token` (e.g. on SIGINT / KeyboardInterrupt).
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }
    /// The deploy's cancellation token.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }
}

/// What `apply` or `rollback` did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct DeployOutcome {
    /// The plan that was executed (empty = nothing to do).
    pub plan: Plan,
    /// The recorded release (`None` when there was nothing to do).
    pub release: Option<Release>,
}

/// One container in `status`.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ContainerStatus {
    /// Name.
    pub name: String,
    /// Service.
    pub service: String,
    /// Release that created it.
    pub release: Option<ReleaseId>,
    /// Replica.
    pub replica: u32,
    /// Effective role.
    pub role: Role,
    /// Running.
    pub running: bool,
    /// Docker health, when it has a healthcheck.
    pub health: Option<String>,
    /// Image it runs.
    pub image: String,
}

/// What runs for a project.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// Project.
    pub project: String,
    /// The current release.
    pub current: Option<Release>,
    /// slipway's containers of the project.
    pub containers: Vec<ContainerStatus>,
}
