//! The deploy lock of a project as a `coordination.k8s.io/v1` Lease named
//! `slipway-<project>`: created when free; refused while another holder's lease is unexpired;
//! taken over when it expired (its holder died); deleted on release.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};

use super::super::error::KubernetesError;
use super::super::names::suffixed;
use super::cluster::Cluster;

/// A held lock; [`DeployLease::release`] gives it back.
pub struct DeployLease {
    api: Api<Lease>,
    name: String,
}

fn api_err(action: String) -> impl FnOnce(kube::Error) -> KubernetesError {
    move |source| KubernetesError::Api { action, source: Box::new(source) }
}

impl DeployLease {
    /// The Lease name of a project.
    pub fn name_of(project: &str) -> String {
        suffixed("slipway", &super::super::names::dns_label(project))
    }

    /// Take the lock for `holder`, valid for `ttl` (a crashed deploy frees it after that).
    pub async fn take(cluster: &Cluster, project: &str, holder: &str, ttl: Duration) -> Result<Self, KubernetesError> {
        let api: Api<Lease> = Api::namespaced(cluster.client().clone(), cluster.namespace());
        let name = Self::name_of(project);
        let now = MicroTime(Timestamp::now());
        let mut lease = Lease {
            metadata: kube::api::ObjectMeta { name: Some(name.clone()), ..Default::default() },
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.to_string()),
                lease_duration_seconds: Some(i32::try_from(ttl.as_secs()).unwrap_or(i32::MAX)),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                ..Default::default()
            }),
        };
        match api.create(&PostParams::default(), &lease).await {
            Ok(_) => return Ok(DeployLease { api, name }),
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(api_err(format!("create Lease {name}"))(e)),
        }
        let existing = api.get(&name).await.map_err(api_err(format!("read Lease {name}")))?;
        let spec = existing.spec.clone().unwrap_or_default();
        let expires =
            spec.renew_time.as_ref().map(|t| t.0.as_second() + i64::from(spec.lease_duration_seconds.unwrap_or(0)));
        if expires.is_some_and(|e| e > Timestamp::now().as_second()) {
            return Err(KubernetesError::LockHeld {
                project: project.to_string(),
                holder: spec.holder_identity.unwrap_or_else(|| "unknown".into()),
            });
        }
        lease.metadata.resource_version = existing.metadata.resource_version;
        api.replace(&name, &PostParams::default(), &lease).await.map_err(api_err(format!("take over Lease {name}")))?;
        Ok(DeployLease { api, name })
    }

    /// Give the lock back.
    pub async fn release(self) -> Result<(), KubernetesError> {
        self.api
            .delete(&self.name, &DeleteParams::default())
            .await
            .map_err(api_err(format!("delete Lease {}", self.name)))?;
        Ok(())
    }
}
