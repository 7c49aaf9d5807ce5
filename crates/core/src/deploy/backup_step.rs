//! The deployer's pre-change hook for backups (deploy room, over the backup room's functions):
//! when an environment's policy asks for it (`production` by default), every running PostgreSQL
//! service of the stack is dumped before the deploy changes anything; a failed backup stops the
//! deploy with nothing changed. It lives here, not in `backup/`, so the backup room does not
//! depend on the deploy room (no module circle): `backup` knows stacks and engines only.

use std::sync::Arc;

use async_trait::async_trait;
use bollard::Docker;

use super::error::DeployError;
use super::event::DeployEvent;
use super::hooks::BeforeChange;
use super::plan::Plan;
use super::state::DesiredRelease;
use crate::backup::{backup_before_deploy, host_store, BackupStore, RetentionPolicy};
use crate::events::Observer;
use crate::policy::EnvironmentPolicy;

/// A [`BeforeChange`] hook that backs up the stack's databases into a store. The deployer adds it
/// itself when the environment's policy asks for a backup (`deploy::requirements`), so every face
/// gets it; Rust callers may also add one by hand.
pub struct BackupBeforeDeploy {
    docker: Docker,
    store: BackupStore,
    retention: RetentionPolicy,
    on_host: bool,
}

impl BackupBeforeDeploy {
    /// A hook writing into `store` through `docker`, applying `retention` afterwards.
    pub fn new(docker: Docker, store: BackupStore, retention: RetentionPolicy) -> Self {
        Self { docker, store, retention, on_host: false }
    }

    /// Also keep every backup in the host's backup volume (`host_store`), next to what it
    /// protects: what the deployer does when no backup directory was asked for, so a backup taken
    /// from a throwaway CI runner survives it.
    pub fn on_host(mut self, on: bool) -> Self {
        self.on_host = on;
        self
    }

    /// The hook when `policy` asks for backups before deploys, else `None`.
    pub fn for_policy(policy: &EnvironmentPolicy, docker: Docker, store: BackupStore) -> Option<Arc<dyn BeforeChange>> {
        policy.backup.then(|| Arc::new(Self::new(docker, store, RetentionPolicy::default())) as Arc<dyn BeforeChange>)
    }
}

#[async_trait]
impl BeforeChange for BackupBeforeDeploy {
    async fn before_change(
        &self,
        desired: &DesiredRelease,
        _plan: &Plan,
        observer: &dyn Observer,
    ) -> Result<(), DeployError> {
        let release = desired.id.to_string();
        // Databases are recognised by the image as written (`postgres:16`), not by its pin.
        let stack = desired.written_stack();
        let failed = |source| DeployError::Backup { project: desired.project().to_string(), source };
        let taken = backup_before_deploy(&self.docker, &self.store, &stack, Some(&release), self.retention, observer)
            .await
            .map_err(failed)?;
        if self.on_host {
            for (_, manifest) in &taken {
                let name = host_store::keep_on_host(&self.docker, manifest).await.map_err(failed)?;
                let text =
                    format!("backup kept on the engine's host as {name} (and in {})", self.store.dir().display());
                observer.event(&crate::events::Event::Deploy(DeployEvent::Message { text }));
            }
            // The same retention on the host as in the directory, for this project's backups.
            let removed =
                host_store::prune_on_host(&self.docker, self.retention, chrono::Utc::now(), Some(desired.project()))
                    .await
                    .map_err(failed)?;
            for b in removed {
                let text = format!("backup {} removed from the engine's host (retention)", b.name);
                observer.event(&crate::events::Event::Deploy(DeployEvent::Message { text }));
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let dir = self.store.dir().display();
        match self.on_host {
            true => {
                format!("PostgreSQL services of the stack into {dir} and a volume on the engine's host")
            }
            false => format!("PostgreSQL services of the stack into {dir}"),
        }
    }
}
