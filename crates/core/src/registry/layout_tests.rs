//! Tests of `Layout`, `copy` and `prune` against real layout directories on disk.

use bytes::Bytes;
use futures::StreamExt;

use super::*;
use crate::events::{Event, RecordingObserver};

fn lref(tag: &str) -> ImageRef {
    ImageRef::from_parts(LAYOUT_REGISTRY, LAYOUT_REPOSITORY, Some(tag), None).unwrap()
}

/// Store a one-layer image whose contents depend on `seed`; returns the manifest.
async fn put_image(l: &Layout, tag: &str, seed: &str, created: &str) -> RawManifest {
    let layer = Bytes::from(format!("layer-{seed}"));
    let config = Bytes::from(format!(
        r#"{{"architecture":"amd64","os":"linux","created":"{created}","rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    ));
    let (ld, cd) = (Digest::sha256(&layer), Digest::sha256(&config));
    l.put_blob("", &ld, BlobSource::Bytes(layer.clone())).await.unwrap();
    l.put_blob("", &cd, BlobSource::Bytes(config.clone())).await.unwrap();
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    let raw = RawManifest { media_type: OCI_MANIFEST.into(), bytes: m.into() };
    l.put_manifest(&lref(tag), &raw).await.unwrap();
    raw
}

#[tokio::test]
async fn layout_round_trips_manifests_blobs_and_tags() {
    let dir = tempfile::tempdir().unwrap();
    let l = Layout::create(dir.path()).await.unwrap();
    let raw = put_image(&l, "v1", "a", "2025-01-01T00:00:00Z").await;
    assert!(dir.path().join("oci-layout").exists());
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["annotations"][REF_NAME], "v1");
    let desc = l.resolve(&lref("v1")).await.unwrap();
    assert_eq!(desc.digest, raw.digest());
    assert_eq!(desc.media_type, OCI_MANIFEST);
    assert_eq!(l.get_manifest(&lref("v1")).await.unwrap(), raw);
    assert_eq!(l.get_manifest(&lref("v1").pinned(raw.digest())).await.unwrap().bytes, raw.bytes);
    assert_eq!(l.list_tags("").await.unwrap(), ["v1"]);
    // Re-tagging replaces, does not duplicate.
    l.put_manifest(&lref("v1"), &raw).await.unwrap();
    l.put_manifest(&lref("v2"), &raw).await.unwrap();
    assert_eq!(l.list_tags("").await.unwrap(), ["v1", "v2"]);
    assert!(matches!(l.resolve(&lref("nope")).await, Err(RegistryError::NotFound { .. })));
    l.delete_manifest("", &raw.digest()).await.unwrap();
    assert!(l.list_tags("").await.unwrap().is_empty());
    // Reopen works, a non-layout does not.
    Layout::open(dir.path()).await.unwrap();
    assert!(Layout::open(dir.path().join("blobs")).await.is_err());
}

#[tokio::test]
async fn layout_rejects_wrong_digests_on_write_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let l = Layout::create(dir.path()).await.unwrap();
    let wrong = Digest::sha256(b"other");
    let e = l.put_blob("", &wrong, BlobSource::Bytes(Bytes::from_static(b"data"))).await.unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");
    assert!(l.blob_exists("", &wrong).await.unwrap().is_none());
    let raw = put_image(&l, "v1", "a", "2025-01-01T00:00:00Z").await;
    // Tamper with the stored manifest: reads fail with a digest mismatch.
    std::fs::write(l.blob_path(&raw.digest()), b"{}").unwrap();
    assert!(matches!(l.get_manifest(&lref("v1")).await, Err(RegistryError::DigestMismatch { .. })));
    let items: Vec<_> = l.get_blob("", &raw.digest()).await.unwrap().collect().await;
    assert!(matches!(items.last(), Some(Err(RegistryError::DigestMismatch { .. }))));
}

#[tokio::test]
async fn copy_between_layouts_keeps_digests_of_images_and_indexes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (src, dst) = (Layout::create(a.path()).await.unwrap(), Layout::create(b.path()).await.unwrap());
    let amd = put_image(&src, "amd", "amd", "2025-01-01T00:00:00Z").await;
    let arm = put_image(&src, "arm", "arm", "2025-01-01T00:00:00Z").await;
    let idx = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#,
        amd.digest(),
        amd.bytes.len(),
        arm.digest(),
        arm.bytes.len()
    );
    let idx = RawManifest { media_type: OCI_INDEX.into(), bytes: idx.into() };
    src.put_manifest(&lref("multi"), &idx).await.unwrap();
    let obs = RecordingObserver::new();
    let d = copy(&src, &lref("multi"), &dst, &lref("copied"), &CopyOptions::default(), &obs).await.unwrap();
    assert_eq!(d, idx.digest());
    assert_eq!(dst.resolve(&lref("copied")).await.unwrap().digest, idx.digest());
    for child in [&amd, &arm] {
        assert_eq!(dst.get_manifest(&lref("x").pinned(child.digest())).await.unwrap().bytes, child.bytes);
    }
    let copied = obs.events().iter().filter(|e| matches!(e, Event::Registry(RegistryEvent::BlobCopied { .. }))).count();
    // Two layers and one config shared by both children (identical config bytes).
    assert_eq!(copied, 3);
    // A second copy moves no blob.
    let obs = RecordingObserver::new();
    copy(&src, &lref("amd"), &dst, &lref("amd"), &CopyOptions::default(), &obs).await.unwrap();
    assert!(!obs.events().iter().any(|e| matches!(e, Event::Registry(RegistryEvent::BlobCopied { .. }))));
}

#[tokio::test]
async fn prune_keeps_newest_and_protected_and_shared() {
    let dir = tempfile::tempdir().unwrap();
    let l = Layout::create(dir.path()).await.unwrap();
    for (i, tag) in ["test-20250101-1", "test-20250101-2", "test-20250102-1", "test-20250102-2"].iter().enumerate() {
        put_image(&l, tag, &format!("s{i}"), "2025-01-01T00:00:00Z").await;
    }
    // v1.0.0 shares the digest of the oldest test tag: that one must survive.
    let oldest = l.get_manifest(&lref("test-20250101-1")).await.unwrap();
    l.put_manifest(&lref("v1.0.0"), &oldest).await.unwrap();
    let repo = lref("x");
    let rules = PruneRules::new(1, "test-*");
    let dry = prune(&l, &repo, &rules, false, &crate::NoopObserver).await.unwrap();
    assert_eq!(dry.deleted.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["test-20250101-2", "test-20250102-1"]);
    assert_eq!(dry.kept, ["test-20250102-2"]);
    assert_eq!(dry.shared, ["test-20250101-1"]);
    assert_eq!(l.list_tags("").await.unwrap().len(), 5, "dry run deletes nothing");
    prune(&l, &repo, &rules, true, &crate::NoopObserver).await.unwrap();
    assert_eq!(l.list_tags("").await.unwrap(), ["test-20250101-1", "test-20250102-2", "v1.0.0"]);
    // Ordering by config creation time when tags are not a sequence.
    for (tag, created) in [("b", "2025-03-01T00:00:00Z"), ("a", "2025-04-01T00:00:00Z"), ("c", "2025-02-01T00:00:00Z")]
    {
        put_image(&l, tag, tag, created).await;
    }
    let out = prune(&l, &repo, &PruneRules::new(1, "[abc]"), false, &crate::NoopObserver).await.unwrap();
    assert_eq!(out.kept, ["a"]);
    assert_eq!(out.deleted.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["c", "b"]);
}
