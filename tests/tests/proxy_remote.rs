//! `slipway proxy up` and a routed deploy over `ssh://` against a real second host (`RemoteHost`,
//! an engine in its own network namespace): the proxy's files, API reads and backend probes all
//! go through the engine connection (the host's container addresses are not routable from here),
//! and a labelled service upgrades through it under load without a failed request.

use std::time::Duration;

use slipway::deploy::{DeployOptions, Deployer, DockerHost};
use slipway::engine::{ConnectOptions, Connection};
use slipway::proxy::{ManagedProxy, ProxySettings, UpAction};
use slipway::stack::StackSpec;
use slipway::NoopObserver;
use slipway_e2e::load::{failures, Load};
use slipway_e2e::remote_host::RemoteHost;
use slipway_e2e::routed::{labelled_web_stack, WebRoute};
use slipway_e2e::traefik::free_port;
use slipway_e2e::traefik_image::traefik_image;
use slipway_e2e::{images, names};

fn labelled_stack(project: &str, demo: &str, version: &str, proxy: &str) -> StackSpec {
    let route = WebRoute { health_timeout: "10s", ..WebRoute::default() };
    let mut stack = labelled_web_stack(project, demo, version, route);
    stack.slipway = serde_json::json!({ "proxy": proxy });
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_up_and_a_routed_deploy_work_over_ssh() -> anyhow::Result<()> {
    let remote = RemoteHost::shared().await?;
    let (image, demo) = (traefik_image().await?, images::demo_image().await?);
    for i in [&image, &demo] {
        remote.load_image(i)?;
    }
    let project = names::unique("proxy");
    let _guard = remote.project_guard(&project);
    let name = names::unique("proxy");
    let options = ConnectOptions::host(Some(&remote.ssh_url())).ssh_config(Some(remote.ssh_config()));
    let connection = Connection::resolve(&options)?;
    let proxy = ManagedProxy::connect(&connection).await?;
    let http = format!("{}:{}", remote.addr(), free_port()?);
    let settings =
        ProxySettings::new().name(&name).image(&image).http(&http).https(format!("{}:{}", remote.addr(), free_port()?));
    let result = async {
        assert_eq!(proxy.up(&settings, &NoopObserver).await?.action, UpAction::Created);
        assert_eq!(proxy.up(&settings, &NoopObserver).await?.action, UpAction::Unchanged);
        let host = DockerHost::connect(&connection).await?;
        let opts = DeployOptions::default();
        host.apply(&labelled_stack(&project, &demo, "v1", &name), &opts, &NoopObserver).await?;
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build()?;
        let url = format!("http://{http}/version");
        assert_eq!(client.get(&url).send().await?.text().await?, "v1");
        let load = Load::start(client.clone(), &url, 50, 5, Duration::from_secs(60));
        tokio::time::sleep(Duration::from_secs(1)).await;
        host.apply(&labelled_stack(&project, &demo, "v2", &name), &opts, &NoopObserver).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let samples = load.stop().await;
        let failed = failures(&samples);
        assert!(
            failed.is_empty(),
            "{} of {} failed: {:?}",
            failed.len(),
            samples.len(),
            &failed[..failed.len().min(5)]
        );
        assert_eq!(client.get(&url).send().await?.text().await?, "v2");
        let status = proxy.status(&name).await?;
        assert!(status.networks.contains(&format!("{project}_default")), "{status:?}");
        anyhow::Ok(())
    }
    .await;
    let _ = proxy.down(&name, &NoopObserver).await;
    let _ = remote.docker(&["volume", "rm", &format!("{name}-dynamic"), &format!("{name}-acme")]);
    result
}
