//! `ProxySettings`: what `slipway proxy up` runs (image, entry point addresses, redirection,
//! the ACME resolver), validated, rendered as Traefik's static configuration on its command line
//! (pure, unit-tested) and hashed, so `up` knows whether the running proxy already matches.

use std::path::PathBuf;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::error::ProxyError;
use super::{ACME_DIR, API_ADDR, CA_PATH, DYNAMIC_DIR};

/// The default image: Traefik v3.6.17 from Docker Hub's official `traefik` repository, pinned by
/// the digest that public deployments pin it by (see docs/rooms/proxy.md for the sources).
pub const DEFAULT_IMAGE: &str =
    "traefik:v3.6.17@sha256:802adc80a7bb20a6766c9385c2ad547f0de98564cd20d31d0b6d8f726f906f66";
/// The default container name.
pub const DEFAULT_NAME: &str = crate::route::traefik::MANAGED_DEFAULT_NAME;
/// Let's Encrypt's production ACME directory (the default server).
pub const LETSENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging ACME directory (`--acme-staging`).
pub const LETSENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
/// The certificate resolver's name, as routers name it (`tls.certresolver: letsencrypt`).
pub const RESOLVER: &str = "letsencrypt";
/// Entry point `web`'s port inside the container.
const WEB_PORT: u16 = 80;
/// Entry point `websecure`'s port inside the container.
const WEBSECURE_PORT: u16 = 443;

/// An address a proxy entry point is published on: `PORT`, `:PORT`, `IP:PORT` or `[IPv6]:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ListenAddress {
    /// The host IP (empty = every address).
    pub ip: String,
    /// The host port.
    pub port: u16,
}

impl ListenAddress {
    /// Parse `text`; `flag` names the option in the error.
    pub fn parse(flag: &'static str, text: &str) -> Result<Self, ProxyError> {
        let bad = |reason: &str| ProxyError::InvalidAddress { flag, value: text.to_string(), reason: reason.into() };
        let (ip, port) = match text.rsplit_once(':') {
            Some((ip, port)) => (ip.trim_start_matches('[').trim_end_matches(']'), port),
            None => ("", text),
        };
        let port: u16 = port.parse().map_err(|_| bad("the port must be a number 1-65535"))?;
        if port == 0 {
            return Err(bad("the port must be a number 1-65535"));
        }
        if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
            return Err(bad("the host must be an IP address (or nothing for every address)"));
        }
        Ok(ListenAddress { ip: ip.to_string(), port })
    }
}

impl std::fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.ip.is_empty(), self.ip.contains(':')) {
            (true, _) => write!(f, ":{}", self.port),
            (false, true) => write!(f, "[{}]:{}", self.ip, self.port),
            (false, false) => write!(f, "{}:{}", self.ip, self.port),
        }
    }
}

/// The ACME certificate resolver `letsencrypt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AcmeSettings {
    /// The account email.
    pub email: String,
    /// The ACME directory URL.
    pub server: String,
    /// An extra CA (PEM) the proxy trusts for the ACME server (private ACME servers), as given.
    pub ca_file: Option<PathBuf>,
}

/// How the managed proxy runs. Build with [`ProxySettings::new`] and the setters; `up` validates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProxySettings {
    /// The container's name (default `slipway-proxy`); its volumes are `<name>-dynamic` and
    /// `<name>-acme`.
    pub name: String,
    /// The Traefik v3 image (default [`DEFAULT_IMAGE`]).
    pub image: String,
    /// Where entry point `web` (HTTP) is published (default `:80`).
    pub http: String,
    /// Where entry point `websecure` (HTTPS) is published (default `:443`).
    pub https: String,
    /// Redirect every HTTP request to HTTPS.
    pub redirect_https: bool,
    /// The ACME account email (required for the resolver).
    pub acme_email: Option<String>,
    /// The ACME directory URL (default Let's Encrypt production).
    pub acme_server: Option<String>,
    /// Use Let's Encrypt's staging directory.
    pub acme_staging: bool,
    /// An extra CA file for the ACME server (copied into the proxy, `LEGO_CA_CERTIFICATES`).
    pub acme_ca: Option<PathBuf>,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            name: DEFAULT_NAME.into(),
            image: DEFAULT_IMAGE.into(),
            http: format!(":{WEB_PORT}"),
            https: format!(":{WEBSECURE_PORT}"),
            redirect_https: false,
            acme_email: None,
            acme_server: None,
            acme_staging: false,
            acme_ca: None,
        }
    }
}

/// Settings checked and resolved: what the container is made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ResolvedSettings {
    /// The container name.
    pub name: String,
    /// The image.
    pub image: String,
    /// Entry point `web`'s published address.
    pub http: ListenAddress,
    /// Entry point `websecure`'s published address.
    pub https: ListenAddress,
    /// HTTP -> HTTPS redirection.
    pub redirect_https: bool,
    /// The ACME resolver, when asked for.
    pub acme: Option<AcmeSettings>,
    /// The extra CA's contents (PEM), read from `acme.ca_file`.
    #[serde(skip)]
    pub ca_pem: Option<Vec<u8>>,
}

impl ProxySettings {
    /// The defaults: `slipway-proxy`, [`DEFAULT_IMAGE`], `:80`, `:443`, no redirection, no ACME.
    pub fn new() -> Self {
        Self::default()
    }
    /// The container name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// The image (`--image`).
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = image.into();
        self
    }
    /// Entry point `web`'s address (`--http`).
    pub fn http(mut self, address: impl Into<String>) -> Self {
        self.http = address.into();
        self
    }
    /// Entry point `websecure`'s address (`--https`).
    pub fn https(mut self, address: impl Into<String>) -> Self {
        self.https = address.into();
        self
    }
    /// Redirect HTTP to HTTPS (`--redirect-https`).
    pub fn redirect_https(mut self, on: bool) -> Self {
        self.redirect_https = on;
        self
    }
    /// The ACME account email (`--acme-email`).
    pub fn acme_email(mut self, email: Option<String>) -> Self {
        self.acme_email = email;
        self
    }
    /// The ACME directory URL (`--acme-server`).
    pub fn acme_server(mut self, url: Option<String>) -> Self {
        self.acme_server = url;
        self
    }
    /// Let's Encrypt staging (`--acme-staging`).
    pub fn acme_staging(mut self, on: bool) -> Self {
        self.acme_staging = on;
        self
    }
    /// An extra CA file for the ACME server (`--acme-ca`).
    pub fn acme_ca(mut self, file: Option<PathBuf>) -> Self {
        self.acme_ca = file;
        self
    }

    /// Check and resolve: addresses parse, the ACME resolver has an email when any ACME option is
    /// given, staging and a server are not both named, the CA file is readable.
    pub fn resolve(&self) -> Result<ResolvedSettings, ProxyError> {
        let valid_name = !self.name.is_empty()
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid_name {
            return Err(ProxyError::InvalidName { name: self.name.clone() });
        }
        crate::ImageRef::parse(&self.image)
            .map_err(|source| ProxyError::InvalidImage { image: self.image.clone(), source })?;
        let http = ListenAddress::parse("--http", &self.http)?;
        let https = ListenAddress::parse("--https", &self.https)?;
        if http == https {
            return Err(ProxyError::InvalidAddress {
                flag: "--https",
                value: self.https.clone(),
                reason: "the same address as --http".into(),
            });
        }
        let asked = self.acme_server.is_some() || self.acme_staging || self.acme_ca.is_some();
        let acme = match (&self.acme_email, asked) {
            (None, true) => return Err(ProxyError::AcmeEmailMissing),
            (None, false) => None,
            (Some(email), _) => {
                if !email.contains('@') || email.trim() != email {
                    return Err(ProxyError::InvalidEmail { email: email.clone() });
                }
                let server = match (&self.acme_server, self.acme_staging) {
                    (Some(_), true) => return Err(ProxyError::AcmeServerAndStaging),
                    (Some(url), false) => {
                        url::Url::parse(url)
                            .map_err(|source| ProxyError::InvalidAcmeServer { url: url.clone(), source })?;
                        url.clone()
                    }
                    (None, true) => LETSENCRYPT_STAGING.into(),
                    (None, false) => LETSENCRYPT.into(),
                };
                Some(AcmeSettings { email: email.clone(), server, ca_file: self.acme_ca.clone() })
            }
        };
        let ca_pem = match &self.acme_ca {
            Some(path) => {
                Some(std::fs::read(path).map_err(|source| ProxyError::CaFile { path: path.clone(), source })?)
            }
            None => None,
        };
        Ok(ResolvedSettings {
            name: self.name.clone(),
            image: self.image.clone(),
            http,
            https,
            redirect_https: self.redirect_https,
            acme,
            ca_pem,
        })
    }
}

impl ResolvedSettings {
    /// The volume holding the dynamic configuration (`<name>-dynamic`).
    pub fn dynamic_volume(&self) -> String {
        format!("{}-dynamic", self.name)
    }

    /// The volume holding the ACME certificates (`<name>-acme`, `acme.json` mode 600).
    pub fn acme_volume(&self) -> String {
        format!("{}-acme", self.name)
    }

    /// Traefik's static configuration as command-line arguments (deterministic order).
    pub fn traefik_args(&self) -> Vec<String> {
        let mut args = vec![
            "--global.checkNewVersion=false".to_string(),
            "--global.sendAnonymousUsage=false".to_string(),
            "--log.level=INFO".to_string(),
            format!("--entryPoints.web.address=:{WEB_PORT}"),
            format!("--entryPoints.websecure.address=:{WEBSECURE_PORT}"),
            "--entryPoints.websecure.http.tls=true".to_string(),
        ];
        if self.redirect_https {
            args.push("--entryPoints.web.http.redirections.entryPoint.to=websecure".into());
            args.push("--entryPoints.web.http.redirections.entryPoint.scheme=https".into());
        }
        args.extend([
            format!("--entryPoints.traefik.address={API_ADDR}"),
            "--api=true".to_string(),
            "--api.insecure=true".to_string(),
            "--api.dashboard=false".to_string(),
            "--providers.providersThrottleDuration=200ms".to_string(),
            format!("--providers.file.directory={DYNAMIC_DIR}"),
            "--providers.file.watch=true".to_string(),
        ]);
        if let Some(acme) = &self.acme {
            let r = format!("--certificatesResolvers.{RESOLVER}.acme");
            args.push(format!("{r}.email={}", acme.email));
            args.push(format!("{r}.storage={ACME_DIR}/acme.json"));
            args.push(format!("{r}.caServer={}", acme.server));
            args.push(format!("{r}.httpChallenge.entryPoint=web"));
        }
        args
    }

    /// The container's environment (`LEGO_CA_CERTIFICATES` when an extra CA is given).
    pub fn env(&self) -> Vec<String> {
        match self.ca_pem {
            Some(_) => vec![format!("LEGO_CA_CERTIFICATES={CA_PATH}")],
            None => Vec::new(),
        }
    }

    /// A hash of everything the container is made from (image, arguments, environment, the CA's
    /// bytes, published addresses): equal hashes mean the running proxy already matches.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        let text = serde_json::json!({
            "image": self.image,
            "args": self.traefik_args(),
            "env": self.env(),
            "http": self.http.to_string(),
            "https": self.https.to_string(),
        });
        h.update(text.to_string().as_bytes());
        if let Some(pem) = &self.ca_pem {
            h.update(b"\0ca\0");
            h.update(pem);
        }
        hex::encode(h.finalize())[..16].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print() {
        assert_eq!(ListenAddress::parse("--http", "80").unwrap().to_string(), ":80");
        assert_eq!(ListenAddress::parse("--http", ":8080").unwrap().to_string(), ":8080");
        let a = ListenAddress::parse("--http", "127.0.0.1:18080").unwrap();
        assert_eq!((a.ip.as_str(), a.port), ("127.0.0.1", 18080));
        assert_eq!(ListenAddress::parse("--https", "[::1]:443").unwrap().to_string(), "[::1]:443");
        for bad in ["", "x:80", "127.0.0.1:0", "127.0.0.1:99999", "localhost:80"] {
            let e = ListenAddress::parse("--http", bad).unwrap_err();
            assert!(matches!(e, ProxyError::InvalidAddress { flag: "--http", .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn acme_needs_an_email_and_defaults_to_lets_encrypt() {
        let e = ProxySettings::new().acme_staging(true).resolve().unwrap_err();
        assert!(matches!(e, ProxyError::AcmeEmailMissing), "{e}");
        assert!(e.to_string().contains("--acme-email"), "{e}");
        let e = ProxySettings::new().acme_server(Some("https://acme.example/dir".into())).resolve().unwrap_err();
        assert!(matches!(e, ProxyError::AcmeEmailMissing));
        let r = ProxySettings::new().acme_email(Some("ops@example.com".into())).resolve().unwrap();
        assert_eq!(r.acme.as_ref().unwrap().server, LETSENCRYPT);
        let args = r.traefik_args();
        assert!(args.contains(&format!("--certificatesResolvers.letsencrypt.acme.caServer={LETSENCRYPT}")));
        assert!(args.contains(&"--certificatesResolvers.letsencrypt.acme.email=ops@example.com".to_string()));
        let r = ProxySettings::new().acme_email(Some("ops@example.com".into())).acme_staging(true).resolve().unwrap();
        assert_eq!(r.acme.unwrap().server, LETSENCRYPT_STAGING);
        let e = ProxySettings::new()
            .acme_email(Some("ops@example.com".into()))
            .acme_staging(true)
            .acme_server(Some("https://x/dir".into()))
            .resolve()
            .unwrap_err();
        assert!(matches!(e, ProxyError::AcmeServerAndStaging));
        assert!(ProxySettings::new().resolve().unwrap().acme.is_none());
    }

    #[test]
    fn args_and_hash_follow_the_settings() {
        let base = ProxySettings::new().http("127.0.0.1:18080").https("127.0.0.1:18443");
        let a = base.resolve().unwrap();
        assert_eq!(a.hash(), base.resolve().unwrap().hash(), "deterministic");
        let args = a.traefik_args();
        assert!(args.contains(&format!("--providers.file.directory={DYNAMIC_DIR}")));
        assert!(args.contains(&format!("--entryPoints.traefik.address={API_ADDR}")));
        assert!(!args.iter().any(|a| a.contains("redirections")));
        let b = base.clone().redirect_https(true).resolve().unwrap();
        assert!(b.traefik_args().contains(&"--entryPoints.web.http.redirections.entryPoint.to=websecure".to_string()));
        assert_ne!(a.hash(), b.hash());
        assert_ne!(a.hash(), base.clone().http("127.0.0.1:18081").resolve().unwrap().hash());
        assert_ne!(a.hash(), base.clone().image("traefik:v3.7").resolve().unwrap().hash());
        let e = base.clone().https("127.0.0.1:18080").resolve().unwrap_err();
        assert!(matches!(e, ProxyError::InvalidAddress { flag: "--https", .. }));
        assert!(matches!(base.name("a b").resolve().unwrap_err(), ProxyError::InvalidName { .. }));
    }
}
