//! The declarative build file (TOML) for `OciBuild`; the schema is documented in
//! `docs/rooms/builder.md`. Unknown keys are errors. Relative `source` paths are resolved
//! against the file's directory; `{os}`, `{arch}` and `{variant}` in a `source` are replaced per
//! platform, so one file can take a prebuilt binary per architecture.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{Base, FileMapping, Healthcheck, ImageConfig, LayerSpec, OciBuild, Platform, PlatformImage};
use crate::build::pack::Pack;
use crate::build::BuildError;

/// The whole file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BuildFile {
    /// Platforms to build (default `["linux/amd64"]`).
    #[serde(default)]
    pub platforms: Vec<String>,
    /// `scratch` (default) or an image reference read from the base registry.
    #[serde(default)]
    pub base: Option<String>,
    /// Timestamp for files and `created` (default: `SOURCE_DATE_EPOCH`, else 0).
    #[serde(default)]
    pub source_date_epoch: Option<i64>,
    /// Manifest (and index) annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The run config.
    #[serde(default)]
    pub config: ConfigSection,
    /// Layers, in order.
    #[serde(default)]
    pub layers: Vec<LayerSection>,
}

/// `[config]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigSection {
    /// Entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Cmd.
    pub cmd: Option<Vec<String>>,
    /// Environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// User.
    pub user: Option<String>,
    /// Exposed ports (`8080/tcp`, `53/udp`, `8080`).
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Stop signal.
    pub stop_signal: Option<String>,
    /// Health check.
    pub healthcheck: Option<HealthcheckSection>,
}

/// `[config.healthcheck]`; durations in humantime form (`5s`, `1m30s`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HealthcheckSection {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    pub test: Vec<String>,
    /// Interval.
    pub interval: Option<String>,
    /// Timeout.
    pub timeout: Option<String>,
    /// Start period.
    pub start_period: Option<String>,
    /// Retries.
    pub retries: Option<u32>,
}

/// `[[layers]]`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LayerSection {
    /// History comment.
    pub comment: Option<String>,
    /// Only for these platforms (default: all).
    #[serde(default)]
    pub platforms: Vec<String>,
    /// Host programs packed with their shared libraries at their host paths.
    #[serde(default)]
    pub pack: Vec<String>,
    /// File mappings.
    #[serde(default)]
    pub files: Vec<FileSection>,
}

/// `[[layers.files]]`: exactly one of `source`, `content`, `symlink`, `directory`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileSection {
    /// Host path (file or directory).
    pub source: Option<String>,
    /// Literal contents.
    pub content: Option<String>,
    /// Symlink target.
    pub symlink: Option<String>,
    /// An empty directory.
    #[serde(default)]
    pub directory: bool,
    /// Absolute path in the image.
    pub target: String,
    /// Permission bits (TOML allows `0o755`).
    pub mode: Option<u32>,
    /// Owner uid.
    #[serde(default)]
    pub uid: u64,
    /// Owner gid.
    #[serde(default)]
    pub gid: u64,
}

impl BuildFile {
    /// Read and parse a build file.
    pub fn load(path: &Path) -> Result<(Self, PathBuf), BuildError> {
        let text = std::fs::read_to_string(path).map_err(|e| BuildError::io("reading build file", path, e))?;
        let file = Self::parse(&text, path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        Ok((file, dir))
    }

    /// Parse the text of a build file (`path` only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, BuildError> {
        toml::from_str(text).map_err(|e| BuildError::BuildFile { file: path.to_path_buf(), reason: e.to_string() })
    }

    /// The `OciBuild` this file describes, with its base registry opened when `base` is an
    /// image location (`oci:DIR:TAG`); relative sources resolve against `dir`.
    pub async fn to_build(&self, dir: &Path) -> Result<OciBuild, BuildError> {
        let platforms: Vec<Platform> = if self.platforms.is_empty() {
            vec![Platform::linux_amd64()]
        } else {
            self.platforms.iter().map(|p| p.parse()).collect::<Result<_, _>>()?
        };
        let mut build = OciBuild::new();
        let base = match self.base.as_deref() {
            None | Some("scratch") => Base::Scratch,
            Some(location) => {
                let (registry, reference) = super::open_location(location, false).await?;
                build = build.base_registry(registry);
                Base::Image(reference)
            }
        };
        let config = self.config.to_config()?;
        for platform in &platforms {
            let mut image = PlatformImage::new(platform.clone(), base.clone()).config(config.clone());
            for layer in &self.layers {
                if !layer.platforms.is_empty() && !layer.platforms.iter().any(|p| *p == platform.to_string()) {
                    continue;
                }
                image = image.layer(layer.to_layer(dir, platform)?);
            }
            build = build.image(image);
        }
        for (k, v) in &self.annotations {
            build = build.annotation(k, v);
        }
        if let Some(e) = self.source_date_epoch {
            build = build.source_date_epoch(e);
        }
        Ok(build)
    }
}

fn duration(field: &str, value: &Option<String>) -> Result<Option<Duration>, BuildError> {
    value
        .as_deref()
        .map(|v| {
            humantime::parse_duration(v).map_err(|e| BuildError::Invalid(format!("healthcheck.{field} {v:?}: {e}")))
        })
        .transpose()
}

impl ConfigSection {
    fn to_config(&self) -> Result<ImageConfig, BuildError> {
        let healthcheck = match &self.healthcheck {
            None => None,
            Some(h) => Some(Healthcheck {
                test: h.test.clone(),
                interval: duration("interval", &h.interval)?,
                timeout: duration("timeout", &h.timeout)?,
                start_period: duration("start_period", &h.start_period)?,
                retries: h.retries,
            }),
        };
        Ok(ImageConfig {
            entrypoint: self.entrypoint.clone(),
            cmd: self.cmd.clone(),
            env: self.env.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            exposed_ports: self.exposed_ports.clone(),
            labels: self.labels.clone(),
            healthcheck,
            stop_signal: self.stop_signal.clone(),
        })
    }
}

impl LayerSection {
    fn to_layer(&self, dir: &Path, platform: &Platform) -> Result<LayerSpec, BuildError> {
        let mut files = Vec::new();
        if !self.pack.is_empty() {
            let mut pack = Pack::new();
            for p in &self.pack {
                pack = pack.program(p);
            }
            files.extend(pack.mappings()?);
        }
        for f in &self.files {
            files.push(f.to_mapping(dir, platform)?);
        }
        Ok(LayerSpec { files, comment: self.comment.clone() })
    }
}

impl FileSection {
    fn to_mapping(&self, dir: &Path, platform: &Platform) -> Result<FileMapping, BuildError> {
        let given = [self.source.is_some(), self.content.is_some(), self.symlink.is_some(), self.directory];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(BuildError::Invalid(format!(
                "file {}: give exactly one of source, content, symlink, directory",
                self.target
            )));
        }
        let mut m = if let Some(src) = &self.source {
            let src = src
                .replace("{os}", &platform.os)
                .replace("{arch}", &platform.architecture)
                .replace("{variant}", platform.variant.as_deref().unwrap_or(""));
            FileMapping::path(dir.join(src), self.target.clone())
        } else if let Some(c) = &self.content {
            FileMapping::contents(c.as_bytes().to_vec(), self.target.clone())
        } else if let Some(l) = &self.symlink {
            FileMapping::symlink(l.clone(), self.target.clone())
        } else {
            FileMapping::directory(self.target.clone())
        };
        if let Some(mode) = self.mode {
            m = m.mode(mode);
        }
        Ok(m.owner(self.uid, self.gid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
platforms = ["linux/amd64", "linux/arm64"]
source_date_epoch = 1700000000
[annotations]
"org.opencontainers.image.title" = "demo"
[config]
entrypoint = ["/app"]
env = { PORT = "8080" }
exposed_ports = ["8080"]
[config.healthcheck]
test = ["CMD", "/app", "check", "http://127.0.0.1:8080/health"]
interval = "5s"
retries = 3
[[layers]]
comment = "app"
[[layers.files]]
source = "dist/{arch}/app"
target = "/app"
mode = 0o755
[[layers.files]]
content = "hello\n"
target = "/etc/motd"
"#;

    #[tokio::test]
    async fn parses_and_expands_per_platform() {
        let f = BuildFile::parse(SAMPLE, Path::new("b.toml")).unwrap();
        let b = f.to_build(Path::new("/ctx")).await.unwrap();
        assert_eq!(b.images().len(), 2);
        let arm = &b.images()[1];
        assert_eq!(arm.platform.to_string(), "linux/arm64");
        assert_eq!(arm.layers[0].files[0].source, super::super::Source::Path("/ctx/dist/arm64/app".into()));
        assert_eq!(arm.layers[0].files[0].mode, Some(0o755));
        assert_eq!(arm.config.healthcheck.as_ref().unwrap().interval, Some(Duration::from_secs(5)));
    }

    #[test]
    fn unknown_keys_are_rejected_with_location() {
        let err = BuildFile::parse("[config]\nentrypoint = []\nentrypiont = []\n", Path::new("b.toml")).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("entrypiont"), "{err}");
    }

    #[tokio::test]
    async fn a_file_needs_exactly_one_source() {
        let text = "[[layers]]\n[[layers.files]]\ntarget = \"/x\"\ncontent = \"a\"\nsymlink = \"b\"\n";
        let f = BuildFile::parse(text, Path::new("b.toml")).unwrap();
        assert!(f.to_build(Path::new(".")).await.is_err());
    }
}
