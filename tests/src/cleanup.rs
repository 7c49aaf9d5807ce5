//! [`Cleanup`]: a guard that force-removes the Docker resources a test registered, when dropped.
//!
//! Removal runs on a fresh thread with its own tokio runtime, so the guard works when dropped inside
//! an async test (any runtime flavour), outside any runtime, and while the test unwinds from a panic.
//! Removal is best effort: resources already gone are fine, other failures are printed to stderr.

use std::sync::Mutex;

use bollard::query_parameters::{RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, RemoveVolumeOptionsBuilder};

/// What the guard removes, in registration order within each kind.
#[derive(Debug, Default, Clone)]
struct Registered {
    services: Vec<String>,
    containers: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
    images: Vec<String>,
}

impl Registered {
    fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.containers.is_empty()
            && self.networks.is_empty()
            && self.volumes.is_empty()
            && self.images.is_empty()
    }
}

/// Removes registered Docker resources when dropped (also on panic).
///
/// Order on drop: swarm services, containers (forced, with their anonymous volumes), networks,
/// volumes, images (forced). Register a resource right after creating it:
///
/// ```no_run
/// # async fn f() -> anyhow::Result<()> {
/// let cleanup = slipway_e2e::cleanup::Cleanup::new();
/// let name = slipway_e2e::names::unique("myroom");
/// cleanup.container(&name).network(&name);
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Cleanup {
    registered: Mutex<Registered>,
}

impl Cleanup {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }

    fn with(&self, add: impl FnOnce(&mut Registered)) -> &Self {
        let mut registered = self.registered.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        add(&mut registered);
        self
    }

    /// Registers a container (id or name) for forced removal.
    pub fn container(&self, id_or_name: impl AsRef<str>) -> &Self {
        self.with(|r| r.containers.push(id_or_name.as_ref().to_owned()))
    }

    /// Registers an image (tag, reference or id) for forced removal.
    pub fn image(&self, reference: impl AsRef<str>) -> &Self {
        self.with(|r| r.images.push(reference.as_ref().to_owned()))
    }

    /// Registers a network (id or name) for removal (after the containers).
    pub fn network(&self, id_or_name: impl AsRef<str>) -> &Self {
        self.with(|r| r.networks.push(id_or_name.as_ref().to_owned()))
    }

    /// Registers a volume for forced removal (after the containers).
    pub fn volume(&self, name: impl AsRef<str>) -> &Self {
        self.with(|r| r.volumes.push(name.as_ref().to_owned()))
    }

    /// Registers a swarm service (id or name) for removal (before the containers).
    pub fn service(&self, id_or_name: impl AsRef<str>) -> &Self {
        self.with(|r| r.services.push(id_or_name.as_ref().to_owned()))
    }

    /// Removes everything registered now and empties the guard; the same as dropping it, but usable
    /// in the middle of a test.
    pub fn run_now(&self) {
        let registered = {
            let mut guard = self.registered.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::take(&mut *guard)
        };
        if registered.is_empty() {
            return;
        }
        let worker = std::thread::Builder::new()
            .name("slipway-e2e-cleanup".into())
            .spawn(move || remove_all_blocking(registered));
        match worker {
            Ok(handle) => {
                if handle.join().is_err() {
                    eprintln!("slipway-e2e cleanup: the removal thread panicked");
                }
            }
            Err(e) => eprintln!("slipway-e2e cleanup: cannot start the removal thread: {e}"),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.run_now();
    }
}

/// How many times a network removal is retried (300 ms apart) while it still has endpoints.
const NETWORK_RETRIES: usize = 10;

fn remove_all_blocking(registered: Registered) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("slipway-e2e cleanup: cannot build a runtime: {e}");
            return;
        }
    };
    runtime.block_on(remove_all(registered));
}

async fn remove_all(registered: Registered) {
    let docker = match crate::docker::connect().await {
        Ok(docker) => docker,
        Err(e) => {
            eprintln!("slipway-e2e cleanup: {e:#}");
            return;
        }
    };
    for service in &registered.services {
        report("service", service, docker.delete_service(service).await);
    }
    let container_options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    for container in &registered.containers {
        report("container", container, docker.remove_container(container, Some(container_options.clone())).await);
    }
    for network in &registered.networks {
        // Containers of a removed swarm service leave asynchronously: retry while endpoints remain.
        let mut result = docker.remove_network(network).await;
        for _ in 0..NETWORK_RETRIES {
            match &result {
                Err(bollard::errors::Error::DockerResponseServerError { status_code, .. }) if *status_code != 404 => {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    result = docker.remove_network(network).await;
                }
                _ => break,
            }
        }
        report("network", network, result);
    }
    let volume_options = RemoveVolumeOptionsBuilder::default().force(true).build();
    for volume in &registered.volumes {
        report("volume", volume, docker.remove_volume(volume, Some(volume_options.clone())).await);
    }
    let image_options = RemoveImageOptionsBuilder::default().force(true).build();
    for image in &registered.images {
        let result = docker.remove_image(image, Some(image_options.clone()), None).await;
        report("image", image, result.map(|_| ()));
    }
}

fn report(kind: &str, name: &str, result: Result<(), bollard::errors::Error>) {
    match result {
        Ok(()) => {}
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
        Err(e) => eprintln!("slipway-e2e cleanup: cannot remove {kind} {name}: {e}"),
    }
}
