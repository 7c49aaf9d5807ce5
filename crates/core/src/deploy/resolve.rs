//! Before anything changes: the environment policy for every image, then every image resolved to
//! what the containers will run (a registry digest, or the local image id of an image that exists
//! only in this engine). The foundation room's `policy::EnvironmentPolicy` plugs in through
//! [`ImagePolicy`]; the registry room's `Registry` through [`DigestResolver`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use bollard::Docker;

use super::engine;
use super::error::DeployError;
use crate::stack::StackSpec;
use crate::ImageRef;

/// Which image references an environment accepts.
pub trait ImagePolicy: Send + Sync {
    /// `Err(reason)` when `env` must not run `image`.
    fn check(&self, env: &str, image: &str) -> Result<(), String>;
}

/// The default policy: `production` (or `prod`) accepts only images pinned by digest or by an
/// immutable tag; `latest`, a missing tag and the usual moving tags are refused. Other
/// environments accept everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultImagePolicy;

/// Tags that move by convention.
pub const MOVING_TAGS: &[&str] =
    &["latest", "main", "master", "edge", "stable", "dev", "develop", "nightly", "staging", "staging-latest"];

impl ImagePolicy for DefaultImagePolicy {
    fn check(&self, env: &str, image: &str) -> Result<(), String> {
        if !matches!(env, "production" | "prod") {
            return Ok(());
        }
        let r = ImageRef::parse(image).map_err(|e| e.to_string())?;
        if r.digest().is_some() {
            return Ok(());
        }
        match r.tag() {
            None => Err("no tag (means `latest`); pin a version tag or a digest".into()),
            Some(t) if MOVING_TAGS.contains(&t) => Err(format!("`{t}` is a moving tag; pin a version tag or a digest")),
            Some(_) => Ok(()),
        }
    }
}

/// The foundation room's environment policies (`production`, `staging`, and any from a policy
/// file). The environment `default` (or empty) has no policy; an unknown name is refused.
impl ImagePolicy for crate::policy::EnvironmentPolicies {
    fn check(&self, env: &str, image: &str) -> Result<(), String> {
        if env.is_empty() || env == "default" {
            return Ok(());
        }
        let policy = self.get(env).map_err(|e| e.to_string())?;
        let r = ImageRef::parse(image).map_err(|e| e.to_string())?;
        match policy.evaluate(&r) {
            crate::policy::Verdict::Refused(refusal) => Err(refusal.to_string()),
            _ => Ok(()),
        }
    }
}

/// Resolves a tag to a pinned reference through a registry (`Ok(None)` = not this resolver's).
#[async_trait]
pub trait DigestResolver: Send + Sync {
    /// `repo@sha256:...` for `image`, or `None` when this resolver does not serve its registry.
    async fn resolve(&self, image: &str) -> Result<Option<String>, String>;
}

/// Check the policy for every service's image. Refusal = `PolicyRefused`, before any change.
pub fn check_policy(stack: &StackSpec, env: &str, policy: &dyn ImagePolicy) -> Result<(), DeployError> {
    for (name, svc) in &stack.services {
        let image = svc.image.as_deref().ok_or_else(|| DeployError::MissingImage { service: name.clone() })?;
        policy.check(env, image).map_err(|reason| DeployError::PolicyRefused {
            service: name.clone(),
            image: image.to_string(),
            env: env.to_string(),
            reason,
        })?;
    }
    Ok(())
}

/// Resolve every service's image to a pinned reference: as written when it carries a digest;
/// else through `resolver`; else from the engine (a repo digest of the local image, else its
/// id); else pulled by tag through the engine (its credentials) and read back.
pub async fn resolve_images(
    docker: &Docker,
    stack: &StackSpec,
    resolver: Option<&dyn DigestResolver>,
) -> Result<BTreeMap<String, String>, DeployError> {
    let mut cache: BTreeMap<String, String> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (name, svc) in &stack.services {
        let image = svc.image.as_deref().ok_or_else(|| DeployError::MissingImage { service: name.clone() })?;
        if let Some(p) = cache.get(image) {
            out.insert(name.clone(), p.clone());
            continue;
        }
        let err = |reason: String| DeployError::Resolve { service: name.clone(), image: image.to_string(), reason };
        let pinned = if image.contains("@sha256:") {
            image.to_string()
        } else if let Some(p) = match resolver {
            Some(r) => r.resolve(image).await.map_err(err)?,
            None => None,
        } {
            p
        } else if let Some(p) = local_pin(docker, image).await {
            p
        } else {
            engine::pull(docker, image).await.map_err(|e| err(e.to_string()))?;
            local_pin(docker, image).await.ok_or_else(|| err("pulled, but the engine does not show it".into()))?
        };
        cache.insert(image.to_string(), pinned.clone());
        out.insert(name.clone(), pinned);
    }
    Ok(out)
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
mod tests {
    use super::*;

    #[test]
    fn production_refuses_moving_tags() {
        let p = DefaultImagePolicy;
        assert!(p.check("production", "registry.example/app:latest").is_err());
        assert!(p.check("production", "registry.example/app").is_err());
        assert!(p.check("prod", "app:main").is_err());
        assert!(p.check("production", "app:v1.2.3").is_ok());
        let pinned = format!("app@sha256:{}", "a".repeat(64));
        assert!(p.check("production", &pinned).is_ok());
        assert!(p.check("staging", "app:latest").is_ok());
    }
}

#[cfg(test)]
mod builtin_tests {
    use super::*;

    #[test]
    fn builtin_environment_policies_plug_in() {
        let p = crate::policy::EnvironmentPolicies::builtin();
        assert!(p.check("production", "127.0.0.1:5000/app:latest").is_err());
        assert!(p.check("default", "127.0.0.1:5000/app:latest").is_ok());
        assert!(p.check("staging", "127.0.0.1:5000/app:latest").is_ok());
        assert!(p.check("nosuchenv", "app:v1.0.0").is_err());
    }
}
