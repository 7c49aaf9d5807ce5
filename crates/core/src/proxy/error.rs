//! The proxy room's error enum: every variant says what to do.

use std::path::PathBuf;

use crate::error::ErrorKind;

/// Errors of `slipway proxy up | status | logs | down`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The container name is not usable.
    #[error("proxy name {name:?} is not valid: use letters, digits, '_', '.', '-'")]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// The image reference does not parse.
    #[error("--image {image:?} is not a valid image reference: {source}")]
    InvalidImage {
        /// The reference as given.
        image: String,
        /// Why.
        #[source]
        source: crate::reference::ReferenceError,
    },
    /// An entry point address does not parse.
    #[error("{flag} {value:?}: {reason} (expected PORT, :PORT, IP:PORT or [IPv6]:PORT)")]
    InvalidAddress {
        /// The option (`--http`, `--https`).
        flag: &'static str,
        /// The value as given.
        value: String,
        /// Why.
        reason: String,
    },
    /// An ACME option was given without the account email.
    #[error(
        "the ACME resolver needs an account email: add --acme-email YOU@EXAMPLE.COM \
         (--acme-server, --acme-staging and --acme-ca configure the resolver `letsencrypt`)"
    )]
    AcmeEmailMissing,
    /// The email does not look like one.
    #[error("--acme-email {email:?} is not an email address")]
    InvalidEmail {
        /// The value as given.
        email: String,
    },
    /// Both a server and `--acme-staging` were named.
    #[error("--acme-server and --acme-staging name two ACME servers: give one")]
    AcmeServerAndStaging,
    /// The ACME server is not a URL.
    #[error("--acme-server {url:?} is not a URL ({source}); e.g. https://acme-v02.api.letsencrypt.org/directory")]
    InvalidAcmeServer {
        /// The value as given.
        url: String,
        /// The URL parser's error.
        #[source]
        source: url::ParseError,
    },
    /// The extra CA file cannot be read.
    #[error("--acme-ca {}: cannot read it: {source}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The image is neither on the host nor pullable.
    #[error(
        "image {image} is not on {host} and could not be pulled ({source}); pull it there \
         (`docker pull {image}`), load it (`slipway load SRC {image} -H HOST`), or pass --image REF"
    )]
    ImageUnavailable {
        /// The image.
        image: String,
        /// The engine.
        host: String,
        /// The pull's error.
        #[source]
        source: Box<crate::deploy::DeployError>,
    },
    /// A published address is already in use on the host.
    #[error(
        "{flag} {address} is already in use on {host}{}; free it or pick another address with {flag} ADDR \
         (nothing was left behind)",
        holder.as_deref().map(|h| format!(" (by {h})")).unwrap_or_default()
    )]
    PortTaken {
        /// The option (`--http`, `--https`).
        flag: &'static str,
        /// The address.
        address: String,
        /// The engine.
        host: String,
        /// What holds it, when the engine knows (a container's name).
        holder: Option<String>,
    },
    /// The proxy started but its API did not answer in time; it was removed again.
    #[error(
        "proxy {name} did not become ready within {waited_secs} s ({last}); it was removed again. \
         Its last log lines:\n{logs}"
    )]
    NotReady {
        /// The container.
        name: String,
        /// How long was waited.
        waited_secs: u64,
        /// The last readiness check's answer (boxed: keeps the error small).
        #[source]
        last: Box<NotReadyReason>,
        /// The container's last log lines.
        logs: String,
    },
    /// No managed proxy runs on the host.
    #[error("no proxy {name} on {host}: start it with `slipway proxy up`")]
    NotRunning {
        /// The container.
        name: String,
        /// The engine.
        host: String,
    },
    /// The engine cannot be reached.
    #[error(transparent)]
    Connect(#[from] crate::engine::EngineError),
    /// An engine request failed.
    #[error("{action} {what} on {host}: {source}")]
    Engine {
        /// What was done (`create container`, `exec in`, ...).
        action: &'static str,
        /// On what.
        what: String,
        /// The engine.
        host: String,
        /// The cause.
        #[source]
        source: bollard::errors::Error,
    },
    /// A command inside the proxy failed.
    #[error("`{command}` in {container} exited with {code}: {stderr}")]
    Command {
        /// The command.
        command: String,
        /// The container.
        container: String,
        /// Its exit code.
        code: i64,
        /// The end of its error output.
        stderr: String,
    },
    /// An engine request did not answer in time.
    #[error("{action} {what} on {host}: no answer within {secs} s")]
    Timeout {
        /// What was done.
        action: &'static str,
        /// On what.
        what: String,
        /// The engine.
        host: String,
        /// The bound.
        secs: u64,
    },
    /// Building an archive for the engine failed.
    #[error("cannot pack {what} for the proxy: {source}")]
    Archive {
        /// What.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The last answer of the managed proxy's readiness check (`wget` of its API, by exec) before
/// `up` gave up on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotReadyReason {
    /// No check finished.
    #[error("not asked yet")]
    NotAsked,
    /// The API did not answer successfully.
    #[error("API: wget exited with {code}")]
    Wget {
        /// `wget`'s exit code.
        code: i64,
    },
    /// The check could not be run in the container.
    #[error("{0}")]
    Exec(#[source] crate::route::traefik::ExecError),
    /// The container stopped.
    #[error("the container exited")]
    Exited,
}

impl ProxyError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProxyError::InvalidName { .. }
            | ProxyError::InvalidImage { .. }
            | ProxyError::InvalidAddress { .. }
            | ProxyError::AcmeEmailMissing
            | ProxyError::InvalidEmail { .. }
            | ProxyError::AcmeServerAndStaging
            | ProxyError::InvalidAcmeServer { .. }
            | ProxyError::CaFile { .. } => ErrorKind::InvalidInput,
            _ => ErrorKind::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::proxy::ProxySettings;
    use crate::route::traefik::ExecError;

    #[test]
    fn settings_errors_keep_the_parsers_and_the_file_systems_errors() {
        let email = Some("ops@example.com".to_string());
        let e = ProxySettings::new().acme_email(email.clone()).acme_server(Some("not a url".into())).resolve();
        let e = e.unwrap_err();
        assert!(e.source().and_then(|s| s.downcast_ref::<url::ParseError>()).is_some(), "{e:?}");
        assert_eq!(
            e.to_string(),
            "--acme-server \"not a url\" is not a URL (relative URL without a base); \
             e.g. https://acme-v02.api.letsencrypt.org/directory"
        );
        let e = ProxySettings::new().acme_email(email).acme_ca(Some("/nonexistent/slipway-ca.pem".into())).resolve();
        let e = e.unwrap_err();
        let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(io.map(|io| io.kind()), Some(std::io::ErrorKind::NotFound), "{e:?}");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn not_ready_says_the_last_check_and_keeps_an_exec_failure_as_cause() {
        let err = |last| ProxyError::NotReady {
            name: "p".into(),
            waited_secs: 30,
            last: Box::new(last),
            logs: "log line".into(),
        };
        let timeout = ExecError::Timeout { command: "wget".into(), container: "p".into(), secs: 10 };
        let e = err(NotReadyReason::Exec(timeout));
        let chain: Vec<String> = std::iter::successors(e.source(), |s| (*s).source()).map(|s| s.to_string()).collect();
        assert_eq!(chain.last().map(String::as_str), Some("exec of `wget` in p: no answer within 10 s"), "{chain:?}");
        // NotReady -> NotReadyReason (boxed) -> ExecError.
        assert!(e.source().and_then(|s| s.source()).is_some_and(|s| s.is::<ExecError>()), "{e:?}");
        let wget = err(NotReadyReason::Wget { code: 1 }).to_string();
        assert!(wget.starts_with("proxy p did not become ready within 30 s (API: wget exited with 1)"), "{wget}");
        assert!(err(NotReadyReason::Exited).to_string().contains("(the container exited)"));
    }
}
