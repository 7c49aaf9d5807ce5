//! Policy in core: what an environment requires of every deploy and rollback (a database backup
//! before the first change, and whether a caller may skip it), decided here from the
//! `EnvironmentPolicy` whichever face starts the deploy (Rust, CLI, Python). The faces only pass
//! the caller's explicit choice ([`BackupChoice`]); the image pins are checked by `resolve.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use bollard::Docker;

use super::backup_step::BackupBeforeDeploy;
use super::error::DeployError;
use super::hooks::BeforeChange;
use super::options::DeployOptions;
use super::release::Release;
use crate::backup::{default_backup_dir, BackupStore, RetentionPolicy};

/// What an environment requires of a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Requirements {
    /// Back up the stack's databases before anything changes.
    pub backup: bool,
    /// A caller may skip that backup explicitly (`--no-backup`, `backup=False`).
    pub allow_no_backup: bool,
}

impl Default for Requirements {
    /// No requirement (the `default` environment).
    fn default() -> Self {
        Self { backup: false, allow_no_backup: true }
    }
}

impl Requirements {
    /// The requirements of one environment policy.
    pub fn of(policy: &crate::policy::EnvironmentPolicy) -> Self {
        Self { backup: policy.backup, allow_no_backup: policy.allow_no_backup }
    }
}

/// The caller's choice about the pre-change backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BackupChoice {
    /// As the environment's policy says (the default).
    #[default]
    AsPolicy,
    /// Skip it (`--no-backup`, `backup=False`); refused when the policy does not allow it.
    Skip,
    /// Take one even when the policy does not ask for it (`--backup`, `backup=True`).
    Always,
}

/// Whether this deploy takes the backup: pure, from the requirements and the caller's choice.
/// Skipping a backup the policy requires and forbids skipping is a policy refusal.
pub fn takes_backup(env: &str, req: Requirements, choice: BackupChoice) -> Result<bool, DeployError> {
    match choice {
        BackupChoice::Always => Ok(true),
        BackupChoice::AsPolicy => Ok(req.backup),
        BackupChoice::Skip if req.backup && !req.allow_no_backup => {
            Err(DeployError::BackupRequired { env: env.into() })
        }
        BackupChoice::Skip => Ok(false),
    }
}

/// The decision for `opts` (its policy's requirements for its environment and its choice).
pub fn backup_decision(opts: &DeployOptions) -> Result<bool, DeployError> {
    let req = opts.policy.requirements(&opts.env);
    takes_backup(&opts.env, req, opts.backup)
}

/// A rollback's pins: the images of `release` as it wrote them, judged by `opts`' environment
/// policy exactly as a deploy of them would be.
pub fn check_release_policy(release: &Release, opts: &DeployOptions) -> Result<(), DeployError> {
    for (name, svc) in &release.services {
        let image = crate::ImageRef::parse(&svc.image).map_err(|source| DeployError::InvalidImage {
            service: name.clone(),
            image: svc.image.clone(),
            source,
        })?;
        opts.policy.check(&opts.env, &image).map_err(|source| DeployError::PolicyRefused {
            service: name.clone(),
            image: svc.image.clone(),
            env: opts.env.clone(),
            source: Box::new(source),
        })?;
    }
    Ok(())
}

/// `DeployError::CancelledBeforeChange` when `opts`' token was cancelled: for the points before the
/// executor's first step, where stopping needs no undo; `outcome` says what the host has.
pub fn check_cancelled(opts: &DeployOptions, project: &str, during: &str, outcome: &str) -> Result<(), DeployError> {
    if !opts.cancel_token().is_cancelled() {
        return Ok(());
    }
    Err(DeployError::CancelledBeforeChange {
        project: project.to_string(),
        during: during.to_string(),
        outcome: outcome.to_string(),
    })
}

/// Where this deploy's backups go.
pub fn backup_dir(opts: &DeployOptions) -> PathBuf {
    opts.backup_dir.clone().unwrap_or_else(default_backup_dir)
}

/// The before-change hooks of a deploy or rollback, in order: the backup the environment's policy
/// asks for (decided here, for every face), then the caller's own. The plan shows each as a
/// `Backup` step and the executor runs them before anything that can change data; a failed
/// backup stops the deploy with nothing changed.
pub fn before_change_hooks(docker: &Docker, opts: &DeployOptions) -> Result<Vec<Arc<dyn BeforeChange>>, DeployError> {
    let mut hooks: Vec<Arc<dyn BeforeChange>> = Vec::new();
    if backup_decision(opts)? {
        let store = BackupStore::new(backup_dir(opts));
        // remote room: with no directory asked for, the backup is also kept on the engine's host.
        let hook = BackupBeforeDeploy::new(docker.clone(), store, RetentionPolicy::default())
            .on_host(opts.backup_dir.is_none());
        hooks.push(Arc::new(hook));
    }
    hooks.extend(opts.before_change.iter().cloned());
    Ok(hooks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{production, EnvironmentPolicies};

    #[test]
    fn backup_decision_follows_the_policy_and_the_explicit_choice() {
        let prod = Requirements::of(&production());
        assert_eq!(prod, Requirements { backup: true, allow_no_backup: true });
        assert!(takes_backup("production", prod, BackupChoice::AsPolicy).unwrap());
        assert!(!takes_backup("production", prod, BackupChoice::Skip).unwrap());
        let strict = Requirements::of(&production().allow_no_backup(false));
        let err = takes_backup("production", strict, BackupChoice::Skip).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::PolicyRefused);
        assert!(err.to_string().contains("production"), "{err}");
        let none = Requirements::default();
        assert!(!takes_backup("default", none, BackupChoice::AsPolicy).unwrap());
        assert!(takes_backup("default", none, BackupChoice::Always).unwrap());
    }

    #[test]
    fn every_face_gets_the_requirements_through_the_options() {
        use crate::deploy::ImagePolicy;
        let policies = EnvironmentPolicies::builtin();
        assert!(policies.requirements("production").backup);
        assert!(!policies.requirements("staging").backup);
        assert!(!policies.requirements("default").backup);
        // The default options carry the built-in policies: production takes the backup.
        let opts = DeployOptions::default().env("production");
        assert!(backup_decision(&opts).unwrap());
        assert!(!backup_decision(&opts.clone().backup(BackupChoice::Skip)).unwrap());
        assert!(!backup_decision(&DeployOptions::default()).unwrap());
    }
}
