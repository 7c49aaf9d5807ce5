//! Credentials from Docker's config.json, exactly as Docker reads them: `auths` entries,
//! `credHelpers` and `credsStore` (a `docker-credential-<name>` program run with `get` / `store`),
//! `DOCKER_CONFIG`; explicit credentials win. One test in this binary: it sets process-wide
//! environment variables (`DOCKER_CONFIG`, `PATH`).

use base64::Engine as _;
use slipway::registry::distribution::{store_login, Credentials, Secret};
use slipway::registry::{Distribution, DistributionOptions, Registry, RegistryError};
use slipway_e2e::registry::sample::{sample_image, Flavor};
use slipway_e2e::registry::{CredentialHelper, TestRegistry};

fn write_config(dir: &std::path::Path, json: serde_json::Value) {
    std::fs::write(dir.join("config.json"), json.to_string()).unwrap();
}

#[tokio::test]
async fn config_json_auths_helpers_and_store_as_docker_does() {
    let reg = TestRegistry::start().await.unwrap();
    let host = reg.host();
    let seed = Distribution::connect(
        &host,
        DistributionOptions::default().credentials(Credentials::basic(reg.username(), reg.password())),
    )
    .await
    .unwrap();
    let img = sample_image(Flavor::Oci, &[500], "amd64").unwrap();
    let r = slipway::ImageRef::parse(&format!("{host}/creds/app:v1")).unwrap();
    img.push(&seed, &r).await.unwrap();

    let cfg = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    std::env::set_var("DOCKER_CONFIG", cfg.path());
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    std::env::set_var("PATH", path);
    // A credential helper that answers `get` with the test user and records what it was asked.
    let helper = CredentialHelper::write(bin.path(), "slipwaytest", reg.username(), reg.password()).unwrap();

    // No config.json: anonymous, refused by the registry.
    let anon = Distribution::connect(&host, DistributionOptions::default()).await.unwrap();
    assert!(matches!(anon.resolve(&r).await, Err(RegistryError::Unauthorized { .. })));

    // auths with base64 user:password.
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", reg.username(), reg.password()));
    write_config(cfg.path(), serde_json::json!({"auths": {host.clone(): {"auth": auth}}}));
    let c = Distribution::connect(&host, DistributionOptions::default()).await.unwrap();
    assert_eq!(c.resolve(&r).await.unwrap().digest, img.digest());

    // credHelpers for this host.
    write_config(cfg.path(), serde_json::json!({"auths": {}, "credHelpers": {host.clone(): "slipwaytest"}}));
    let c = Distribution::connect(&host, DistributionOptions::default()).await.unwrap();
    assert_eq!(c.resolve(&r).await.unwrap().digest, img.digest());
    let log = helper.calls();
    assert!(log.contains(&format!("get {host}")), "{log}");

    // credsStore for everything.
    write_config(cfg.path(), serde_json::json!({"credsStore": "slipwaytest"}));
    let c = Distribution::connect(&host, DistributionOptions::default()).await.unwrap();
    assert_eq!(c.resolve(&r).await.unwrap().digest, img.digest());

    // Explicit credentials win over config.json (which holds wrong ones here).
    let bad = base64::engine::general_purpose::STANDARD.encode(format!("{}:wrong", reg.username()));
    write_config(cfg.path(), serde_json::json!({"auths": {host.clone(): {"auth": bad}}}));
    let c = Distribution::connect(&host, DistributionOptions::default()).await.unwrap();
    assert!(matches!(c.resolve(&r).await, Err(RegistryError::Unauthorized { .. })));
    let explicit = DistributionOptions::default().credentials(Credentials::basic(reg.username(), reg.password()));
    let c = Distribution::connect(&host, explicit).await.unwrap();
    assert_eq!(c.resolve(&r).await.unwrap().digest, img.digest());

    // Separate write credentials: reads with the read ones, writes with the write ones.
    let split = DistributionOptions::default()
        .credentials(Credentials::basic(reg.username(), reg.password()))
        .write_credentials(Credentials::basic(reg.username(), "wrong-write"));
    let c = Distribution::connect(&host, split).await.unwrap();
    assert!(c.resolve(&r).await.is_ok());
    assert!(matches!(
        c.put_manifest(&r.with_tag("v2").unwrap(), &img.manifest).await,
        Err(RegistryError::Unauthorized { .. })
    ));

    // store_login: plain auths entry, or through credsStore's `store`.
    write_config(cfg.path(), serde_json::json!({}));
    store_login(&host, reg.username(), &Secret::new(reg.password())).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(cfg.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(v["auths"][&host]["auth"], auth);
    write_config(cfg.path(), serde_json::json!({"credsStore": "slipwaytest"}));
    store_login(&host, reg.username(), &Secret::new(reg.password())).await.unwrap();
    let log = helper.calls();
    assert!(log.lines().any(|l| l.starts_with("store ") && l.contains(reg.username())), "{log}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(cfg.path().join("config.json")).unwrap()).unwrap();
    assert!(v["auths"][&host].get("auth").is_none(), "secret written to the file despite credsStore: {v}");
}
