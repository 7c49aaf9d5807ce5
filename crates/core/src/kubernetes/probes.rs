//! Probes from a compose healthcheck. Compose gates readiness on its healthcheck and never
//! restarts an unhealthy container, so the healthcheck becomes a **readinessProbe** (no
//! livenessProbe), plus a **startupProbe** covering `start_period`. `CMD` becomes the exec argv,
//! `CMD-SHELL` becomes `sh -c <test>` (the shell is kept). Kubernetes counts in whole seconds:
//! sub-second durations round up to 1 s, with an `Approximated` warning.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ExecAction, Probe};

use super::warning::{MappingWarning, WarningKind};
use crate::stack::HealthcheckSpec;

/// Compose's defaults for interval and timeout.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Compose's default retries.
const DEFAULT_RETRIES: u32 = 3;
/// Compose's default `start_interval`.
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);

/// The readiness and startup probes of a service (`None, None` when the test is `NONE`).
pub fn probes(
    service: &str,
    hc: &HealthcheckSpec,
    warnings: &mut Vec<MappingWarning>,
) -> (Option<Probe>, Option<Probe>) {
    let Some(command) = exec_command(&hc.test) else { return (None, None) };
    let mut secs = |key: &str, d: Duration| -> i32 {
        if d.subsec_nanos() != 0 || d.is_zero() {
            warnings.push(MappingWarning::service(
                service,
                format!("healthcheck.{key}"),
                WarningKind::Approximated,
                format!("{}: Kubernetes counts whole seconds; rounded up", humantime::format_duration(d)),
            ));
        }
        i32::try_from(d.as_secs() + u64::from(d.subsec_nanos() != 0)).unwrap_or(i32::MAX).max(1)
    };
    let interval = secs("interval", hc.interval.unwrap_or(DEFAULT_INTERVAL));
    let timeout = secs("timeout", hc.timeout.unwrap_or(DEFAULT_INTERVAL));
    let retries = i32::try_from(hc.retries.unwrap_or(DEFAULT_RETRIES)).unwrap_or(i32::MAX).max(1);
    let exec = ExecAction { command: Some(command) };
    let readiness = Probe {
        exec: Some(exec.clone()),
        period_seconds: Some(interval),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(retries),
        success_threshold: Some(1),
        ..Default::default()
    };
    let startup = match hc.start_period.filter(|d| !d.is_zero()) {
        Some(start) => {
            let period = secs("start_interval", hc.start_interval.unwrap_or(DEFAULT_START_INTERVAL));
            let start_secs = i64::try_from(start.as_secs() + u64::from(start.subsec_nanos() != 0)).unwrap_or(i64::MAX);
            // Failures during start_period do not count; after it, `retries` failures do.
            let during = (start_secs + i64::from(period) - 1) / i64::from(period);
            let threshold = i32::try_from(during + i64::from(retries)).unwrap_or(i32::MAX);
            Some(Probe {
                exec: Some(exec),
                period_seconds: Some(period),
                timeout_seconds: Some(timeout),
                failure_threshold: Some(threshold),
                success_threshold: Some(1),
                ..Default::default()
            })
        }
        None => None,
    };
    (Some(readiness), startup)
}

/// The exec argv of a compose test: `CMD a b` -> `[a, b]`; `CMD-SHELL s` -> `[sh, -c, s]`;
/// `NONE` or empty -> `None`.
pub fn exec_command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first() {
        Some((first, rest)) if first == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((first, rest)) if first == "CMD-SHELL" && !rest.is_empty() => {
            Some(vec!["sh".into(), "-c".into(), rest.join(" ")])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(test: &[&str]) -> HealthcheckSpec {
        HealthcheckSpec {
            test: test.iter().map(|s| s.to_string()).collect(),
            interval: Some(Duration::from_secs(5)),
            timeout: Some(Duration::from_secs(3)),
            retries: Some(5),
            start_period: Some(Duration::from_secs(10)),
            start_interval: None,
        }
    }

    #[test]
    fn cmd_is_argv_and_cmd_shell_keeps_its_shell() {
        assert_eq!(
            exec_command(&["CMD".into(), "/app".into(), "check".into()]),
            Some(vec!["/app".into(), "check".into()])
        );
        assert_eq!(
            exec_command(&["CMD-SHELL".into(), "pg_isready -U app".into()]),
            Some(vec!["sh".into(), "-c".into(), "pg_isready -U app".into()])
        );
        assert_eq!(exec_command(&["NONE".into()]), None);
    }

    #[test]
    fn readiness_maps_interval_timeout_retries_and_startup_covers_start_period() {
        let mut w = Vec::new();
        let (ready, startup) = probes("web", &hc(&["CMD", "/app", "check"]), &mut w);
        let ready = ready.expect("readiness");
        assert_eq!((ready.period_seconds, ready.timeout_seconds, ready.failure_threshold), (Some(5), Some(3), Some(5)));
        let startup = startup.expect("startup");
        // 10 s of start period at the 5 s start interval = 2 tries, then the 5 retries.
        assert_eq!((startup.period_seconds, startup.failure_threshold), (Some(5), Some(7)));
        assert!(w.is_empty());
    }

    #[test]
    fn sub_second_durations_round_up_with_a_warning() {
        let mut spec = hc(&["CMD-SHELL", "true"]);
        spec.interval = Some(Duration::from_millis(500));
        spec.start_period = None;
        let mut w = Vec::new();
        let (ready, startup) = probes("web", &spec, &mut w);
        assert_eq!(ready.and_then(|p| p.period_seconds), Some(1));
        assert!(startup.is_none());
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].key, "healthcheck.interval");
    }
}
