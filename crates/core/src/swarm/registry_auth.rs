//! `--with-registry-auth`: the registry credentials sent with each service create/update (and
//! job), as `docker stack deploy --with-registry-auth` does, so that every node can pull from a
//! private registry. They come from Docker's `config.json` on the operator's machine (helpers
//! included, the same lookup as the host target's pulls) and travel only in the request's
//! `X-Registry-Auth` header: the Swarm keeps them with the service, `docker service inspect`
//! does not show them, and slipway never puts them in a label, record, event or `Debug`.

use std::collections::BTreeMap;
use std::fmt;

use bollard::auth::DockerCredentials;
use bollard::models::ServiceSpec;

/// Credentials by pinned image (empty: none sent; the nodes' own logins apply).
#[derive(Clone, Default)]
pub struct RegistryAuth(BTreeMap<String, DockerCredentials>);

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RegistryAuth").field(&self.0.keys().collect::<Vec<_>>()).finish()
    }
}

/// The image a spec runs.
pub(crate) fn image_of(spec: &ServiceSpec) -> String {
    spec.task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

impl RegistryAuth {
    /// Look up the credentials of every image in `images` (anonymous registries are left out).
    pub async fn for_images<'a>(images: impl IntoIterator<Item = &'a str>) -> crate::Result<Self> {
        let mut out = BTreeMap::new();
        for image in images {
            if out.contains_key(image) {
                continue;
            }
            if let Some(c) = crate::deploy::credentials_for(image).await? {
                out.insert(image.to_string(), c);
            }
        }
        Ok(Self(out))
    }

    /// What to send with `spec`.
    pub fn for_spec(&self, spec: &ServiceSpec) -> Option<DockerCredentials> {
        self.0.get(&image_of(spec)).cloned()
    }

    /// Registries covered, for a message (no secret in it).
    pub fn registries(&self) -> Vec<String> {
        let mut r: Vec<String> = self.0.values().filter_map(|c| c.serveraddress.clone()).collect();
        r.sort();
        r.dedup();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_images_never_credentials() {
        let creds = DockerCredentials {
            username: Some("ci".into()),
            password: Some("pw-planted".into()),
            serveraddress: Some("10.231.0.1:5000".into()),
            ..Default::default()
        };
        let auth = RegistryAuth(BTreeMap::from([("10.231.0.1:5000/demo@sha256:aa".to_string(), creds)]));
        let shown = format!("{auth:?}");
        assert!(shown.contains("demo@sha256:aa") && !shown.contains("pw-planted"), "{shown}");
        assert_eq!(auth.registries(), vec!["10.231.0.1:5000".to_string()]);
    }
}
