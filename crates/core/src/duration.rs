//! Durations written as compose writes them: `500ms`, `3s`, `1m`, `1m30s`, `1h`, `1.5s`.
//! Used by every face (CLI flags, Python keyword arguments) so that they all read the same way.

use std::time::Duration;

/// A duration string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (write it as compose does: 500ms, 3s, 1m, 1m30s)")]
pub struct DurationError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parse `500ms`, `3s`, `1m`, `1m30s`, `2h`, `1.5s`, `10us`: Go's `time.ParseDuration`, which
/// compose uses, and the one duration parser of slipway (compose files, `x-slipway`, CLI flags,
/// Python keyword arguments). A unit is required; `0` alone is zero. Never a silent default.
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    let err = |reason: &str| DurationError { input: input.to_string(), reason: reason.to_string() };
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err(err("negative"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("missing unit"));
    }
    go_duration(s).ok_or_else(|| err("not a sequence of numbers with units ns, us, ms, s, m, h"))
}

/// A sequence of `<number><unit>` (`1h2m3.5s`).
fn go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let value: f64 = rest[..num_end].parse().ok()?;
        let after = &rest[num_end..];
        let unit_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let unit_secs = match &after[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * unit_secs;
        rest = &after[unit_end..];
    }
    (total.is_finite() && total <= 1e12).then(|| Duration::from_nanos((total * 1e9).round() as u64))
}

/// Format compactly in the same style: `0s`, `250ms`, `3s`, `1m30s`, `1h2m`, `1.5s`.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return if d.is_zero() { "0s".into() } else { format!("{}us", d.as_micros()) };
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if !ms.is_multiple_of(1000) && ms < 60_000 {
        return format!("{}s", ms as f64 / 1000.0);
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compose_durations() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse(" 2s ").unwrap(), Duration::from_secs(2));
    }

    #[test]
    fn rejects_bad_durations() {
        for bad in ["", "3", "-3s", "abc", "3x", "1.5.5s"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.input, bad);
            assert!(e.to_string().contains("500ms"));
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in ["250ms", "3s", "1m30s", "1h2m", "1.5s", "0s"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
