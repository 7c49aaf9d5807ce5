//! ACME for real: `slipway proxy up --acme-email ... --acme-server <Pebble> --acme-ca <Pebble's
//! endpoint CA>` against Debian's Pebble (`PEBBLE_VA_ALWAYS_VALID=1`, listening on the gateway of
//! a Docker network this test made, so the proxy container reaches it). A router with
//! `tls.certresolver: letsencrypt` then serves a certificate issued by Pebble (the client trusts
//! only Pebble's issuing root from `/roots/0` and checks the name), and an upgrade of that
//! service under HTTPS load loses no request.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bollard::models::NetworkCreateRequest;
use slipway::deploy::{DeployOptions, Deployer, DockerHost};
use slipway::proxy::{ManagedProxy, ProxySettings};
use slipway::stack::StackSpec;
use slipway::NoopObserver;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::load::{failures, versions_between, Load};
use slipway_e2e::pebble::TestPebble;
use slipway_e2e::routed::{labelled_web_stack, WebRoute};
use slipway_e2e::traefik::free_port;
use slipway_e2e::traefik_image::traefik_image;
use slipway_e2e::{docker, images, names, project::ProjectGuard};

const DOMAIN: &str = "app.slipway.test";

fn tls_stack(project: &str, demo: &str, version: &str, proxy: &str) -> StackSpec {
    let rule = format!("Host(`{DOMAIN}`)");
    let route =
        WebRoute { rule: &rule, entrypoint: "websecure", certresolver: Some("letsencrypt"), ..WebRoute::default() };
    let mut stack = labelled_web_stack(project, demo, version, route);
    stack.slipway = serde_json::json!({ "proxy": proxy });
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certresolver_router_serves_pebbles_certificate_and_upgrades_without_loss() {
    let (image, demo) = (traefik_image().await.unwrap(), images::demo_image().await.unwrap());
    let docker = docker::connect().await.unwrap();
    let project = names::unique("proxy");
    let _project = ProjectGuard::new(&project);
    let cleanup = Cleanup::new();
    // A network of our own: Pebble listens on its gateway (an address of this machine's own
    // bridge), which the proxy container reaches.
    let acme_net = names::unique("proxy");
    docker.create_network(NetworkCreateRequest { name: acme_net.clone(), ..Default::default() }).await.unwrap();
    cleanup.network(&acme_net);
    let gateway: IpAddr = docker
        .inspect_network(&acme_net, None)
        .await
        .unwrap()
        .ipam
        .and_then(|i| i.config)
        .and_then(|c| c.into_iter().find_map(|c| c.gateway))
        .expect("the network has a gateway")
        .parse()
        .unwrap();
    let pebble = TestPebble::start(gateway).await.unwrap();
    let root = pebble.issuing_root_pem().await.unwrap();

    let name = names::unique("proxy");
    cleanup.container(&name).volume(format!("{name}-dynamic")).volume(format!("{name}-acme"));
    let https_port = free_port().unwrap();
    let settings = ProxySettings::new()
        .name(&name)
        .image(&image)
        .http(format!("127.0.0.1:{}", free_port().unwrap()))
        .https(format!("127.0.0.1:{https_port}"))
        .acme_email(Some("ops@slipway.test".into()))
        .acme_server(Some(pebble.directory_url()))
        .acme_ca(Some(pebble.endpoint_ca_file()));
    let proxy = ManagedProxy::new(docker.clone(), "local");
    proxy.up(&settings, &NoopObserver).await.unwrap();
    let status = proxy.status(&name).await.unwrap();
    assert_eq!(status.acme.as_ref().unwrap()["server"], pebble.directory_url().as_str(), "{status:?}");

    let host = DockerHost::new(docker.clone());
    let opts = DeployOptions::default();
    host.apply(&tls_stack(&project, &demo, "v1", &name), &opts, &NoopObserver).await.unwrap();

    // Only Pebble's issuing root is trusted, and the name is checked (the certificate's SAN).
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
        .resolve(DOMAIN, SocketAddr::from(([127, 0, 0, 1], https_port)))
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(32)
        .build()
        .unwrap();
    let url = format!("https://{DOMAIN}:{https_port}/version");
    let last = std::sync::Mutex::new(String::new());
    let issued = slipway::wait::wait_until(
        "Pebble's certificate served",
        Duration::from_secs(90),
        Duration::from_millis(500),
        || {
            let (req, last) = (client.get(&url).send(), &last);
            async move {
                match req.await {
                    Ok(r) if r.status().is_success() => r.text().await.ok(),
                    Ok(r) => {
                        *last.lock().unwrap() = format!("HTTP {}", r.status());
                        None
                    }
                    Err(e) => {
                        *last.lock().unwrap() = format!("{e:?}");
                        None
                    }
                }
            }
        },
    )
    .await;
    let body = match issued {
        Ok(body) => body,
        Err(e) => {
            let seen = last.lock().unwrap().clone();
            let log = proxy.logs(&name, Some(40)).await.unwrap_or_default().join("\n");
            panic!("{e}: last {seen}; proxy log:\n{log}\npebble log:\n{}", pebble.logs())
        }
    };
    assert_eq!(body, "v1");
    // The same client without Pebble's root refuses: the certificate is not Traefik's default one.
    let untrusting = reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .resolve(DOMAIN, SocketAddr::from(([127, 0, 0, 1], https_port)))
        .build()
        .unwrap();
    assert!(untrusting.get(&url).send().await.is_err());

    let load = Load::start(client, &url, 60, 6, Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(2)).await;
    host.apply(&tls_stack(&project, &demo, "v2", &name), &opts, &NoopObserver).await.unwrap();
    let upgraded = load.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let end = load.elapsed();
    let samples = load.stop().await;
    let failed = failures(&samples);
    assert!(failed.is_empty(), "{} of {} failed: {:?}", failed.len(), samples.len(), &failed[..failed.len().min(5)]);
    assert!(samples.len() > 100, "the load ran: {}", samples.len());
    let after: Vec<String> = versions_between(&samples, upgraded, end).into_iter().map(|(v, _)| v).collect();
    assert_eq!(after, vec!["v2".to_string()]);
    proxy.down(&name, &NoopObserver).await.unwrap();
}
