//! Small value syntaxes of compose files: Go durations, byte sizes, the short port and volume
//! syntaxes, and dotenv files. Pure functions; errors are messages the caller places.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::stack::{MountKind, MountOptions, MountSpec, PortSpec};

/// Parse a Go duration (`1m30s`, `500ms`, `1.5h`, `0`) as compose does.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration (write e.g. 30s, 1m30s, 500ms)");
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e12 {
        return Err(bad());
    }
    Ok(Duration::from_nanos((total * 1e9).round() as u64))
}

/// Format a duration as Go's `time.Duration.String()` does (`1h0m0s`, `1m30s`, `1.5s`, `500ms`).
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let frac = |value: u128, unit: u128| -> String {
        let whole = value / unit;
        let rem = value % unit;
        if rem == 0 {
            return whole.to_string();
        }
        let digits = unit.to_string().len() - 1;
        let f = format!("{rem:0digits$}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000));
    }
    let secs_ns = ns % 60_000_000_000;
    let mins = (ns / 60_000_000_000) % 60;
    let hours = ns / 3_600_000_000_000;
    let s = frac(secs_ns, 1_000_000_000);
    if hours > 0 {
        format!("{hours}h{mins}m{s}s")
    } else if mins > 0 {
        format!("{mins}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Parse a byte size (`512M`, `1g`, `100kb`, `1024`), binary units as compose uses.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not a size (write e.g. 512M, 1G)");
    let t = s.trim().to_ascii_lowercase();
    let num_len = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let n: f64 = t[..num_len].parse().map_err(|_| bad())?;
    let factor: f64 = match t[num_len..].trim() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024f64.powi(4),
        _ => return Err(bad()),
    };
    let v = n * factor;
    if !v.is_finite() || v > u64::MAX as f64 / 2.0 {
        return Err(bad());
    }
    Ok(v as u64)
}

fn port_range(s: &str) -> Result<(u16, u16), String> {
    let p = |x: &str| x.trim().parse::<u16>().map_err(|_| format!("`{x}` is not a port number"));
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (p(a)?, p(b)?);
            if b < a {
                return Err(format!("invalid port range `{s}`"));
            }
            Ok((a, b))
        }
        None => p(s).map(|a| (a, a)),
    }
}

/// Parse the short port syntax `[ip:][published:]target[/protocol]`, expanding ranges.
pub fn parse_port(s: &str) -> Result<Vec<PortSpec>, String> {
    let (spec, protocol) = match s.rsplit_once('/') {
        Some((a, p)) => (a, p.to_string()),
        None => (s, "tcp".to_string()),
    };
    let (ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        let (ip, rest) = r.split_once("]:").ok_or_else(|| format!("invalid port `{s}`"))?;
        (Some(ip.to_string()), rest)
    } else {
        (None, spec)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, published, target) = match (ip, parts.as_slice()) {
        (None, [t]) => (None, None, *t),
        (None, [p, t]) => (None, Some(*p), *t),
        (None, [i, p, t]) => (Some(i.to_string()), Some(*p), *t),
        (Some(i), [p, t]) => (Some(i), Some(*p), *t),
        (Some(i), [t]) => (Some(i), None, *t),
        _ => return Err(format!("invalid port `{s}`: write [ip:][published:]target[/protocol]")),
    };
    let (t0, t1) = port_range(target)?;
    let published = published.filter(|p| !p.is_empty()).map(port_range).transpose()?;
    if let Some((p0, p1)) = published {
        if p1 - p0 != t1 - t0 && p0 != p1 {
            return Err(format!("invalid port `{s}`: published and target ranges differ in length"));
        }
    }
    let ip = ip.filter(|i| !i.is_empty());
    Ok((t0..=t1)
        .enumerate()
        .map(|(i, target)| PortSpec {
            target,
            published: published.map(|(p0, p1)| if p0 == p1 { p0 } else { p0 + i as u16 }.to_string()),
            host_ip: ip.clone(),
            protocol: protocol.clone(),
            mode: Some("ingress".into()),
        })
        .collect())
}

/// Make `p` absolute against `base` (`~` = `home`) and clean `.`/`..` lexically.
pub fn absolute(p: &str, base: &Path, home: Option<&str>) -> String {
    // An absolute path is kept as written, as Compose keeps it.
    if p.starts_with('/') {
        return p.to_string();
    }
    let joined = if let Some(rest) = p.strip_prefix('~') {
        PathBuf::from(home.unwrap_or("~")).join(rest.trim_start_matches('/'))
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out.to_string_lossy().into_owned()
}

/// A container path cleaned as Compose cleans it (`/data/` -> `/data`, `a//b` -> `a/b`).
pub fn clean_target(t: &str) -> String {
    if t.is_empty() {
        return String::new();
    }
    let abs = t.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in t.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Parse the short volume syntax `[source:]target[:mode]` (modes `ro`, `rw`, `z`, `Z`,
/// `nocopy`, bind propagation) with the target cleaned as Compose cleans it.
pub fn parse_mount(s: &str, base: &Path, home: Option<&str>) -> Result<(MountSpec, MountOptions), String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [src, t] => (Some(*src), *t, None),
        [src, t, m] => (Some(*src), *t, Some(*m)),
        _ => return Err(format!("invalid volume `{s}`: write [source:]target[:ro|rw]")),
    };
    if target.is_empty() || source == Some("") {
        return Err(format!("invalid volume `{s}`: empty source or target"));
    }
    let mut read_only = false;
    let mut opts = MountOptions::default();
    for opt in mode.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" => opts.selinux = Some(opt.to_string()),
            "nocopy" => opts.nocopy = true,
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                opts.propagation = Some(opt.to_string())
            }
            other => {
                return Err(format!(
                    "unknown volume mode `{other}` in `{s}` (use ro, rw, z, Z, nocopy or a bind propagation)"
                ))
            }
        }
    }
    let bind = source.is_some_and(|src| src.starts_with(['/', '.', '~']));
    let spec = MountSpec {
        kind: if bind { MountKind::Bind } else { MountKind::Volume },
        source: source.map(|src| if bind { absolute(src, base, home) } else { src.to_string() }),
        target: clean_target(target),
        read_only,
        create_host_path: bind,
    };
    Ok((spec, opts))
}

/// One parsed dotenv line: `(line, key, value)`; `value` is `None` for a bare `KEY` line.
pub type DotenvEntry = (usize, String, Option<String>);

/// Parse a dotenv file (`KEY=value`, `export KEY=value`, quotes, `#` comments). Values are
/// returned raw; `quoted_single` tells whether they must not be interpolated.
pub fn parse_dotenv(text: &str) -> Result<Vec<(DotenvEntry, bool)>, usize> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            if line.chars().all(|c| c == '_' || c.is_ascii_alphanumeric() || c == '.' || c == '-') {
                out.push(((line_no, line.to_string(), None), false));
                continue;
            }
            return Err(line_no);
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(line_no);
        }
        let value = value.trim_start();
        let (value, single) = if let Some(r) = value.strip_prefix('\'') {
            (r.split_once('\'').ok_or(line_no)?.0.to_string(), true)
        } else if let Some(r) = value.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = r.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some('n') => v.push('\n'),
                        Some('t') => v.push('\t'),
                        Some(o) => v.push(o),
                        None => break,
                    },
                    c => v.push(c),
                }
            }
            if !closed {
                return Err(line_no);
            }
            (v, false)
        } else {
            let v = match value.find(" #") {
                Some(p) => &value[..p],
                None => value,
            };
            (v.trim_end().to_string(), false)
        };
        out.push(((line_no, key.to_string(), Some(value)), single));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_like_go() {
        for (i, o) in [("1h", "1h0m0s"), ("90s", "1m30s"), ("1500ms", "1.5s"), ("500ms", "500ms"), ("0", "0s")] {
            assert_eq!(format_duration(parse_duration(i).unwrap()), o);
        }
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("1x").is_err());
    }

    #[test]
    fn ports_and_mounts() {
        let p = parse_port("127.0.0.1:9000-9001:9000-9001/udp").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[1].target, p[1].published.as_deref(), p[1].protocol.as_str()), (9001, Some("9001"), "udp"));
        assert_eq!(parse_port("[::1]:53:53").unwrap()[0].host_ip.as_deref(), Some("::1"));
        assert!(parse_port("a:b:c:d").is_err());
        let (m, _) = parse_mount("./src:/src:ro", Path::new("/p"), None).unwrap();
        assert_eq!((m.kind, m.source.as_deref(), m.read_only), (MountKind::Bind, Some("/p/src"), true));
        assert_eq!(parse_mount("/anon", Path::new("/p"), None).unwrap().0.source, None);
        let (m, o) = parse_mount("./d/:/data/:z", Path::new("/p"), None).unwrap();
        assert_eq!((m.target.as_str(), o.selinux.as_deref()), ("/data", Some("z")));
        assert_eq!(parse_bytes("512M").unwrap(), 536870912);
    }

    #[test]
    fn dotenv_forms() {
        let e = parse_dotenv("# c\nA=1\nexport B = 'x y' \nC=\"a\\nb\"\nD=v # note\nE\n").unwrap();
        let vals: Vec<_> = e.iter().map(|((_, k, v), _)| (k.as_str(), v.as_deref())).collect();
        assert_eq!(vals, [("A", Some("1")), ("B", Some("x y")), ("C", Some("a\nb")), ("D", Some("v")), ("E", None)]);
        assert_eq!(parse_dotenv("A=1\n=2\n"), Err(2));
    }
}
