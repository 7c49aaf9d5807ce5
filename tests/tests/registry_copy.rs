//! Promotion and copies against real registries: same repository (one manifest PUT, no blob
//! request), other repository (mounts, no uploads), other registry (only missing blobs), indexes
//! with two platforms in OCI and Docker media types, and prune.

use std::time::Duration;

use slipway::registry::{
    copy, prune, CopyOptions, Credentials, Distribution, DistributionOptions, Layout, Location, PruneRules, Registry,
    RegistryError, RetryPolicy,
};
use slipway::{ImageRef, NoopObserver};
use slipway_e2e::registry::sample::{sample_image, sample_index, Flavor, SampleImage};
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

fn blob_requests(lines: &[String]) -> Vec<String> {
    lines.iter().filter(|l| l.contains("/blobs/")).cloned().collect()
}

#[tokio::test]
async fn promotion_in_one_repository_is_one_manifest_put_and_no_blob_request() {
    let reg = TestRegistry::start().await.unwrap();
    let c = client(&reg).await;
    let img = sample_image(Flavor::Oci, &[50_000, 60_000, 70_000], "amd64").unwrap();
    img.push(&c, &r(&reg, "shop/web:staging-latest")).await.unwrap();
    let before = reg.requests().len();
    let d = copy(
        &c,
        &r(&reg, "shop/web:staging-latest"),
        &c,
        &r(&reg, "shop/web:v1.2.3"),
        &CopyOptions::default(),
        &NoopObserver,
    )
    .await
    .unwrap();
    assert_eq!(d, img.digest());
    let during: Vec<String> = reg.requests()[before..].to_vec();
    assert!(blob_requests(&during).is_empty(), "blob requests during promotion: {during:?}");
    let puts: Vec<_> = during.iter().filter(|l| l.starts_with("PUT ")).collect();
    assert_eq!(puts, [&"PUT /v2/shop/web/manifests/v1.2.3".to_string()], "{during:?}");
    assert_eq!(c.resolve(&r(&reg, "shop/web:v1.2.3")).await.unwrap().digest, img.digest());
}

#[tokio::test]
async fn copy_to_another_repository_mounts_and_uploads_nothing() {
    let reg = TestRegistry::start().await.unwrap();
    let c = client(&reg).await;
    let img = sample_image(Flavor::Docker, &[50_000, 60_000], "amd64").unwrap();
    img.push(&c, &r(&reg, "staging/web:v1")).await.unwrap();
    let before = reg.requests().len();
    let d = copy(&c, &r(&reg, "staging/web:v1"), &c, &r(&reg, "prod/web:v1"), &CopyOptions::default(), &NoopObserver)
        .await
        .unwrap();
    assert_eq!(d, img.digest());
    let during: Vec<String> = reg.requests()[before..].to_vec();
    let mounts =
        during.iter().filter(|l| l.starts_with("POST /v2/prod/web/blobs/uploads/?") && l.contains("mount=")).count();
    assert!(mounts >= 3, "{during:?}");
    assert!(
        !during.iter().any(|l| l.starts_with("PATCH ") || (l.starts_with("PUT ") && l.contains("/blobs/uploads/"))),
        "{during:?}"
    );
}

async fn push_two_platform_index(
    c: &Distribution,
    reference: &ImageRef,
    flavor: Flavor,
) -> (Vec<SampleImage>, slipway::Digest) {
    let amd = sample_image(flavor, &[30_000], "amd64").unwrap();
    let arm = sample_image(flavor, &[31_000], "arm64").unwrap();
    for img in [&amd, &arm] {
        img.push(c, &reference.pinned(img.digest())).await.unwrap();
    }
    let index = sample_index(flavor, &[(&amd, "amd64"), (&arm, "arm64")]).unwrap();
    let d = c.put_manifest(reference, &index).await.unwrap();
    (vec![amd, arm], d)
}

#[tokio::test]
async fn cross_registry_copy_of_two_platform_indexes_keeps_digests() {
    let (a, b) = (TestRegistry::start().await.unwrap(), TestRegistry::builder().token_auth().start().await.unwrap());
    let (ca, cb) = (client(&a).await, client(&b).await);
    for (flavor, name) in [(Flavor::Oci, "oci"), (Flavor::Docker, "docker")] {
        let (children, digest) = push_two_platform_index(&ca, &r(&a, &format!("multi/{name}:v1")), flavor).await;
        let dst = r(&b, &format!("multi/{name}:v1"));
        let d = copy(&ca, &r(&a, &format!("multi/{name}:v1")), &cb, &dst, &CopyOptions::default(), &NoopObserver)
            .await
            .unwrap();
        assert_eq!(d, digest);
        let desc = cb.resolve(&dst).await.unwrap();
        assert_eq!(desc.digest, digest);
        let expected_mt =
            if flavor == Flavor::Oci { slipway::registry::OCI_INDEX } else { slipway::registry::DOCKER_MANIFEST_LIST };
        assert_eq!(desc.media_type, expected_mt);
        for child in &children {
            assert_eq!(cb.get_manifest(&dst.pinned(child.digest())).await.unwrap().bytes, child.manifest.bytes);
            for (bd, bytes) in child.blobs() {
                assert_eq!(cb.blob_exists(dst.repository(), &bd).await.unwrap(), Some(bytes.len() as u64));
            }
        }
    }
    // Copying again uploads nothing.
    let before = b.requests().len();
    copy(&ca, &r(&a, "multi/oci:v1"), &cb, &r(&b, "multi/oci:v2"), &CopyOptions::default(), &NoopObserver)
        .await
        .unwrap();
    assert!(!b.requests()[before..].iter().any(|l| l.starts_with("PATCH ") || l.starts_with("POST ")));
}

#[tokio::test]
async fn registry_to_layout_and_back() {
    let reg = TestRegistry::start().await.unwrap();
    let c = client(&reg).await;
    let img = sample_image(Flavor::Oci, &[40_000], "amd64").unwrap();
    img.push(&c, &r(&reg, "lay/app:v1")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).await.unwrap();
    let Location::Layout(lref) = Location::parse(&format!("oci:{}:v1", dir.path().display())).unwrap() else {
        panic!()
    };
    let lr = lref.image_ref().unwrap();
    assert_eq!(
        copy(&c, &r(&reg, "lay/app:v1"), &layout, &lr, &CopyOptions::default(), &NoopObserver).await.unwrap(),
        img.digest()
    );
    assert_eq!(layout.resolve(&lr).await.unwrap().digest, img.digest());
    let back = r(&reg, "lay/back:v1");
    assert_eq!(copy(&layout, &lr, &c, &back, &CopyOptions::default(), &NoopObserver).await.unwrap(), img.digest());
}

#[tokio::test]
async fn prune_deletes_old_test_tags_but_never_protected_digests() {
    let reg = TestRegistry::start().await.unwrap();
    let c = client(&reg).await;
    let repo = r(&reg, "pr/app:x");
    let mut digests = Vec::new();
    for i in 1..=5 {
        let img = sample_image(Flavor::Oci, &[1000], "amd64").unwrap();
        img.push(&c, &repo.with_tag(&format!("test-20250101-{i}")).unwrap()).await.unwrap();
        digests.push(img.digest());
    }
    // v1.0.0 and staging-latest point at old test builds: those digests must survive.
    let m1 = c.get_manifest(&repo.with_tag("test-20250101-1").unwrap()).await.unwrap();
    c.put_manifest(&repo.with_tag("v1.0.0").unwrap(), &m1).await.unwrap();
    let m2 = c.get_manifest(&repo.with_tag("test-20250101-2").unwrap()).await.unwrap();
    c.put_manifest(&repo.with_tag("staging-latest").unwrap(), &m2).await.unwrap();
    let rules = PruneRules::new(2, "test-*");
    let dry = prune(&c, &repo, &rules, false, &NoopObserver).await.unwrap();
    assert_eq!(dry.deleted.len(), 1);
    assert_eq!(dry.deleted[0].0, "test-20250101-3");
    assert_eq!(dry.kept, ["test-20250101-4", "test-20250101-5"]);
    assert_eq!(c.list_tags("pr/app").await.unwrap().len(), 7, "dry run");
    let applied = prune(&c, &repo, &rules, true, &NoopObserver).await.unwrap();
    assert!(applied.applied);
    let tags = c.list_tags("pr/app").await.unwrap();
    assert!(!tags.contains(&"test-20250101-3".to_string()), "{tags:?}");
    assert!(matches!(c.resolve(&repo.pinned(digests[2].clone())).await, Err(RegistryError::NotFound { .. })));
    for t in ["v1.0.0", "staging-latest", "test-20250101-4", "test-20250101-5"] {
        assert!(tags.contains(&t.to_string()), "{t} missing: {tags:?}");
    }
}
