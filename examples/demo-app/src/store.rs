//! The app's backing services: PostgreSQL (`DATABASE_URL`, the `postgres` crate) and Redis
//! (`REDIS_URL`, the `redis` crate), each through a small pool of connections that are reopened
//! after an error. Without the variables the app runs as before (no database, no cache).
//!
//! What the app keeps there: every `GET /` counts a visit in Redis (`INCR demo:visits`), writes a
//! row to the `visits` table and queues its id on the Redis list `demo:jobs`, which the worker
//! takes (`BRPOP`) and marks processed in PostgreSQL. The schema is made by `migrate`
//! (migrations.rs).

use std::sync::Mutex;
use std::time::Duration;

use crate::settings::Url;

/// How long a connection attempt or a query may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// Connections kept for reuse per service.
const POOL_SIZE: usize = 16;

/// An error of a backing service, already phrased for a log line or a 503 body.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn pg_error(what: &str, e: postgres::Error) -> StoreError {
    StoreError(format!("postgres {what}: {e}"))
}

fn redis_error(what: &str, e: redis::RedisError) -> StoreError {
    StoreError(format!("redis {what}: {e}"))
}

/// Opens a PostgreSQL connection to `url`, bounded by [`IO_TIMEOUT`].
pub fn connect_postgres(url: &Url) -> Result<postgres::Client, StoreError> {
    let mut config: postgres::Config = url.expose().parse().map_err(|e| pg_error("DATABASE_URL", e))?;
    config.connect_timeout(IO_TIMEOUT);
    config.connect(postgres::NoTls).map_err(|e| pg_error("connect", e))
}

/// Opens a Redis connection to `url`, with read and write timeouts.
pub fn connect_redis(url: &Url) -> Result<redis::Connection, StoreError> {
    let client = redis::Client::open(url.expose()).map_err(|e| redis_error("REDIS_URL", e))?;
    let connection = client.get_connection_with_timeout(IO_TIMEOUT).map_err(|e| redis_error("connect", e))?;
    connection.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| redis_error("timeout", e))?;
    connection.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| redis_error("timeout", e))?;
    Ok(connection)
}

/// A few idle connections; a connection that failed is dropped, not returned.
struct Pool<C> {
    idle: Mutex<Vec<C>>,
}

impl<C> Pool<C> {
    fn new() -> Self {
        Self { idle: Mutex::new(Vec::new()) }
    }

    /// Runs `work` on an idle connection (or a new one from `open`); keeps it when `work` succeeds.
    fn with<T>(
        &self,
        open: impl FnOnce() -> Result<C, StoreError>,
        work: impl FnOnce(&mut C) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None);
        let mut connection = match taken {
            Some(connection) => connection,
            None => open()?,
        };
        let result = work(&mut connection)?;
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < POOL_SIZE {
                idle.push(connection);
            }
        }
        Ok(result)
    }
}

/// What a visit left behind.
pub struct Visit {
    /// The Redis counter after this visit.
    pub visits: i64,
    /// Rows in PostgreSQL's `visits` table.
    pub rows: i64,
    /// Rows the worker has processed.
    pub processed: i64,
}

/// The app's view of its backing services (either may be absent).
pub struct Store {
    database_url: Option<Url>,
    redis_url: Option<Url>,
    postgres: Pool<postgres::Client>,
    redis: Pool<redis::Connection>,
}

impl Store {
    /// A store for the configured services; nothing is connected yet.
    pub fn new(database_url: Option<Url>, redis_url: Option<Url>) -> Self {
        Self { database_url, redis_url, postgres: Pool::new(), redis: Pool::new() }
    }

    /// Whether any backing service is configured.
    pub fn is_configured(&self) -> bool {
        self.database_url.is_some() || self.redis_url.is_some()
    }

    fn on_postgres<T>(
        &self,
        work: impl FnOnce(&mut postgres::Client) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let Some(url) = &self.database_url else { return Ok(None) };
        self.postgres.with(|| connect_postgres(url), work).map(Some)
    }

    fn on_redis<T>(
        &self,
        work: impl FnOnce(&mut redis::Connection) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let Some(url) = &self.redis_url else { return Ok(None) };
        self.redis.with(|| connect_redis(url), work).map(Some)
    }

    /// `/health`: PostgreSQL answers `SELECT 1` and Redis answers `PING`.
    pub fn check(&self) -> Result<(), StoreError> {
        self.on_postgres(|pg| pg.simple_query("SELECT 1").map(drop).map_err(|e| pg_error("SELECT 1", e)))?;
        self.on_redis(|r| redis::cmd("PING").query::<String>(r).map(drop).map_err(|e| redis_error("PING", e)))?;
        Ok(())
    }

    /// `GET /`: count the visit in Redis, record it in PostgreSQL, queue it for the worker.
    pub fn visit(&self, version: &str, host: &str) -> Result<Visit, StoreError> {
        let recorded = self.on_postgres(|pg| {
            let id: i64 = pg
                .query_one("INSERT INTO visits (version, host) VALUES ($1, $2) RETURNING id", &[&version, &host])
                .map_err(|e| pg_error("INSERT INTO visits", e))?
                .get(0);
            let row = pg
                .query_one("SELECT count(*), count(processed_at) FROM visits", &[])
                .map_err(|e| pg_error("SELECT count(*) FROM visits", e))?;
            Ok((id, row.get::<_, i64>(0), row.get::<_, i64>(1)))
        })?;
        let visits = self
            .on_redis(|r| {
                let visits =
                    redis::cmd("INCR").arg("demo:visits").query::<i64>(r).map_err(|e| redis_error("INCR", e))?;
                if let Some((id, _, _)) = recorded {
                    redis::cmd("LPUSH")
                        .arg("demo:jobs")
                        .arg(id)
                        .query::<i64>(r)
                        .map_err(|e| redis_error("LPUSH", e))?;
                }
                Ok(visits)
            })?
            .unwrap_or(0);
        let (_, rows, processed) = recorded.unwrap_or((0, 0, 0));
        Ok(Visit { visits, rows, processed })
    }

    /// The worker's step: take one queued visit (waiting at most `wait`) and mark it processed.
    /// Returns the visit's id, or `None` when the queue stayed empty.
    pub fn process_one(&self, wait: Duration) -> Result<Option<i64>, StoreError> {
        let taken = self.on_redis(|r| {
            redis::cmd("BRPOP")
                .arg("demo:jobs")
                .arg(wait.as_secs_f64())
                .query::<Option<(String, i64)>>(r)
                .map_err(|e| redis_error("BRPOP", e))
        })?;
        let Some(Some((_, id))) = taken else { return Ok(None) };
        self.on_postgres(|pg| {
            pg.execute("UPDATE visits SET processed_at = now() WHERE id = $1", &[&id])
                .map_err(|e| pg_error("UPDATE visits", e))
        })?;
        Ok(Some(id))
    }
}
