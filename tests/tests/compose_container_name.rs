//! `container_name` honoured on a Docker host: a compose file whose service has a fixed name is
//! deployed twice by slipway; each release's container carries the fixed name, the service is
//! updated stop-first (the plan stops the old container before it starts the new one), and the
//! retained old container is renamed out of the way (so rollback can still start it).

use std::collections::BTreeMap;
use std::time::Duration;

use slipway::compose::{load, LoadOptions};
use slipway::deploy::{DeployOptions, Deployer, DockerHost, Step};
use slipway::NoopObserver;
use slipway_e2e::{docker, images, names, project::ProjectGuard};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_container_name_is_deployed_stop_first_twice() {
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("cname");
    let _guard = ProjectGuard::new(&project);
    let fixed = format!("{project}-fixed");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yml");
    let host = DockerHost::new(docker::connect().await.unwrap());
    let opts = DeployOptions::default().min_running(Duration::from_millis(300));
    for version in ["v1", "v2"] {
        let compose = format!(
            "services:\n  web:\n    image: {busybox}\n    container_name: {fixed}\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 0.2; done\"]\n    environment:\n      VERSION: {version}\n"
        );
        std::fs::write(&file, compose).unwrap();
        let env: BTreeMap<String, String> = BTreeMap::new();
        let stack = load(&LoadOptions::new([file.clone()]).environment(env).project(&project)).unwrap().stack;
        let out = host.apply(&stack, &opts, &NoopObserver).await.unwrap_or_else(|e| panic!("{version}: {e}"));
        let steps = &out.plan.steps;
        let stop = steps.iter().position(|s| matches!(s, Step::StopOld { service, .. } if service == "web"));
        let start = steps.iter().position(|s| matches!(s, Step::StartReplica { service, .. } if service == "web"));
        if version == "v2" {
            assert!(stop.unwrap() < start.unwrap(), "stop-first: {steps:#?}");
            // The plan says why (`--dry-run` prints its notes after the steps).
            assert!(
                out.plan
                    .notes
                    .iter()
                    .any(|n| n.starts_with("web stops its old container") && n.contains("container_name")),
                "{:?}",
                out.plan.notes
            );
        }
        let c = host.docker().inspect_container(&fixed, None).await.unwrap();
        let env = c.config.unwrap().env.unwrap();
        assert!(env.contains(&format!("VERSION={version}")), "{fixed} runs {version}: {env:?}");
        assert!(c.state.unwrap().running.unwrap_or(false));
    }
}
