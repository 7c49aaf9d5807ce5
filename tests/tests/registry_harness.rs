//! The registry harness itself: each auth mode answers as Distribution should, and the fault proxy
//! injects what it is told.

use slipway_e2e::registry::{Fault, FaultProxy, FaultRule, TestRegistry};

#[tokio::test]
async fn htpasswd_registry_requires_basic_auth() {
    let reg = TestRegistry::start().await.unwrap();
    let c = reqwest::Client::new();
    let url = format!("http://{}/v2/", reg.host());
    assert_eq!(c.get(&url).send().await.unwrap().status(), 401);
    let ok = c.get(&url).basic_auth(reg.username(), Some(reg.password())).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let bad = c.get(&url).basic_auth(reg.username(), Some("wrong")).send().await.unwrap();
    assert_eq!(bad.status(), 401);
    assert!(reg.requests().iter().any(|r| r == "GET /v2/"), "{:?}", reg.access_log());
}

#[tokio::test]
async fn token_registry_accepts_tokens_from_the_token_server() {
    let reg = TestRegistry::builder().token_auth().start().await.unwrap();
    let c = reqwest::Client::new();
    let url = format!("http://{}/v2/_catalog", reg.host());
    let challenge = c.get(&url).send().await.unwrap();
    assert_eq!(challenge.status(), 401);
    let www = challenge.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(www.starts_with("Bearer "), "{www}");
    let ts = reg.token_server().unwrap();
    let tok: serde_json::Value = c
        .get(format!(
            "{}?service={}&scope=registry:catalog:*",
            ts.realm(),
            slipway_e2e::registry::token_server::SERVICE
        ))
        .basic_auth(reg.username(), Some(reg.password()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["token"].as_str().unwrap();
    let ok = c.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(ok.status(), 200, "{}", reg.access_log());
}

#[tokio::test]
async fn fault_proxy_injects_then_forwards() {
    let reg = TestRegistry::builder().no_auth().start().await.unwrap();
    let proxy = FaultProxy::start(&reg.host(), vec![FaultRule::new("/v2/", Fault::Unavailable, 2)]).await.unwrap();
    let c = reqwest::Client::new();
    let url = format!("http://{}/v2/", proxy.host());
    assert_eq!(c.get(&url).send().await.unwrap().status(), 503);
    assert_eq!(c.get(&url).send().await.unwrap().status(), 503);
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(proxy.injected(), 2);
}
