//! PostgreSQL readiness, as `pg_isready` decides it, speaking the wire protocol directly: send a
//! StartupMessage and read the first answer.
//!
//! - `R` (an authentication request, whatever the method) or `v` (protocol negotiation): the
//!   server accepts connections -> healthy (PQPING_OK).
//! - `E` with SQLSTATE `57P03` (cannot connect now: starting up, in recovery, shutting down) ->
//!   unhealthy and `starting` (pg_isready: "rejecting connections").
//! - `E` with class `53` (too many connections, out of memory) -> unhealthy (rejecting).
//! - `E` with any other SQLSTATE (bad password, unknown role or database): the server is up and
//!   answering -> healthy, exactly as libpq's `PQping` treats it.
//! - no answer, refused, reset, closed -> unreachable (PQPING_NO_RESPONSE).

use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::tcp::{connect, host_port, io_reason};
use super::{bounded, Finding, HealthProbe, Outcome, ProbeResult};

/// Protocol version 3.0.
const PROTOCOL_3_0: i32 = 196_608;
/// The largest first message we read.
const MAX_MESSAGE: usize = 16 * 1024;

/// PostgreSQL readiness probe. Holds no password: none is needed to know the server is up.
#[derive(Debug, Clone)]
pub struct PostgresProbe {
    host: String,
    port: u16,
    user: String,
    database: String,
}

impl PostgresProbe {
    /// Probe `host:port` as `user` (default `postgres`) on `database` (default: the user's name).
    pub fn new(host: impl Into<String>, port: u16, user: Option<String>, database: Option<String>) -> Self {
        let user = user.filter(|u| !u.is_empty()).unwrap_or_else(|| "postgres".into());
        let database = database.filter(|d| !d.is_empty()).unwrap_or_else(|| user.clone());
        PostgresProbe { host: host.into(), port, user, database }
    }

    fn startup_message(&self) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&PROTOCOL_3_0.to_be_bytes());
        for (k, v) in
            [("user", self.user.as_str()), ("database", &self.database), ("application_name", "slipway-probe")]
        {
            body.extend_from_slice(k.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        msg.extend_from_slice(&body);
        msg
    }

    async fn attempt(&self) -> Finding {
        let mut stream = match connect(&self.host, self.port).await {
            Ok(s) => s,
            Err(o) => return Finding::from(o),
        };
        if let Err(e) = stream.write_all(&self.startup_message()).await {
            return Finding::from(Outcome::unreachable(format!("cannot send the startup message: {}", io_reason(&e))));
        }
        let mut header = [0u8; 5];
        if let Err(e) = stream.read_exact(&mut header).await {
            return Finding::from(Outcome::unreachable(format!("no answer to the startup message: {}", io_reason(&e))));
        }
        let kind = header[0];
        let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        match kind {
            b'R' | b'v' if (4..=MAX_MESSAGE as i32).contains(&len) => Finding::from(Outcome::Healthy),
            b'E' if (4..=MAX_MESSAGE as i32).contains(&len) => {
                let mut body = vec![0u8; len as usize - 4];
                if let Err(e) = stream.read_exact(&mut body).await {
                    return Finding::from(Outcome::unreachable(format!("truncated error message: {}", io_reason(&e))));
                }
                classify_error(&parse_error_fields(&body))
            }
            other => Finding::from(Outcome::unhealthy(format!(
                "not a PostgreSQL server: unexpected first byte 0x{other:02x}"
            ))),
        }
    }
}

/// The fields of an ErrorResponse we use.
#[derive(Debug, Default, PartialEq, Eq)]
struct ServerError {
    sqlstate: String,
    message: String,
}

/// Parse ErrorResponse fields: (type byte, C string)* terminated by a zero byte.
fn parse_error_fields(body: &[u8]) -> ServerError {
    let mut out = ServerError::default();
    let mut rest = body;
    while let Some((&code, tail)) = rest.split_first() {
        if code == 0 {
            break;
        }
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        let value = String::from_utf8_lossy(&tail[..end]).into_owned();
        match code {
            b'C' => out.sqlstate = value,
            b'M' => out.message = value,
            _ => {}
        }
        rest = tail.get(end + 1..).unwrap_or(&[]);
    }
    out
}

/// Map a server error to (outcome, starting) as libpq's `PQping` does (see the module doc).
fn classify_error(e: &ServerError) -> Finding {
    let said = format!("{} (SQLSTATE {})", e.message, e.sqlstate);
    if e.sqlstate == "57P03" {
        Finding::from(Outcome::unhealthy(format!("not accepting connections yet: {said}"))).starting()
    } else if e.sqlstate.starts_with("53") {
        Finding::from(Outcome::unhealthy(format!("rejecting connections: {said}")))
    } else if e.sqlstate.len() == 5 {
        Finding::from(Outcome::Healthy).output(format!("server is up and answered: {said}"))
    } else {
        Finding::from(Outcome::unhealthy(format!("malformed error response from the server: {said}")))
    }
}

#[async_trait]
impl HealthProbe for PostgresProbe {
    fn target(&self) -> String {
        format!("postgres://{}@{}/{}", self.user, host_port(&self.host, self.port), self.database)
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        bounded(timeout, self.attempt()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_body(code: &str, msg: &str) -> Vec<u8> {
        let mut b = vec![b'S'];
        b.extend_from_slice(b"FATAL\0");
        b.push(b'C');
        b.extend_from_slice(code.as_bytes());
        b.push(0);
        b.push(b'M');
        b.extend_from_slice(msg.as_bytes());
        b.push(0);
        b.push(0);
        b
    }

    #[test]
    fn classifies_like_pg_isready() {
        let starting = classify_error(&parse_error_fields(&error_body("57P03", "the database system is starting up")));
        assert!(matches!(starting.outcome(), Outcome::Unhealthy { .. }) && starting.is_starting());
        let full = classify_error(&parse_error_fields(&error_body("53300", "sorry, too many clients already")));
        assert!(matches!(full.outcome(), Outcome::Unhealthy { .. }) && !full.is_starting());
        let auth = classify_error(&parse_error_fields(&error_body("28P01", "password authentication failed")));
        assert_eq!(auth.outcome(), &Outcome::Healthy);
        let garbage = classify_error(&parse_error_fields(b"xyz"));
        assert!(matches!(garbage.outcome(), Outcome::Unhealthy { .. }));
    }

    #[test]
    fn startup_message_is_well_formed() {
        let p = PostgresProbe::new("127.0.0.1", 5432, Some("app".into()), None);
        let m = p.startup_message();
        assert_eq!(i32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize, m.len());
        assert_eq!(i32::from_be_bytes([m[4], m[5], m[6], m[7]]), PROTOCOL_3_0);
        assert!(m.ends_with(b"slipway-probe\0\0"));
        assert_eq!(p.target(), "postgres://app@127.0.0.1:5432/app");
    }
}
