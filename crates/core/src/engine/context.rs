//! Docker contexts, read the way the docker CLI stores them: the current context's name in
//! `~/.docker/config.json` (`currentContext`), its endpoint in
//! `~/.docker/contexts/meta/<sha256(name)>/meta.json` and its TLS files in
//! `~/.docker/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::EngineError;

/// The Docker endpoint a context names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContextEndpoint {
    /// `Endpoints.docker.Host`.
    pub host: String,
    /// `Endpoints.docker.SkipTLSVerify`.
    pub skip_tls_verify: bool,
    /// The context's TLS directory, when it holds any file.
    pub tls_dir: Option<PathBuf>,
}

/// `currentContext` from `config.json` in `config_dir`, when set and not `default`.
pub(crate) fn current_context(config_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config_dir.join("config.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value.get("currentContext").and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Read context `name` from `config_dir` (`~/.docker`).
pub(crate) fn read_context(config_dir: &Path, name: &str) -> Result<ContextEndpoint, EngineError> {
    let bad = |reason: String| EngineError::Context { name: name.to_string(), reason };
    let id = hex::encode(Sha256::digest(name.as_bytes()));
    let meta = config_dir.join("contexts").join("meta").join(&id).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|e| {
        bad(format!("cannot read {} ({e}); `docker context ls` lists the contexts there are", meta.display()))
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("{} is not JSON: {e}", meta.display())))?;
    let docker =
        value.pointer("/Endpoints/docker").ok_or_else(|| bad(format!("{} has no Endpoints.docker", meta.display())))?;
    let host = docker
        .get("Host")
        .and_then(|h| h.as_str())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad(format!("{} has no Endpoints.docker.Host", meta.display())))?;
    let skip_tls_verify = docker.get("SkipTLSVerify").and_then(|v| v.as_bool()).unwrap_or(false);
    let tls = config_dir.join("contexts").join("tls").join(&id).join("docker");
    let tls_dir = ["ca.pem", "cert.pem", "key.pem"].iter().any(|f| tls.join(f).is_file()).then_some(tls);
    Ok(ContextEndpoint { host: host.to_string(), skip_tls_verify, tls_dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_context(dir: &Path, name: &str, host: &str, tls: bool) {
        let id = hex::encode(Sha256::digest(name.as_bytes()));
        let meta = dir.join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        let body = serde_json::json!({"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}}});
        std::fs::write(meta.join("meta.json"), body.to_string()).unwrap();
        if tls {
            let t = dir.join("contexts/tls").join(&id).join("docker");
            std::fs::create_dir_all(&t).unwrap();
            std::fs::write(t.join("ca.pem"), "x").unwrap();
        }
    }

    #[test]
    fn reads_contexts_like_the_docker_cli() {
        let dir = tempfile::tempdir().unwrap();
        write_context(dir.path(), "prod", "ssh://deploy@203.0.113.7", false);
        write_context(dir.path(), "tls", "tcp://10.0.0.2:2376", true);
        std::fs::write(dir.path().join("config.json"), r#"{"currentContext":"prod","auths":{}}"#).unwrap();
        assert_eq!(current_context(dir.path()).as_deref(), Some("prod"));
        let prod = read_context(dir.path(), "prod").unwrap();
        assert_eq!(prod.host, "ssh://deploy@203.0.113.7");
        assert!(prod.tls_dir.is_none());
        let tls = read_context(dir.path(), "tls").unwrap();
        assert!(tls.tls_dir.unwrap().ends_with("docker"));
        let missing = read_context(dir.path(), "nope").unwrap_err();
        assert!(missing.to_string().contains("\"nope\""), "{missing}");
    }
}
