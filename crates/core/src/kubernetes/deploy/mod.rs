//! Deploying rendered manifests to a cluster with kube-rs: [`KubernetesDeployer`] applies a
//! release server-side, runs Jobs and awaits rollouts in dependency order, re-applies the
//! previous release on failure, records releases as Secrets and locks with a Lease.

mod cluster;
mod deployer;
mod lock;
mod records;
mod rollout;

pub use cluster::{Cluster, Diagnosis};
pub use deployer::{parse_stream, KubeDeployOptions, KubernetesDeployer, WorkloadStatus};
pub use lock::DeployLease;
pub use records::{KubeRelease, Record};
pub use rollout::{deployment as deployment_progress, job as job_progress, Progress};
