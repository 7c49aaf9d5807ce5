//! Before anything changes: the environment policy for every image, then every image resolved to
//! what the containers will run (a registry digest, or the local image id of an image that exists
//! only in this engine), per the service's `pull_policy` (see [`resolve_images`]). The foundation
//! room's `policy::EnvironmentPolicy` plugs in through [`ImagePolicy`]; tags are asked of the
//! image's registry with the registry room's `Distribution` client, after an optional
//! [`DigestResolver`].

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;

use super::engine;
use super::error::DeployError;
use super::event::DeployEvent;
use super::failure::{RegistryMiss, ResolveFailure};
use super::requirements::Requirements;
use crate::events::{Event, Observer};
use crate::policy::PolicyError;
use crate::registry::distribution::RetryPolicy;
use crate::registry::{Distribution, DistributionOptions, Registry, RegistryError};
use crate::stack::{PullPolicy, StackSpec};
use crate::{Digest, ImageRef};

/// Which image references an environment accepts, and what it requires of every deploy.
pub trait ImagePolicy: Send + Sync {
    /// `Err` when `env` must not run `image`: the policy room's refusal (`PolicyError::Refused`)
    /// or why the environment cannot be judged (e.g. `PolicyError::UnknownEnvironment`).
    fn check(&self, env: &str, image: &ImageRef) -> Result<(), PolicyError>;
    /// What `env` requires of every deploy and rollback (default: nothing).
    fn requirements(&self, env: &str) -> Requirements {
        let _ = env;
        Requirements::default()
    }
}

/// The foundation room's environment policies (`production`, `staging`, and any from a policy
/// file). The environment `default` (or empty) has no policy; an unknown name is refused.
impl ImagePolicy for crate::policy::EnvironmentPolicies {
    fn check(&self, env: &str, image: &ImageRef) -> Result<(), PolicyError> {
        if env.is_empty() || env == "default" {
            return Ok(());
        }
        let policy = self.get(env)?;
        match policy.evaluate(image) {
            crate::policy::Verdict::Refused(refusal) => Err(PolicyError::Refused { refusals: vec![refusal] }),
            _ => Ok(()),
        }
    }

    fn requirements(&self, env: &str) -> Requirements {
        self.get(env).map(Requirements::of).unwrap_or_default()
    }
}

/// Resolves a tag to its current digest through a registry (`Ok(None)` = not this resolver's).
#[async_trait]
pub trait DigestResolver: Send + Sync {
    /// The digest `image`'s tag points at, or `None` when this resolver does not serve its registry.
    async fn resolve(&self, image: &ImageRef) -> Result<Option<Digest>, RegistryError>;
}

/// Check the policy for every service's image. Refusal = `PolicyRefused`, before any change.
pub fn check_policy(stack: &StackSpec, env: &str, policy: &dyn ImagePolicy) -> Result<(), DeployError> {
    for (name, svc) in &stack.services {
        let image = svc.image.as_deref().ok_or_else(|| DeployError::MissingImage { service: name.clone() })?;
        let parsed = ImageRef::parse(image).map_err(|source| DeployError::InvalidImage {
            service: name.clone(),
            image: image.to_string(),
            source,
        })?;
        policy.check(env, &parsed).map_err(|source| DeployError::PolicyRefused {
            service: name.clone(),
            image: image.to_string(),
            env: env.to_string(),
            source: Box::new(source),
        })?;
    }
    Ok(())
}

/// Resolve every service's image to a pinned reference, per the service's `pull_policy`:
/// - an image written with a digest stays as written;
/// - `resolver`, when given, answers first for the registries it serves;
/// - unset (the default): the image's registry is asked for the tag's current digest (config.json
///   credentials), so a moved tag such as `staging-latest` deploys what was pushed last; when the
///   registry cannot answer, the engine's own image is used (reported), else the engine pulls;
/// - `always`: the registry, else an engine pull; never an image that is merely present;
/// - `missing`: the engine's image when it has one, else as the default;
/// - `never`: only the engine's image.
///
/// Each decision is reported as a [`DeployEvent::Resolved`].
pub async fn resolve_images(
    docker: &Docker,
    stack: &StackSpec,
    resolver: Option<&dyn DigestResolver>,
    observer: &dyn Observer,
) -> Result<BTreeMap<String, String>, DeployError> {
    let mut cache: BTreeMap<(String, Option<PullPolicy>), (String, &'static str)> = BTreeMap::new();
    let mut unreachable = Unreachable::default();
    let mut out = BTreeMap::new();
    for (name, svc) in &stack.services {
        let image = svc.image.as_deref().ok_or_else(|| DeployError::MissingImage { service: name.clone() })?;
        let key = (image.to_string(), svc.pull_policy);
        let (pinned, from) = match cache.get(&key) {
            Some(found) => found.clone(),
            None => {
                let found = resolve_one(docker, image, svc.pull_policy, resolver, observer, &mut unreachable)
                    .await
                    .map_err(|source| DeployError::Resolve {
                        service: name.clone(),
                        image: image.to_string(),
                        source: Box::new(source),
                    })?;
                cache.insert(key, found.clone());
                found
            }
        };
        resolved(observer, name, image, &pinned, from);
        out.insert(name.clone(), pinned);
    }
    Ok(out)
}

/// Every service's image pinned to its registry digest, for targets whose nodes pull by
/// themselves (Kubernetes): an image written with a digest stays as written, else `resolver`
/// answers first, else the image's registry. No engine is asked: an image only in a local engine
/// cannot run on a cluster. Each decision is reported as a [`DeployEvent::Resolved`].
pub async fn registry_pins(
    stack: &StackSpec,
    resolver: Option<&dyn DigestResolver>,
    observer: &dyn Observer,
) -> Result<BTreeMap<String, String>, DeployError> {
    let mut unreachable = Unreachable::default();
    let mut out = BTreeMap::new();
    for (name, svc) in &stack.services {
        let image = svc.image.as_deref().ok_or_else(|| DeployError::MissingImage { service: name.clone() })?;
        let failed = |source: ResolveFailure| DeployError::Resolve {
            service: name.clone(),
            image: image.to_string(),
            source: Box::new(source),
        };
        let (pinned, from) = if image.contains('@') {
            (image.to_string(), "written")
        } else {
            let reference = ImageRef::parse(image).map_err(|e| failed(e.into()))?;
            let answered = match resolver {
                Some(r) => r.resolve(&reference).await.map_err(|e| failed(ResolveFailure::Resolver(e)))?,
                None => None,
            };
            match answered {
                Some(digest) => (reference.pinned(digest).familiar(), "registry"),
                None => (
                    registry_pin(image, &mut unreachable)
                        .await
                        .map_err(|e| failed(ResolveFailure::NotInRegistry(e)))?,
                    "registry",
                ),
            }
        };
        resolved(observer, name, image, &pinned, from);
        out.insert(name.clone(), pinned);
    }
    Ok(out)
}

/// Report one decision as a [`DeployEvent::Resolved`].
fn resolved(observer: &dyn Observer, service: &str, image: &str, pinned: &str, from: &str) {
    observer.event(&Event::Deploy(DeployEvent::Resolved {
        service: service.to_string(),
        image: image.to_string(),
        pinned: pinned.to_string(),
        from: from.to_string(),
    }));
}

/// One image: `(pinned, where the pin came from)`.
async fn resolve_one(
    docker: &Docker,
    image: &str,
    policy: Option<PullPolicy>,
    resolver: Option<&dyn DigestResolver>,
    observer: &dyn Observer,
    unreachable: &mut Unreachable,
) -> Result<(String, &'static str), ResolveFailure> {
    if image.contains('@') {
        return Ok((image.to_string(), "written"));
    }
    if policy == Some(PullPolicy::Never) {
        return local_pin(docker, image).await.map(|p| (p, "engine")).ok_or(ResolveFailure::NotInEngine);
    }
    if policy == Some(PullPolicy::Missing) {
        if let Some(p) = local_pin(docker, image).await {
            return Ok((p, "engine"));
        }
    }
    if let Some(r) = resolver {
        let reference = ImageRef::parse(image)?;
        if let Some(digest) = r.resolve(&reference).await.map_err(ResolveFailure::Resolver)? {
            return Ok((reference.pinned(digest).familiar(), "registry"));
        }
    }
    let registry_error = match registry_pin(image, unreachable).await {
        Ok(p) => return Ok((p, "registry")),
        Err(e) => e,
    };
    if policy != Some(PullPolicy::Always) {
        if let Some(p) = local_pin(docker, image).await {
            let text = format!("{image}: the registry did not answer ({registry_error}); using the engine's image");
            observer.event(&Event::Deploy(DeployEvent::Message { text }));
            return Ok((p, "engine"));
        }
    }
    // The engine may reach registries slipway cannot (its own mirrors, insecure-registries).
    match engine::pull(docker, image).await {
        Ok(()) => local_pin(docker, image).await.map(|p| (p, "pull")).ok_or(ResolveFailure::PulledNotShown),
        Err(pull) => Err(ResolveFailure::Unavailable { registry: registry_error, pull: Box::new(pull) }),
    }
}

/// Registries that could not be reached during one resolution, with why: the other images of
/// the stack on the same registry go straight to their fallback.
#[derive(Default)]
struct Unreachable(BTreeMap<String, RegistryMiss>);

/// The bound of one registry lookup, retries included.
const REGISTRY_LOOKUP_BOUND: Duration = Duration::from_secs(20);

/// The tag's current digest from its registry, as `repository@sha256:...` (Docker's spelling).
async fn registry_pin(image: &str, unreachable: &mut Unreachable) -> Result<String, RegistryMiss> {
    let reference = ImageRef::parse(image)?;
    let host = reference.registry().to_string();
    if let Some(why) = unreachable.0.get(&host) {
        return Err(why.clone());
    }
    // One retry: a registry that is down should not hold the deploy for long before the fallback.
    let options = DistributionOptions::default().retry(RetryPolicy::new(2, Duration::from_millis(200)));
    let lookup = async {
        let client = Distribution::connect(&host, options).await?;
        client.resolve(&reference).await
    };
    match tokio::time::timeout(REGISTRY_LOOKUP_BOUND, lookup).await {
        Ok(Ok(found)) => Ok(reference.pinned(found.digest).familiar()),
        Ok(Err(e @ RegistryError::Unavailable { .. })) => {
            let why = RegistryMiss::Registry(std::sync::Arc::new(e));
            unreachable.0.insert(host, why.clone());
            Err(why)
        }
        Ok(Err(e)) => Err(RegistryMiss::Registry(std::sync::Arc::new(e))),
        Err(_) => {
            let why = RegistryMiss::NoAnswer { host: host.clone(), bound: REGISTRY_LOOKUP_BOUND };
            unreachable.0.insert(host, why.clone());
            Err(why)
        }
    }
}

/// The pinned reference of an image present in the engine: a repo digest of the same repository
/// when it has one (pullable again), else the image id.
async fn local_pin(docker: &Docker, image: &str) -> Option<String> {
    let inspect = docker.inspect_image(image).await.ok()?;
    let wanted = ImageRef::parse(image).ok().map(|r| (r.registry().to_string(), r.repository().to_string()));
    let digests = inspect.repo_digests.unwrap_or_default();
    digests
        .iter()
        .find(|d| {
            let parsed = ImageRef::parse(d).ok().map(|r| (r.registry().to_string(), r.repository().to_string()));
            parsed.is_some() && parsed == wanted
        })
        .cloned()
        .or(inspect.id)
}

#[cfg(test)]
mod builtin_tests {
    use super::*;

    #[test]
    fn builtin_environment_policies_plug_in() {
        let p = crate::policy::EnvironmentPolicies::builtin();
        let r = |s: &str| ImageRef::parse(s).unwrap();
        assert!(p.check("production", &r("127.0.0.1:5000/app:latest")).is_err());
        assert!(p.check("production", &r("127.0.0.1:5000/app:v1.2.3")).is_ok());
        assert!(p.check("default", &r("127.0.0.1:5000/app:latest")).is_ok());
        assert!(p.check("staging", &r("127.0.0.1:5000/app:latest")).is_ok());
        assert!(p.check("nosuchenv", &r("app:v1.0.0")).is_err());
    }
}
