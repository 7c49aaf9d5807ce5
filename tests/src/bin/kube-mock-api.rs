//! `kube-mock-api KUBECONFIG [FAILING_IMAGE...]`: the mock API server of
//! `slipway_e2e::kube_api` on a loopback port, with a kubeconfig written for it (context `mock`,
//! namespace `shop`). Prints `ready <url>` when it serves; runs until its stdin closes. For the
//! Python tests of `target="kubernetes"`; nothing here is a real cluster.

use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let kubeconfig =
        args.next().ok_or_else(|| anyhow::anyhow!("usage: kube-mock-api KUBECONFIG [FAILING_IMAGE...]"))?;
    let mock = slipway_e2e::kube_api::MockCluster::new();
    mock.state().failing_images.extend(args);
    mock.state().failing_logs = vec!["panic: config missing".into()];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n    server: {url}\ncontexts:\n- name: mock\n  context:\n    cluster: mock\n    user: mock\n    namespace: shop\ncurrent-context: mock\nusers:\n- name: mock\n  user: {{}}\n"
    );
    std::fs::write(&kubeconfig, config)?;
    let server = tokio::spawn({
        let mock = mock.clone();
        async move { mock.serve(listener).await }
    });
    println!("ready {url}");
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    server.abort();
    Ok(())
}
