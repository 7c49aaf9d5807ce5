//! `Step`: one typed step of a deploy plan, with its one-line description for progress output
//! and `--dry-run`.

use serde::Serialize;

use super::hooks::OnFailure;
use super::release::ReleaseId;
use super::rules::HealthGate;

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Step {
    /// Hold the project's deploy lock (taken before the host's state is read, released at the
    /// end whatever happens).
    Lock {
        /// Project.
        project: String,
    },
    /// The environment's policy (pins, backup before change) is checked before the plan is made.
    Policy {
        /// Environment.
        env: String,
    },
    /// A before-change hook (a database backup): before anything can change data.
    Backup {
        /// Its place among the before-change hooks (from 0).
        index: usize,
        /// What it backs up.
        description: String,
    },
    /// Run a pre-deploy hook (`x-slipway.hooks.pre-deploy[index]`).
    PreDeployHook {
        /// Its place in the list (from 0).
        index: usize,
        /// The hook as shown.
        hook: String,
        /// What its failure does.
        on_failure: OnFailure,
    },
    /// Create a network the stack declares.
    CreateNetwork {
        /// Stack key.
        key: String,
        /// Engine-side name.
        name: String,
    },
    /// Create a named volume the stack declares.
    CreateVolume {
        /// Stack key.
        key: String,
        /// Engine-side name.
        name: String,
    },
    /// Pull an image by digest (through the engine, with its credentials).
    Pull {
        /// The pinned reference.
        image: String,
    },
    /// Remove a stopped container left by an interrupted deploy (its release was never recorded).
    RemoveOrphan {
        /// Engine id.
        id: String,
        /// Name.
        name: String,
    },
    /// Run a one-off task to completion (exit code 0 required).
    RunOneOff {
        /// Service.
        service: String,
    },
    /// Create and start a new container for one replica.
    StartReplica {
        /// Service.
        service: String,
        /// Replica number.
        replica: u32,
    },
    /// Create or update an orchestrated service in place (Swarm): the orchestrator replaces its
    /// tasks in `order`, `parallelism` at a time, health-gated; a spec unchanged is not sent.
    UpdateService {
        /// Service.
        service: String,
        /// The image it runs now (`None`: the service is new).
        from: Option<String>,
        /// The image it will run (pinned by digest).
        to: String,
        /// `start-first` or `stop-first`.
        order: String,
        /// Tasks replaced at once (0: all).
        parallelism: u64,
    },
    /// Wait (bounded) until the new replica is healthy.
    WaitHealthy {
        /// Service.
        service: String,
        /// Replica number.
        replica: u32,
        /// How health is judged.
        gate: HealthGate,
    },
    /// Move traffic to the new replica (a hook for the route room; a no-op without a router).
    RouteSwitch {
        /// Service.
        service: String,
        /// Replica number.
        replica: u32,
    },
    /// Stop an old container with its stop signal and grace period; it is kept (stopped).
    StopOld {
        /// Service.
        service: String,
        /// Engine id.
        id: String,
        /// Name.
        name: String,
    },
    /// Apply one object to a cluster (server-side apply; the Kubernetes target).
    ApplyObject {
        /// The object's kind (`Deployment`, `Service`, ...).
        kind: String,
        /// Its name.
        name: String,
    },
    /// Wait (bounded) until an applied workload has rolled out (a Deployment) or succeeded (a
    /// Job): the Kubernetes target's health gate.
    AwaitRollout {
        /// `Deployment` or `Job`.
        kind: String,
        /// Its name.
        name: String,
    },
    /// Write the release record on the host.
    RecordRelease {
        /// The release id.
        release: ReleaseId,
    },
    /// Run a post-deploy hook (`x-slipway.hooks.post-deploy[index]`) after the release is
    /// recorded.
    PostDeployHook {
        /// Its place in the list (from 0).
        index: usize,
        /// The hook as shown.
        hook: String,
        /// What its failure does.
        on_failure: OnFailure,
    },
    /// Remove containers and images of releases beyond retention.
    Prune {
        /// Releases kept.
        keep: usize,
    },
}

impl Step {
    /// A one-line description for progress output and `--dry-run`.
    pub fn describe(&self) -> String {
        let on_failure = |o: &OnFailure| match o {
            OnFailure::Rollback => " (on failure: roll back)",
            _ => "",
        };
        match self {
            Step::Lock { project } => format!("hold the deploy lock of {project}"),
            Step::Policy { env } => format!("check the {env} policy"),
            Step::Backup { description, .. } => format!("back up: {description}"),
            Step::PreDeployHook { index, hook, on_failure: o } => {
                format!("pre-deploy hook {}: {hook}{}", index + 1, on_failure(o))
            }
            Step::PostDeployHook { index, hook, on_failure: o } => {
                format!("post-deploy hook {}: {hook}{}", index + 1, on_failure(o))
            }
            Step::CreateNetwork { name, .. } => format!("create network {name}"),
            Step::CreateVolume { name, .. } => format!("create volume {name}"),
            Step::Pull { image } => format!("pull {image}"),
            Step::RemoveOrphan { name, .. } => format!("remove orphan container {name}"),
            Step::RunOneOff { service } => format!("run one-off {service}"),
            Step::StartReplica { service, replica } => format!("start {service} replica {replica}"),
            Step::UpdateService { service, from, to, order, parallelism } => {
                let at_once = match parallelism {
                    0 => "all at once".to_string(),
                    n => format!("{n} at a time"),
                };
                match from {
                    Some(from) if from == to => format!("update service {service} ({to}; {order}, {at_once})"),
                    Some(from) => format!("update service {service}: {from} -> {to} ({order}, {at_once})"),
                    None => format!("create service {service}: {to}"),
                }
            }
            Step::WaitHealthy { service, replica, gate } => {
                format!("wait for {service} replica {replica} ({})", gate.describe())
            }
            Step::RouteSwitch { service, replica } => format!("switch traffic of {service} to replica {replica}"),
            Step::StopOld { service, name, .. } => format!("stop old {service} container {name}"),
            Step::ApplyObject { kind, name } => format!("apply {kind} {name}"),
            Step::AwaitRollout { kind, name } if kind == "Job" => format!("wait for Job {name} to succeed"),
            Step::AwaitRollout { kind, name } => format!("wait for {kind} {name} to roll out"),
            Step::RecordRelease { release } => format!("record release {release}"),
            Step::Prune { keep } => format!("prune beyond the last {keep} releases"),
        }
    }

    /// The service the step is about, when it is about one.
    pub fn service(&self) -> Option<&str> {
        match self {
            Step::RunOneOff { service }
            | Step::StartReplica { service, .. }
            | Step::UpdateService { service, .. }
            | Step::WaitHealthy { service, .. }
            | Step::RouteSwitch { service, .. }
            | Step::StopOld { service, .. } => Some(service),
            _ => None,
        }
    }
}
