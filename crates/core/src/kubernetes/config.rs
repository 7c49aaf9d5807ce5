//! ConfigMaps and Secrets. A service's environment (`environment:` merged over its `env_file`s)
//! is split: variables that look secret (names with PASSWORD, PASSWD, SECRET, TOKEN, KEY,
//! CREDENTIAL or PRIVATE, or a URL value with a password) go into a Secret `<service>-env`, the
//! rest into a ConfigMap `<service>-env`; the container takes both with `envFrom`, so no secret
//! value is ever inline in a pod spec. Top-level `secrets:` become Secrets and `configs:`
//! ConfigMaps, each mounted file by file (`subPath`) at the service's target.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapEnvSource, ConfigMapVolumeSource, EnvFromSource, KeyToPath, Secret, SecretEnvSource,
    SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::ByteString;

use super::error::KubernetesError;
use super::metadata::Meta;
use super::names::{dns_label, is_config_key, suffixed};
use super::warning::{MappingWarning, WarningKind};
use crate::stack::{FileMountSpec, FileObjectSource, FileObjectSpec, ServiceSpec};

/// The data key under which a top-level secret's or config's content is stored.
pub const CONTENT_KEY: &str = "content";

/// A service's environment as a ConfigMap and a Secret (each only when non-empty) and the
/// `envFrom` entries that load them.
pub struct EnvObjects {
    /// The ConfigMap of plain variables.
    pub config_map: Option<ConfigMap>,
    /// The Secret of secret-looking variables.
    pub secret: Option<Secret>,
    /// What the container loads.
    pub env_from: Vec<EnvFromSource>,
}

/// Whether a variable holds a secret (by name, or a URL with a password in it).
pub fn looks_secret(name: &str, value: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let by_name = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE"].iter().any(|w| upper.contains(w))
        || upper.split(['_', '-', '.']).any(|part| part == "KEY" || part == "APIKEY");
    let url_password = value
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'));
    by_name || url_password
}

/// Split a service's environment into its ConfigMap and Secret.
pub fn env_objects(meta: &Meta, svc: &ServiceSpec, warnings: &mut Vec<MappingWarning>) -> EnvObjects {
    let mut plain = BTreeMap::new();
    let mut secret = BTreeMap::new();
    for (name, value) in &svc.environment {
        let Some(value) = value else {
            warnings.push(MappingWarning::service(
                &svc.name,
                format!("environment.{name}"),
                WarningKind::Dropped,
                "set without a value and not in the environment at render time",
            ));
            continue;
        };
        if !is_config_key(name) {
            warnings.push(MappingWarning::service(
                &svc.name,
                format!("environment.{name}"),
                WarningKind::Dropped,
                "not a valid ConfigMap/Secret key ([-._a-zA-Z0-9]+)",
            ));
            continue;
        }
        if looks_secret(name, value) {
            secret.insert(name.clone(), ByteString(value.clone().into_bytes()));
        } else {
            plain.insert(name.clone(), value.clone());
        }
    }
    let name = suffixed(&svc.name, "env");
    let labels = meta.labels(Some(&svc.name), None);
    let mut env_from = Vec::new();
    let config_map = (!plain.is_empty()).then(|| {
        env_from.push(EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource { name: name.clone(), optional: None }),
            ..Default::default()
        });
        ConfigMap { metadata: meta.object(&name, labels.clone()), data: Some(plain), ..Default::default() }
    });
    let secret = (!secret.is_empty()).then(|| {
        env_from.push(EnvFromSource {
            secret_ref: Some(SecretEnvSource { name: name.clone(), optional: None }),
            ..Default::default()
        });
        Secret {
            metadata: meta.object(&name, labels),
            data: Some(secret),
            type_: Some("Opaque".into()),
            ..Default::default()
        }
    });
    EnvObjects { config_map, secret, env_from }
}

/// The object name of a top-level secret or config (its engine-side name as a DNS label).
pub fn object_name(spec: &FileObjectSpec) -> String {
    match &spec.source {
        FileObjectSource::External(name) => dns_label(name),
        _ => dns_label(&spec.name),
    }
}

/// The content of a top-level secret or config, `None` for an external one (it must exist in
/// the namespace already).
pub fn content(
    what: &'static str,
    key: &str,
    spec: &FileObjectSpec,
    env: &BTreeMap<String, String>,
) -> Result<Option<Vec<u8>>, KubernetesError> {
    match &spec.source {
        FileObjectSource::File(path) => std::fs::read(path).map(Some).map_err(|source| KubernetesError::ReadSource {
            what,
            name: key.to_string(),
            path: path.clone(),
            source,
        }),
        FileObjectSource::Environment(var) => match env.get(var) {
            Some(v) => Ok(Some(v.clone().into_bytes())),
            None => Err(KubernetesError::UnsetVariable { name: key.to_string(), variable: var.clone() }),
        },
        FileObjectSource::Content(text) => Ok(Some(text.clone().into_bytes())),
        FileObjectSource::External(_) => Ok(None),
    }
}

/// A top-level secret as a Secret object.
pub fn secret_object(meta: &Meta, spec: &FileObjectSpec, bytes: Vec<u8>) -> Secret {
    let mut data = BTreeMap::new();
    data.insert(CONTENT_KEY.to_string(), ByteString(bytes));
    Secret {
        metadata: meta.object(&object_name(spec), meta.labels(None, None)),
        data: Some(data),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}

/// A top-level config as a ConfigMap (text) or with `binaryData` (not UTF-8).
pub fn config_object(meta: &Meta, spec: &FileObjectSpec, bytes: Vec<u8>) -> ConfigMap {
    let mut cm = ConfigMap { metadata: meta.object(&object_name(spec), meta.labels(None, None)), ..Default::default() };
    match String::from_utf8(bytes) {
        Ok(text) => cm.data = Some(BTreeMap::from([(CONTENT_KEY.to_string(), text)])),
        Err(e) => cm.binary_data = Some(BTreeMap::from([(CONTENT_KEY.to_string(), ByteString(e.into_bytes()))])),
    }
    cm
}

/// The volume and mount of one secret (`secret = true`) or config used by a service.
pub fn file_mount(secret: bool, index: usize, mount: &FileMountSpec, spec: &FileObjectSpec) -> (Volume, VolumeMount) {
    let vol_name = format!("{}-{index}", if secret { "secret" } else { "config" });
    let items = Some(vec![KeyToPath {
        key: CONTENT_KEY.into(),
        path: CONTENT_KEY.into(),
        mode: mount.mode.and_then(|m| i32::try_from(m).ok()),
    }]);
    let mut volume = Volume { name: vol_name.clone(), ..Default::default() };
    if secret {
        volume.secret = Some(SecretVolumeSource { secret_name: Some(object_name(spec)), items, ..Default::default() });
    } else {
        volume.config_map = Some(ConfigMapVolumeSource { name: object_name(spec), items, ..Default::default() });
    }
    let vm = VolumeMount {
        name: vol_name,
        mount_path: mount.target.clone(),
        sub_path: Some(CONTENT_KEY.into()),
        read_only: Some(true),
        ..Default::default()
    };
    (volume, vm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_variables() {
        assert!(looks_secret("POSTGRES_PASSWORD", "x"));
        assert!(looks_secret("API_KEY", "x"));
        assert!(looks_secret("DATABASE_URL", "postgres://app:pw@db:5432/app"));
        assert!(!looks_secret("REDIS_URL", "redis://redis:6379/0"));
        assert!(!looks_secret("KEYBOARD_LAYOUT", "us"));
        assert!(!looks_secret("APP_VERSION", "v1"));
    }

    #[test]
    fn environment_splits_into_config_map_and_secret() {
        let meta = Meta { project: "shop".into(), namespace: None };
        let mut svc = ServiceSpec { name: "backend".into(), ..Default::default() };
        svc.environment.insert("APP_VERSION".into(), Some("v1".into()));
        svc.environment.insert("SECRET_KEY".into(), Some("s3cr3t".into()));
        svc.environment.insert("UNSET".into(), None);
        let mut w = Vec::new();
        let objs = env_objects(&meta, &svc, &mut w);
        let cm = objs.config_map.expect("config map");
        assert_eq!(cm.data.expect("data").keys().collect::<Vec<_>>(), vec!["APP_VERSION"]);
        let s = objs.secret.expect("secret");
        assert!(s.data.expect("data").contains_key("SECRET_KEY"));
        assert_eq!(objs.env_from.len(), 2);
        assert_eq!(w.len(), 1);
    }
}
