//! `slipway probe`: exit codes (0 all healthy, 1 otherwise, 2 bad input), the report and the
//! stable `--json` keys, against listeners on 127.0.0.1.

use std::net::TcpListener;
use std::process::Command;

fn slipway(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_slipway")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn all_healthy_exits_0() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port());
    let (code, out, err) = slipway(&["probe", &target]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("healthy"), "{out}");
}

#[test]
fn one_unhealthy_exits_1_and_says_why_in_json() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port());
    let down = format!("tcp://127.0.0.1:{}", closed_port());
    let (code, out, err) =
        slipway(&["probe", "--json", "--timeout", "500ms", "--retries", "2", "--interval", "100ms", &up, &down]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    let keys: Vec<&str> = lines[1].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["target", "status", "reason", "latency_ms", "attempts", "elapsed_ms", "starting", "output"]);
    assert_eq!(lines[0]["status"], "healthy");
    assert_eq!(lines[1]["status"], "unreachable");
    assert_eq!(lines[1]["attempts"], 2);
    assert!(lines[1]["reason"].as_str().unwrap().contains("refused"), "{out}");
}

#[test]
fn bad_input_exits_2_without_probing() {
    for args in [
        vec!["probe", "ftp://x"],
        vec!["probe", "--timeout", "3", "tcp://127.0.0.1:1"],
        vec!["probe", "--retries", "0", "tcp://127.0.0.1:1"],
        vec!["probe", "--status", "9xx", "http://127.0.0.1:1/"],
        vec!["probe", "tcp://127.0.0.1:1", "exec://web"],
    ] {
        let (code, out, err) = slipway(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?} probed: {out}");
    }
    let (code, _, err) = slipway(&["probe", "redis://:hunter2@"]);
    assert_eq!(code, 2);
    assert!(!err.contains("hunter2"), "{err}");
}

/// The `Examples:` of `slipway probe --help` run and exit as their `# exit N` comments say.
#[test]
fn help_examples_behave_as_documented() {
    let (_, help, _) = slipway(&["probe", "--help"]);
    let examples: Vec<(Vec<String>, i32)> = help
        .lines()
        .skip_while(|l| l.trim() != "Examples:")
        .skip(1)
        .take_while(|l| l.starts_with("  slipway "))
        .map(|l| {
            let (cmd, comment) = l.split_once('#').unwrap_or((l, ""));
            let code = comment.trim().strip_prefix("exit ").map_or(0, |r| r[..1].parse().unwrap());
            (cmd.split_whitespace().skip(1).map(str::to_string).collect(), code)
        })
        .collect();
    assert_eq!(examples.len(), 3, "{help}");
    for (args, expected) in examples {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = slipway(&refs);
        assert_eq!(code, expected, "slipway {}: {out}{err}", args.join(" "));
        assert!(!out.is_empty() || !err.is_empty());
    }
}
