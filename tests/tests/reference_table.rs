//! `ImageRef` against the Docker Engine on this machine: a table of references, valid and invalid,
//! each given to the engine and to slipway; their verdicts and normal forms must agree.
//!
//! - Tag references: `docker tag <tiny local image> <ref>` must succeed exactly when slipway accepts;
//!   then the engine's new `RepoTags` entry must equal `familiar()`, and `<canonical>` must name the
//!   same image in the engine.
//! - Digest references (which `docker tag` cannot create): the engine's own parser is asked through
//!   `GET /images/<ref>/json`: 400 (invalid reference) means refused, 404 (no such image) accepted.
//!
//! Every name holds a unique `slipway-t-foundation-<hex>` token (or random hex); every tag created is
//! registered with the harness's `Cleanup` guard and removed, also on failure. Needs a running engine.

use std::process::Command;

use slipway::ImageRef;
use slipway_e2e::cleanup::Cleanup;

/// What the table says about a reference (also asserted against the engine).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Both accept.
    Valid,
    /// Both refuse.
    Invalid,
    /// The engine accepts, slipway deliberately refuses (see the row's note and docs/rooms/foundation.md).
    EngineOnly,
}

/// How the engine is asked.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Probe {
    /// `docker tag` then `docker image inspect`.
    Tag,
    /// `GET /images/<ref>/json`: 400 vs 404.
    Inspect,
}

struct Row {
    what: &'static str,
    reference: String,
    expect: Expect,
    probe: Probe,
}

fn hex(n: usize) -> String {
    (0..n).map(|_| char::from(b"0123456789abcdef"[rand::random_range(0..16)])).collect()
}

fn token() -> String {
    slipway_e2e::names::unique("foundation")
}

fn rows() -> Vec<Row> {
    use Expect::*;
    use Probe::*;
    let h64 = || hex(64);
    let mut rows = Vec::new();
    let mut add = |what: &'static str, expect: Expect, probe: Probe, f: &dyn Fn(&str) -> String| {
        rows.push(Row { what, reference: f(&token()), expect, probe });
    };
    // Docker Hub short names, namespaces, index.docker.io.
    add("hub short name", Valid, Tag, &|u| u.to_string());
    add("hub short name with tag", Valid, Tag, &|u| format!("{u}:v1.2.3"));
    add("hub namespace", Valid, Tag, &|u| format!("team/{u}"));
    add("hub nested namespace", Valid, Tag, &|u| format!("team/sub/{u}:1"));
    add("docker.io prefix", Valid, Tag, &|u| format!("docker.io/{u}"));
    add("docker.io/library prefix", Valid, Tag, &|u| format!("docker.io/library/{u}:7"));
    add("index.docker.io short name", Valid, Tag, &|u| format!("index.docker.io/{u}"));
    add("index.docker.io namespace", Valid, Tag, &|u| format!("index.docker.io/team/{u}:x"));
    // Registries.
    add("localhost", Valid, Tag, &|u| format!("localhost/{u}"));
    add("localhost:port", Valid, Tag, &|u| format!("localhost:5000/{u}:v1"));
    add("ip:port, namespace", Valid, Tag, &|u| format!("127.0.0.1:5000/team/{u}:v1"));
    add("dns registry", Valid, Tag, &|u| format!("registry.example.com/{u}"));
    add("registry with dashes and port 0", Valid, Tag, &|u| format!("my-reg.ex-ample.com:0/{u}"));
    add("uppercase registry host", Valid, Tag, &|u| format!("Registry.Example.COM:443/{u}"));
    add("registry with empty port", Invalid, Tag, &|u| format!("example.com:/{u}"));
    add("registry with letter port", Invalid, Tag, &|u| format!("example.com:abc/{u}"));
    add("registry label starts with dash", Invalid, Tag, &|u| format!("-bad.com/{u}"));
    add("IPv6 registry with port", Invalid, Tag, &|u| format!("[::1]:5000/{u}:v1"));
    add("IPv6 registry", Invalid, Tag, &|u| format!("[::1]/{u}"));
    add("underscore host (engine keeps it with no registry)", EngineOnly, Tag, &|u| format!("bad_host.com/{u}"));
    // Uppercase.
    add("uppercase first component is not a registry", Invalid, Tag, &|u| format!("Team/{u}"));
    add("uppercase localhost", Invalid, Tag, &|u| format!("LOCALHOST/{u}"));
    add("uppercase repository under a registry", Invalid, Tag, &|u| format!("registry.example.com/Team/{u}"));
    add("uppercase short name", Invalid, Tag, &|u| u.to_uppercase());
    // Separators.
    add("double underscore", Valid, Tag, &|u| format!("{u}__x"));
    add("triple underscore", Invalid, Tag, &|u| format!("{u}___x"));
    add("run of dashes", Valid, Tag, &|u| format!("{u}---x"));
    add("dot and underscore", Valid, Tag, &|u| format!("{u}.x_y"));
    add("underscore then dot", Invalid, Tag, &|u| format!("{u}_.x"));
    add("double dot", Invalid, Tag, &|u| format!("{u}..x"));
    add("trailing dash", Invalid, Tag, &|u| format!("{u}-"));
    add("trailing dot", Invalid, Tag, &|u| format!("{u}."));
    add("trailing underscore", Invalid, Tag, &|u| format!("{u}_"));
    add("trailing slash", Invalid, Tag, &|u| format!("{u}/"));
    add("empty component", Invalid, Tag, &|u| format!("team//{u}"));
    add("leading slash", Invalid, Tag, &|u| format!("/{u}"));
    // Tags.
    add("tag at 128 characters", Valid, Tag, &|u| format!("{u}:{}", "t".repeat(128)));
    add("tag at 129 characters", Invalid, Tag, &|u| format!("{u}:{}", "t".repeat(129)));
    add("tag with leading underscore", Valid, Tag, &|u| format!("{u}:_tag"));
    add("tag with leading dot", Invalid, Tag, &|u| format!("{u}:.tag"));
    add("tag with leading dash", Invalid, Tag, &|u| format!("{u}:-tag"));
    add("mixed-case tag", Valid, Tag, &|u| format!("{u}:TAG.Mixed-Case_1"));
    add("empty tag", Invalid, Tag, &|u| format!("{u}:"));
    add("two tags", Invalid, Tag, &|u| format!("{u}:a:b"));
    add("plus in tag", Invalid, Tag, &|u| format!("{u}:1.0+meta"));
    // 64-hex names: refused alone, fine with a tag or a registry.
    add("bare 64-hex name", Invalid, Tag, &|_| h64());
    add("64-hex name with tag", Valid, Tag, &|_| format!("{}:v1", h64()));
    add("64-hex name under docker.io/library", Valid, Tag, &|_| format!("docker.io/library/{}", h64()));
    // Length limit: 255 characters of normalised `registry/repository`.
    add("hub name at 255", Valid, Tag, &|u| format!("{u}/{}", "x".repeat(255 - "docker.io/".len() - u.len() - 1)));
    add("hub name at 256", Invalid, Tag, &|u| format!("{u}/{}", "x".repeat(256 - "docker.io/".len() - u.len() - 1)));
    add("localhost name at 255", Valid, Tag, &|u| format!("localhost/{u}{}", "x".repeat(255 - 10 - u.len())));
    add("localhost name at 256", Invalid, Tag, &|u| format!("localhost/{u}{}", "x".repeat(256 - 10 - u.len())));
    // Digests (the engine's parser through image inspect).
    add("sha256 digest", Valid, Inspect, &|u| format!("{u}@sha256:{}", hex(64)));
    add("sha256 digest one short", Invalid, Inspect, &|u| format!("{u}@sha256:{}", hex(63)));
    add("sha256 digest one long", Invalid, Inspect, &|u| format!("{u}@sha256:{}", hex(65)));
    add("sha256 digest uppercase hex", Invalid, Inspect, &|u| format!("{u}@sha256:{}", hex(64).to_uppercase()));
    add("sha512 digest", Valid, Inspect, &|u| format!("{u}@sha512:{}", hex(128)));
    add("sha512 digest with sha256 length", Invalid, Inspect, &|u| format!("{u}@sha512:{}", hex(64)));
    add("sha384 digest", Valid, Inspect, &|u| format!("{u}@sha384:{}", hex(96)));
    add("unknown digest algorithm", Invalid, Inspect, &|u| format!("{u}@md5:{}", hex(32)));
    add("uppercase algorithm", Invalid, Inspect, &|u| format!("{u}@SHA256:{}", hex(64)));
    add("tag and digest", Valid, Inspect, &|u| format!("{u}:v1@sha256:{}", hex(64)));
    add("registry, tag and digest", Valid, Inspect, &|u| format!("localhost:5000/team/{u}:v1@sha256:{}", hex(64)));
    add("digest then tag", Invalid, Inspect, &|u| format!("{u}@sha256:{}:v1", hex(64)));
    add("empty tag before digest", Invalid, Inspect, &|u| format!("{u}:@sha256:{}", hex(64)));
    add("empty digest", Invalid, Inspect, &|u| format!("{u}@"));
    add("uppercase namespace with digest", Invalid, Inspect, &|u| format!("Team/{u}@sha256:{}", hex(64)));
    rows
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("the docker CLI runs")
}

/// A tiny image imported from a one-file tar, tagged `slipway-t-foundation-<hex>:base`; returns its ID.
fn import_base(cleanup: &Cleanup) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("root")).unwrap();
    std::fs::write(dir.path().join("root/hello.txt"), "slipway reference table\n").unwrap();
    let tar = dir.path().join("root.tar");
    let ok = Command::new("tar").arg("-C").arg(dir.path().join("root")).arg("-cf").arg(&tar).arg(".").status().unwrap();
    assert!(ok.success());
    let base = format!("{}:base", token());
    let o = docker(&["import", tar.to_str().unwrap(), &base]);
    assert!(o.status.success(), "docker import: {}", String::from_utf8_lossy(&o.stderr));
    cleanup.image(&base);
    let id = String::from_utf8(docker(&["image", "inspect", "--format", "{{.Id}}", &base]).stdout).unwrap();
    id.trim().to_string()
}

fn repo_tags(image: &str) -> Vec<String> {
    let o = docker(&["image", "inspect", "--format", "{{json .RepoTags}}", image]);
    assert!(o.status.success());
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The engine's verdict on a tag reference; when it accepts, the RepoTags entry it created.
fn engine_tag(base_id: &str, row: &Row, cleanup: &Cleanup) -> Option<String> {
    let before = repo_tags(base_id);
    if !docker(&["tag", base_id, &row.reference]).status.success() {
        return None;
    }
    let created: Vec<String> = repo_tags(base_id).into_iter().filter(|t| !before.contains(t)).collect();
    assert_eq!(created.len(), 1, "{}: one new RepoTags entry, got {created:?}", row.what);
    cleanup.image(&created[0]);
    Some(created[0].clone())
}

/// The engine's parser on any reference: `true` accepted (404 no such image), `false` refused (400).
async fn engine_parses(docker_api: &bollard::Docker, reference: &str) -> bool {
    match docker_api.inspect_image(reference).await {
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => true,
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 400, .. }) => false,
        other => panic!("unexpected answer for {reference}: {other:?}"),
    }
}

#[tokio::test]
async fn reference_table_agrees_with_the_engine() {
    let api = slipway_e2e::docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let base_id = import_base(&cleanup);
    let table = rows();
    assert!(table.len() >= 40);
    assert!(table.iter().any(|r| r.expect == Expect::Valid) && table.iter().any(|r| r.expect == Expect::Invalid));
    let mut failures = Vec::new();
    for row in &table {
        let ours = ImageRef::parse(&row.reference);
        let engine_accepts = match row.probe {
            Probe::Tag => match engine_tag(&base_id, row, &cleanup) {
                Some(repo_tag) => {
                    if let Ok(r) = &ours {
                        if repo_tag != r.familiar() {
                            failures.push(format!(
                                "{}: engine shows {repo_tag}, familiar() {}",
                                row.what,
                                r.familiar()
                            ));
                        }
                        let canonical_id = docker(&["image", "inspect", "--format", "{{.Id}}", &r.to_string()]);
                        if String::from_utf8_lossy(&canonical_id.stdout).trim() != base_id {
                            failures.push(format!("{}: the engine does not find {r} (canonical)", row.what));
                        }
                    }
                    true
                }
                None => false,
            },
            Probe::Inspect => {
                let accepted = engine_parses(&api, &row.reference).await;
                if let (true, Ok(r)) = (accepted, &ours) {
                    for form in [r.to_string(), r.familiar()] {
                        if !engine_parses(&api, &form).await {
                            failures.push(format!("{}: the engine refuses slipway's form {form}", row.what));
                        }
                    }
                }
                accepted
            }
        };
        let (want_engine, want_ours) = match row.expect {
            Expect::Valid => (true, true),
            Expect::Invalid => (false, false),
            Expect::EngineOnly => (true, false),
        };
        if engine_accepts != want_engine || ours.is_ok() != want_ours {
            failures.push(format!(
                "{} ({:?}): engine accepts={engine_accepts}, slipway={:?}, table says {:?}",
                row.what, row.reference, ours, row.expect
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows disagree:\n{}", failures.len(), table.len(), failures.join("\n"));
}

/// Digest forms against real `RepoDigests`: push the tiny image to a local registry, then the
/// engine's `RepoDigests` entry must be slipway's `familiar()` of itself, the registry's manifest
/// bytes must hash (slipway's `Digest`) to that digest, and every pinned form slipway prints
/// (canonical, familiar, tag+digest) must name the same image in the engine.
#[tokio::test]
async fn digest_references_match_repo_digests() {
    let registry = slipway_e2e::registry::TestRegistry::builder().no_auth().start().await.unwrap();
    let cleanup = Cleanup::new();
    let base_id = import_base(&cleanup);
    let pushed = format!("{}/team/{}:v1", registry.host(), token());
    assert!(docker(&["tag", &base_id, &pushed]).status.success());
    cleanup.image(&pushed);
    let o = docker(&["push", &pushed]);
    assert!(o.status.success(), "docker push: {}", String::from_utf8_lossy(&o.stderr));

    let inspect = docker(&["image", "inspect", "--format", "{{json .RepoDigests}}", &pushed]);
    let repo_digests: Vec<String> = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(repo_digests.len(), 1, "{repo_digests:?}");
    let engine_form = &repo_digests[0];

    let ours = ImageRef::parse(engine_form).unwrap();
    assert_eq!(&ours.familiar(), engine_form);
    assert_eq!(ours.tag(), None);
    let digest = ours.digest().unwrap().clone();

    let tagged = ImageRef::parse(&pushed).unwrap();
    let manifest_url =
        format!("http://{}/v2/{}/manifests/{}", tagged.registry(), tagged.repository(), tagged.manifest_reference());
    let body = reqwest::Client::new()
        .get(&manifest_url)
        .header(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(digest.matches(&body), "the registry's manifest hashes to {digest}");
    assert_eq!(slipway::Digest::sha256(&body), digest);

    for form in [
        tagged.pinned(digest.clone()).to_string(),
        tagged.pinned(digest.clone()).familiar(),
        tagged.with_digest(digest.clone()).to_string(),
    ] {
        let o = docker(&["image", "inspect", "--format", "{{.Id}}", &form]);
        assert!(o.status.success(), "the engine finds {form}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), base_id, "{form}");
    }
}
