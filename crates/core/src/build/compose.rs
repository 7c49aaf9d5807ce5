//! `slipway build -f compose.yml [SERVICE...]`: every selected service with a `build:` section
//! built through the engine (`DockerBuild`: context, dockerfile or dockerfile_inline, args,
//! target, labels, tags, cache_from, extra_hosts, network, shm_size, the first platform), each
//! image once even when several services share it, tagged as `image:` (or Compose's
//! `PROJECT-SERVICE`) plus `build.tags`, or with the tag policy for a build event, and pushed
//! with Docker's credentials when asked.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::docker::{DockerBuild, EngineBuildOptions};
use super::tags::{resolve_tags, EventRequest};
use super::{BuildError, BuildMetadata, BuildOutput, Builder};
use crate::compose::{load, LoadOptions};
use crate::events::Observer;
use crate::stack::BuildSpec;

/// What to build from a compose project.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ComposeBuildRequest {
    /// How to load the compose project (files, env file, profiles, project name).
    pub load: LoadOptions,
    /// Services to build (empty: every service with `build:`).
    pub services: Vec<String>,
    /// Push the tags after building.
    pub push: bool,
    /// A build event: the policy's tags on each image's repository instead of its own tag.
    pub event: Option<EventRequest>,
    /// Do not use the build cache.
    pub no_cache: bool,
    /// Which engine (as [`super::DockerBuildRequest::engine`]).
    pub engine: crate::engine::ConnectOptions,
}

/// One image built for one or more services.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct ComposeImage {
    /// The services that use it.
    pub services: Vec<String>,
    /// The image name (`image:` or `PROJECT-SERVICE`).
    pub image: String,
    /// The build's result (digest, tags).
    pub output: BuildOutput,
}

/// The images to build: image name -> (services, build section), in service order.
pub fn plan_builds(
    stack: &crate::stack::StackSpec,
    services: &[String],
) -> Result<BTreeMap<String, (Vec<String>, BuildSpec)>, BuildError> {
    for s in services {
        match stack.services.get(s) {
            None => return Err(BuildError::Invalid(format!("no service `{s}` in the compose project"))),
            Some(svc) if svc.build.is_none() => {
                return Err(BuildError::Invalid(format!("service `{s}` has no `build:` section")))
            }
            _ => {}
        }
    }
    let mut out: BTreeMap<String, (Vec<String>, BuildSpec)> = BTreeMap::new();
    for (name, svc) in &stack.services {
        let Some(b) = &svc.build else { continue };
        if !services.is_empty() && !services.contains(name) {
            continue;
        }
        // compose room: refused with the reason rather than built without them.
        let multi = (b.platforms.len() > 1).then_some("platforms");
        if let Some(key) = b.unapplied.keys().map(String::as_str).next().or(multi) {
            let why = match key {
                "ulimits" | "isolation" => "slipway does not pass it to the engine's build API yet",
                _ => {
                    "it needs BuildKit, and slipway builds through the engine's classic build API, which has no such \
                      setting (`DOCKER_BUILDKIT=0 docker compose build` refuses it too)"
                }
            };
            return Err(BuildError::Invalid(format!(
                "service {name}: `build.{key}` is not applied: {why}; build this service with `docker compose build` \
                 or `docker buildx bake`, push it, and deploy its `image:`"
            )));
        }
        let image = svc.image.clone().unwrap_or_else(|| format!("{}-{name}", stack.name));
        out.entry(image).or_insert_with(|| (Vec::new(), b.clone())).0.push(name.clone());
    }
    Ok(out)
}

fn repository(image: &str) -> Result<String, BuildError> {
    let r = crate::ImageRef::parse(image).map_err(|e| BuildError::Invalid(format!("image {image:?}: {e}")))?;
    Ok(r.name())
}

/// Build (and push) the compose project's images.
pub async fn compose_build(
    req: &ComposeBuildRequest,
    observer: &dyn Observer,
) -> Result<Vec<ComposeImage>, BuildError> {
    let loaded = load(&req.load).map_err(|e| BuildError::Compose(Box::new(e)))?;
    let builds = plan_builds(&loaded.stack, &req.services)?;
    if builds.is_empty() {
        return Err(BuildError::Invalid("no service of the compose project has a `build:` section".into()));
    }
    let docker = super::request::engine(&req.engine).await?;
    let mut done = Vec::new();
    for (image, (services, b)) in builds {
        let refs: Vec<String> = match &req.event {
            None => std::iter::once(image.clone()).chain(b.tags.iter().cloned()).collect(),
            Some(_) => vec![repository(&image)?],
        };
        let tags = resolve_tags(&refs, req.event.as_ref())?;
        let context = PathBuf::from(&b.context);
        let inline = match &b.dockerfile_inline {
            Some(text) => {
                let dir = tempfile::tempdir().map_err(|e| BuildError::io("creating", std::env::temp_dir(), e))?;
                let file = dir.path().join("Dockerfile");
                std::fs::write(&file, text).map_err(|e| BuildError::io("writing", &file, e))?;
                Some((dir, file))
            }
            None => None,
        };
        let mut metadata = BuildMetadata::new();
        if let Some(e) = &req.event {
            metadata.revision = e.sha.clone();
        }
        let metadata = metadata.fill_from_git(&context).await;
        let mut build = DockerBuild::new(docker.clone(), context.clone())
            .metadata(metadata)
            .no_cache(req.no_cache || b.no_cache)
            .tags(tags)
            .push(req.push)
            .engine_options(EngineBuildOptions {
                extra_hosts: b.extra_hosts.clone(),
                network: b.network.clone(),
                shm_size: b.shm_size,
                cache_from: b.cache_from.clone(),
            });
        match (&inline, &b.dockerfile) {
            (Some((_, file)), _) => build = build.dockerfile(file.clone()),
            (None, Some(f)) => build = build.dockerfile(context.join(f)),
            _ => {}
        }
        if let Some(t) = &b.target {
            build = build.target(t.clone());
        }
        if let Some(p) = b.platforms.first() {
            build = build.platform(p.clone());
        }
        for (k, v) in &b.args {
            if let Some(v) = v {
                build = build.build_arg(k.clone(), v.clone());
            }
        }
        for (k, v) in &b.labels {
            build = build.label(k.clone(), v.clone());
        }
        let output = build.build(observer).await?;
        drop(inline);
        done.push(ComposeImage { services, image, output });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{ServiceSpec, StackSpec};

    #[test]
    fn buildkit_only_keys_are_refused_naming_the_service_and_key() {
        let mut build = BuildSpec { context: "/src".into(), ..Default::default() };
        let mut stack = StackSpec { name: "shop".into(), ..Default::default() };
        stack.services.insert("api".into(), ServiceSpec { build: Some(build.clone()), ..Default::default() });
        assert_eq!(plan_builds(&stack, &[]).expect("plain build").len(), 1);
        build.unapplied.insert("ssh".into(), serde_json::json!(["default"]));
        stack.services.insert("api".into(), ServiceSpec { build: Some(build), ..Default::default() });
        let e = plan_builds(&stack, &[]).expect_err("ssh refused").to_string();
        assert!(e.contains("service api") && e.contains("`build.ssh`") && e.contains("BuildKit"), "{e}");
    }
}
