//! Rendering shared by all subcommands: errors to stderr with exit codes, JSON lines, tracing.

/// Libraries whose debug logs carry request bodies (the engine client logs every container
/// create with its environment): capped at warnings whatever `SLIPWAY_LOG` says, so no secret
/// reaches a log.
const BODY_LOGGERS: &[&str] = &["bollard=warn", "hyper=warn", "hyper_util=warn", "reqwest=warn", "h2=warn"];

/// Route `tracing` logs to stderr, filtered by `SLIPWAY_LOG` (default: warnings).
pub fn init_tracing() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    for directive in BODY_LOGGERS {
        if let Ok(d) = directive.parse() {
            filter = filter.add_directive(d);
        }
    }
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

/// Print `error` on stderr and return its exit code.
pub fn report_error(error: &slipway::Error) -> u8 {
    eprintln!("slipway: {error}");
    error.kind().exit_code() as u8
}

/// Print one JSON value on one line (keys keep their insertion order).
pub fn json_line(value: &serde_json::Value) {
    println!("{value}");
}

/// With `--json`, a failed deploy or rollback also prints one JSON line on stdout: the error's
/// message, exit code, service, step and the undo's report (`UndoReport`, the same as Python's
/// `.undo`; `null` when no undo ran).
pub fn failure_json(project: &str, error: &slipway::Error) {
    let deploy = match error {
        slipway::Error::Deploy(d) => Some(d.as_ref()),
        _ => None,
    };
    json_line(&serde_json::json!({
        "project": project,
        "error": error.to_string(),
        "exit_code": error.kind().exit_code(),
        "service": deploy.and_then(|d| d.service()),
        "step": deploy.and_then(|d| d.step()),
        "undo": deploy.and_then(|d| d.undo()),
    }));
}

/// `deploy --dry-run` on a cluster target (`target`: "swarm" or "kubernetes"): the plan as one
/// JSON line `{"plan", "target"}`, or its steps numbered.
pub fn target_plan(plan: &slipway::deploy::Plan, target: &str, json: bool) {
    if json {
        json_line(&serde_json::json!({ "plan": plan, "target": target }));
    } else {
        for (i, s) in plan.steps.iter().enumerate() {
            println!("{:>3}. {}", i + 1, s.describe());
        }
    }
}
