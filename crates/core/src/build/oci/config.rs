//! Image config, manifest and index documents, serialised deterministically: fixed field order
//! (structs, not maps) and `BTreeMap`s for labels, ports and annotations. `oci-spec`'s types use
//! `HashMap`s for labels and annotations, whose order would change digests, so these are our own.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::build::BuildError;
use crate::Digest;

/// OCI image config media type.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI gzip layer media type.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// An `os/architecture[/variant]` platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    /// Architecture (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// Variant (`v8`), if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/amd64`.
    pub fn linux_amd64() -> Self {
        Self { architecture: "amd64".into(), os: "linux".into(), variant: None }
    }
}

impl FromStr for Platform {
    type Err = BuildError;
    fn from_str(s: &str) -> Result<Self, BuildError> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => {
                Ok(Self { os: os.to_string(), architecture: arch.to_string(), variant: None })
            }
            [os, arch, v] if ok(os) && ok(arch) && ok(v) => {
                Ok(Self { os: os.to_string(), architecture: arch.to_string(), variant: Some(v.to_string()) })
            }
            _ => Err(BuildError::Invalid(format!("platform {s:?}: expected OS/ARCH[/VARIANT], e.g. linux/amd64"))),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A container health check stored in the image config (Docker's `Healthcheck`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Healthcheck {
    /// `["CMD", "/app", "check", "..."]` or `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub test: Vec<String>,
    /// Time between checks.
    pub interval: Option<Duration>,
    /// Time a check may take.
    pub timeout: Option<Duration>,
    /// Grace period after start.
    pub start_period: Option<Duration>,
    /// Failures before unhealthy.
    pub retries: Option<u32>,
}

impl Healthcheck {
    /// A health check running `test` (in Docker's `CMD`/`CMD-SHELL` form).
    pub fn new(test: Vec<String>) -> Self {
        Self { test, ..Self::default() }
    }
}

/// What the image runs and how: the runnable part of the image config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ImageConfig {
    /// Entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    pub cmd: Option<Vec<String>>,
    /// Environment, by name (sorted in the config).
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// User (`name`, `uid`, `uid:gid`).
    pub user: Option<String>,
    /// Exposed ports (`8080/tcp`).
    pub exposed_ports: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Health check.
    pub healthcheck: Option<Healthcheck>,
    /// Stop signal (`SIGTERM`).
    pub stop_signal: Option<String>,
}

/// The config document (`application/vnd.oci.image.config.v1+json`), as read from a base image
/// and as written. Unknown fields of a base config are dropped.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct ConfigDoc {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub created: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: RunConfig,
    pub rootfs: RootFs,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub history: Vec<History>,
}

/// The `config` member, with Docker's field names.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct RunConfig {
    #[serde(rename = "User", skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    #[serde(rename = "ExposedPorts", skip_serializing_if = "Option::is_none", default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(rename = "Env", skip_serializing_if = "Option::is_none", default)]
    pub env: Option<Vec<String>>,
    #[serde(rename = "Entrypoint", skip_serializing_if = "Option::is_none", default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", skip_serializing_if = "Option::is_none", default)]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", skip_serializing_if = "Option::is_none", default)]
    pub working_dir: Option<String>,
    #[serde(rename = "Labels", skip_serializing_if = "Option::is_none", default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "StopSignal", skip_serializing_if = "Option::is_none", default)]
    pub stop_signal: Option<String>,
    #[serde(rename = "Healthcheck", skip_serializing_if = "Option::is_none", default)]
    pub healthcheck: Option<HealthDoc>,
}

/// Docker's `Healthcheck` object (durations in nanoseconds).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct HealthDoc {
    #[serde(rename = "Test", default)]
    pub test: Vec<String>,
    #[serde(rename = "Interval", skip_serializing_if = "Option::is_none", default)]
    pub interval: Option<u64>,
    #[serde(rename = "Timeout", skip_serializing_if = "Option::is_none", default)]
    pub timeout: Option<u64>,
    #[serde(rename = "StartPeriod", skip_serializing_if = "Option::is_none", default)]
    pub start_period: Option<u64>,
    #[serde(rename = "Retries", skip_serializing_if = "Option::is_none", default)]
    pub retries: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct History {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub comment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub empty_layer: Option<bool>,
}

/// A content descriptor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub platform: Option<Platform>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ManifestDoc {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IndexDoc {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl ImageConfig {
    /// Apply this config on top of a base image's run config, as a Dockerfile would: env by
    /// name, labels merged, ports added, and a new entrypoint resets an inherited cmd.
    pub(crate) fn apply(&self, base: &RunConfig) -> RunConfig {
        let mut out = base.clone();
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for kv in base.env.iter().flatten() {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if env.insert(k.to_string(), v.to_string()).is_none() {
                order.push(k.to_string());
            }
        }
        for (k, v) in &self.env {
            if env.insert(k.clone(), v.clone()).is_none() {
                order.push(k.clone());
            }
        }
        out.env = (!order.is_empty()).then(|| order.iter().map(|k| format!("{k}={}", env[k])).collect());
        if let Some(e) = &self.entrypoint {
            out.entrypoint = Some(e.clone());
            out.cmd = None;
        }
        if let Some(c) = &self.cmd {
            out.cmd = Some(c.clone());
        }
        if let Some(w) = &self.workdir {
            out.working_dir = Some(w.clone());
        }
        if let Some(u) = &self.user {
            out.user = Some(u.clone());
        }
        if let Some(s) = &self.stop_signal {
            out.stop_signal = Some(s.clone());
        }
        if !self.exposed_ports.is_empty() {
            let ports = out.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in &self.exposed_ports {
                let key = if p.contains('/') { p.clone() } else { format!("{p}/tcp") };
                ports.insert(key, serde_json::json!({}));
            }
        }
        if !self.labels.is_empty() {
            out.labels.get_or_insert_with(BTreeMap::new).extend(self.labels.clone());
        }
        if let Some(h) = &self.healthcheck {
            let ns = |d: Option<Duration>| d.map(|d| d.as_nanos() as u64);
            out.healthcheck = Some(HealthDoc {
                test: h.test.clone(),
                interval: ns(h.interval),
                timeout: ns(h.timeout),
                start_period: ns(h.start_period),
                retries: h.retries,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parses_and_prints() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!("linux".parse::<Platform>().is_err());
    }

    #[test]
    fn apply_merges_like_a_dockerfile() {
        let base = RunConfig {
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let cfg = ImageConfig {
            entrypoint: Some(vec!["/app".into()]),
            env: [("A".to_string(), "2".to_string()), ("B".to_string(), "3".to_string())].into(),
            exposed_ports: vec!["8080".into()],
            ..Default::default()
        };
        let out = cfg.apply(&base);
        assert_eq!(out.env.unwrap(), ["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(out.cmd, None, "a new entrypoint resets the inherited cmd");
        assert!(out.exposed_ports.unwrap().contains_key("8080/tcp"));
    }
}
