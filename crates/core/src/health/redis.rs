//! Redis probe: RESP `PING` (after `AUTH` when a password is given). `+PONG` is healthy,
//! `-LOADING` is unhealthy and `starting`, any other error reply is unhealthy with the server's
//! words; no answer is unreachable. The password never appears in `target()`, Debug or reasons.

use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::tcp::{connect, host_port, io_reason};
use super::{bounded, Finding, HealthProbe, Outcome, ProbeResult};
pub use crate::secret::Secret;

/// The longest reply line read.
const MAX_LINE: usize = 4096;

/// Redis `PING` probe.
#[derive(Debug, Clone)]
pub struct RedisProbe {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<Secret>,
}

impl RedisProbe {
    /// Probe `host:port`, authenticating first when `password` is given (with `username` for ACLs).
    pub fn new(host: impl Into<String>, port: u16, username: Option<String>, password: Option<Secret>) -> Self {
        RedisProbe { host: host.into(), port, username: username.filter(|u| !u.is_empty()), password }
    }

    async fn attempt(&self) -> Finding {
        let mut stream = match connect(&self.host, self.port).await {
            Ok(s) => s,
            Err(o) => return Finding::from(o),
        };
        if let Some(pw) = &self.password {
            let mut args = vec!["AUTH"];
            if let Some(u) = &self.username {
                args.push(u);
            }
            args.push(pw.expose());
            match roundtrip(&mut stream, &args).await {
                Ok(line) if line.starts_with('+') => {}
                Ok(line) if line.starts_with('-') => {
                    // The server's words never contain the password; keep only the error code.
                    let code = line[1..].split_whitespace().next().unwrap_or("ERR").to_string();
                    return Finding::from(Outcome::unhealthy(format!("AUTH refused ({code}): check the password")));
                }
                Ok(line) => return Finding::from(not_redis(&line)),
                Err(o) => return Finding::from(o),
            }
        }
        match roundtrip(&mut stream, &["PING"]).await {
            Ok(line) if line == "+PONG" => Finding::from(Outcome::Healthy),
            Ok(line) if line.starts_with("-LOADING") => {
                Finding::from(Outcome::unhealthy(format!("still loading its dataset: {}", &line[1..]))).starting()
            }
            Ok(line) if line.starts_with("-NOAUTH") => {
                Finding::from(Outcome::unhealthy("the server requires a password (redis://:PASSWORD@host:port)"))
            }
            Ok(line) if line.starts_with('-') => {
                Finding::from(Outcome::unhealthy(format!("PING failed: {}", &line[1..])))
            }
            Ok(line) => Finding::from(not_redis(&line)),
            Err(o) => Finding::from(o),
        }
    }
}

fn not_redis(line: &str) -> Outcome {
    Outcome::unhealthy(format!("not a Redis server: unexpected reply {:?}", super::truncate(line, 64)))
}

/// Send one command as a RESP array and read one reply line.
async fn roundtrip(stream: &mut tokio::net::TcpStream, args: &[&str]) -> Result<String, Outcome> {
    let mut cmd = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        cmd.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        cmd.extend_from_slice(a.as_bytes());
        cmd.extend_from_slice(b"\r\n");
    }
    stream
        .write_all(&cmd)
        .await
        .map_err(|e| Outcome::unreachable(format!("cannot send {}: {}", args[0], io_reason(&e))))?;
    read_line(stream).await.map_err(|e| match e {
        LineError::Io(e) => Outcome::unreachable(format!("no answer to {}: {}", args[0], io_reason(&e))),
        LineError::TooLong => {
            Outcome::unhealthy(format!("not a Redis server: reply to {} is not a RESP line", args[0]))
        }
    })
}

enum LineError {
    Io(std::io::Error),
    TooLong,
}

/// Read up to `\r\n` (excluded), at most `MAX_LINE` bytes.
async fn read_line<R: AsyncRead + Unpin>(r: &mut R) -> Result<String, LineError> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        r.read_exact(&mut byte).await.map_err(LineError::Io)?;
        buf.push(byte[0]);
        if buf.ends_with(b"\r\n") {
            buf.truncate(buf.len() - 2);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        if buf.len() > MAX_LINE {
            return Err(LineError::TooLong);
        }
    }
}

#[async_trait]
impl HealthProbe for RedisProbe {
    fn target(&self) -> String {
        let user = match (&self.username, &self.password) {
            (Some(u), _) => format!("{u}@"),
            (None, Some(_)) => ":***@".into(),
            (None, None) => String::new(),
        };
        format!("redis://{user}{}", host_port(&self.host, self.port))
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        bounded(timeout, self.attempt()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_shown() {
        let p = RedisProbe::new("127.0.0.1", 6379, None, Some(Secret::new("hunter2")));
        assert!(!p.target().contains("hunter2"));
        assert!(!format!("{p:?}").contains("hunter2"));
        assert_eq!(p.target(), "redis://:***@127.0.0.1:6379");
    }
}
