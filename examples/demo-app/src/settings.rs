//! The demo app's settings, read from the environment.

use std::time::Duration;

/// Everything the environment configures.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `APP_VERSION` (default `dev`): served at `/version`, logged by every mode.
    pub version: String,
    /// `BIND_ADDR` (default `0.0.0.0`, the container's interfaces).
    pub bind_addr: String,
    /// `PORT` (default 8080).
    pub port: u16,
    /// `STARTUP_DELAY_MS` (default 0): sleep before listening / before the worker's ready line.
    pub startup_delay: Duration,
    /// `FAIL_HEALTH=1`: `/health` answers 503.
    pub fail_health: bool,
    /// `FAIL_HEALTH_AFTER_MS`: `/health` answers 503 from this long after the start on.
    pub fail_health_after: Option<Duration>,
    /// `CRASH_AFTER_MS`: `serve` and `worker` exit 1 this long after the start (a crashing release).
    pub crash_after: Option<Duration>,
    /// `EXIT_CODE` (default 0): the exit code of `migrate`.
    pub exit_code: u8,
    /// `DRAIN_TIMEOUT_MS` (default 30000): how long SIGTERM waits for in-flight requests.
    pub drain_timeout: Duration,
    /// `CHECK_TIMEOUT_MS` (default 3000): the timeout of `check URL`.
    pub check_timeout: Duration,
    /// `DATABASE_URL` (`postgres://user:password@host/db`): PostgreSQL for visits and migrations.
    pub database_url: Option<Url>,
    /// `REDIS_URL` (`redis://host:6379`): Redis for the visit counter and the worker's queue.
    pub redis_url: Option<Url>,
}

/// A connection URL that may hold a password: `Debug` never shows it.
#[derive(Clone)]
pub struct Url(String);

impl Url {
    /// The URL itself, for the client library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Url(<redacted>)")
    }
}

impl Settings {
    /// Reads the settings; an unparsable value is an error naming the variable.
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            version: var("APP_VERSION").unwrap_or_else(|| "dev".to_owned()),
            bind_addr: var("BIND_ADDR").unwrap_or_else(|| "0.0.0.0".to_owned()),
            port: parsed("PORT", 8080)?,
            startup_delay: Duration::from_millis(parsed("STARTUP_DELAY_MS", 0)?),
            fail_health: matches!(var("FAIL_HEALTH").as_deref(), Some("1" | "true" | "yes")),
            fail_health_after: optional_ms("FAIL_HEALTH_AFTER_MS")?,
            crash_after: optional_ms("CRASH_AFTER_MS")?,
            exit_code: parsed("EXIT_CODE", 0)?,
            drain_timeout: Duration::from_millis(parsed("DRAIN_TIMEOUT_MS", 30_000)?),
            check_timeout: Duration::from_millis(parsed("CHECK_TIMEOUT_MS", 3_000)?),
            database_url: var("DATABASE_URL").map(Url),
            redis_url: var("REDIS_URL").map(Url),
        })
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match var(name) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|_| format!("{name}={value:?} is not a valid number")),
    }
}

fn optional_ms(name: &str) -> Result<Option<Duration>, String> {
    Ok(match var(name) {
        None => None,
        Some(_) => Some(Duration::from_millis(parsed(name, 0)?)),
    })
}

#[cfg(test)]
mod tests {
    use super::Url;

    #[test]
    fn a_url_debug_never_shows_the_password() {
        let url = Url("postgres://app:hunter2@db/app".to_owned());
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(url.expose(), "postgres://app:hunter2@db/app");
    }
}
