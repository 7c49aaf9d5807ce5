//! The deploy lock as a lease (issue 12, point 6), on the real engine: a lease its holder stopped
//! renewing is taken over, a live one from another machine is not (whatever its pid says on
//! this host), a held lease is renewed past its first expiry, and a deploy waiting for the lock
//! gives up at once when cancelled — through the API's token and through SIGINT to the CLI; a
//! SIGINT during a pre-deploy hook stops before the first change, releases the lock and leaves
//! the old release serving. (Cancelling inside the executor's steps is the executor's part.)

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptions;
use chrono::Utc;
use slipway::deploy::{labels, CancellationToken, DeployError, DeployLock, DeployOptions, Deployer, DockerHost};
use slipway::NoopObserver;
use slipway_e2e::cli::slipway_bin;
use slipway_e2e::{docker, images, names, project::ProjectGuard, stacks};

fn opts() -> DeployOptions {
    DeployOptions::default().min_running(Duration::from_millis(500))
}

/// A lock container as another machine's slipway would leave it, expiring at `expires`.
async fn foreign_lock(docker: &bollard::Docker, project: &str, image: &str, expires: chrono::DateTime<Utc>) {
    let labels = HashMap::from([
        (labels::LOCK.to_string(), project.to_string()),
        (labels::LOCK_HOLDER.to_string(), "ci@build-7 pid=1".to_string()),
        // This host's name and a pid that does not exist here: the old `/proc` rule would take
        // it over; a lease is judged by its expiry alone.
        (labels::LOCK_HOST.to_string(), slipway::deploy::host_name()),
        (labels::LOCK_PID.to_string(), "999999999".to_string()),
        (labels::LOCK_SINCE.to_string(), (Utc::now() - chrono::Duration::hours(5)).to_rfc3339()),
        (labels::LOCK_EXPIRES.to_string(), expires.to_rfc3339()),
    ]);
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        labels: Some(labels),
        cmd: Some(vec!["never-started".into()]),
        ..Default::default()
    };
    let name = labels::lock_name(project);
    docker
        .create_container(Some(CreateContainerOptions { name: Some(name), ..Default::default() }), body)
        .await
        .unwrap();
}

fn is_locked(err: &slipway::Error) -> bool {
    matches!(err, slipway::Error::Deploy(e) if matches!(**e, DeployError::Locked { .. }))
}

fn is_cancelled(err: &slipway::Error) -> bool {
    matches!(err, slipway::Error::Deploy(e) if matches!(**e, DeployError::CancelledBeforeChange { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_leases_are_taken_over_live_ones_are_not_and_held_ones_are_renewed() {
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("lease");
    let _guard = ProjectGuard::new(&project);
    let docker = docker::connect().await.unwrap();
    let host = DockerHost::new(docker.clone());
    let stack = stacks::shop(&project, &demo, &busybox, "v1");

    // A live lease of another machine (five hours old, expiring in ten minutes): refused.
    foreign_lock(&docker, &project, &busybox, Utc::now() + chrono::Duration::minutes(10)).await;
    let err = host.apply(&stack, &opts(), &NoopObserver).await.unwrap_err();
    assert!(is_locked(&err), "{err}");
    assert!(err.to_string().contains("ci@build-7"), "{err}");
    assert!(host.status(&project).await.unwrap().containers.is_empty());

    // Cancelled while waiting for it: gives up at once, the holder's lock stays.
    let token = CancellationToken::new();
    let canceller = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        canceller.cancel();
    });
    let waiting = opts().lock_wait(Duration::from_secs(120)).cancel(token);
    let err = host.apply(&stack, &waiting, &NoopObserver).await.unwrap_err();
    assert!(is_cancelled(&err), "{err}");
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    let held = DeployLock::lease_of(&docker, &project).await.expect("the holder's lock stays");
    assert_eq!(held.holder, "ci@build-7 pid=1");

    // The same holder's lease, expired a minute ago (its process died): taken over, reported.
    docker.remove_container(&labels::lock_name(&project), None).await.unwrap();
    foreign_lock(&docker, &project, &busybox, Utc::now() - chrono::Duration::minutes(1)).await;
    let events = slipway::RecordingObserver::new();
    let out = host.apply(&stack, &opts(), &events).await.unwrap();
    assert!(out.release.is_some());
    let stale = events.events().iter().any(|e| {
        matches!(e, slipway::Event::Deploy(slipway::deploy::DeployEvent::StaleLock { holder, .. }) if holder.contains("build-7"))
    });
    assert!(stale, "the takeover is reported");
    assert!(DeployLock::lease_of(&docker, &project).await.is_none(), "released after the deploy");

    // A held lease is renewed past its first expiry: another machine still judges it live.
    let lock =
        DeployLock::acquire(&docker, &project, Duration::ZERO, Duration::from_secs(2), &NoopObserver).await.unwrap();
    let first = DeployLock::lease_of(&docker, &project).await.unwrap().expires.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let now = Utc::now();
    assert!(now > first, "the first expiry has passed");
    let lease = DeployLock::lease_of(&docker, &project).await.unwrap();
    assert!(lease.expires.unwrap() > now, "renewed: {lease:?}");
    assert_eq!(slipway::deploy::judge_lease(&lease, now, Duration::ZERO), None);
    let err = host.apply(&stack, &opts(), &NoopObserver).await.unwrap_err();
    assert!(is_locked(&err), "{err}");
    lock.release().await.unwrap();
    assert!(DeployLock::lease_of(&docker, &project).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_to_a_cli_deploy_waiting_for_the_lock_cancels_it() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("lease-cli");
    let _guard = ProjectGuard::new(&project);
    let docker = docker::connect().await.unwrap();
    let host = DockerHost::new(docker.clone());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.json");
    std::fs::write(&file, serde_json::to_string(&stacks::shop(&project, &demo, &busybox, "v1")).unwrap()).unwrap();
    let lock =
        DeployLock::acquire(&docker, &project, Duration::ZERO, Duration::from_secs(60), &NoopObserver).await.unwrap();

    let mut child = tokio::process::Command::new(slipway_bin())
        .args(["deploy", "--lock-wait", "120s", "-f"])
        .arg(&file)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let waiting = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line.clone());
            if line.contains("waiting for the deploy lock") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(waiting, "the CLI waits for the lock: {seen:?}");
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let rest = tokio::time::timeout(Duration::from_secs(30), async {
        let mut rest = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push(line);
        }
        rest
    })
    .await
    .expect("the CLI stops within its bound");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    let stderr = rest.join("\n");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cancelled") && stderr.contains("nothing was changed"), "{stderr}");
    // Our lock is still ours; nothing of the project was deployed.
    let held = DeployLock::lease_of(&docker, &project).await.unwrap();
    assert!(held.holder.contains(&format!("pid={}", std::process::id())), "{held:?}");
    assert!(host.status(&project).await.unwrap().containers.is_empty());
    lock.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_before_the_first_change_stops_releases_the_lock_and_keeps_the_old_release() {
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("sigint");
    let _guard = ProjectGuard::new(&project);
    let docker = docker::connect().await.unwrap();
    let host = DockerHost::new(docker.clone());
    host.apply(&stacks::shop(&project, &demo, &busybox, "v1"), &opts(), &NoopObserver).await.unwrap();

    // v2 with a pre-deploy hook that says it runs, then takes a while: SIGINT arrives meanwhile.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("hook-running");
    let mut v2 = stacks::shop(&project, &demo, &busybox, "v2");
    let hook = format!("touch {} && sleep 3", marker.display());
    v2.slipway = serde_json::json!({ "hooks": { "pre-deploy": [hook] } });
    let file = dir.path().join("v2.json");
    std::fs::write(&file, serde_json::to_string(&v2).unwrap()).unwrap();
    let child = tokio::process::Command::new(slipway_bin())
        .args(["deploy", "-f"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started =
        slipway::wait::wait_until("the pre-deploy hook", Duration::from_secs(60), Duration::from_millis(50), || {
            let found = marker.exists();
            async move { found.then_some(()) }
        })
        .await;
    assert!(started.is_ok(), "the hook never ran");
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // The executor stops the hook's step, runs the undo and says it was confirmed.
    assert!(stderr.contains("release 2 cancelled during `pre-deploy hook 1"), "{stderr}");
    assert!(stderr.contains("the previous release was restored"), "{stderr}");

    // The lock is released; release 1 still serves; release 2 is recorded as cancelled.
    assert!(DeployLock::lease_of(&docker, &project).await.is_none(), "lock released");
    let history = host.history(&project).await.unwrap();
    assert_eq!(history.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![1, 2]);
    assert!(matches!(history[1].outcome, slipway::deploy::ReleaseOutcome::Cancelled { .. }), "{:?}", history[1]);
    let status = host.status(&project).await.unwrap();
    let app: Vec<_> = status.containers.iter().filter(|c| c.service == "app" && c.running).collect();
    assert_eq!(app.len(), 1);
    assert_eq!(app[0].release.map(|r| r.0), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_that_loses_its_lease_stops_and_undoes() {
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("lease-lost");
    let _guard = ProjectGuard::new(&project);
    let docker = docker::connect().await.unwrap();
    let host = DockerHost::new(docker.clone());
    host.apply(&stacks::shop(&project, &demo, &busybox, "v1"), &opts(), &NoopObserver).await.unwrap();
    let before = host.status(&project).await.unwrap();

    // Someone removes the lock while v2 runs its one-off: the next renewal (every 0.5 s of a 2 s
    // lease) finds no lock, and the deploy stops, undoes and says why.
    let remover = docker.clone();
    let lock = labels::lock_name(&project);
    let observer = move |e: &slipway::Event| {
        if let slipway::Event::Deploy(slipway::deploy::DeployEvent::StepStarted { description, .. }) = e {
            if description.starts_with("run one-off prestart") {
                let (docker, lock) = (remover.clone(), lock.clone());
                tokio::spawn(async move {
                    let force = bollard::query_parameters::RemoveContainerOptions { force: true, ..Default::default() };
                    docker.remove_container(&lock, Some(force)).await.unwrap();
                });
            }
        }
    };
    let leased = opts().lease(Duration::from_secs(2));
    let err = host.apply(&stacks::shop(&project, &demo, &busybox, "v2"), &leased, &observer).await.unwrap_err();
    let slipway::Error::Deploy(inner) = &err else { panic!("{err}") };
    let DeployError::LeaseLost { undo, .. } = inner.as_ref() else { panic!("{err}") };
    assert!(undo.restored(), "{}", undo.summary());
    assert!(err.to_string().contains("lease could not be renewed"), "{err}");
    let after = host.status(&project).await.unwrap();
    assert_eq!(
        after.current.as_ref().map(|r| r.id),
        before.current.as_ref().map(|r| r.id),
        "release 1 is still current"
    );
    let running = |s: &slipway::deploy::Status| {
        let mut names: Vec<String> = s.containers.iter().filter(|c| c.running).map(|c| c.name.clone()).collect();
        names.sort();
        names
    };
    assert_eq!(running(&after), running(&before), "what ran before runs again");
    let history = host.history(&project).await.unwrap();
    assert!(history.last().is_some_and(|r| !r.outcome.in_service()), "v2 recorded as failed: {history:?}");
}
