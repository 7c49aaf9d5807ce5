//! `slipway probe [--timeout D] [--retries N] [--interval D] [--start-period D] [--json] TARGET...`

use std::time::Duration;

use slipway::health::{check_all, parse_target_with, target::parse_status_range, Check, HealthError, TargetOptions};

use crate::output;

/// Arguments of `slipway probe`.
#[derive(clap::Args)]
#[command(after_help = "Targets:
  http://HOST[:PORT]/PATH  https://...       HTTP(S) GET, healthy on 2xx (see --status, --body)
  tcp://HOST:PORT                            TCP connect
  postgres://[USER@]HOST:PORT/DB             PostgreSQL readiness (as pg_isready)
  redis://[:PASSWORD@]HOST:PORT              Redis PING (AUTH first with a password)
  container://NAME                           container running (and healthy if it has a healthcheck)
  exec://NAME/command args                   command in the container exits 0
  log://NAME?pattern=REGEX[&since=5m]        a log line of the container matches
  disk:///PATH?min_free=BYTES|PCT%           free space on the file system
  memory://NAME?max_percent=PCT              container memory use under its limit

Durations are written as compose writes them: 500ms, 3s, 1m, 1m30s.
Exit codes: 0 all healthy, 1 any not healthy, 2 bad input.

Examples:
  slipway probe disk:///tmp?min_free=1048576           # healthy while 1 MiB is free
  slipway probe --timeout 2s tcp://127.0.0.1:1       # exit 1: nothing listens on port 1
  slipway probe --json ftp://example.com             # exit 2: not a probe target

More examples:
  slipway probe http://127.0.0.1:8080/health tcp://127.0.0.1:5432
  slipway probe --retries 10 --interval 1s --start-period 30s postgres://app@127.0.0.1:5432/app
  slipway probe --header 'Host: app.example.com' --status 2xx http://127.0.0.1/health
  slipway probe --json redis://127.0.0.1:6379 'log://worker?pattern=worker ready'
  slipway probe 'exec://web//demo-app check http://127.0.0.1:8080/health'")]
pub struct Args {
    /// Bound of each attempt.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// Consecutive failures (after the start period) that make a target unhealthy.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    retries: u32,
    /// Time between attempts.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    interval: Duration,
    /// Failures during this period after the start do not count (a success ends it).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    start_period: Duration,
    /// HTTP header `NAME: VALUE` for http(s) targets (repeatable); e.g. a Host header for a proxy.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Accepted HTTP status: 200, 200-399 or 2xx (default 2xx).
    #[arg(long)]
    status: Option<String>,
    /// Text the HTTP body must contain.
    #[arg(long)]
    body: Option<String>,
    /// Do not verify TLS certificates.
    #[arg(long)]
    insecure: bool,
    /// Extra CA certificate (PEM file) to trust for https targets.
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
    /// One JSON object per target and line, keys: target, status, reason, latency_ms, attempts,
    /// elapsed_ms, starting, output.
    #[arg(long)]
    json: bool,
    /// What to probe.
    #[arg(required = true, value_name = "TARGET")]
    targets: Vec<String>,
    /// The engine of container://, exec://, log:// and memory:// targets; with a remote engine
    /// (-H ssh://, tcp://), network targets are probed from its side.
    #[command(flatten)]
    engine: crate::engine_args::EngineArgs,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    slipway::duration::parse(s).map_err(|e| e.to_string())
}

fn options(args: &Args) -> Result<TargetOptions, HealthError> {
    let connection =
        args.engine.resolve().map_err(|source| HealthError::Engine { option: "--host/--context".into(), source })?;
    // A remote engine's network targets are probed from its side (core: `on_engine`).
    let mut o = TargetOptions::default().verify_tls(!args.insecure).on_engine(connection);
    for h in &args.headers {
        let (k, v) = h.split_once(':').ok_or_else(|| HealthError::InvalidOption {
            option: "--header".into(),
            reason: format!("{h:?} is not NAME: VALUE"),
        })?;
        o = o.header(k.trim(), v.trim());
    }
    if let Some(s) = &args.status {
        o = o.status(parse_status_range(s)?);
    }
    if let Some(b) = &args.body {
        o = o.body_contains(b);
    }
    if let Some(path) = &args.ca {
        let pem = std::fs::read(path).map_err(|source| HealthError::CaFile {
            option: "--ca".into(),
            path: path.clone(),
            source,
        })?;
        o = o.ca_pem(pem);
    }
    Ok(o)
}

/// Run `slipway probe`: 0 all healthy, 1 otherwise, 2 on bad input (nothing is probed then).
pub async fn run(args: Args) -> u8 {
    let options = match options(&args) {
        Ok(o) => o,
        Err(e) => return output::report_error(&e.into()),
    };
    let mut checks = Vec::new();
    let mut code = 0;
    for t in &args.targets {
        match parse_target_with(t, &options) {
            Ok(probe) => checks.push(
                Check::new(probe)
                    .timeout(args.timeout)
                    .retries(args.retries)
                    .interval(args.interval)
                    .start_period(args.start_period),
            ),
            Err(e) => code = output::report_error(&e.into()).max(code),
        }
    }
    if code != 0 {
        return code;
    }
    let observer = |e: &slipway::Event| {
        if let slipway::Event::Health(slipway::health::HealthEvent::Attempt { target, attempt, outcome, .. }) = e {
            if !outcome.is_healthy() {
                tracing::info!("{target}: attempt {attempt}: {outcome}");
            }
        }
    };
    let reports = check_all(&checks, &observer).await;
    let mut healthy = true;
    for r in &reports {
        healthy &= r.is_healthy();
        if args.json {
            output::json_line(&serde_json::to_value(r).unwrap_or_default());
        } else {
            let attempts = if r.attempts == 1 { "1 attempt".to_string() } else { format!("{} attempts", r.attempts) };
            let latency = slipway::duration::format(r.result.latency);
            match r.outcome().reason() {
                None => println!("{:<11} {}  ({latency}, {attempts})", r.outcome().status(), r.target),
                Some(reason) => {
                    let starting = if r.result.starting { " [starting]" } else { "" };
                    println!("{:<11} {}  ({latency}, {attempts}){starting}: {reason}", r.outcome().status(), r.target)
                }
            }
        }
    }
    if healthy {
        0
    } else {
        1
    }
}
