//! [`TestContainer`]: run a container from a fixture image, publish its ports on 127.0.0.1 and read
//! its exit code and output. Every container is registered with the test's [`Cleanup`] guard.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{bail, Context};
use bollard::models::{ContainerCreateBody, HealthConfig, HealthStatusEnum, HostConfig, PortBinding};
use bollard::query_parameters::{CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;

use crate::cleanup::Cleanup;

/// A container to create and start: image, name, command, environment, published ports.
#[derive(Debug, Clone)]
pub struct TestContainer {
    image: String,
    name: String,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    env: Vec<String>,
    publish: Vec<u16>,
    network: Option<String>,
    labels: HashMap<String, String>,
    healthcheck: Option<HealthConfig>,
}

impl TestContainer {
    /// A container named `name` (use [`crate::names::unique`]) from `image`.
    pub fn new(image: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            name: name.into(),
            entrypoint: None,
            cmd: None,
            env: Vec::new(),
            publish: Vec::new(),
            network: None,
            labels: HashMap::new(),
            healthcheck: None,
        }
    }

    /// Replaces the image's command.
    pub fn cmd<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cmd = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces the image's entrypoint.
    pub fn entrypoint<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.entrypoint = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        self.env.push(format!("{key}={value}"));
        self
    }

    /// Publishes the container's TCP `port` on a free port of 127.0.0.1 (see [`Running::host_port`]).
    pub fn publish(mut self, port: u16) -> Self {
        self.publish.push(port);
        self
    }

    /// Attaches the container to a network instead of the default bridge.
    pub fn network(mut self, name: impl Into<String>) -> Self {
        self.network = Some(name.into());
        self
    }

    /// Sets a label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Sets a Docker health check running `test` (exec form, without the leading `CMD`) every
    /// `interval`, unhealthy after `retries` failures in a row.
    pub fn healthcheck<I, S>(mut self, test: I, interval: Duration, retries: i64) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let mut command = vec!["CMD".to_owned()];
        command.extend(test.into_iter().map(Into::into));
        self.healthcheck = Some(HealthConfig {
            test: Some(command),
            interval: Some(nanos(interval)),
            timeout: Some(nanos(interval.max(Duration::from_secs(1)))),
            retries: Some(retries),
            ..Default::default()
        });
        self
    }

    /// Creates and starts the container, registering it with `cleanup` before it starts.
    pub async fn start(self, docker: &Docker, cleanup: &Cleanup) -> anyhow::Result<Running> {
        let port_bindings = self
            .publish
            .iter()
            .map(|port| {
                let binding = PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) };
                (format!("{port}/tcp"), Some(vec![binding]))
            })
            .collect::<HashMap<_, _>>();
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            entrypoint: self.entrypoint.clone(),
            cmd: self.cmd.clone(),
            env: Some(self.env.clone()),
            labels: Some(self.labels.clone()),
            healthcheck: self.healthcheck.clone(),
            exposed_ports: Some(self.publish.iter().map(|port| format!("{port}/tcp")).collect()),
            host_config: Some(HostConfig {
                port_bindings: Some(port_bindings),
                network_mode: self.network.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&self.name).build();
        let created = docker
            .create_container(Some(options), body)
            .await
            .with_context(|| format!("cannot create container {} from {}", self.name, self.image))?;
        cleanup.container(&created.id);
        docker
            .start_container(&created.id, None)
            .await
            .with_context(|| format!("cannot start container {}", self.name))?;
        let inspected = docker
            .inspect_container(&created.id, None)
            .await
            .with_context(|| format!("cannot inspect container {}", self.name))?;
        let mut ports = BTreeMap::new();
        let published = inspected.network_settings.and_then(|settings| settings.ports).unwrap_or_default();
        for port in &self.publish {
            let host_port = published
                .get(&format!("{port}/tcp"))
                .and_then(|bindings| bindings.as_ref())
                .and_then(|bindings| bindings.iter().find_map(|b| b.host_port.as_deref()?.parse::<u16>().ok()));
            match host_port {
                Some(host_port) => ports.insert(*port, host_port),
                None => bail!("container {} has no host port for {port}/tcp (did it exit at once?)", self.name),
            };
        }
        Ok(Running { id: created.id, name: self.name, ports })
    }

    /// Starts the container, waits (at most `timeout`) for it to exit and returns its exit code and
    /// its output (stdout and stderr interleaved).
    pub async fn run_to_end(self, docker: &Docker, cleanup: &Cleanup, timeout: Duration) -> anyhow::Result<Finished> {
        let running = self.start(docker, cleanup).await?;
        let exit_code = running.wait_exit(docker, timeout).await?;
        let output = running.logs(docker).await?;
        Ok(Finished { exit_code, output })
    }
}

/// A started container.
#[derive(Debug, Clone)]
pub struct Running {
    /// The container's id.
    pub id: String,
    /// The container's name.
    pub name: String,
    ports: BTreeMap<u16, u16>,
}

impl Running {
    /// The port of 127.0.0.1 where the container's TCP `port` is published, if it was.
    pub fn host_port(&self, port: u16) -> Option<u16> {
        self.ports.get(&port).copied()
    }

    /// `http://127.0.0.1:<host port>` for the container's published TCP `port`.
    pub fn url(&self, port: u16) -> anyhow::Result<String> {
        let host_port =
            self.host_port(port).with_context(|| format!("port {port} of {} is not published", self.name))?;
        Ok(format!("http://127.0.0.1:{host_port}"))
    }

    /// The container's output so far (stdout and stderr interleaved).
    pub async fn logs(&self, docker: &Docker) -> anyhow::Result<String> {
        let options = LogsOptionsBuilder::default().stdout(true).stderr(true).build();
        let mut stream = docker.logs(&self.id, Some(options));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("cannot read the logs of {}", self.name))?;
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        Ok(text)
    }

    /// Waits (at most `timeout`) until the container's output contains `needle`; returns the output.
    pub async fn wait_for_log(&self, docker: &Docker, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let what = format!("{needle:?} in the logs of {}", self.name);
        let found = slipway::wait::wait_until(&what, timeout, Duration::from_millis(100), || async {
            self.logs(docker).await.ok().filter(|logs| logs.contains(needle))
        })
        .await;
        match found {
            Ok(logs) => Ok(logs),
            Err(e) => bail!("{e}; output so far:\n{}", self.logs(docker).await.unwrap_or_default()),
        }
    }

    /// The container's health status as Docker reports it (`None` without a health check).
    pub async fn health(&self, docker: &Docker) -> anyhow::Result<Option<HealthStatusEnum>> {
        let inspected = docker
            .inspect_container(&self.id, None)
            .await
            .with_context(|| format!("cannot inspect container {}", self.name))?;
        Ok(inspected.state.and_then(|state| state.health).and_then(|health| health.status))
    }

    /// Waits (at most `timeout`) until Docker reports the health status `wanted`.
    pub async fn wait_health(
        &self,
        docker: &Docker,
        wanted: HealthStatusEnum,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let what = format!("container {} to be {wanted:?}", self.name);
        slipway::wait::wait_until(&what, timeout, Duration::from_millis(100), || async {
            (self.health(docker).await.ok().flatten() == Some(wanted)).then_some(())
        })
        .await?;
        Ok(())
    }

    /// Sends a signal (`"SIGTERM"`, `"SIGKILL"`, ...) to the container's main process.
    pub async fn signal(&self, docker: &Docker, signal: &str) -> anyhow::Result<()> {
        let options = KillContainerOptionsBuilder::default().signal(signal).build();
        docker
            .kill_container(&self.id, Some(options))
            .await
            .with_context(|| format!("cannot send {signal} to {}", self.name))
    }

    /// Waits (at most `timeout`) for the container to exit and returns its exit code.
    pub async fn wait_exit(&self, docker: &Docker, timeout: Duration) -> anyhow::Result<i64> {
        let mut stream = docker.wait_container(&self.id, None);
        let next = tokio::time::timeout(timeout, stream.next())
            .await
            .with_context(|| format!("container {} still runs after {timeout:?}", self.name))?;
        match next {
            Some(Ok(response)) => Ok(response.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(e).with_context(|| format!("cannot wait for container {}", self.name)),
            None => bail!("the engine ended the wait for {} without an exit code", self.name),
        }
    }
}

/// A container that ran to its end.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its exit code.
    pub exit_code: i64,
    /// Its output, stdout and stderr interleaved.
    pub output: String,
}
