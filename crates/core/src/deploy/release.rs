//! `Release`: one deploy of a project, as recorded on the host: id, version, per-service pinned
//! images and config hashes, the resolved stack (so a rollback redeploys the same config), who,
//! when, outcome and parent. Also the config hash of a service.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::stack::{ServiceSpec, StackSpec};

/// A release id: a number, sequential per project (1, 2, 3, ...), so `rollback --to 3` is easy to type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReleaseId(pub u64);

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for ReleaseId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().trim_start_matches('r').parse().map(ReleaseId)
    }
}

/// How a release ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReleaseOutcome {
    /// Every step succeeded; this release is (or was) the current one.
    Succeeded,
    /// A step failed; the previous release was put back in service.
    Failed {
        /// The service that failed (empty when the failure was not a service's).
        service: String,
        /// The step that failed.
        step: String,
        /// Why.
        reason: String,
    },
    /// The caller cancelled it (Ctrl-C, SIGTERM, KeyboardInterrupt, a cancelled token); what was
    /// done was undone as for a failure.
    Cancelled {
        /// The service whose step was running (empty when none was).
        service: String,
        /// The step that was running.
        step: String,
    },
    /// Some replicas failed and `deploy.update_config.failure_action` (`pause` or `continue`)
    /// kept the rest: each failed replica was put back to its previous container, the others run
    /// this release. A later deploy finishes it; `slipway rollback` goes back to the release
    /// before it.
    PartlyDeployed {
        /// `pause` (the rollout stopped at the first failure) or `continue` (it went on).
        action: String,
        /// What failed, in the order it failed.
        failures: Vec<ReplicaFailure>,
    },
}

/// One replica (or one-off) that failed in a partly deployed release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReplicaFailure {
    /// The service.
    pub service: String,
    /// The step that failed.
    pub step: String,
    /// Why.
    pub reason: String,
    /// True when its undo was confirmed (the previous container serves again).
    pub restored: bool,
}

impl ReleaseOutcome {
    /// True for `Succeeded`.
    pub fn is_success(&self) -> bool {
        matches!(self, ReleaseOutcome::Succeeded)
    }

    /// True when the release's containers serve: `Succeeded`, or `PartlyDeployed`.
    pub fn in_service(&self) -> bool {
        matches!(self, ReleaseOutcome::Succeeded | ReleaseOutcome::PartlyDeployed { .. })
    }
}

/// One service of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReleasedService {
    /// The image as written in the compose file (after interpolation).
    pub image: String,
    /// What the containers run: `repo@sha256:...`, or the local image id `sha256:...` for an
    /// image that exists only in this engine.
    pub pinned: String,
    /// The service's config hash (see [`config_hash`]).
    pub config_hash: String,
}

/// A release record. Its JSON (the record label, `status --json`, Python dicts) and its `Debug`
/// never hold environment values: the stack is shown with the variables' names only and
/// `env_sha256`; the values live in a root-only file of the record volume (see `env_store`).
#[derive(Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Release {
    /// The id.
    pub id: ReleaseId,
    /// The project.
    pub project: String,
    /// A version for people (`--tag`, else the first service image's tag).
    pub version: Option<String>,
    /// Services by name.
    pub services: BTreeMap<String, ReleasedService>,
    /// The resolved stack with every image pinned: what a rollback deploys again. In memory
    /// after a deploy it holds the environment values; read back from the host it holds the
    /// names only (values `None`) until `VolumeRecords::unseal` restores them.
    pub stack: StackSpec,
    /// `Some(sha256 of the environment values)` when the values are not in `stack` (a record read
    /// from the host); `None` when `stack` holds them (or an older record kept them inline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_sha256: Option<String>,
    /// `user@host`.
    pub who: String,
    /// When it was deployed.
    pub when: DateTime<Utc>,
    /// How it ended.
    pub outcome: ReleaseOutcome,
    /// The release that was current before this one.
    pub parent: Option<ReleaseId>,
    /// When this release is a rollback: the release it redeployed.
    pub rollback_of: Option<ReleaseId>,
    /// Post-deploy hooks that failed after the release was recorded (it stands), e.g.
    /// `post-deploy hook 2 (notify): exited with 1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hook_failures: Vec<String>,
}

/// What a `Release` serialises as: the stack sealed (no environment values) plus their hash.
#[derive(Serialize)]
struct ReleaseView<'a> {
    id: ReleaseId,
    project: &'a str,
    version: &'a Option<String>,
    services: &'a BTreeMap<String, ReleasedService>,
    stack: StackSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    env_sha256: Option<String>,
    who: &'a str,
    when: DateTime<Utc>,
    outcome: &'a ReleaseOutcome,
    parent: Option<ReleaseId>,
    rollback_of: Option<ReleaseId>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    hook_failures: &'a [String],
}

impl Release {
    fn view(&self) -> ReleaseView<'_> {
        let (stack, values) = super::env_store::seal(&self.stack);
        let env_sha256 = self.env_sha256.clone().or_else(|| (!values.is_empty()).then(|| values.sha256()));
        ReleaseView {
            id: self.id,
            project: &self.project,
            version: &self.version,
            services: &self.services,
            stack,
            env_sha256,
            who: &self.who,
            when: self.when,
            outcome: &self.outcome,
            parent: self.parent,
            rollback_of: self.rollback_of,
            hook_failures: &self.hook_failures,
        }
    }
}

impl Serialize for Release {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.view().serialize(s)
    }
}

impl fmt::Debug for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.view();
        f.debug_struct("Release")
            .field("id", &v.id)
            .field("project", &v.project)
            .field("version", v.version)
            .field("services", v.services)
            .field("stack", &v.stack)
            .field("env_sha256", &v.env_sha256)
            .field("who", &v.who)
            .field("when", &v.when)
            .field("outcome", v.outcome)
            .field("parent", &v.parent)
            .field("rollback_of", &v.rollback_of)
            .field("hook_failures", &v.hook_failures)
            .finish()
    }
}

/// `user@host` of this process.
pub fn who() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    format!("{user}@{}", host_name())
}

/// This machine's host name (from `/proc`, `/etc/hostname` or `HOSTNAME`).
pub fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The config hash of a service: sha256 (hex) of its resolved spec with the image replaced by
/// `pinned`, serialised as JSON with object keys sorted, plus the engine-side names of its
/// networks and volumes. Equal hash = the running container already is what is wanted.
pub fn config_hash(stack: &StackSpec, service: &ServiceSpec, pinned: &str) -> String {
    let mut spec = service.clone();
    spec.image = Some(pinned.to_string());
    // Profiles, depends_on, deploy.labels and pull_policy do not change the container.
    spec.profiles.clear();
    spec.depends_on.clear();
    spec.deploy.labels.clear();
    spec.pull_policy = None;
    let networks: BTreeMap<String, Option<String>> =
        spec.networks.keys().map(|k| (k.clone(), stack.networks.get(k).map(|n| n.name.clone()))).collect();
    let volumes: BTreeMap<String, Option<String>> = spec
        .volumes
        .iter()
        .filter_map(|m| m.source.as_ref())
        .map(|s| (s.clone(), stack.volumes.get(s).map(|v| v.name.clone())))
        .collect();
    let mut value = serde_json::json!({ "spec": spec, "networks": networks, "volumes": volumes });
    // compose room: a changed copied-in secret or config is a changed container.
    if let Some(files) = super::container_spec::copy_in_digest(stack, service) {
        value["files"] = serde_json::Value::String(files);
    }
    let mut hasher = Sha256::new();
    hasher.update(canonical_json(&value).as_bytes());
    hex::encode(hasher.finalize())
}

/// JSON with object keys sorted at every level (serde_json keeps insertion order in this crate).
pub fn canonical_json(value: &serde_json::Value) -> String {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let sorted: BTreeMap<&String, serde_json::Value> = m.iter().map(|(k, v)| (k, sort(v))).collect();
                serde_json::Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

/// The record a rollback without `--to` goes back to, for every target: the newest one whose
/// release succeeded and is older than `current` (the release in service), from a history kept
/// oldest first. `release` reads a target's record as its [`Release`].
pub(crate) fn release_before<'a, R>(
    history: impl DoubleEndedIterator<Item = &'a R>,
    release: impl Fn(&R) -> &Release,
    current: Option<ReleaseId>,
) -> Option<&'a R>
where
    R: 'a,
{
    let current = current?;
    history.rev().find(|r| {
        let r = release(r);
        r.outcome.is_success() && r.id < current
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(env: &[(&str, &str)]) -> ServiceSpec {
        let mut s = ServiceSpec { name: "web".into(), image: Some("demo:1".into()), ..Default::default() };
        for (k, v) in env {
            s.environment.insert(k.to_string(), Some(v.to_string()));
        }
        s
    }

    #[test]
    fn hash_is_stable_and_sensitive() {
        let stack = StackSpec::default();
        let a = config_hash(&stack, &svc(&[("A", "1"), ("B", "2")]), "demo@sha256:aa");
        let b = config_hash(&stack, &svc(&[("B", "2"), ("A", "1")]), "demo@sha256:aa");
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(a, config_hash(&stack, &svc(&[("A", "1"), ("B", "3")]), "demo@sha256:aa"));
        assert_ne!(a, config_hash(&stack, &svc(&[("A", "1"), ("B", "2")]), "demo@sha256:bb"));
        // The tag as written does not matter once pinned.
        let mut other_tag = svc(&[("A", "1"), ("B", "2")]);
        other_tag.image = Some("demo:2".into());
        assert_eq!(a, config_hash(&stack, &other_tag, "demo@sha256:aa"));
    }

    #[test]
    fn extension_key_order_does_not_matter() {
        let stack = StackSpec::default();
        let mut x = svc(&[]);
        x.extensions.insert("x-slipway".into(), serde_json::json!({"a": 1, "b": 2}));
        let mut y = svc(&[]);
        let mut m = serde_json::Map::new();
        m.insert("b".into(), 2.into());
        m.insert("a".into(), 1.into());
        y.extensions.insert("x-slipway".into(), serde_json::Value::Object(m));
        assert_eq!(config_hash(&stack, &x, "p"), config_hash(&stack, &y, "p"));
    }

    #[test]
    fn release_id_parses() {
        assert_eq!("r12".parse::<ReleaseId>().unwrap(), ReleaseId(12));
        assert_eq!("7".parse::<ReleaseId>().unwrap().to_string(), "7");
        assert!("x".parse::<ReleaseId>().is_err());
    }
}
