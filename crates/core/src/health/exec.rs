//! Command inside a container (Docker exec): exit code 0 is healthy; the output is kept for the
//! report (bounded). Like Docker's own healthcheck, a command still running at the deadline is
//! reported unreachable ("no answer within ...") and left to finish in the container.

use std::time::Duration;

use async_trait::async_trait;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::StreamExt;

use super::docker::{engine_error, Engine};
use super::{bounded, truncate, Finding, HealthProbe, Outcome, ProbeResult};

/// The most output kept.
const MAX_OUTPUT: usize = 4096;

/// Runs a command in a running container.
#[derive(Debug, Clone)]
pub struct ExecProbe {
    engine: Engine,
    container: String,
    command: Vec<String>,
}

impl ExecProbe {
    /// Run `command` (argv, no shell) in `container`.
    pub fn new(engine: Engine, container: impl Into<String>, command: Vec<String>) -> Self {
        ExecProbe { engine, container: container.into(), command }
    }

    /// From a compose/Docker healthcheck `test`: `["CMD", args...]`, `["CMD-SHELL", "line"]` or
    /// a plain list; `None` for `["NONE"]` or an empty test.
    pub fn from_healthcheck_test(engine: Engine, container: impl Into<String>, test: &[String]) -> Option<Self> {
        let command = match test.first().map(String::as_str) {
            None | Some("NONE") => return None,
            Some("CMD") => test[1..].to_vec(),
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
            Some(_) => test.to_vec(),
        };
        (!command.is_empty()).then(|| ExecProbe::new(engine, container, command))
    }

    /// The command run.
    pub fn command(&self) -> &[String] {
        &self.command
    }

    async fn attempt(&self) -> Finding {
        let docker = match self.engine.client().await {
            Ok(d) => d,
            Err(o) => return Finding::from(o),
        };
        let options = CreateExecOptions {
            cmd: Some(self.command.clone()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = match docker.create_exec(&self.container, options).await {
            Ok(e) => e,
            Err(e) => return Finding::from(engine_error(&self.container, e)),
        };
        let mut output = String::new();
        match docker.start_exec(&exec.id, None).await {
            Ok(StartExecResults::Attached { output: mut stream, .. }) => {
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(chunk) => {
                            if output.len() < MAX_OUTPUT {
                                output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                            }
                        }
                        Err(e) => return Finding::from(engine_error(&self.container, e)).output(output),
                    }
                }
            }
            Ok(StartExecResults::Detached) => {}
            Err(e) => return Finding::from(engine_error(&self.container, e)),
        }
        let output = truncate(output.trim_end(), MAX_OUTPUT);
        let inspect = match docker.inspect_exec(&exec.id).await {
            Ok(i) => i,
            Err(e) => return Finding::from(engine_error(&self.container, e)).output(output),
        };
        match inspect.exit_code {
            Some(0) => Finding::from(Outcome::Healthy).output(output),
            Some(code) => {
                let hint = if code == 126 || code == 127 { " (command not found or not executable)" } else { "" };
                let tail = if output.is_empty() { String::new() } else { format!(": {}", truncate(&output, 200)) };
                Finding::from(Outcome::unhealthy(format!("command exited with code {code}{hint}{tail}"))).output(output)
            }
            None => Finding::from(Outcome::unhealthy("the command's exit code is unknown")).output(output),
        }
    }
}

#[async_trait]
impl HealthProbe for ExecProbe {
    fn target(&self) -> String {
        format!("exec://{}/{}", self.container, self.command.join(" "))
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        bounded(timeout, self.attempt()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_tests_become_commands() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let p = ExecProbe::from_healthcheck_test(Engine::local(), "c", &t(&["CMD", "wget", "-q", "x"])).unwrap();
        assert_eq!(p.command(), t(&["wget", "-q", "x"]));
        let p =
            ExecProbe::from_healthcheck_test(Engine::local(), "c", &t(&["CMD-SHELL", "curl -f x || exit 1"])).unwrap();
        assert_eq!(p.command(), t(&["/bin/sh", "-c", "curl -f x || exit 1"]));
        assert!(ExecProbe::from_healthcheck_test(Engine::local(), "c", &t(&["NONE"])).is_none());
        assert!(ExecProbe::from_healthcheck_test(Engine::local(), "c", &t(&["CMD"])).is_none());
    }
}
