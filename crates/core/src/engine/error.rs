//! The engine room's errors: [`EngineError`] (what `engine::connect` returns) and
//! [`TransportError`], the typed failure of one transport (ssh, TLS), classified once at the
//! transport boundary from ssh's exit status and stderr or from the TLS handshake.

/// The engine could not be reached or its address could not be understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The engine answered badly or the local client failed.
    #[error("cannot reach the Docker engine at {host}: {source}")]
    Api {
        /// The address tried (`unix:///var/run/docker.sock`, `ssh://root@host`, ...).
        host: String,
        /// The engine client's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// The transport (ssh, TLS) failed in a way that says what to do.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// `-H` / `DOCKER_HOST` / a context names something that is not a Docker host.
    #[error("invalid Docker host {host:?}: {reason}")]
    InvalidHost {
        /// What was given.
        host: String,
        /// Why it is not a host.
        reason: String,
    },
    /// A Docker context could not be read.
    #[error("Docker context {name:?}: {reason}")]
    Context {
        /// The context's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// TLS files (CA, certificate, key) could not be read or parsed.
    #[error("TLS for {host}: {reason}")]
    TlsFiles {
        /// The engine address.
        host: String,
        /// Which file and why.
        reason: String,
    },
    /// The system `ssh` could not be started.
    #[error("cannot run `ssh` for {host}: {source}; install an OpenSSH client")]
    Spawn {
        /// The engine address.
        host: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Probes from the engine's side over tcp:// or TLS need the relay helper, which this build
    /// of slipway does not have (its build could not compile `slipway-relay`).
    #[error(
        "{host}: this build of slipway has no relay helper (it could not be compiled for this target), so \
         container addresses cannot be probed from the engine's side; reach the engine over ssh://, or gate on \
         the container's healthcheck or an exec:// probe"
    )]
    NoRelayHelper {
        /// The engine address.
        host: String,
    },
    /// An engine request of the relay (helper image, container, network, exec) failed.
    #[error("{host}: the probe relay could not {step}: {source}")]
    Relay {
        /// The engine address.
        host: String,
        /// What it was doing.
        step: &'static str,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// An engine request of the relay did not finish within its bound.
    #[error("{host}: the probe relay could not {step} within {secs}s")]
    RelayTimeout {
        /// The engine address.
        host: String,
        /// What it was doing.
        step: &'static str,
        /// The bound.
        secs: u64,
    },
    /// The engine runs another CPU architecture than the relay helper was built for.
    #[error(
        "{host}: the engine runs on {engine} but this slipway's relay helper is built for {helper}; use a slipway \
         built for {engine}, or reach the engine over ssh://"
    )]
    RelayArch {
        /// The engine address.
        host: String,
        /// The engine's architecture.
        engine: String,
        /// The helper's architecture.
        helper: String,
    },
    /// The relay failed in another way.
    #[error("{host}: the probe relay failed: {reason}")]
    RelayFailed {
        /// The engine address.
        host: String,
        /// What happened.
        reason: String,
    },
}

impl EngineError {
    /// The failure's kind for exit codes: bad addresses and files are invalid input, the rest
    /// failed operations.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, EngineError::InvalidHost { .. } | EngineError::Context { .. } | EngineError::TlsFiles { .. })
    }

    /// The transport failure inside a bollard error, when the transport classified one.
    pub fn transport_of(e: &(dyn std::error::Error + 'static)) -> Option<TransportError> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(t) = err.downcast_ref::<TransportError>() {
                return Some(t.clone());
            }
            // `#[error(transparent)]` and `io::Error::source` skip a level: look inside by hand.
            let io = match err.downcast_ref::<bollard::errors::Error>() {
                Some(bollard::errors::Error::IOError { err }) => Some(err),
                _ => err.downcast_ref::<std::io::Error>(),
            };
            if let Some(io) = io {
                if let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<TransportError>()) {
                    return Some(t.clone());
                }
            }
            cur = err.source();
        }
        None
    }
}

/// What went wrong in a transport, naming the host and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Nothing answered (refused, no route, unknown name, timed out).
    #[error(
        "{host}: cannot reach the host over SSH ({detail}); check the address and port, that sshd runs there and \
         that the network lets you through"
    )]
    Unreachable {
        /// The host as given (`root@203.0.113.7:22`).
        host: String,
        /// ssh's own words.
        detail: String,
    },
    /// The server refused every key.
    #[error(
        "{host}: SSH authentication was refused ({detail}); load the key into ssh-agent or set IdentityFile for \
         this host in ssh_config (BatchMode is on: slipway never prompts)"
    )]
    AuthRefused {
        /// The host.
        host: String,
        /// ssh's own words.
        detail: String,
    },
    /// The host's key is not in known_hosts.
    #[error(
        "{host}: the SSH host key is not known; add it to known_hosts after checking its fingerprint out of band \
         (slipway checks host keys strictly and never accepts a new key by itself)"
    )]
    HostKeyUnknown {
        /// The host.
        host: String,
    },
    /// The host presented a key different from known_hosts.
    #[error(
        "{host}: the SSH host key does not match known_hosts (the host was reinstalled, or someone is in the \
         middle); nothing was changed; if the new key is right, remove the old one with `ssh-keygen -R HOST` and \
         add the new one"
    )]
    HostKeyMismatch {
        /// The host.
        host: String,
    },
    /// `docker` is not on the remote side's PATH.
    #[error(
        "{host}: the remote side has no `docker` command ({detail}); install the Docker CLI there (slipway runs \
         `docker system dial-stdio` over SSH, as the docker CLI does)"
    )]
    DockerMissing {
        /// The host.
        host: String,
        /// The remote shell's words.
        detail: String,
    },
    /// The connection went away while in use.
    #[error(
        "{host}: the connection to the engine dropped ({detail}); a deploy undoes what it can; run the same command \
         again once the host is reachable: it converges from what the host holds"
    )]
    Dropped {
        /// The host.
        host: String,
        /// What was seen.
        detail: String,
    },
    /// ssh failed in another way.
    #[error("{host}: ssh failed{}: {detail}", code.map(|c| format!(" with exit status {c}")).unwrap_or_default())]
    Ssh {
        /// The host.
        host: String,
        /// ssh's exit status.
        code: Option<i32>,
        /// ssh's stderr (last lines).
        detail: String,
    },
    /// The TLS handshake failed (unknown CA, wrong name, no client certificate).
    #[error(
        "{host}: TLS handshake failed ({detail}); check --tlscacert (the CA that signed the engine's certificate), \
         the names in the engine's certificate and the client certificate (--tlscert/--tlskey)"
    )]
    Tls {
        /// The engine address.
        host: String,
        /// rustls' words.
        detail: String,
    },
    /// No connection within the bound.
    #[error("{host}: no connection to the engine within {secs}s; check that the host is up and reachable")]
    Timeout {
        /// The engine address.
        host: String,
        /// The bound.
        secs: u64,
    },
}

impl TransportError {
    /// Wrap as an I/O error so it travels through hyper and bollard and is found again by
    /// [`EngineError::transport_of`].
    pub(crate) fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }
}

/// Classify an ssh failure from its exit status and stderr. Called once, at the transport
/// boundary: ssh says only "255" for every failure of its own, so its words decide.
pub(crate) fn classify_ssh(host: &str, code: Option<i32>, stderr: &str) -> TransportError {
    let host = host.to_string();
    let detail = last_lines(stderr);
    let has = |needle: &str| stderr.contains(needle);
    if has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("Host key for") && has("has changed") {
        return TransportError::HostKeyMismatch { host };
    }
    if has("No ") && has("host key is known") || has("Host key verification failed") {
        return TransportError::HostKeyUnknown { host };
    }
    if has("Permission denied") || has("Too many authentication failures") || has("no more authentication methods") {
        return TransportError::AuthRefused { host, detail };
    }
    if code == Some(127) || has("command not found") || has("docker: not found") {
        return TransportError::DockerMissing { host, detail };
    }
    for unreachable in [
        "Connection refused",
        "Connection timed out",
        "No route to host",
        "Network is unreachable",
        "Could not resolve hostname",
        "Name or service not known",
        "Operation timed out",
    ] {
        if has(unreachable) && (has("connect to host") || has("ssh:")) {
            return TransportError::Unreachable { host, detail };
        }
    }
    for dropped in [
        "Connection closed by",
        "Connection reset",
        "Broken pipe",
        "closed by remote host",
        "Timeout, server",
        "mux_client",
        "Control socket connect",
    ] {
        if has(dropped) {
            return TransportError::Dropped { host, detail };
        }
    }
    TransportError::Ssh { host, code, detail }
}

/// The last few non-empty lines of `s`, joined, bounded.
fn last_lines(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join("; ");
    crate::health::truncate(&tail, 400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_failures_are_classified_from_status_and_stderr() {
        let h = "root@10.231.0.11";
        type Case = (Option<i32>, &'static str, fn(&TransportError) -> bool);
        let cases: [Case; 8] = [
            (Some(255), "ssh: connect to host 10.231.0.11 port 22: Connection refused\r\n", |e| {
                matches!(e, TransportError::Unreachable { .. })
            }),
            (Some(255), "ssh: connect to host 10.231.0.99 port 22: Connection timed out", |e| {
                matches!(e, TransportError::Unreachable { .. })
            }),
            (Some(255), "root@10.231.0.11: Permission denied (publickey).", |e| {
                matches!(e, TransportError::AuthRefused { .. })
            }),
            (
                Some(255),
                "@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n...\nHost key verification failed.",
                |e| matches!(e, TransportError::HostKeyMismatch { .. }),
            ),
            (
                Some(255),
                "No ED25519 host key is known for 10.231.0.11 and you have requested strict checking.\nHost key verification failed.",
                |e| matches!(e, TransportError::HostKeyUnknown { .. }),
            ),
            (Some(127), "bash: line 1: docker: command not found", |e| matches!(e, TransportError::DockerMissing { .. })),
            (Some(255), "Connection closed by 10.231.0.11 port 22", |e| matches!(e, TransportError::Dropped { .. })),
            (Some(1), "something else", |e| matches!(e, TransportError::Ssh { code: Some(1), .. })),
        ];
        for (code, stderr, ok) in cases {
            let e = classify_ssh(h, code, stderr);
            assert!(ok(&e), "{stderr:?} -> {e:?}");
            assert!(e.to_string().starts_with(h), "names the host: {e}");
        }
    }

    #[test]
    fn transport_errors_are_found_through_io_and_bollard() {
        let t = TransportError::HostKeyMismatch { host: "h".into() };
        let io = t.clone().into_io();
        let b = bollard::errors::Error::IOError { err: io };
        assert_eq!(EngineError::transport_of(&b), Some(t));
    }
}
