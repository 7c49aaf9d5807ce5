//! Container hooks: `{service: NAME, command: [...]}` under `x-slipway.hooks` runs a one-off
//! container from the service's pinned image in the release being deployed, with the service's
//! environment (plus the release's `SLIPWAY_*` variables), user, working dir, mounts and networks,
//! but no published ports, no healthcheck, no restart policy and no network aliases (it never
//! takes the service's traffic). Networks and named volumes that do not exist yet (a first
//! deploy's pre-deploy hook) are left out rather than created: a pre-deploy hook changes nothing.
//!
//! The container carries `dev.slipway.hook*` labels and no project label, so the planner never
//! sees it. A hook that exits 0 is removed; a failing one is kept (stopped) for inspection and
//! removed by the project's next container hook.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{EndpointSettings, MountType, NetworkingConfig};
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;

use super::{HookEnv, HookPoint, HookRun};
use crate::deploy::container_spec::{container_plan, ContainerPlan};
use crate::deploy::engine;
use crate::deploy::failure::HookFailure;
use crate::deploy::labels::{self, ContainerIdentity};
use crate::deploy::state::DesiredRelease;

/// One container hook to run: which point, its place in the list, the service, the command.
pub(crate) struct ContainerHook<'a> {
    pub point: HookPoint,
    pub index: usize,
    pub service: &'a str,
    pub command: Option<&'a [String]>,
}

/// Run one container hook; `Err` when it could not be run at all.
pub(crate) async fn run_container_hook(
    docker: &Docker,
    desired: &DesiredRelease,
    hook: &ContainerHook<'_>,
    env: &HookEnv,
    timeout: Duration,
) -> Result<HookRun, HookFailure> {
    let project = desired.project();
    remove_finished_hooks(docker, project).await;
    let plan = hook_plan(docker, desired, hook, env).await?;
    let image = plan.body.image.clone().unwrap_or_default();
    if docker.inspect_image(&image).await.is_err() {
        engine::pull(docker, &image).await?;
    }
    // A container of the same name is left from an interrupted deploy of the same release id.
    engine::remove(docker, &plan.name).await?;
    let id = engine::create(docker, &plan).await?;
    engine::start(docker, &id).await?;
    let exited = engine::wait_exit(docker, &id, &format!("hook container {}", plan.name), timeout).await;
    let output = engine::log_tail(docker, &id, 20).await;
    let (exit_code, failure) = match exited {
        Ok(0) => (0, None),
        Ok(code) => (code, Some(HookFailure::ContainerExited { code, container: plan.name.clone() })),
        Err(_) => {
            let _ = engine::stop(docker, &id).await;
            (-1, Some(HookFailure::ContainerTimedOut { after: timeout, container: plan.name.clone() }))
        }
    };
    if failure.is_none() {
        engine::remove(docker, &id).await?;
    }
    Ok(HookRun { exit_code, output, failure })
}

/// The name of the container of the `index`-th (from 0) container hook of `point` in `release`
/// (the executor removes it when a cancellation drops the hook mid-run).
pub(crate) fn hook_container_name(project: &str, point: HookPoint, index: usize, release: &str) -> String {
    format!("{project}-hook-{}-{}-r{release}", point.key(), index + 1)
}

/// The container for the hook: the service's container, adapted.
async fn hook_plan(
    docker: &Docker,
    desired: &DesiredRelease,
    hook: &ContainerHook<'_>,
    env: &HookEnv,
) -> Result<ContainerPlan, HookFailure> {
    let ContainerHook { point, index, service, command } = *hook;
    let project = desired.project();
    let svc = desired.stack.services.get(service).ok_or_else(|| HookFailure::NoService { service: service.into() })?;
    let mut spec = svc.clone();
    if let Some(c) = command {
        spec.command = Some(c.to_vec());
    }
    spec.ports.clear();
    spec.healthcheck = None;
    spec.healthcheck_disabled = true;
    spec.restart = None;
    for (k, v) in &env.0 {
        spec.environment.insert(k.clone(), Some(v.clone()));
    }
    let release = desired.id.to_string();
    let identity = ContainerIdentity { project, service, release: &release, config_hash: "", replica: 1, oneoff: true };
    let mut plan = container_plan(&desired.stack, &spec, &identity);
    plan.name = hook_container_name(project, point, index, &release);

    let container_labels = plan.body.labels.get_or_insert_with(HashMap::new);
    container_labels.retain(|k, _| !k.starts_with("dev.slipway.") && !k.starts_with("com.docker.compose."));
    container_labels.insert(labels::HOOK.into(), point.key().into());
    container_labels.insert(labels::HOOK_PROJECT.into(), project.into());
    container_labels.insert(labels::HOOK_RELEASE.into(), release.clone());

    // Networks that exist, without aliases.
    let mut networks: Vec<String> =
        plan.body.host_config.as_ref().and_then(|h| h.network_mode.clone()).into_iter().collect();
    networks.extend(plan.more_networks.iter().map(|(n, _)| n.clone()));
    let mut existing = Vec::new();
    for n in networks {
        if docker.inspect_network(&n, None::<bollard::query_parameters::InspectNetworkOptions>).await.is_ok() {
            existing.push(n);
        }
    }
    let first = (!existing.is_empty()).then(|| existing.remove(0));
    if let Some(host) = plan.body.host_config.as_mut() {
        host.network_mode = first.clone();
        // Named volumes that do not exist yet are left out (the plan creates them).
        if let Some(mounts) = host.mounts.as_mut() {
            let mut kept = Vec::new();
            for m in mounts.drain(..) {
                let missing = match (&m.typ, &m.source) {
                    (Some(MountType::VOLUME), Some(name)) => docker.inspect_volume(name).await.is_err(),
                    _ => false,
                };
                if !missing {
                    kept.push(m);
                }
            }
            *mounts = kept;
        }
    }
    plan.body.networking_config =
        first.map(|n| NetworkingConfig { endpoints_config: Some(HashMap::from([(n, EndpointSettings::default())])) });
    plan.more_networks = existing.into_iter().map(|n| (n, Vec::new())).collect();
    // compose room: the service's static addresses stay the service's.
    plan.static_ips.clear();
    Ok(plan)
}

/// Remove the project's hook containers that are no longer running (kept failures of earlier
/// deploys), best effort.
async fn remove_finished_hooks(docker: &Docker, project: &str) {
    let filters = HashMap::from([
        ("label".to_string(), vec![labels::filter(labels::HOOK_PROJECT, project)]),
        ("status".to_string(), vec!["exited".to_string(), "created".to_string(), "dead".to_string()]),
    ]);
    let opts = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    for c in docker.list_containers(Some(opts)).await.unwrap_or_default() {
        if let Some(id) = c.id {
            let _ =
                docker.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
        }
    }
}
