//! `tcp://` / `https://` with TLS, as the docker CLI does it: the engine's certificate checked
//! against the given CA (`--tlsverify`) or not at all (`--tls`), a client certificate when one is
//! given. rustls (ring) over a tokio TCP stream; each HTTP connection is one TLS connection.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsConnector;

use super::transport::{BoxedIo, Dial};
use super::{EngineError, TransportError};

/// TLS files and whether to verify the engine's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    /// Verify the engine's certificate (`--tlsverify`).
    pub verify: bool,
    /// CA file.
    pub ca: Option<PathBuf>,
    /// Client certificate file.
    pub cert: Option<PathBuf>,
    /// Client key file.
    pub key: Option<PathBuf>,
}

impl TlsSettings {
    /// `ca.pem` from `dir`, and `cert.pem` and `key.pem` when they exist (as the docker CLI).
    pub fn from_dir(dir: &Path, verify: bool) -> Self {
        let file = |n: &str| Some(dir.join(n)).filter(|p| p.is_file());
        TlsSettings { verify, ca: Some(dir.join("ca.pem")), cert: file("cert.pem"), key: file("key.pem") }
    }
}

/// Dials `addr` with TLS.
pub(crate) struct TlsDial {
    addr: String,
    shown: String,
    name: ServerName<'static>,
    connector: TlsConnector,
    connect_timeout: Duration,
}

impl TlsDial {
    /// Build the TLS client for `addr` (`host:port`) from `settings`.
    pub fn new(
        shown: &str,
        addr: &str,
        settings: &TlsSettings,
        connect_timeout: Duration,
    ) -> Result<Self, EngineError> {
        let bad = |reason: String| EngineError::TlsFiles { host: shown.to_string(), reason };
        let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr).trim_start_matches('[').trim_end_matches(']');
        let name =
            ServerName::try_from(host.to_string()).map_err(|e| bad(format!("{host:?} is not a server name: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?;
        let builder = if settings.verify {
            let ca = settings.ca.as_ref().ok_or_else(|| {
                bad("--tlsverify needs the CA: --tlscacert FILE, or ca.pem in DOCKER_CERT_PATH (default ~/.docker)"
                    .into())
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(ca).map_err(bad)? {
                roots.add(cert).map_err(|e| bad(format!("{}: {e}", ca.display())))?;
            }
            builder.with_root_certificates(roots)
        } else {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        };
        let config = match (&settings.cert, &settings.key) {
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert).map_err(bad)?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(format!("{}: {e}", key.display())))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| bad(format!("client certificate: {e}")))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err(bad("a client certificate needs both --tlscert and --tlskey".into())),
        };
        Ok(TlsDial {
            addr: addr.to_string(),
            shown: shown.to_string(),
            name,
            connector: TlsConnector::from(Arc::new(config)),
            connect_timeout,
        })
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certs)
}

impl Dial for TlsDial {
    fn dial(&self) -> Pin<Box<dyn Future<Output = std::io::Result<BoxedIo>> + Send>> {
        let (addr, shown, name, connector, bound) =
            (self.addr.clone(), self.shown.clone(), self.name.clone(), self.connector.clone(), self.connect_timeout);
        Box::pin(async move {
            let attempt = async {
                let tcp = tokio::net::TcpStream::connect(&addr).await?;
                let _ = tcp.set_nodelay(true);
                connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| TransportError::Tls { host: shown.clone(), detail: e.to_string() }.into_io())
            };
            match tokio::time::timeout(bound, attempt).await {
                Ok(Ok(stream)) => Ok(Box::new(stream) as BoxedIo),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(TransportError::Timeout { host: shown, secs: bound.as_secs() }.into_io()),
            }
        })
    }
}

/// `--tls` without `--tlsverify`: the docker CLI's "encrypt, do not verify".
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
