//! Deploying rendered manifests to a cluster with kube-rs: [`KubernetesDeployer`] is the deploy
//! room's `Deployer` for one namespace. It applies a release server-side, runs Jobs and awaits
//! rollouts in dependency order (`release`), re-applies the previous release on failure,
//! records releases as Secrets (`records`), locks with a renewed Lease (`lock`), takes the
//! policy's pre-change backup as Jobs (`backup`) and reports workloads and pods (`status`).

mod backup;
mod cluster;
mod deployer;
mod lock;
mod records;
mod release;
mod rollout;
mod status;

pub use backup::{backup_objects, claim_name as backup_claim_name, ClusterBackup};
pub use cluster::{Cluster, Diagnosis};
pub use deployer::{parse_stream, KubeDeployOptions, KubernetesDeployer};
pub use lock::DeployLease;
pub use records::{record_name, Record, RECORD_TYPE};
pub use release::{apply_order, steps as apply_steps};
pub use rollout::{deployment as deployment_progress, job as job_progress, Progress};
pub use status::WorkloadStatus;
