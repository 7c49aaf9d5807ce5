//! `migrate` with `DATABASE_URL`: versioned, idempotent schema migrations. Each migration runs in
//! its own transaction together with its row in `schema_migrations`, under an advisory lock, so a
//! second run (or two at once) applies nothing twice. Logs `migration N applied: NAME` per applied
//! step and `schema at version N (M applied)` at the end.

use std::time::{Duration, Instant};

use crate::settings::Url;
use crate::store::{connect_postgres, StoreError};

/// The schema, in order: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "create visits",
        "CREATE TABLE visits (id BIGSERIAL PRIMARY KEY, version TEXT NOT NULL, host TEXT NOT NULL, \
         at TIMESTAMPTZ NOT NULL DEFAULT now())",
    ),
    (2, "visits.processed_at", "ALTER TABLE visits ADD COLUMN processed_at TIMESTAMPTZ"),
];

/// An arbitrary constant naming the migration lock (`pg_advisory_xact_lock`).
const LOCK_KEY: i64 = 0x0051_1b3a_7d3e;

/// How long `migrate` waits for the database to accept connections.
const CONNECT_WAIT: Duration = Duration::from_secs(30);

/// Connects (retrying for [`CONNECT_WAIT`]) and applies the migrations not yet recorded.
/// Returns how many were applied.
pub fn migrate(url: &Url) -> Result<usize, StoreError> {
    let deadline = Instant::now() + CONNECT_WAIT;
    let mut client = loop {
        match connect_postgres(url) {
            Ok(client) => break client,
            Err(e) if Instant::now() < deadline => {
                println!("waiting for the database: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(e),
        }
    };
    let sql = |what: &str, e: postgres::Error| StoreError(format!("postgres {what}: {e}"));
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .map_err(|e| sql("CREATE TABLE schema_migrations", e))?;
    let mut applied = 0;
    for (version, name, statement) in MIGRATIONS {
        let mut tx = client.transaction().map_err(|e| sql("BEGIN", e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).map_err(|e| sql("advisory lock", e))?;
        let done = tx
            .query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version])
            .map_err(|e| sql("SELECT schema_migrations", e))?
            .is_some();
        if done {
            continue;
        }
        tx.batch_execute(statement).map_err(|e| sql(&format!("migration {version} ({name})"), e))?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name])
            .map_err(|e| sql("INSERT INTO schema_migrations", e))?;
        tx.commit().map_err(|e| sql("COMMIT", e))?;
        println!("migration {version} applied: {name}");
        applied += 1;
    }
    let current: i32 = client
        .query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[])
        .map_err(|e| sql("SELECT max(version)", e))?
        .get(0);
    println!("schema at version {current} ({applied} applied)");
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn versions_start_at_one_and_increase_by_one() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|(v, _, _)| *v).collect();
        assert_eq!(versions, (1..=MIGRATIONS.len() as i32).collect::<Vec<_>>());
    }
}
