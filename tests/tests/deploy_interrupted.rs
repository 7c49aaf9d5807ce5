//! The `slipway` CLI killed with SIGKILL at several points of a deploy, then deployed again,
//! converges with no orphan or duplicate containers; two concurrent deploys: one waits or is refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use slipway::deploy::{DeployOptions, Deployer, DockerHost};
use slipway::NoopObserver;
use slipway_e2e::cli::slipway_bin;
use slipway_e2e::{docker, images, names, project::ProjectGuard, stacks};
use tokio::io::{AsyncBufReadExt, BufReader};

fn write_stack(dir: &Path, stack: &slipway::stack::StackSpec, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string(stack).unwrap()).unwrap();
    path
}

/// Run `slipway deploy -f FILE`, SIGKILL it when a stderr line contains `needle`.
async fn deploy_killed_at(bin: &Path, file: &Path, needle: &str) {
    // The default lease (60 s, taken over 75 s after its last renewal) and a shorter lock wait:
    // the next deploy can only get in because it proves the killed holder's process is gone.
    let mut child = tokio::process::Command::new(bin)
        .args(["deploy", "--lock-wait", "30s", "-f"])
        .arg(file)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains(needle) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "the deploy never reached `{needle}`");
    child.kill().await.unwrap();
}

async fn deploy_cli(bin: &Path, file: &Path, extra: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(bin).args(["deploy", "-f"]).arg(file).args(extra).output().await.unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).to_string())
}

/// One running container per service, every container of a recorded release, no lock left.
async fn converged(host: &DockerHost, project: &str) {
    let status = host.status(project).await.unwrap();
    for svc in ["app", "worker", "db", "cache"] {
        let n = status.containers.iter().filter(|c| c.service == svc && c.running).count();
        assert_eq!(n, 1, "{svc}: {:#?}", status.containers);
    }
    let recorded: BTreeSet<_> = host.history(project).await.unwrap().iter().map(|r| r.id).collect();
    for c in &status.containers {
        assert!(c.release.is_some_and(|r| recorded.contains(&r)), "orphan container {}", c.name);
    }
    let lock = slipway::deploy::labels::lock_name(project);
    assert!(host.docker().inspect_container(&lock, None).await.is_err(), "lock left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_deploys_converge_and_concurrent_deploys_serialise() {
    let bin = slipway_bin();
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("deploy");
    let _guard = ProjectGuard::new(&project);
    let host = DockerHost::new(docker::connect().await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let opts = DeployOptions::default().min_running(Duration::from_millis(500));
    host.apply(&stacks::shop(&project, &demo, &busybox, "v1"), &opts, &NoopObserver).await.unwrap();

    for (version, needle) in
        [("v2", "run one-off prestart ..."), ("v3", "wait for app replica 1"), ("v4", "stop old app container")]
    {
        let file = write_stack(dir.path(), &stacks::shop(&project, &demo, &busybox, version), version);
        deploy_killed_at(&bin, &file, needle).await;
    }
    let v5 = write_stack(dir.path(), &stacks::shop(&project, &demo, &busybox, "v5"), "v5");
    let (code, err) = deploy_cli(&bin, &v5, &["--lock-wait", "30s"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stale deploy lock"), "the killed deploy's lock is reported: {err}");
    assert!(err.contains("on this machine is gone") || err.contains("has exited"), "proved gone, not expired: {err}");
    converged(&host, &project).await;
    let (code, err) = deploy_cli(&bin, &v5, &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("[1/"), "an unchanged redeploy has no steps: {err}");

    // Two deploys at once without waiting: one deploys, the other is refused (or both ran in turn).
    let v6 = write_stack(dir.path(), &stacks::shop(&project, &demo, &busybox, "v6"), "v6");
    let v7 = write_stack(dir.path(), &stacks::shop(&project, &demo, &busybox, "v7"), "v7");
    let ((c6, e6), (c7, e7)) = tokio::join!(deploy_cli(&bin, &v6, &[]), deploy_cli(&bin, &v7, &[]));
    assert!(c6 == 0 || c7 == 0, "{e6}\n{e7}");
    for (c, e) in [(c6, &e6), (c7, &e7)] {
        assert!(c == 0 || (c == 1 && e.contains("is being deployed by")), "{e}");
    }
    converged(&host, &project).await;
    // With --lock-wait both succeed, one after the other.
    let v8 = write_stack(dir.path(), &stacks::shop(&project, &demo, &busybox, "v8"), "v8");
    let v9 = write_stack(dir.path(), &stacks::shop(&project, &demo, &busybox, "v9"), "v9");
    let wait = ["--lock-wait", "60s"];
    let ((c8, e8), (c9, e9)) = tokio::join!(deploy_cli(&bin, &v8, &wait), deploy_cli(&bin, &v9, &wait));
    assert_eq!((c8, c9), (0, 0), "{e8}\n{e9}");
    converged(&host, &project).await;

    // `--dry-run` shows the whole deploy in its order: lock, policy, the backup the environment
    // asks for, pre-deploy hooks, the rollouts, the record, post-deploy hooks, prune.
    let history = host.history(&project).await.unwrap().len();
    let policy = dir.path().join("policy.json");
    let accept = r#"{"environments": {"guarded": {"rules": [{"name": "all", "match": "any", "action": "accept"}], "backup": true}}}"#;
    std::fs::write(&policy, accept).unwrap();
    let mut v10 = stacks::shop(&project, &demo, &busybox, "v10");
    v10.slipway = serde_json::json!({"hooks": {"pre-deploy": ["true"], "post-deploy": [{"command": "true", "on_failure": "rollback"}]}});
    let v10 = write_stack(dir.path(), &v10, "v10");
    let flags = ["--env", "guarded", "--policy-file", policy.to_str().unwrap(), "--dry-run"];
    let out = tokio::process::Command::new(&bin).args(["deploy", "-f"]).arg(&v10).args(flags).arg("--json").output();
    let out = out.await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> =
        json["plan"]["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    let first = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or_else(|| panic!("no {k} in {kinds:?}"));
    let order = ["lock", "policy", "backup", "pre_deploy_hook", "run_one_off", "start_replica", "record_release"];
    let order = [&order[..], &["post_deploy_hook", "prune"]].concat();
    for w in order.windows(2) {
        assert!(first(w[0]) < first(w[1]), "{} before {}: {kinds:?}", w[0], w[1]);
    }
    let out = tokio::process::Command::new(&bin).args(["deploy", "-f"]).arg(&v10).args(flags).output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with(&format!("hold the deploy lock of {project}")), "{text}");
    assert!(lines.iter().any(|l| l.contains("back up: PostgreSQL services")), "{text}");
    assert!(lines.iter().any(|l| l.contains("post-deploy hook 1: sh -c true (on failure: roll back)")), "{text}");
    assert_eq!(host.history(&project).await.unwrap().len(), history, "a dry run changes nothing");
}
