//! `DeployRequest`: the one request every face fills (CLI flags, Python keyword arguments, Rust
//! callers), so that a name means the same thing everywhere: `env`, `tag` (`IMAGE_TAG` for
//! interpolation *and* the release's version), `lock_wait`, `lease`, `retain`, `backup`, `backup_dir`,
//! `policy_file`, `pull`. Deploys and rollbacks take the same request.

use std::path::PathBuf;
use std::time::Duration;

use super::options::DeployOptions;
use super::requirements::BackupChoice;
use crate::compose::{LoadOptions, LoadedStack};
use crate::stack::PullPolicy;

/// What a caller asks of a deploy or a rollback, before it becomes [`DeployOptions`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeployRequest {
    /// Environment whose policy applies (pins, backup); default `default`.
    pub env: String,
    /// Image tag: `IMAGE_TAG` for interpolation and the release's version.
    pub tag: Option<String>,
    /// How long to wait for another deploy's lock.
    pub lock_wait: Duration,
    /// The deploy lock's lease (renewed while the deploy runs; a killed deploy's lock is taken
    /// over one lease plus a margin later).
    pub lease: Duration,
    /// Releases whose containers and images are kept.
    pub retain: usize,
    /// The pre-change backup: as the policy says, skipped or forced.
    pub backup: BackupChoice,
    /// Where pre-change backups go.
    pub backup_dir: Option<PathBuf>,
    /// Extra environment policies (TOML or JSON) merged over the built-in ones.
    pub policy_file: Option<PathBuf>,
    /// A pull policy over every service's own.
    pub pull: Option<PullPolicy>,
}

impl Default for DeployRequest {
    fn default() -> Self {
        Self {
            env: "default".into(),
            tag: None,
            lock_wait: Duration::ZERO,
            lease: Duration::from_secs(60),
            retain: 5,
            backup: BackupChoice::AsPolicy,
            backup_dir: None,
            policy_file: None,
            pull: None,
        }
    }
}

impl DeployRequest {
    /// The deploy options this request means (reads the policy file when one is named).
    pub fn options(&self) -> Result<DeployOptions, crate::Error> {
        let policies = crate::policy::EnvironmentPolicies::builtin_with_file(self.policy_file.as_deref())?;
        Ok(DeployOptions::default()
            .env(self.env.clone())
            .tag(self.tag.clone())
            .lock_wait(self.lock_wait)
            .lease(self.lease)
            .retain(self.retain)
            .backup(self.backup)
            .backup_dir(self.backup_dir.clone())
            .pull(self.pull)
            .policy(std::sync::Arc::new(policies)))
    }

    /// `base` with this request's tag as `IMAGE_TAG`.
    pub fn load_options(&self, base: LoadOptions) -> LoadOptions {
        with_image_tag(base, self.tag.as_deref())
    }
}

/// `opts` with `IMAGE_TAG=tag` over its variables (the process environment when it names none).
pub fn with_image_tag(opts: LoadOptions, tag: Option<&str>) -> LoadOptions {
    let Some(tag) = tag else { return opts };
    let mut env = opts.environment.clone().unwrap_or_else(|| std::env::vars().collect());
    env.insert("IMAGE_TAG".into(), tag.to_string());
    opts.environment(env)
}

/// Load a compose project for a deploy tagged `tag` (see [`with_image_tag`]).
pub fn load_for_deploy(opts: &LoadOptions, tag: Option<&str>) -> Result<LoadedStack, crate::Error> {
    Ok(crate::compose::load(&with_image_tag(opts.clone(), tag))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_image_tag_and_the_version() {
        let req = DeployRequest { tag: Some("v1.4.2".into()), env: "production".into(), ..Default::default() };
        let opts = req.options().unwrap();
        assert_eq!(opts.version.as_deref(), Some("v1.4.2"));
        assert_eq!(opts.env, "production");
        let base = LoadOptions::new(["compose.yaml"]).environment([("A".to_string(), "1".to_string())].into());
        let env = req.load_options(base).environment.unwrap();
        assert_eq!(env.get("IMAGE_TAG").map(String::as_str), Some("v1.4.2"));
        assert_eq!(env.get("A").map(String::as_str), Some("1"));
        assert!(with_image_tag(LoadOptions::default(), None).environment.is_none());
    }

    #[test]
    fn a_bad_policy_file_is_bad_input() {
        let req = DeployRequest { policy_file: Some("/nonexistent/policy.toml".into()), ..Default::default() };
        let err = req.options().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{err}");
    }
}
