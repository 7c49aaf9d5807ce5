//! Certificates for a [`crate::remote_host::RemoteHost`] engine listening on TCP with
//! `--tlsverify`, made with the `openssl` command: a CA, the engine's certificate (SAN = the
//! host's address), a client certificate, and an unrelated CA for the "wrong CA" cases.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// The files [`make`] writes under `dir`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// `ca.pem`, `cert.pem`, `key.pem`: what a client needs (a `DOCKER_CERT_PATH`).
    pub client_dir: PathBuf,
    /// The engine's CA, certificate and key.
    pub server_ca: PathBuf,
    /// The engine's certificate.
    pub server_cert: PathBuf,
    /// The engine's key.
    pub server_key: PathBuf,
    /// A CA that signed nothing the engine presents.
    pub wrong_ca: PathBuf,
}

/// Make the CA, the engine's certificate for `ip`, a client certificate and a wrong CA.
pub fn make(dir: &Path, ip: &str) -> anyhow::Result<TlsFiles> {
    let client_dir = dir.join("client");
    std::fs::create_dir_all(&client_dir)?;
    ca(dir, "ca", "slipway-test-ca")?;
    ca(dir, "wrong-ca", "slipway-wrong-ca")?;
    signed(dir, "server", &format!("subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth\n"))?;
    signed(dir, "client", "extendedKeyUsage=clientAuth\n")?;
    std::fs::copy(dir.join("ca.pem"), client_dir.join("ca.pem"))?;
    std::fs::copy(dir.join("client-cert.pem"), client_dir.join("cert.pem"))?;
    std::fs::copy(dir.join("client-key.pem"), client_dir.join("key.pem"))?;
    Ok(TlsFiles {
        client_dir,
        server_ca: dir.join("ca.pem"),
        server_cert: dir.join("server-cert.pem"),
        server_key: dir.join("server-key.pem"),
        wrong_ca: dir.join("wrong-ca.pem"),
    })
}

fn ca(dir: &Path, name: &str, cn: &str) -> anyhow::Result<()> {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.pem"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )
}

fn signed(dir: &Path, name: &str, extensions: &str) -> anyhow::Result<()> {
    std::fs::write(dir.join(format!("{name}.ext")), extensions)?;
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN=slipway-{name}"),
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.csr"),
        ],
    )?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}-cert.pem"),
            "-extfile",
            &format!("{name}.ext"),
        ],
    )
}

fn openssl(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("openssl").args(args).current_dir(dir).output().context("running openssl")?;
    if !out.status.success() {
        bail!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}
