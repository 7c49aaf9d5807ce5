//! Faults between slipway and a real registry, injected by a proxy on loopback: a tampered blob,
//! 503s and dropped connections that stop, ones that never stop, a body cut mid-download, chunk
//! uploads failing after the registry stored them.

use std::time::Duration;

use futures::StreamExt;
use slipway::registry::{
    copy, BlobSource, CopyOptions, Credentials, Distribution, DistributionOptions, Registry, RegistryError, RetryPolicy,
};
use slipway::{ImageRef, NoopObserver};
use slipway_e2e::registry::sample::{sample_image, Flavor};
use slipway_e2e::registry::{Fault, FaultProxy, FaultRule, TestRegistry};

async fn client(host: &str, reg: &TestRegistry) -> Distribution {
    let opts = DistributionOptions::default()
        .credentials(Credentials::basic(reg.username(), reg.password()))
        .retry(RetryPolicy::new(4, Duration::from_millis(50)))
        .chunk_size(64 * 1024);
    Distribution::connect(host, opts).await.unwrap()
}

#[tokio::test]
async fn tampered_blob_is_rejected_and_nothing_is_tagged() {
    let (a, b) = (TestRegistry::start().await.unwrap(), TestRegistry::start().await.unwrap());
    let img = sample_image(Flavor::Oci, &[20_000], "amd64").unwrap();
    let src_ref = ImageRef::parse(&format!("{}/app:v1", a.host())).unwrap();
    img.push(&client(&a.host(), &a).await, &src_ref).await.unwrap();
    let proxy =
        FaultProxy::start(&a.host(), vec![FaultRule::new("/blobs/sha256:", Fault::Tamper, usize::MAX).method("GET")])
            .await
            .unwrap();
    let src = client(&proxy.host(), &a).await;
    let dst = client(&b.host(), &b).await;
    let src_via_proxy = ImageRef::parse(&format!("{}/app:v1", proxy.host())).unwrap();
    let dst_ref = ImageRef::parse(&format!("{}/app:v1", b.host())).unwrap();
    let e = copy(&src, &src_via_proxy, &dst, &dst_ref, &CopyOptions::default(), &NoopObserver).await.unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");
    assert!(proxy.injected() > 0);
    assert!(matches!(dst.resolve(&dst_ref).await, Err(RegistryError::NotFound { .. })), "a tag was written");
    assert!(!b.requests().iter().any(|l| l.starts_with("PUT /v2/app/manifests/")), "a manifest was PUT");
}

#[tokio::test]
async fn transient_503s_and_drops_are_retried_until_success() {
    let reg = TestRegistry::start().await.unwrap();
    let img = sample_image(Flavor::Docker, &[10_000], "amd64").unwrap();
    let proxy = FaultProxy::start(
        &reg.host(),
        vec![
            FaultRule::new("/manifests/", Fault::Unavailable, 2),
            FaultRule::new("/blobs/uploads/", Fault::Drop, 2),
            FaultRule::new("/blobs/sha256:", Fault::Unavailable, 2).method("HEAD"),
        ],
    )
    .await
    .unwrap();
    let c = client(&proxy.host(), &reg).await;
    let r = ImageRef::parse(&format!("{}/flaky:v1", proxy.host())).unwrap();
    assert_eq!(img.push(&c, &r).await.unwrap(), img.digest());
    assert_eq!(c.resolve(&r).await.unwrap().digest, img.digest());
    assert_eq!(proxy.injected(), 6);
}

#[tokio::test]
async fn a_registry_that_never_recovers_fails_with_a_typed_error() {
    let reg = TestRegistry::start().await.unwrap();
    let proxy =
        FaultProxy::start(&reg.host(), vec![FaultRule::new("/v2/", Fault::Unavailable, usize::MAX)]).await.unwrap();
    let c = client(&proxy.host(), &reg).await;
    let r = ImageRef::parse(&format!("{}/down/app:v1", proxy.host())).unwrap();
    let started = std::time::Instant::now();
    match c.resolve(&r).await.unwrap_err() {
        RegistryError::Unavailable { at, attempts, .. } => {
            let got = (at.registry.as_str(), at.repository.as_str(), at.operation.as_str(), attempts);
            assert_eq!(got, (proxy.host().as_str(), "down/app", "resolve", 4));
        }
        other => panic!("unexpected {other}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // Nothing listening at all: connection errors, same typed error.
    drop(proxy);
    let e = c.list_tags("down/app").await.unwrap_err();
    assert!(matches!(e, RegistryError::Unavailable { .. }), "{e}");
}

#[tokio::test]
async fn download_resumes_with_range_after_a_cut_body() {
    let reg = TestRegistry::start().await.unwrap();
    let img = sample_image(Flavor::Oci, &[200_000], "amd64").unwrap();
    let direct = client(&reg.host(), &reg).await;
    img.push(&direct, &ImageRef::parse(&format!("{}/dl:v1", reg.host())).unwrap()).await.unwrap();
    let (ld, layer) = img.blobs()[1].clone();
    let proxy =
        FaultProxy::start(&reg.host(), vec![FaultRule::new(&format!("/blobs/{ld}"), Fault::CutBody, 1).method("GET")])
            .await
            .unwrap();
    let c = client(&proxy.host(), &reg).await;
    let mut s = c.get_blob("dl", &ld).await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = s.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, layer.to_vec());
    assert_eq!(proxy.injected(), 1);
    let ranged: Vec<String> = proxy.requests().into_iter().filter(|l| l.contains(" range=bytes=")).collect();
    assert_eq!(ranged.len(), 1, "one ranged resume: {ranged:?}");
    assert!(!ranged[0].ends_with("range=bytes=0-"), "resumed from the byte reached: {ranged:?}");
}

#[tokio::test]
async fn chunked_upload_recovers_from_the_registry_offset() {
    let reg = TestRegistry::start().await.unwrap();
    let img = sample_image(Flavor::Oci, &[400_000], "amd64").unwrap();
    let (ld, layer) = img.blobs()[1].clone();
    // The 2nd PATCH reaches the registry but the client sees a 503; the 3rd never arrives.
    let proxy = FaultProxy::start(&reg.host(), vec![]).await.unwrap();
    let c = client(&proxy.host(), &reg).await;
    proxy.set_rules(vec![
        FaultRule::new("/blobs/uploads/", Fault::ForwardThenFail, 1).method("PATCH"),
        FaultRule::new("/blobs/uploads/", Fault::Unavailable, 1).method("PATCH"),
    ]);
    c.put_blob("up", &ld, BlobSource::Bytes(layer.clone())).await.unwrap();
    assert_eq!(proxy.injected(), 2);
    let status_checks = proxy.requests().iter().filter(|l| l.starts_with("GET /v2/up/blobs/uploads/")).count();
    assert_eq!(status_checks, 2, "each failed chunk asks the registry for its offset");
    let direct = client(&reg.host(), &reg).await;
    let mut s = direct.get_blob("up", &ld).await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = s.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, layer.to_vec());
}
