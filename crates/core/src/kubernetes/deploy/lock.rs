//! The deploy lock of a project as a `coordination.k8s.io/v1` Lease named `slipway-<project>`:
//! created when free; while another holder's lease is unexpired the deploy waits up to
//! `lock_wait` (then refuses); an expired lease (its holder died) is taken over with the
//! resourceVersion read, so two takers cannot both win. The holder renews `renewTime` every
//! quarter of the lease while it runs, and deletes the Lease on release.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};

use super::super::error::KubernetesError;
use super::super::names::suffixed;
use super::cluster::Cluster;
use crate::deploy::{renew_every, DeployEvent};
use crate::events::{Event, Observer};
use tokio_util::sync::CancellationToken;

/// A held lock; [`DeployLease::release`] gives it back. [`DeployLease::lost`] is cancelled when
/// the holder can no longer prove it holds it (renewals failed until less than a quarter of the
/// lease was left, or the Lease is gone or held by someone else): the deploy then stops and undoes.
pub struct DeployLease {
    api: Api<Lease>,
    name: String,
    stop: CancellationToken,
    lost: CancellationToken,
    renewal: tokio::task::JoinHandle<()>,
}

fn api_err(action: String) -> impl FnOnce(kube::Error) -> KubernetesError {
    move |source| KubernetesError::Api { action, source: Box::new(source) }
}

fn spec(holder: &str, ttl: Duration) -> LeaseSpec {
    let now = MicroTime(Timestamp::now());
    LeaseSpec {
        holder_identity: Some(holder.to_string()),
        lease_duration_seconds: Some(i32::try_from(ttl.as_secs().max(1)).unwrap_or(i32::MAX)),
        acquire_time: Some(now.clone()),
        renew_time: Some(now),
        ..Default::default()
    }
}

/// `Some(holder)` while `lease` is held by someone and unexpired.
fn live_holder(lease: &Lease) -> Option<String> {
    let spec = lease.spec.clone().unwrap_or_default();
    let expires =
        spec.renew_time.as_ref().map(|t| t.0.as_second() + i64::from(spec.lease_duration_seconds.unwrap_or(0)))?;
    (expires > Timestamp::now().as_second()).then(|| spec.holder_identity.unwrap_or_else(|| "unknown".into()))
}

impl DeployLease {
    /// The Lease name of a project.
    pub fn name_of(project: &str) -> String {
        suffixed("slipway", &super::super::names::dns_label(project))
    }

    /// Take the lock for `holder`, valid for `ttl` and renewed every `ttl / 4`; wait up to
    /// `wait` for another holder (polling every second), reporting `LockWaiting` once.
    pub async fn take(
        cluster: &Cluster,
        project: &str,
        holder: &str,
        ttl: Duration,
        wait: Duration,
        observer: &dyn Observer,
    ) -> Result<Self, KubernetesError> {
        let api: Api<Lease> = Api::namespaced(cluster.client().clone(), cluster.namespace());
        let name = Self::name_of(project);
        let give_up = tokio::time::Instant::now() + wait;
        let mut reported = false;
        loop {
            match Self::try_take(&api, &name, holder, ttl).await? {
                None => break,
                Some(other) if tokio::time::Instant::now() >= give_up => {
                    return Err(KubernetesError::LockHeld { project: project.to_string(), holder: other })
                }
                Some(other) => {
                    if !reported {
                        observer.event(&Event::Deploy(DeployEvent::LockWaiting { holder: other }));
                        reported = true;
                    }
                    let left = give_up.saturating_duration_since(tokio::time::Instant::now());
                    tokio::time::sleep(left.min(Duration::from_secs(1))).await;
                }
            }
        }
        let (stop, lost) = (CancellationToken::new(), CancellationToken::new());
        let renewal =
            tokio::spawn(renew(api.clone(), name.clone(), holder.to_string(), ttl, stop.clone(), lost.clone()));
        Ok(DeployLease { api, name, stop, lost, renewal })
    }

    /// Cancelled when this holder can no longer prove it holds the lock.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// One attempt: `None` when taken, `Some(holder)` while another holds it.
    async fn try_take(
        api: &Api<Lease>,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<String>, KubernetesError> {
        let mut lease = Lease {
            metadata: kube::api::ObjectMeta { name: Some(name.to_string()), ..Default::default() },
            spec: Some(spec(holder, ttl)),
        };
        match api.create(&PostParams::default(), &lease).await {
            Ok(_) => return Ok(None),
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(api_err(format!("create Lease {name}"))(e)),
        }
        let existing = match api.get(name).await {
            Ok(l) => l,
            // Released between our create and read: try again.
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Some("(released just now)".into())),
            Err(e) => return Err(api_err(format!("read Lease {name}"))(e)),
        };
        if let Some(other) = live_holder(&existing) {
            return Ok(Some(other));
        }
        lease.metadata.resource_version = existing.metadata.resource_version;
        match api.replace(name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(None),
            // Someone else took it over first (our resourceVersion is stale).
            Err(kube::Error::Api(s)) if s.code == 409 => {
                Ok(Some("another deploy (took the expired lease first)".into()))
            }
            Err(e) => Err(api_err(format!("take over Lease {name}"))(e)),
        }
    }

    /// Give the lock back.
    pub async fn release(self) -> Result<(), KubernetesError> {
        self.stop.cancel();
        self.renewal.abort();
        self.api
            .delete(&self.name, &DeleteParams::default())
            .await
            .map_err(api_err(format!("delete Lease {}", self.name)))?;
        Ok(())
    }
}

/// Why one renewal did not take.
#[derive(Debug)]
enum Renewal {
    /// The Lease is gone or another holder has it: the lock is lost at once.
    NotOurs(String),
    /// The API call failed (retried until the lease is nearly out).
    Failed(kube::Error),
}

impl std::fmt::Display for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Renewal::NotOurs(why) => f.write_str(why),
            Renewal::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// Renew the lease every quarter of `ttl` while it is ours, through the shared
/// `deploy::lock::renew_every` (the Docker host and Swarm locks renew the same way): `lost` is
/// cancelled when the Lease is gone or held by another, or renewals kept failing until less than
/// a quarter of the lease was left.
async fn renew(
    api: Api<Lease>,
    name: String,
    holder: String,
    ttl: Duration,
    stop: CancellationToken,
    lost: CancellationToken,
) {
    let ttl = ttl.max(Duration::from_secs(1));
    let write = |_expires: chrono::DateTime<chrono::Utc>| {
        let (api, name, holder) = (api.clone(), name.clone(), holder.clone());
        async move {
            let mut lease = match api.get(&name).await {
                Ok(l) => l,
                Err(kube::Error::Api(s)) if s.code == 404 => return Err(Renewal::NotOurs("the Lease is gone".into())),
                Err(e) => return Err(Renewal::Failed(e)),
            };
            let now_holder = lease.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap_or_default();
            if now_holder != holder {
                return Err(Renewal::NotOurs(format!("the Lease is held by {now_holder}")));
            }
            if let Some(s) = lease.spec.as_mut() {
                s.renew_time = Some(MicroTime(Timestamp::now()));
            }
            api.replace(&name, &PostParams::default(), &lease).await.map(drop).map_err(Renewal::Failed)
        }
    };
    renew_every(ttl, stop, lost, &name, write, |e: &Renewal| matches!(e, Renewal::NotOurs(_))).await
}
