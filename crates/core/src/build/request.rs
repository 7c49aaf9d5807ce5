//! One entry point per build kind for the faces (CLI, Python): loose options in, a finished
//! build out, so both faces behave the same.

use std::path::PathBuf;

use super::oci::file::BuildFile;
use super::oci::open_location;
use super::OciOutput;
use super::{
    parse_key_value, resolve_tags, BuildError, BuildMetadata, BuildOutput, Builder, DockerBuild, EventRequest,
};
use crate::engine::{ConnectOptions, Connection};
use crate::events::Observer;
use crate::ImageRef;

/// Options of a Dockerfile build (`slipway build CONTEXT`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DockerBuildRequest {
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile (default `CONTEXT/Dockerfile`).
    pub dockerfile: Option<PathBuf>,
    /// Multi-stage target.
    pub target: Option<String>,
    /// `KEY=VALUE` build args.
    pub build_args: Vec<String>,
    /// `KEY=VALUE` labels.
    pub labels: Vec<String>,
    /// `-t` references (with an event: repositories).
    pub tags: Vec<String>,
    /// A build event whose policy tags are applied.
    pub event: Option<EventRequest>,
    /// Push every tag.
    pub push: bool,
    /// Do not use the cache.
    pub no_cache: bool,
    /// Platform.
    pub platform: Option<String>,
    /// Which engine (`-H`, `--context`, TLS; unset: `DOCKER_HOST`, a Docker context, else the
    /// local socket), resolved as every other command resolves it.
    pub engine: ConnectOptions,
}

impl DockerBuildRequest {
    /// A request for `context`.
    pub fn new(context: impl Into<PathBuf>) -> Self {
        Self { context: context.into(), ..Self::default() }
    }
}

/// Options of a declarative build (`slipway build --oci FILE`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OciBuildRequest {
    /// The TOML build file.
    pub file: PathBuf,
    /// `oci:DIR:TAG` to write to.
    pub output: Option<String>,
    /// A registry reference to push to.
    pub push: Option<String>,
    /// A tag to load the image into the engine as.
    pub load: Option<String>,
    /// Which engine `load` goes to (as [`DockerBuildRequest::engine`]).
    pub engine: ConnectOptions,
}

impl OciBuildRequest {
    /// A request for the build file `file`.
    pub fn new(file: impl Into<PathBuf>) -> Self {
        Self { file: file.into(), ..Self::default() }
    }
}

pub(crate) async fn engine(options: &ConnectOptions) -> Result<bollard::Docker, BuildError> {
    let connect = async { crate::engine::connect(&Connection::resolve(options)?).await };
    connect.await.map_err(|e| BuildError::engine("connecting", e))
}

/// Run a Dockerfile build: build, tag, push when asked.
pub async fn docker_build(req: &DockerBuildRequest, observer: &dyn Observer) -> Result<BuildOutput, BuildError> {
    let tags = resolve_tags(&req.tags, req.event.as_ref())?;
    if req.push && tags.is_empty() {
        return Err(BuildError::Invalid("--push needs -t REF (or -t REPOSITORY with --event)".into()));
    }
    let mut metadata = BuildMetadata::new();
    if let Some(e) = &req.event {
        metadata.revision = e.sha.clone();
        // The label carries the normalised version (`v1.2.3` -> `1.2.3`), as the policy reads it.
        metadata.version = match &e.version {
            Some(v) => Some(
                crate::policy::parse_release_version(v).map_err(|e| BuildError::Invalid(e.to_string()))?.to_string(),
            ),
            None => None,
        };
    }
    let metadata = metadata.fill_from_git(&req.context).await;
    let docker = engine(&req.engine).await?;
    let mut build = DockerBuild::new(docker, req.context.clone()).metadata(metadata).no_cache(req.no_cache).tags(tags);
    if let Some(f) = &req.dockerfile {
        build = build.dockerfile(f.clone());
    }
    if let Some(t) = &req.target {
        build = build.target(t.clone());
    }
    if let Some(p) = &req.platform {
        build = build.platform(p.clone());
    }
    for kv in &req.build_args {
        let (k, v) = parse_key_value(kv)?;
        build = build.build_arg(k, v);
    }
    for kv in &req.labels {
        let (k, v) = parse_key_value(kv)?;
        build = build.label(k, v);
    }
    build.push(req.push).build(observer).await
}

/// Run a declarative build and write it where asked (nowhere: only the digest is computed).
pub async fn oci_build(req: &OciBuildRequest, observer: &dyn Observer) -> Result<BuildOutput, BuildError> {
    let (file, dir) = BuildFile::load(&req.file)?;
    let mut build = file.to_build(&dir).await?;
    if let Some(o) = &req.output {
        if !o.starts_with("oci:") {
            return Err(BuildError::Invalid(format!("-o {o}: expected oci:DIR:TAG (use --push for a registry)")));
        }
        let (registry, reference) = open_location(o, true).await?;
        build = build.output(OciOutput::Registry { registry, reference });
    }
    if let Some(p) = &req.push {
        let (registry, reference) = open_location(p, true).await?;
        build = build.output(OciOutput::Registry { registry, reference });
    }
    if let Some(tag) = &req.load {
        let tag = ImageRef::parse(tag).map_err(|e| BuildError::Invalid(format!("--load {tag}: {e}")))?;
        build = build.output(OciOutput::Engine { docker: engine(&req.engine).await?, tag });
    }
    build.build(observer).await
}
