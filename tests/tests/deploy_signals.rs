//! Signals to `slipway deploy` on the real engine (issue 12, point 6): a SIGINT while a
//! pre-deploy container hook runs stops it, removes the hook's container, undoes and releases the
//! lock; a second SIGINT aborts the undo (exit 130) naming what is left, and the next deploy
//! takes the lock over at once (its holder's process is gone) and converges.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bollard::query_parameters::ListContainersOptions;
use slipway::deploy::{labels, DeployLock, DeployOptions, Deployer, DockerHost};
use slipway::NoopObserver;
use slipway_e2e::cli::slipway_bin;
use slipway_e2e::{docker, images, names, project::ProjectGuard, stacks};
use tokio::io::{AsyncBufReadExt, BufReader};

fn write_stack(dir: &Path, stack: &slipway::stack::StackSpec, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string(stack).unwrap()).unwrap();
    path
}

async fn hook_containers(docker: &bollard::Docker, project: &str) -> Vec<String> {
    let filters =
        std::collections::HashMap::from([("label".to_string(), vec![format!("{}={project}", labels::HOOK_PROJECT)])]);
    let opts = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    let list = docker.list_containers(Some(opts)).await.unwrap();
    list.into_iter().flat_map(|c| c.names.unwrap_or_default()).collect()
}

/// Read stderr lines into `seen` until one contains `needle` (false after `secs` or at the end).
async fn read_until(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    seen: &mut Vec<String>,
    needle: &str,
    secs: u64,
) -> bool {
    let found = tokio::time::timeout(Duration::from_secs(secs), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    });
    found.await.unwrap_or(false)
}

fn sigint(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_a_container_hook_and_a_second_sigint_during_the_undo() {
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("signals");
    let _guard = ProjectGuard::new(&project);
    let docker = docker::connect().await.unwrap();
    let host = DockerHost::new(docker.clone());
    let opts = DeployOptions::default().min_running(Duration::from_millis(500));
    host.apply(&stacks::shop(&project, &demo, &busybox, "v1"), &opts, &NoopObserver).await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    // v2 with a pre-deploy container hook that takes long: SIGINT once its container runs.
    let mut v2 = stacks::shop(&project, &demo, &busybox, "v2");
    v2.slipway = serde_json::json!({ "hooks": { "pre-deploy": [{ "service": "cache", "command": ["sleep", "60"] }] } });
    let file = write_stack(dir.path(), &v2, "v2");
    let child = tokio::process::Command::new(slipway_bin())
        .args(["deploy", "-f"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let running =
        slipway::wait::wait_until("the hook's container", Duration::from_secs(60), Duration::from_millis(100), || {
            let docker = docker.clone();
            let project = project.clone();
            async move { (!hook_containers(&docker, &project).await.is_empty()).then_some(()) }
        })
        .await;
    assert!(running.is_ok(), "the hook's container never ran");
    sigint(&child);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cancelled during `pre-deploy hook 1"), "{stderr}");
    assert!(stderr.contains("removed the cancelled hook's container"), "{stderr}");
    assert_eq!(hook_containers(&docker, &project).await, Vec::<String>::new(), "no hook container left");
    assert!(DeployLock::lease_of(&docker, &project).await.is_none(), "lock released");

    // v3: two SIGINTs while the app's new replica is health-checked: the second aborts the undo.
    let file = write_stack(dir.path(), &stacks::shop(&project, &demo, &busybox, "v3"), "v3");
    let mut child = tokio::process::Command::new(slipway_bin())
        .args(["deploy", "-f"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let reached = read_until(&mut lines, &mut seen, "wait for app replica 1", 60).await;
    assert!(reached, "never reached the app's health wait: {seen:?}");
    sigint(&child);
    // The second once the first one's undo has started.
    let undoing = read_until(&mut lines, &mut seen, "interrupted: stopping the current step", 30).await;
    assert!(undoing, "{seen:?}");
    sigint(&child);
    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
    })
    .await;
    assert!(rest.is_ok(), "the CLI stops at once");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    let stderr = seen.join("\n");
    // The second signal comes while the undo stops the new replica: the CLI stops at once.
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("undo aborted") && stderr.contains("may be half-deployed"), "{stderr}");
    assert!(stderr.contains("steps done and not undone") || stderr.contains("no step had finished"), "{stderr}");

    // The next deploy gets in at once (the aborted CLI's process is gone) and converges.
    let (code, err) = {
        let out = tokio::process::Command::new(slipway_bin())
            .args(["deploy", "--lock-wait", "20s", "-f"])
            .arg(&file)
            .output()
            .await
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    assert_eq!(code, Some(0), "{err}");
    let status = host.status(&project).await.unwrap();
    let app: Vec<_> = status.containers.iter().filter(|c| c.service == "app" && c.running).collect();
    assert_eq!(app.len(), 1, "{:?}", status.containers);
    // Release 4 (v3) is current; its app is either a new container or the aborted release 3's
    // (also v3), kept because its config hash is the wanted one.
    let current = status.current.as_ref().expect("a current release");
    assert!(current.outcome.is_success(), "{current:?}");
    let v3 = [current.id.0 - 1, current.id.0];
    assert!(app[0].release.is_some_and(|r| v3.contains(&r.0)), "{:?} / {current:?}", app[0]);
}
