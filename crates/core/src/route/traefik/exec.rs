//! Commands inside the managed proxy's container (Docker exec): the one loop every read of the
//! API, every rename of a configuration file and every probe from the proxy's side goes through
//! (the proxy room's readiness check too). Bounded; argv only, never a shell line.

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures::StreamExt;

/// The most output kept from one command.
const MAX_OUTPUT: usize = 4 * 1024 * 1024;

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecOutput {
    /// Exit code (-1 when the engine did not say).
    pub code: i64,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: String,
}

/// Why a command inside a container (the managed proxy) could not be run, or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The engine refused or failed.
    #[error("exec of `{command}` in {container}: {source}")]
    Engine {
        /// The command.
        command: String,
        /// The container.
        container: String,
        /// The cause.
        #[source]
        source: bollard::errors::Error,
    },
    /// No answer within the bound.
    #[error("exec of `{command}` in {container}: no answer within {secs} s")]
    Timeout {
        /// The command.
        command: String,
        /// The container.
        container: String,
        /// The bound.
        secs: u64,
    },
    /// The command exited non-zero.
    #[error("`{command}` in {container} exited with {code}: {stderr}")]
    Failed {
        /// The command.
        command: String,
        /// The container.
        container: String,
        /// The exit code.
        code: i64,
        /// The end of its error output.
        stderr: String,
    },
}

/// Run `argv` in `container` (as the container's user), at most `bound`.
pub(crate) async fn exec(
    docker: &Docker,
    container: &str,
    argv: &[&str],
    bound: Duration,
) -> Result<ExecOutput, ExecError> {
    let command = argv.join(" ");
    let run = async {
        let engine = |_: &'static str| {
            let (command, container) = (command.clone(), container.to_string());
            move |source| ExecError::Engine { command, container, source }
        };
        let opts = CreateExecOptions {
            cmd: Some(argv.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let created = docker.create_exec(container, opts).await.map_err(engine("exec in"))?;
        let mut out = ExecOutput::default();
        let mut stderr = Vec::new();
        if let StartExecResults::Attached { mut output, .. } =
            docker.start_exec(&created.id, None).await.map_err(engine("exec in"))?
        {
            while let Some(chunk) = output.next().await {
                match chunk.map_err(engine("read output of exec in"))? {
                    LogOutput::StdOut { message } if out.stdout.len() < MAX_OUTPUT => {
                        out.stdout.extend_from_slice(&message)
                    }
                    LogOutput::StdErr { message } if stderr.len() < MAX_OUTPUT => stderr.extend_from_slice(&message),
                    _ => {}
                }
            }
        }
        let info = docker.inspect_exec(&created.id).await.map_err(engine("inspect exec in"))?;
        out.code = info.exit_code.unwrap_or(-1);
        out.stderr = String::from_utf8_lossy(&stderr).trim_end().to_string();
        Ok(out)
    };
    tokio::time::timeout(bound, run).await.unwrap_or_else(|_| {
        Err(ExecError::Timeout {
            command: argv.join(" "),
            container: container.to_string(),
            secs: bound.as_secs().max(1),
        })
    })
}

/// Like [`exec`] but a non-zero exit is [`ExecError::Failed`]; returns stdout.
pub(crate) async fn exec_ok(
    docker: &Docker,
    container: &str,
    argv: &[&str],
    bound: Duration,
) -> Result<Vec<u8>, ExecError> {
    let out = exec(docker, container, argv, bound).await?;
    if out.code != 0 {
        return Err(ExecError::Failed {
            command: argv.join(" "),
            container: container.to_string(),
            code: out.code,
            stderr: tail(&out.stderr),
        });
    }
    Ok(out.stdout)
}

/// The end of an error output, for messages.
pub(crate) fn tail(text: &str) -> String {
    let mut start = text.len().saturating_sub(400);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

/// The HTTP status busybox `wget -S` printed (its server-response lines on stderr,
/// `  HTTP/1.1 404 Not Found`): the last one, after redirects.
pub(crate) fn http_status(stderr: &str) -> Option<u16> {
    stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("HTTP/"))
        .filter_map(|rest| rest.split_whitespace().nth(1)?.parse().ok())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::http_status;

    #[test]
    fn status_lines_of_wget_are_read() {
        assert_eq!(http_status("Connecting to 127.0.0.1:8080\n  HTTP/1.1 404 Not Found\n  Content-Type: x"), Some(404));
        assert_eq!(http_status("  HTTP/1.1 302 Found\n  Location: /a\n  HTTP/1.1 200 OK\n"), Some(200));
        assert_eq!(http_status("wget: can't connect to remote host: Connection refused"), None);
    }
}
