//! The deployer's pre-change hook for backups: when an environment's policy asks for it
//! (`production` by default), every running PostgreSQL service of the stack is dumped before the
//! deploy changes anything; a failed backup stops the deploy with nothing changed.

use std::sync::Arc;

use async_trait::async_trait;
use bollard::Docker;

use super::project::backup_before_deploy;
use super::retention::RetentionPolicy;
use super::store::BackupStore;
use crate::deploy::{BeforeChange, DeployError, DesiredRelease, Plan};
use crate::events::Observer;
use crate::policy::EnvironmentPolicy;

/// A [`BeforeChange`] hook that backs up the stack's databases into a store.
pub struct BackupBeforeDeploy {
    docker: Docker,
    store: BackupStore,
    retention: RetentionPolicy,
    observer: Arc<dyn Observer>,
}

impl BackupBeforeDeploy {
    /// A hook writing into `store` through `docker`, applying `retention` afterwards.
    pub fn new(docker: Docker, store: BackupStore, retention: RetentionPolicy, observer: Arc<dyn Observer>) -> Self {
        Self { docker, store, retention, observer }
    }

    /// The hook when `policy` asks for backups before deploys, else `None`.
    pub fn for_policy(
        policy: &EnvironmentPolicy,
        docker: Docker,
        store: BackupStore,
        observer: Arc<dyn Observer>,
    ) -> Option<Arc<dyn BeforeChange>> {
        policy
            .backup
            .then(|| Arc::new(Self::new(docker, store, RetentionPolicy::default(), observer)) as Arc<dyn BeforeChange>)
    }
}

#[async_trait]
impl BeforeChange for BackupBeforeDeploy {
    async fn before_change(&self, desired: &DesiredRelease, _plan: &Plan) -> Result<(), DeployError> {
        let release = desired.id.to_string();
        // Databases are recognised by the image as written (`postgres:16`), not by its pin,
        // which for an image known only to this engine is a bare image id.
        let mut stack = desired.stack.clone();
        for (name, service) in &desired.services {
            if let Some(s) = stack.services.get_mut(name) {
                s.image = Some(service.image.clone());
            }
        }
        backup_before_deploy(&self.docker, &self.store, &stack, Some(&release), self.retention, self.observer.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| DeployError::HookFailed {
                hook: "pre-deploy backup".into(),
                command: format!("backup of {} into {}", desired.stack.name, self.store.dir().display()),
                reason: e.to_string(),
                output: Vec::new(),
            })
    }

    fn describe(&self) -> String {
        format!("PostgreSQL services of the stack into {}", self.store.dir().display())
    }
}
