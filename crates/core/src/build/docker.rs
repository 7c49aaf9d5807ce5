//! `DockerBuild`: a Dockerfile build through the engine with bollard (classic builder API):
//! context from a directory honouring `.dockerignore`, Dockerfile path, multi-stage target,
//! build args, labels (with the OCI annotation labels), `no-cache`, platform; never pulls
//! (`pull` is not sent, so only local bases are used). Output is streamed as [`BuildEvent`]s; a
//! failing step is reported with its `Step N/M` line and its last output lines. Then the image
//! is tagged and, when asked, each tag is pushed through the registry room's `push_from_engine`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bollard::query_parameters::{BuildImageOptions, TagImageOptions};
use bollard::Docker;
use futures::StreamExt;

use super::context::BuildContext;
use super::{emit, push, BuildError, BuildEvent, BuildMetadata, BuildOutput, Builder};
use crate::events::Observer;
use crate::registry::DistributionOptions;
use crate::{Digest, ImageRef};

/// How many output lines of the failing step an error carries.
const LAST_LINES: usize = 20;

/// A Dockerfile build through the engine. Construct with [`DockerBuild::new`] and the setters.
#[derive(Debug, Clone)]
pub struct DockerBuild {
    docker: Docker,
    context: PathBuf,
    dockerfile: Option<PathBuf>,
    target: Option<String>,
    build_args: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    metadata: BuildMetadata,
    no_cache: bool,
    platform: Option<String>,
    tags: Vec<ImageRef>,
    push: bool,
    registry_options: DistributionOptions,
    engine_options: EngineBuildOptions,
}

/// Engine-side build settings of a compose `build:` section (`extra_hosts`, `network`,
/// `shm_size`, `cache_from`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineBuildOptions {
    /// `host:ip` entries for the build containers' `/etc/hosts`.
    pub extra_hosts: Vec<String>,
    /// Network mode of the build containers.
    pub network: Option<String>,
    /// `/dev/shm` size in bytes.
    pub shm_size: Option<i64>,
    /// Images to use as cache sources.
    pub cache_from: Vec<String>,
}

impl DockerBuild {
    /// A build of the context directory `context` on the engine `docker`.
    pub fn new(docker: Docker, context: impl Into<PathBuf>) -> Self {
        Self {
            docker,
            context: context.into(),
            dockerfile: None,
            target: None,
            build_args: BTreeMap::new(),
            labels: BTreeMap::new(),
            metadata: BuildMetadata::default(),
            no_cache: false,
            platform: None,
            tags: Vec::new(),
            push: false,
            registry_options: DistributionOptions::default(),
            engine_options: EngineBuildOptions::default(),
        }
    }
    /// Engine-side settings (`extra_hosts`, `network`, `shm_size`, `cache_from`).
    pub fn engine_options(mut self, options: EngineBuildOptions) -> Self {
        self.engine_options = options;
        self
    }
    /// The Dockerfile (default `CONTEXT/Dockerfile`).
    pub fn dockerfile(mut self, path: impl Into<PathBuf>) -> Self {
        self.dockerfile = Some(path.into());
        self
    }
    /// The multi-stage target.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    /// A build argument.
    pub fn build_arg(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.build_args.insert(key.into(), value.into());
        self
    }
    /// A label (overrides a metadata label of the same key).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
    /// The OCI annotation metadata (revision, version, created, source).
    pub fn metadata(mut self, metadata: BuildMetadata) -> Self {
        self.metadata = metadata;
        self
    }
    /// Do not use the build cache.
    pub fn no_cache(mut self, no_cache: bool) -> Self {
        self.no_cache = no_cache;
        self
    }
    /// Target platform (`linux/amd64`), where the engine supports it.
    pub fn platform(mut self, platform: impl Into<String>) -> Self {
        self.platform = Some(platform.into());
        self
    }
    /// Tag the result as `reference` (may be called several times).
    pub fn tag(mut self, reference: ImageRef) -> Self {
        self.tags.push(reference);
        self
    }
    /// Tag the result with all of `references`.
    pub fn tags(mut self, references: impl IntoIterator<Item = ImageRef>) -> Self {
        self.tags.extend(references);
        self
    }
    /// Push every tag after the build.
    pub fn push(mut self, push: bool) -> Self {
        self.push = push;
        self
    }
    /// Registry options for the push (credentials, insecure hosts; default: Docker's config.json).
    pub fn registry_options(mut self, options: DistributionOptions) -> Self {
        self.registry_options = options;
        self
    }
    /// The context directory.
    pub fn context_dir(&self) -> &Path {
        &self.context
    }

    /// All labels sent: metadata labels, then explicit labels on top.
    pub fn all_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.metadata.labels();
        labels.extend(self.labels.clone());
        labels
    }

    fn options(&self, dockerfile: &str) -> BuildImageOptions {
        let labels = self.all_labels();
        BuildImageOptions {
            dockerfile: dockerfile.to_string(),
            t: None,
            q: false,
            nocache: self.no_cache,
            // Never pull: `pull` is left unset so the engine uses local bases only.
            pull: None,
            rm: true,
            forcerm: true,
            buildargs: (!self.build_args.is_empty())
                .then(|| self.build_args.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>()),
            labels: (!labels.is_empty()).then(|| labels.into_iter().collect::<HashMap<_, _>>()),
            platform: self.platform.clone().unwrap_or_default(),
            target: self.target.clone().unwrap_or_default(),
            extrahosts: (!self.engine_options.extra_hosts.is_empty())
                .then(|| self.engine_options.extra_hosts.join(",")),
            networkmode: self.engine_options.network.clone(),
            shmsize: self.engine_options.shm_size.and_then(|s| i32::try_from(s).ok()),
            cachefrom: (!self.engine_options.cache_from.is_empty()).then(|| self.engine_options.cache_from.clone()),
            ..Default::default()
        }
    }

    /// Run the build and return the image ID.
    async fn run_build(&self, observer: &dyn Observer) -> Result<Digest, BuildError> {
        let dir = self.context.clone();
        let dockerfile = self.dockerfile.clone();
        let ctx = tokio::task::spawn_blocking(move || BuildContext::from_dir(&dir, dockerfile.as_deref()))
            .await
            .map_err(|e| BuildError::Invalid(format!("context task failed: {e}")))??;
        emit(observer, BuildEvent::ContextReady { entries: ctx.entries().len(), bytes: ctx.tar().len() as u64 });
        let options = self.options(ctx.dockerfile());
        let body = bollard::body_full(ctx.into_tar().into());
        let mut stream = self.docker.build_image(options, None, Some(body));
        let mut progress = StepTracker::default();
        let mut image_id: Option<String> = None;
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(bollard::errors::Error::DockerStreamError { error }) => return Err(progress.failure(error)),
                Err(e) => return Err(BuildError::engine(format!("building {}", self.context.display()), e)),
            };
            if let Some(text) = &info.stream {
                progress.feed(text, observer);
            }
            if let Some(id) = info.aux.as_ref().and_then(|a| a.id.clone()) {
                image_id = Some(id);
            }
            let detail = info.error_detail.as_ref().and_then(|d| d.message.clone());
            if let Some(message) = detail {
                return Err(progress.failure(message));
            }
        }
        let id = image_id.ok_or_else(|| BuildError::Engine {
            action: format!("building {}", self.context.display()),
            message: "the engine reported no image ID".into(),
        })?;
        Digest::parse(&id).map_err(|e| BuildError::engine("reading the built image ID", e))
    }
}

#[async_trait]
impl Builder for DockerBuild {
    async fn build(&self, observer: &dyn Observer) -> Result<BuildOutput, BuildError> {
        let image_id = self.run_build(observer).await?;
        let mut tags = Vec::new();
        for r in &self.tags {
            let tag = r.tag().unwrap_or("latest");
            let options = TagImageOptions { repo: Some(r.name()), tag: Some(tag.to_string()) };
            self.docker
                .tag_image(&image_id.to_string(), Some(options))
                .await
                .map_err(|e| BuildError::engine(format!("tagging {image_id} as {r}"), e))?;
            emit(observer, BuildEvent::Tagged { reference: r.to_string() });
            tags.push(r.to_string());
        }
        let mut manifest_digest = None;
        if self.push {
            if self.tags.is_empty() {
                return Err(BuildError::Invalid("--push needs at least one tag (-t or --event/--sha)".into()));
            }
            manifest_digest =
                push::push_tags(&self.docker, &image_id.to_string(), &self.tags, &self.registry_options, observer)
                    .await?;
        }
        let out = BuildOutput { image_id: Some(image_id), manifest_digest, tags };
        if let Some(d) = out.digest() {
            emit(observer, BuildEvent::Finished { digest: d.to_string() });
        }
        Ok(out)
    }
}

/// Follows `Step N/M : ...` lines and keeps the current step's last output lines.
#[derive(Debug, Default)]
struct StepTracker {
    step: Option<String>,
    last: VecDeque<String>,
    partial: String,
}

impl StepTracker {
    fn feed(&mut self, text: &str, observer: &dyn Observer) {
        self.partial.push_str(text);
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            let line = line.trim_end_matches(['\n', '\r']).to_string();
            if line.starts_with("Step ") && line.contains(" : ") {
                self.step = Some(line.clone());
                self.last.clear();
                emit(observer, BuildEvent::Step { step: line });
            } else {
                if self.last.len() == LAST_LINES {
                    self.last.pop_front();
                }
                self.last.push_back(line.clone());
                emit(observer, BuildEvent::Output { line });
            }
        }
    }

    fn failure(&mut self, message: String) -> BuildError {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.last.push_back(rest.trim_end().to_string());
        }
        BuildError::StepFailed {
            step: self.step.clone().unwrap_or_else(|| "before the first step".into()),
            message: message.trim().to_string(),
            last_lines: if self.last.is_empty() {
                "(no output)".into()
            } else {
                self.last.iter().cloned().collect::<Vec<_>>().join("\n")
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RecordingObserver;

    #[test]
    fn tracker_reports_step_and_last_lines() {
        let obs = RecordingObserver::new();
        let mut t = StepTracker::default();
        t.feed("Step 1/2 : FROM base\n ---> abc\nStep 2/2 : RUN make\n", &obs);
        t.feed(" ---> Running in x\nerror: no", &obs);
        t.feed("thing\n", &obs);
        let err = t.failure("The command '/bin/sh -c make' returned a non-zero code: 2".into());
        match err {
            BuildError::StepFailed { step, last_lines, .. } => {
                assert_eq!(step, "Step 2/2 : RUN make");
                assert_eq!(last_lines, " ---> Running in x\nerror: nothing");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(obs.events().len(), 5);
    }

    #[test]
    fn options_never_pull_and_carry_labels() {
        let docker = Docker::connect_with_http("http://127.0.0.1:1", 1, bollard::API_DEFAULT_VERSION).unwrap();
        let b = DockerBuild::new(docker, ".")
            .target("final")
            .build_arg("V", "1")
            .label("a", "b")
            .metadata(BuildMetadata::new().revision("abc123"));
        let o = b.options("Dockerfile");
        assert_eq!(o.pull, None);
        assert_eq!(o.target, "final");
        assert_eq!(o.buildargs.unwrap()["V"], "1");
        let labels = o.labels.unwrap();
        assert_eq!(labels["a"], "b");
        assert_eq!(labels[super::super::metadata::LABEL_REVISION], "abc123");
    }
}
