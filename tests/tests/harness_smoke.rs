//! Smoke tests of the harness itself: the busybox base runs, names are unique, cleanup removes.

use std::time::Duration;

use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::containers::TestContainer;
use slipway_e2e::{docker, images, names};

#[tokio::test]
async fn busybox_base_runs_a_shell_and_its_applets() {
    let docker = docker::connect().await.unwrap();
    let base = images::busybox_base().await.unwrap();
    assert_eq!(base, "slipway-fixture/busybox:1");
    let cleanup = Cleanup::new();
    let script = "echo hello from $(busybox | head -1 | cut -d' ' -f1); which wget httpd nc sleep; echo $PATH";
    let finished = TestContainer::new(&base, names::unique("harness"))
        .cmd(["sh", "-c", script])
        .run_to_end(&docker, &cleanup, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(finished.exit_code, 0, "{}", finished.output);
    assert!(finished.output.contains("hello from BusyBox"), "{}", finished.output);
    for applet in ["/usr/bin/wget", "/usr/sbin/httpd", "/bin/nc", "/bin/sleep"] {
        assert!(finished.output.contains(applet), "{applet} missing in:\n{}", finished.output);
    }
}

#[tokio::test]
async fn busybox_base_is_idempotent_under_concurrent_callers() {
    let (a, b, c) = tokio::join!(images::busybox_base(), images::busybox_base(), images::busybox_base());
    assert_eq!(a.unwrap(), images::BUSYBOX_BASE);
    assert_eq!(b.unwrap(), images::BUSYBOX_BASE);
    assert_eq!(c.unwrap(), images::BUSYBOX_BASE);
}

#[tokio::test]
async fn failing_command_reports_its_exit_code_and_output() {
    let docker = docker::connect().await.unwrap();
    let base = images::busybox_base().await.unwrap();
    let cleanup = Cleanup::new();
    let finished = TestContainer::new(&base, names::unique("harness"))
        .cmd(["sh", "-c", "echo to-stderr >&2; exit 7"])
        .run_to_end(&docker, &cleanup, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(finished.exit_code, 7);
    assert!(finished.output.contains("to-stderr"), "{}", finished.output);
}

#[tokio::test]
async fn cleanup_removes_containers_networks_and_volumes_on_drop() {
    let docker = docker::connect().await.unwrap();
    let base = images::busybox_base().await.unwrap();
    let name = names::unique("harness");
    {
        let cleanup = Cleanup::new();
        docker
            .create_network(bollard::models::NetworkCreateRequest { name: name.clone(), ..Default::default() })
            .await
            .unwrap();
        cleanup.network(&name);
        docker
            .create_volume(bollard::models::VolumeCreateRequest { name: Some(name.clone()), ..Default::default() })
            .await
            .unwrap();
        cleanup.volume(&name);
        TestContainer::new(&base, &name).cmd(["sleep", "300"]).network(&name).start(&docker, &cleanup).await.unwrap();
    }
    assert!(docker.inspect_container(&name, None).await.is_err(), "container {name} survived");
    assert!(docker.inspect_network(&name, None::<bollard::query_parameters::InspectNetworkOptions>).await.is_err());
    assert!(docker.inspect_volume(&name).await.is_err(), "volume {name} survived");
}

#[test]
fn cleanup_runs_when_a_test_panics() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let name = names::unique("harness");
    let base = runtime.block_on(images::busybox_base()).unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async {
            let docker = docker::connect().await.unwrap();
            let cleanup = Cleanup::new();
            TestContainer::new(&base, &name).cmd(["sleep", "300"]).start(&docker, &cleanup).await.unwrap();
            panic!("the test fails while {name} runs");
        })
    }));
    assert!(panicked.is_err());
    let docker = runtime.block_on(docker::connect()).unwrap();
    let after = runtime.block_on(docker.inspect_container(&name, None));
    assert!(after.is_err(), "container {name} survived the panic");
}
