//! The `Distribution` client against a real Distribution registry (htpasswd and token auth):
//! round trips, pagination, chunked upload, mount, delete, auth failures.

use std::time::Duration;

use futures::StreamExt;
use slipway::registry::{
    copy, BlobSource, CopyOptions, Credentials, Distribution, DistributionOptions, MountOutcome, Registry,
    RegistryError, RetryPolicy,
};
use slipway::{Digest, ImageRef, NoopObserver};
use slipway_e2e::registry::sample::{sample_image, Flavor};
use slipway_e2e::registry::TestRegistry;

async fn client(reg: &TestRegistry) -> Distribution {
    let opts = DistributionOptions::default()
        .credentials(Credentials::basic(reg.username(), reg.password()))
        .retry(RetryPolicy::new(3, Duration::from_millis(50)));
    Distribution::connect(&reg.host(), opts).await.unwrap()
}

fn r(reg: &TestRegistry, s: &str) -> ImageRef {
    ImageRef::parse(&format!("{}/{s}", reg.host())).unwrap()
}

async fn read_blob(reg: &dyn Registry, repo: &str, d: &Digest) -> Result<Vec<u8>, RegistryError> {
    let mut s = reg.get_blob(repo, d).await?;
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c?);
    }
    Ok(out)
}

#[tokio::test]
async fn round_trip_resolve_get_list_delete() {
    let reg = TestRegistry::start().await.unwrap();
    let c = client(&reg).await;
    c.ping().await.unwrap();
    let img = sample_image(Flavor::Oci, &[1000, 2000], "amd64").unwrap();
    let app = r(&reg, "team/app:v1");
    assert_eq!(img.push(&c, &app).await.unwrap(), img.digest());
    let desc = c.resolve(&app).await.unwrap();
    assert_eq!(desc.digest, img.digest());
    assert_eq!(desc.media_type, slipway::registry::OCI_MANIFEST);
    assert_eq!(desc.size, img.manifest.bytes.len() as u64);
    assert_eq!(c.get_manifest(&app).await.unwrap(), img.manifest);
    assert_eq!(c.get_manifest(&app.pinned(img.digest())).await.unwrap().bytes, img.manifest.bytes);
    for (d, b) in img.blobs() {
        assert_eq!(c.blob_exists("team/app", &d).await.unwrap(), Some(b.len() as u64));
        assert_eq!(read_blob(&c, "team/app", &d).await.unwrap(), b.to_vec());
    }
    assert_eq!(c.blob_exists("team/app", &Digest::sha256(b"absent")).await.unwrap(), None);
    // 30 more tags (Distribution 2.8 answers in one page; `Link` parsing is unit-tested).
    for i in 0..30 {
        c.put_manifest(&app.with_tag(&format!("t{i:03}")).unwrap(), &img.manifest).await.unwrap();
    }
    let tags = c.list_tags("team/app").await.unwrap();
    assert_eq!(tags.len(), 31);
    c.delete_manifest("team/app", &img.digest()).await.unwrap();
    assert!(matches!(c.resolve(&app).await, Err(RegistryError::NotFound { .. })));
}

#[tokio::test]
async fn chunked_upload_and_cross_repository_mount() {
    let reg = TestRegistry::start().await.unwrap();
    let opts = DistributionOptions::default()
        .credentials(Credentials::basic(reg.username(), reg.password()))
        .chunk_size(64 * 1024);
    let c = Distribution::connect(&reg.host(), opts).await.unwrap();
    let img = sample_image(Flavor::Docker, &[300_000], "amd64").unwrap();
    let (ld, layer) = img.blobs()[1].clone();
    c.put_blob("a/src", &ld, BlobSource::Bytes(layer.clone())).await.unwrap();
    let patches = reg.requests().iter().filter(|l| l.starts_with("PATCH /v2/a/src/blobs/uploads/")).count();
    assert!(patches >= 4, "expected a chunked upload, saw {patches} PATCH requests");
    assert_eq!(read_blob(&c, "a/src", &ld).await.unwrap(), layer.to_vec());
    // A file source, chunked too.
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), &layer).unwrap();
    c.put_blob("a/file", &ld, BlobSource::File { path: tmp.path().into(), size: layer.len() as u64 }).await.unwrap();
    assert!(c.blob_exists("a/file", &ld).await.unwrap().is_some());
    // Mount: present in a/src -> mounted; absent -> upload instead.
    assert_eq!(c.mount_blob("b/dst", &ld, "a/src").await.unwrap(), MountOutcome::Mounted);
    assert!(c.blob_exists("b/dst", &ld).await.unwrap().is_some());
    let missing = Digest::sha256(b"not there");
    assert_eq!(c.mount_blob("b/dst", &missing, "a/src").await.unwrap(), MountOutcome::UploadInstead);
    // A wrong digest is refused.
    let e = c.put_blob("a/src", &missing, BlobSource::Bytes(layer.clone())).await.unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");
}

#[tokio::test]
async fn auth_failures_are_typed_and_secret_free() {
    let reg = TestRegistry::start().await.unwrap();
    let anon = Distribution::connect(&reg.host(), DistributionOptions::default().credentials(Credentials::Anonymous))
        .await
        .unwrap();
    let e = anon.resolve(&r(&reg, "x:v1")).await.unwrap_err();
    assert!(matches!(e, RegistryError::Unauthorized { status: 401, .. }), "{e}");
    let wrong = Credentials::basic(reg.username(), "very-secret-wrong-password");
    let bad = Distribution::connect(&reg.host(), DistributionOptions::default().credentials(wrong)).await.unwrap();
    let e = bad.list_tags("x").await.unwrap_err();
    assert!(e.to_string().contains(&reg.host()) && e.to_string().contains("list tags"), "{e}");
    for text in [format!("{e}"), format!("{e:?}"), format!("{bad:?}")] {
        assert!(!text.contains("very-secret-wrong-password"), "secret leaked: {text}");
    }
}

#[tokio::test]
async fn bearer_token_flow_push_pull_mount_with_cached_tokens() {
    let reg = TestRegistry::builder().token_auth().start().await.unwrap();
    let c = client(&reg).await;
    let img = sample_image(Flavor::Oci, &[5000, 6000], "amd64").unwrap();
    let src = r(&reg, "tok/src:v1");
    img.push(&c, &src).await.unwrap();
    assert_eq!(c.resolve(&src).await.unwrap().digest, img.digest());
    let ts = reg.token_server().unwrap();
    let issued = ts.tokens_issued();
    // Many requests, few tokens: tokens are cached per scope.
    assert!(issued <= 3, "{issued} tokens for one push: not cached ({:?})", ts.scopes_requested());
    let dst = r(&reg, "tok/dst:v1");
    let d = copy(&c, &src, &c, &dst, &CopyOptions::default(), &NoopObserver).await.unwrap();
    assert_eq!(d, img.digest());
    let scopes = ts.scopes_requested();
    assert!(scopes.iter().any(|s| s == "repository:tok/dst:pull,push"), "{scopes:?}");
    assert!(scopes.iter().any(|s| s == "repository:tok/src:pull"), "mount needs pull on the source: {scopes:?}");
    assert!(!reg.requests().iter().any(|l| l.starts_with("PATCH /v2/tok/dst/")), "mount should move no bytes");
    // Wrong password: the token server refuses, a typed error results.
    let bad = Distribution::connect(
        &reg.host(),
        DistributionOptions::default().credentials(Credentials::basic(reg.username(), "nope")),
    )
    .await
    .unwrap();
    assert!(matches!(bad.resolve(&src).await, Err(RegistryError::Unauthorized { .. })));
    // Anonymous: a token without access, then a 401 from the registry.
    let anon = Distribution::connect(&reg.host(), DistributionOptions::default().credentials(Credentials::Anonymous))
        .await
        .unwrap();
    assert!(matches!(anon.resolve(&src).await, Err(RegistryError::Unauthorized { .. })));
}
