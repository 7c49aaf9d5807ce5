//! Labels and object metadata: the `app.kubernetes.io/*` recommended labels, slipway's own keys
//! (the same `dev.slipway.*` keys the Docker target writes on containers), and the selector that
//! ties a workload to its pods (stable keys only: selectors cannot change after creation).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

/// The project label (as on Docker containers).
pub const PROJECT_LABEL: &str = crate::deploy::labels::PROJECT;
/// The service label (as on Docker containers).
pub const SERVICE_LABEL: &str = crate::deploy::labels::SERVICE;
/// The release label: written by `slipway deploy` on every object it applies (render has none).
pub const RELEASE_LABEL: &str = crate::deploy::labels::RELEASE;
/// `app.kubernetes.io/managed-by` value, and the server-side apply field manager.
pub const MANAGED_BY: &str = "slipway";

/// Where objects of one render go.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    /// The compose project.
    pub project: String,
    /// `metadata.namespace` (none = the context's namespace at apply time).
    pub namespace: Option<String>,
}

impl Meta {
    /// Labels of every object of a service (`service = None`: project-wide objects).
    pub fn labels(&self, service: Option<&str>, version: Option<&str>) -> BTreeMap<String, String> {
        let mut l = BTreeMap::new();
        l.insert("app.kubernetes.io/part-of".to_string(), label_value(&self.project));
        l.insert("app.kubernetes.io/instance".to_string(), label_value(&self.project));
        l.insert("app.kubernetes.io/managed-by".to_string(), MANAGED_BY.to_string());
        l.insert(PROJECT_LABEL.to_string(), label_value(&self.project));
        if let Some(s) = service {
            l.insert("app.kubernetes.io/name".to_string(), label_value(s));
            l.insert(SERVICE_LABEL.to_string(), label_value(s));
        }
        if let Some(v) = version.map(label_value).filter(|v| !v.is_empty()) {
            l.insert("app.kubernetes.io/version".to_string(), v);
        }
        l
    }

    /// The pod selector of a service's workload and Service.
    pub fn selector_labels(&self, service: &str) -> BTreeMap<String, String> {
        let mut l = BTreeMap::new();
        l.insert("app.kubernetes.io/instance".to_string(), label_value(&self.project));
        l.insert("app.kubernetes.io/name".to_string(), label_value(service));
        l
    }

    /// The selector as a `LabelSelector`.
    pub fn selector(&self, service: &str) -> LabelSelector {
        LabelSelector { match_labels: Some(self.selector_labels(service)), ..Default::default() }
    }

    /// Metadata of one object.
    pub fn object(&self, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: self.namespace.clone(),
            labels: Some(labels),
            ..Default::default()
        }
    }
}

/// A label value Kubernetes accepts: at most 63 characters of `[A-Za-z0-9-_.]`, starting and
/// ending alphanumeric; other characters become `-` (`v1.2.3` stays, `a/b` becomes `a-b`).
pub fn label_value(v: &str) -> String {
    let mut s: String =
        v.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' }).collect();
    s.truncate(63);
    s.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

/// The tag of an image reference, for `app.kubernetes.io/version` (`None` for a digest only).
pub fn image_version(image: &str) -> Option<String> {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split_once(':').map(|(_, tag)| tag.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_versions() {
        assert_eq!(label_value("v1.2.3"), "v1.2.3");
        assert_eq!(label_value("a/b:c"), "a-b-c");
        assert_eq!(label_value("-x-"), "x");
        assert_eq!(image_version("reg:5000/app/web:v1.0.0").as_deref(), Some("v1.0.0"));
        assert_eq!(image_version("reg:5000/app/web"), None);
        assert_eq!(image_version("web:v1@sha256:abc").as_deref(), Some("v1"));
    }
}
