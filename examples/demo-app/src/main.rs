//! The demo web app and worker used by slipway's examples and tests, linked statically so that it
//! runs as `/demo-app` in a `FROM scratch` image.
//!
//! Subcommands: `serve` (default), `worker`, `migrate`, `check URL`. Environment: `APP_VERSION`
//! (default `dev`), `PORT` (8080), `BIND_ADDR` (0.0.0.0), `STARTUP_DELAY_MS`, `FAIL_HEALTH=1`,
//! `FAIL_HEALTH_AFTER_MS`, `CRASH_AFTER_MS`, `EXIT_CODE` (migrate), `DRAIN_TIMEOUT_MS` (30000),
//! `CHECK_TIMEOUT_MS` (3000), `DATABASE_URL` and `REDIS_URL` (store.rs; without them nothing is
//! stored and every mode behaves as it did before).

mod check;
mod http;
mod migrations;
mod server;
mod settings;
mod store;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use settings::Settings;

const USAGE: &str = "usage: demo-app [serve | worker | migrate | check URL]

  serve      HTTP on $BIND_ADDR:$PORT: /health, /version, /slow?ms=N, /
             (with $DATABASE_URL/$REDIS_URL: /health checks both, / counts and records a visit)
  worker     logs 'worker ready version=<v>' and idles until SIGTERM
             (with $REDIS_URL and $DATABASE_URL: marks queued visits processed)
  migrate    logs 'migrated' and exits with $EXIT_CODE (default 0)
             (with $DATABASE_URL: applies the schema migrations not yet in schema_migrations)
  check URL  HTTP GET URL, exit 0 on a 2xx answer (a health check for scratch images)

env: APP_VERSION PORT BIND_ADDR STARTUP_DELAY_MS FAIL_HEALTH FAIL_HEALTH_AFTER_MS CRASH_AFTER_MS EXIT_CODE
     DRAIN_TIMEOUT_MS CHECK_TIMEOUT_MS DATABASE_URL REDIS_URL";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("demo-app: {message}");
            return ExitCode::from(2);
        }
    };
    if let Some(after) = settings.crash_after {
        if matches!(args.first().map(String::as_str), None | Some("serve" | "worker")) {
            crash_after(after);
        }
    }
    match args.first().map(String::as_str) {
        None | Some("serve") => server::serve(&settings),
        Some("worker") => worker(&settings),
        Some("migrate") => migrate(&settings),
        Some("check") => match args.get(1) {
            Some(url) => check::check(url, settings.check_timeout),
            None => usage_error("check needs a URL"),
        },
        Some("--version") => {
            println!("demo-app {}", settings.version);
            ExitCode::SUCCESS
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => usage_error(&format!("unknown subcommand {other:?}")),
    }
}

/// Exits the process with code 1 after `after` (`CRASH_AFTER_MS`): a release that crashes.
fn crash_after(after: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        println!("demo-app crashing (CRASH_AFTER_MS={})", after.as_millis());
        std::process::exit(1);
    });
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("demo-app: {message}\n{USAGE}");
    ExitCode::from(2)
}

/// Sets the returned flag on SIGTERM or SIGINT.
fn shutdown_flag() -> std::io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&flag))?;
    }
    Ok(flag)
}

fn worker(settings: &Settings) -> ExitCode {
    let shutdown = match shutdown_flag() {
        Ok(flag) => flag,
        Err(e) => {
            eprintln!("demo-app: cannot handle signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    std::thread::sleep(settings.startup_delay);
    println!("worker ready version={}", settings.version);
    let store = store::Store::new(settings.database_url.clone(), settings.redis_url.clone());
    let queue = settings.redis_url.is_some() && settings.database_url.is_some();
    let mut processed = 0u64;
    while !shutdown.load(Ordering::SeqCst) {
        if !queue {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        match store.process_one(Duration::from_secs(1)) {
            Ok(Some(id)) => {
                processed += 1;
                if processed == 1 || processed.is_multiple_of(100) {
                    println!("worker processed visit {id} ({processed} so far)");
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("worker: {e}");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    println!("worker stopped version={}", settings.version);
    ExitCode::SUCCESS
}

fn migrate(settings: &Settings) -> ExitCode {
    std::thread::sleep(settings.startup_delay);
    println!("migrate version={}", settings.version);
    if let Some(url) = &settings.database_url {
        if let Err(e) = migrations::migrate(url) {
            eprintln!("demo-app migrate: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("migrated");
    ExitCode::from(settings.exit_code)
}
