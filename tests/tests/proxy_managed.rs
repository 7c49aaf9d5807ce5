//! The managed proxy (`slipway proxy up | status | logs | down`) against the real engine and a
//! real Traefik v3 (this machine's binary packed on busybox, passed as `--image`): idempotent up,
//! recreate on changed settings (gap reported), typed errors leaving nothing behind, and a
//! labelled service deployed v1 -> v2 through the managed proxy (no `x-slipway.traefik`) under
//! load with zero failed requests.

use std::time::Duration;

use slipway::deploy::{DeployOptions, Deployer, DockerHost};
use slipway::proxy::{ManagedProxy, ProxyError, ProxySettings, UpAction};
use slipway::stack::StackSpec;
use slipway::{NoopObserver, RecordingObserver};
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::load::{failures, versions_between, Load};
use slipway_e2e::routed::{labelled_web_stack, WebRoute};
use slipway_e2e::traefik::free_port;
use slipway_e2e::traefik_image::traefik_image;
use slipway_e2e::{cli, docker, images, names, project::ProjectGuard};

/// The web service as users label it for Traefik's Docker provider, no `x-slipway.traefik`: the
/// managed proxy `proxy` routes it.
fn labelled_stack(project: &str, demo: &str, version: &str, proxy: &str) -> StackSpec {
    let mut stack = labelled_web_stack(project, demo, version, WebRoute::default());
    stack.slipway = serde_json::json!({ "proxy": proxy });
    stack
}

/// A proxy name of this test, with its container and volumes removed at the end.
fn proxy_name(cleanup: &Cleanup) -> String {
    let name = names::unique("proxy");
    cleanup.container(&name).container(format!("{name}-next"));
    cleanup.volume(format!("{name}-dynamic")).volume(format!("{name}-acme"));
    name
}

fn loopback_settings(name: &str, image: &str) -> anyhow::Result<ProxySettings> {
    Ok(ProxySettings::new()
        .name(name)
        .image(image)
        .http(format!("127.0.0.1:{}", free_port()?))
        .https(format!("127.0.0.1:{}", free_port()?)))
}

/// A running managed proxy of this test and a project name; the proxy's container and volumes
/// are removed before the project's (fields drop in order: the proxy leaves the project network
/// before the network is removed).
struct Routed {
    _cleanup: Cleanup,
    _project: ProjectGuard,
    project: String,
    demo: String,
    name: String,
    docker: bollard::Docker,
    proxy: ManagedProxy,
    settings: ProxySettings,
}

impl Routed {
    async fn up() -> Self {
        let (image, demo) = (traefik_image().await.unwrap(), images::demo_image().await.unwrap());
        let project = names::unique("proxy");
        let guard = ProjectGuard::new(&project);
        let cleanup = Cleanup::new();
        let name = proxy_name(&cleanup);
        let docker = docker::connect().await.unwrap();
        let proxy = ManagedProxy::new(docker.clone(), "local");
        let settings = loopback_settings(&name, &image).unwrap();
        proxy.up(&settings, &NoopObserver).await.unwrap();
        Routed { _cleanup: cleanup, _project: guard, project, demo, name, docker, proxy, settings }
    }
}

async fn volume_exists(name: &str) -> bool {
    docker::connect().await.unwrap().inspect_volume(name).await.is_ok()
}

async fn container_exists(name: &str) -> bool {
    docker::connect().await.unwrap().inspect_container(name, None).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_is_idempotent_changed_settings_recreate_and_down_keeps_volumes() {
    let image = traefik_image().await.unwrap();
    let cleanup = Cleanup::new();
    let name = proxy_name(&cleanup);
    let proxy = ManagedProxy::new(docker::connect().await.unwrap(), "local");
    let settings = loopback_settings(&name, &image).unwrap();

    // The first `up` through the CLI, with the flags the issue names (a contract).
    let out = std::process::Command::new(cli::slipway_bin())
        .args(["proxy", "up", "--json", "--name", &name, "--image", &image])
        .args(["--http", &settings.http, "--https", &settings.https])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first: slipway::proxy::ProxyUp = {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["action"], "created", "{v}");
        assert_eq!(v["http"], settings.http.as_str());
        proxy.up(&settings, &NoopObserver).await.unwrap()
    };
    assert_eq!(first.action, UpAction::Unchanged, "the CLI and the library mean the same settings");
    let id = proxy.docker().inspect_container(&name, None).await.unwrap().id;
    let again = proxy.up(&settings, &NoopObserver).await.unwrap();
    assert_eq!(again.action, UpAction::Unchanged);
    assert_eq!(again.settings_hash, first.settings_hash);
    assert_eq!(proxy.docker().inspect_container(&name, None).await.unwrap().id, id, "same container");

    // The CLI's `status --json` keys (a contract).
    let out = std::process::Command::new(cli::slipway_bin())
        .args(["proxy", "status", "--json", "--name", &name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "name",
        "host",
        "exists",
        "running",
        "image",
        "http",
        "https",
        "redirect_https",
        "acme",
        "settings_hash",
        "networks",
        "version",
        "routers",
        "services",
    ] {
        assert!(status.get(key).is_some(), "status --json lacks {key}: {status}");
    }
    assert_eq!(status["running"], true);
    assert_eq!(status["image"], image.as_str());
    assert_eq!(status["http"], settings.http.as_str());
    assert_eq!(status["settings_hash"], first.settings_hash.as_str());
    assert!(status["version"].as_str().is_some_and(|v| v.starts_with('3')), "{status}");

    // Changed settings: recreated, the gap measured; the old container is gone.
    let events = RecordingObserver::new();
    let redirecting = settings.clone().redirect_https(true);
    let recreated = proxy.up(&redirecting, &events).await.unwrap();
    assert_eq!(recreated.action, UpAction::Recreated);
    let gap = recreated.gap_ms.expect("a recreate reports its gap");
    assert!(gap > 0 && gap < 30_000, "gap {gap} ms");
    assert_ne!(recreated.settings_hash, first.settings_hash);
    assert_ne!(proxy.docker().inspect_container(&name, None).await.unwrap().id, id, "a new container");
    assert!(!container_exists(&format!("{name}-next")).await);
    let said = serde_json::to_string(&events.events()).unwrap();
    assert!(said.contains("\"recreated\"") && said.contains("gap_ms"), "{said}");
    // The redirection is live: HTTP answers with a redirect to HTTPS.
    let client = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = client.get(format!("http://{}/", settings.http)).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    assert!(resp.headers()["location"].to_str().unwrap().starts_with("https://"));

    let logs = proxy.logs(&name, Some(20)).await.unwrap();
    assert!(!logs.is_empty());

    let down = proxy.down(&name, &NoopObserver).await.unwrap();
    assert!(down.removed);
    assert!(!container_exists(&name).await);
    assert!(volume_exists(&format!("{name}-acme")).await, "certificates are kept");
    assert!(!proxy.down(&name, &NoopObserver).await.unwrap().removed);
    assert!(!proxy.status(&name).await.unwrap().running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_what_to_do_and_leave_nothing_behind() {
    let image = traefik_image().await.unwrap();
    let cleanup = Cleanup::new();
    let proxy = ManagedProxy::new(docker::connect().await.unwrap(), "local");
    let nothing_left = |name: String| async move {
        assert!(!container_exists(&name).await, "container {name} left behind");
        assert!(!volume_exists(&format!("{name}-dynamic")).await, "volume left behind");
        assert!(!volume_exists(&format!("{name}-acme")).await, "volume left behind");
    };

    // An address a host process holds.
    let name = proxy_name(&cleanup);
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().to_string();
    let settings = loopback_settings(&name, &image).unwrap().http(taken.clone());
    let err = proxy.up(&settings, &NoopObserver).await.unwrap_err();
    assert!(matches!(&err, ProxyError::PortTaken { flag: "--http", address, .. } if *address == taken), "{err}");
    assert!(err.to_string().contains("--http ADDR"), "{err}");
    nothing_left(name).await;
    drop(holder);

    // An image that is neither on the host nor pullable (a registry address nobody serves).
    let name = proxy_name(&cleanup);
    let missing = format!("127.0.0.1:{}/traefik:missing", free_port().unwrap());
    let err = proxy.up(&loopback_settings(&name, &missing).unwrap(), &NoopObserver).await.unwrap_err();
    assert!(matches!(err, ProxyError::ImageUnavailable { .. }), "{err}");
    assert!(err.to_string().contains("slipway load"), "{err}");
    nothing_left(name).await;

    // ACME without an email: refused before anything is asked of the engine (exit code 2).
    let name = proxy_name(&cleanup);
    let err = proxy.up(&loopback_settings(&name, &image).unwrap().acme_staging(true), &NoopObserver).await.unwrap_err();
    assert!(matches!(err, ProxyError::AcmeEmailMissing), "{err}");
    let out = std::process::Command::new(cli::slipway_bin())
        .args(["proxy", "up", "--name", &name, "--image", &image, "--acme-staging"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--acme-email"));
    nothing_left(name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_labelled_service_upgrades_through_the_managed_proxy_without_loss() {
    let f = Routed::up().await;
    let (project, demo, name) = (f.project.clone(), f.demo.clone(), f.name.clone());
    let (proxy, settings) = (&f.proxy, &f.settings);
    let host = DockerHost::new(f.docker.clone());
    let opts = DeployOptions::default();

    let events = RecordingObserver::new();
    host.apply(&labelled_stack(&project, &demo, "v1", &name), &opts, &events).await.unwrap();
    let said = serde_json::to_string(&events.events()).unwrap();
    assert!(said.contains("proxy_joined_network") && said.contains(&format!("{project}_default")), "{said}");
    let status = proxy.status(&name).await.unwrap();
    assert!(
        status.networks.contains(&format!("{project}_default")),
        "the proxy joined the project network: {status:?}"
    );
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
    let url = format!("http://{}/version", settings.http);
    assert_eq!(client.get(&url).send().await.unwrap().text().await.unwrap(), "v1");

    let load = Load::start(client, &url, 100, 10, Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(2)).await;
    host.apply(&labelled_stack(&project, &demo, "v2", &name), &opts, &NoopObserver).await.unwrap();
    let upgraded = load.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let end = load.elapsed();
    let samples = load.stop().await;
    let failed = failures(&samples);
    assert!(failed.is_empty(), "{} of {} failed: {:?}", failed.len(), samples.len(), &failed[..failed.len().min(5)]);
    assert!(samples.len() > 200, "the load ran: {}", samples.len());
    let after: Vec<String> = versions_between(&samples, upgraded, end).into_iter().map(|(v, _)| v).collect();
    assert_eq!(after, vec!["v2".to_string()]);
    // Stop the proxy before the project's network is removed.
    proxy.down(&name, &NoopObserver).await.unwrap();
}

/// `labelled_stack` plus service `api` (`Host(api.slipway.test)`) on its own network `back`.
fn two_route_stack(project: &str, demo: &str, proxy: &str) -> StackSpec {
    let mut stack = labelled_stack(project, demo, "v1", proxy);
    let mut api = stack.services["web"].clone();
    api.name = "api".into();
    api.labels = api
        .labels
        .into_iter()
        .map(|(k, v)| (k.replace(".web.", ".api."), v))
        .map(|(k, v)| if k.ends_with(".rule") { (k, "Host(`api.slipway.test`)".into()) } else { (k, v) })
        .collect();
    api.networks.clear();
    api.networks.insert("back".into(), Default::default());
    stack.services.insert("api".into(), api);
    let mut back = slipway::stack::NetworkSpec::default();
    back.name = format!("{project}_back");
    stack.networks.insert("back".into(), back);
    stack
}

async fn network_exists(name: &str) -> bool {
    docker::connect().await.unwrap().inspect_network(name, None).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_leaves_networks_no_route_uses_and_prune_removes_them() {
    let f = Routed::up().await;
    let (project, demo, name) = (f.project.clone(), f.demo.clone(), f.name.clone());
    let (proxy, settings, docker) = (&f.proxy, &f.settings, f.docker.clone());
    let host = DockerHost::new(docker.clone());
    let opts = DeployOptions::default();
    let (default_net, back) = (format!("{project}_default"), format!("{project}_back"));
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
    let url = format!("http://{}/version", settings.http);
    let get = |host: Option<&'static str>| {
        let mut request = client.get(&url);
        if let Some(h) = host {
            request = request.header("Host", h);
        }
        async move { request.send().await.unwrap().text().await.unwrap() }
    };

    // Two routed services on two networks: the proxy joins both.
    host.apply(&two_route_stack(&project, &demo, &name), &opts, &NoopObserver).await.unwrap();
    let networks = proxy.status(&name).await.unwrap().networks;
    assert!(networks.contains(&default_net) && networks.contains(&back), "{networks:?}");
    assert_eq!(get(Some("api.slipway.test")).await, "v1");

    // `api` removed from the stack: its route goes and the proxy leaves `back`, not `default`.
    let events = RecordingObserver::new();
    host.apply(&labelled_stack(&project, &demo, "v1", &name), &opts, &events).await.unwrap();
    let said = serde_json::to_string(&events.events()).unwrap();
    assert!(said.contains("proxy_left_network") && said.contains(&back), "{said}");
    let networks = proxy.status(&name).await.unwrap().networks;
    assert!(networks.contains(&default_net) && !networks.contains(&back), "{networks:?}");
    assert_eq!(get(None).await, "v1");

    // A proxy still attached (as one an older slipway left) does not keep the network alive:
    // prune disconnects it first, then removes the network no container of the project uses.
    let request = bollard::models::NetworkConnectRequest { container: name.clone(), ..Default::default() };
    docker.connect_network(&back, request).await.unwrap();
    assert!(network_exists(&back).await);
    let report = host.prune(&project, 1).await.unwrap();
    assert_eq!(report.networks, vec![back.clone()], "{report:?}");
    assert!(!network_exists(&back).await, "the network is gone");
    assert!(network_exists(&default_net).await, "the network in use stays");
    assert!(proxy.is_running(&name).await, "the proxy still runs");
    assert_eq!(get(None).await, "v1", "and serves the other route");

    proxy.down(&name, &NoopObserver).await.unwrap();
}
