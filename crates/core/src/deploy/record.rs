//! Where release history lives on the host: one empty, labelled Docker volume per release,
//! `PROJECT-slipway-release-ID`, whose `dev.slipway.record` label holds the release record as JSON.
//!
//! Why a volume: it is readable and writable through the engine API alone (any operator machine
//! with access to the engine sees the same history), it needs no image and no container (a
//! marker container needs an image that may be pruned), it survives container pruning, and
//! `docker volume ls --filter label=dev.slipway.project=P` lists it. Labels cannot change after
//! creation, so a record is written once with its final outcome (rewriting = remove + create).
//!
//! The label holds no environment value (see `Release`'s serialisation): the values go to a
//! root-only file inside the same volume (`env_store`), read back by [`VolumeRecords::unseal`]
//! when a rollback deploys the release again.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptions, RemoveVolumeOptions};
use bollard::Docker;

use super::error::DeployError;
use super::failure::RecordProblem;
use super::labels;
use super::release::Release;

/// Release records of projects on one engine.
#[derive(Debug, Clone)]
pub struct VolumeRecords {
    docker: Docker,
}

impl VolumeRecords {
    /// Records on this engine.
    pub fn new(docker: Docker) -> Self {
        Self { docker }
    }

    /// Every record of `project`, oldest first.
    pub async fn list(&self, project: &str) -> Result<Vec<Release>, DeployError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![labels::filter(labels::PROJECT, project), labels::RECORD.to_string()],
        )]);
        let resp = self
            .docker
            .list_volumes(Some(ListVolumesOptions { filters: Some(filters) }))
            .await
            .map_err(|e| DeployError::engine("list release records of", project, e))?;
        let mut out = Vec::new();
        for v in resp.volumes.unwrap_or_default() {
            let Some(json) = v.labels.get(labels::RECORD) else { continue };
            match serde_json::from_str::<Release>(json) {
                Ok(r) => out.push(r),
                Err(e) => tracing::warn!(volume = %v.name, error = %e, "unreadable release record skipped"),
            }
        }
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// Write (or overwrite) a record: the label without environment values, the values in the
    /// volume's root-only file.
    pub async fn write(&self, release: &Release) -> Result<(), DeployError> {
        let name = labels::record_volume_name(&release.project, &release.id.to_string());
        if release.env_sha256.is_some() {
            // A record read back from the host without its values: rewriting it would lose them.
            return Err(DeployError::Record {
                project: release.project.clone(),
                problem: RecordProblem::ReadWithoutValues { release: release.id.to_string() },
            });
        }
        let (_, values) = super::env_store::seal(&release.stack);
        let json = serde_json::to_string(release).map_err(|source| DeployError::RecordJson {
            project: release.project.clone(),
            what: format!("release {}", release.id),
            source,
        })?;
        // Labels are immutable: drop an older version of this record first (it is never mounted).
        if self.docker.inspect_volume(&name).await.is_ok() {
            self.docker
                .remove_volume(&name, Some(RemoveVolumeOptions { force: true }))
                .await
                .map_err(|e| DeployError::engine("replace release record", &name, e))?;
        }
        let labels = HashMap::from([
            (labels::PROJECT.to_string(), release.project.clone()),
            (labels::RELEASE.to_string(), release.id.to_string()),
            (labels::RECORD.to_string(), json),
        ]);
        self.docker
            .create_volume(VolumeCreateRequest { name: Some(name.clone()), labels: Some(labels), ..Default::default() })
            .await
            .map_err(|e| DeployError::engine("write release record", &name, e))?;
        if !values.is_empty() {
            if let Err(e) = super::env_store::write(&self.docker, &release.project, &name, &values).await {
                // A record whose values are missing cannot be rolled back to: leave none.
                let _ = self.docker.remove_volume(&name, Some(RemoveVolumeOptions { force: true })).await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// `release` with its environment values put back from the record volume's file (checked
    /// against the record's `env_sha256`); a record without `env_sha256` is returned as it is.
    pub async fn unseal(&self, release: &Release) -> Result<Release, DeployError> {
        let Some(expected) = &release.env_sha256 else { return Ok(release.clone()) };
        let name = labels::record_volume_name(&release.project, &release.id.to_string());
        let values = super::env_store::read(&self.docker, &release.project, &name, expected).await?;
        let mut out = release.clone();
        super::env_store::unseal(&mut out.stack, &values);
        out.env_sha256 = None;
        Ok(out)
    }
}
