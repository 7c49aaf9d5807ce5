//! Options of a deploy (`DeployOptions`, a builder) and what a deploy returns (`DeployOutcome`,
//! `Status`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::hooks::BeforeChange;
use super::labels::Role;
use super::plan::Plan;
use super::release::{Release, ReleaseId};
use super::requirements::BackupChoice;
use super::resolve::{DigestResolver, ImagePolicy};
use crate::route::TrafficRouter;
use crate::stack::PullPolicy;

/// How to deploy. Build with `DeployOptions::default()` and the setters.
#[derive(Clone)]
#[non_exhaustive]
pub struct DeployOptions {
    /// Environment name for the policy (`production` refuses moving tags); default `default`.
    pub env: String,
    /// A version for people (`--tag`, `tag=`; see [`DeployOptions::tag`]).
    pub version: Option<String>,
    /// How long to wait for another deploy's lock (default 0: refuse at once).
    pub lock_wait: Duration,
    /// How long the deploy lock's lease lasts without a renewal (default 60 s). The running
    /// deploy renews it every quarter of this; any machine judges it expired after this plus a
    /// margin for clock skew (see `lock.rs`).
    pub lease: Duration,
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
    /// The managed proxy's container (`slipway proxy up`) routed services go through when the
    /// stack names no `x-slipway.traefik` and no [`DeployOptions::router`] is given; the stack's
    /// top-level `x-slipway.proxy` overrides it (default `slipway-proxy`).
    pub proxy: String,
    /// Rust hooks run before anything changes (e.g. a database backup), in order.
    pub before_change: Vec<Arc<dyn BeforeChange>>,
    /// The caller's choice about the pre-change backup the environment's policy asks for.
    pub backup: BackupChoice,
    /// Where pre-change backups go (default: `backup::default_backup_dir()`).
    pub backup_dir: Option<PathBuf>,
    /// Cancels the deploy (Ctrl-C, SIGTERM, KeyboardInterrupt): the current step stops within its
    /// bound, the undo runs, the release is recorded as cancelled and the lock is released.
    pub cancel: CancellationToken,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            env: "default".into(),
            version: None,
            lock_wait: Duration::ZERO,
            lease: Duration::from_secs(60),
            retain: 5,
            min_running: Duration::from_secs(5),
            hooks: true,
            policy: Arc::new(crate::policy::EnvironmentPolicies::builtin()),
            resolver: None,
            pull: None,
            router: None,
            proxy: crate::route::traefik::MANAGED_DEFAULT_NAME.to_string(),
            before_change: Vec::new(),
            backup: BackupChoice::AsPolicy,
            backup_dir: None,
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
            .field("lease", &self.lease)
            .field("backup", &self.backup)
            .field("cancelled", &self.cancel.is_cancelled())
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
    /// The image tag of this deploy (`--tag`, `tag=`): the release's version. The same tag sets
    /// `IMAGE_TAG` for interpolation when the stack is loaded with [`super::load_for_deploy`].
    pub fn tag(mut self, tag: Option<String>) -> Self {
        self.version = tag;
        self
    }
    /// Set the deploy lock's lease (renewed every quarter of it while the deploy runs).
    pub fn lease(mut self, d: Duration) -> Self {
        self.lease = d;
        self
    }
    /// Skip, force or leave to the policy the pre-change backup.
    pub fn backup(mut self, choice: BackupChoice) -> Self {
        self.backup = choice;
        self
    }
    /// Set where pre-change backups go.
    pub fn backup_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.backup_dir = dir;
        self
    }
    /// The managed proxy's container name (default `slipway-proxy`).
    pub fn proxy(mut self, name: impl Into<String>) -> Self {
        self.proxy = name.into();
        self
    }
    /// Cancel this deploy when `token` is cancelled.
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }
    /// The token that cancels this deploy.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
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
