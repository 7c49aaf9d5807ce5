//! The relay helper's image (engine room): the static `slipway-relay` program built by
//! `crates/core/build.rs` from `relay/main.rs` and embedded here, put into the target engine by
//! `docker import` of an in-memory tar holding `/slipway-relay` (no pull, no registry), tagged
//! `slipway-relay:<first 12 hex of its sha256>`, so each engine imports one build once.

use bollard::query_parameters::CreateImageOptions;
use bollard::Docker;
use futures::StreamExt;

use super::EngineError;

/// The repository of the helper's image on the engine.
pub(crate) const IMAGE_REPOSITORY: &str = "slipway-relay";
/// The program's path inside the image.
pub(crate) const PROGRAM: &str = "/slipway-relay";

/// The embedded program, when this build has one (see build.rs and `cfg(slipway_no_relay)`).
#[cfg(not(slipway_no_relay))]
const BINARY: Option<&[u8]> = Some(include_bytes!(concat!(env!("OUT_DIR"), "/slipway-relay")));
#[cfg(slipway_no_relay)]
const BINARY: Option<&[u8]> = None;

/// True when this build embeds the relay helper.
pub(crate) fn available() -> bool {
    BINARY.is_some()
}

/// The helper's image reference (`slipway-relay:<hash>`), when this build has the helper.
pub(crate) fn image() -> Option<String> {
    static TAG: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    TAG.get_or_init(|| BINARY.map(|b| format!("{IMAGE_REPOSITORY}:{}", tag_of(b)))).clone()
}

fn tag_of(binary: &[u8]) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(binary);
    hex::encode(&digest[..6])
}

/// The engine's name for this build's CPU architecture (`uname -m` as Go spells it).
fn engine_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// A tar holding the program at [`PROGRAM`], mode 0755.
fn rootfs(binary: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(binary.len() as u64);
    header.set_mode(0o755);
    header.set_entry_type(tar::EntryType::Regular);
    archive.append_data(&mut header, PROGRAM.trim_start_matches('/'), binary)?;
    archive.into_inner()
}

/// Make sure the engine holds the helper's image (imported once per engine and build); returns
/// its reference. Refuses an engine of another CPU architecture (the program is native code).
pub(crate) async fn ensure(docker: &Docker, host: &str) -> Result<String, EngineError> {
    let (Some(binary), Some(image)) = (BINARY, image()) else {
        return Err(EngineError::NoRelayHelper { host: host.to_string() });
    };
    let api = |step: &'static str| move |source| EngineError::Relay { host: host.to_string(), step, source };
    if docker.inspect_image(&image).await.is_ok() {
        return Ok(image);
    }
    let version = docker.version().await.map_err(api("ask the engine's version"))?;
    let arch = version.arch.unwrap_or_default();
    if !arch.is_empty() && arch != engine_arch() {
        return Err(EngineError::RelayArch { host: host.to_string(), engine: arch, helper: engine_arch().into() });
    }
    let tar = rootfs(binary).map_err(|e| EngineError::Relay {
        host: host.to_string(),
        step: "pack the helper",
        source: bollard::errors::Error::IOError { err: e },
    })?;
    let (repo, tag) = image.split_once(':').unwrap_or((IMAGE_REPOSITORY, "latest"));
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo.into()),
        tag: Some(tag.into()),
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(options), Some(bollard::body_full(tar.into())), None);
    while let Some(item) = stream.next().await {
        item.map_err(api("import the helper image"))?;
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_named_by_the_programs_hash_and_holds_it_executable() {
        assert_eq!(tag_of(b"x").len(), 12);
        assert_ne!(tag_of(b"x"), tag_of(b"y"));
        let tar = rootfs(b"#!program").unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.path().unwrap().to_str(), Some("slipway-relay"));
        assert_eq!(entry.header().mode().unwrap(), 0o755);
        if let Some(image) = image() {
            assert!(image.starts_with("slipway-relay:"), "{image}");
            assert!(available());
        }
    }

    /// The embedded program itself, run here: it relays both ways and says when it connected; a
    /// refused port exits 1 at once with nothing on stdout.
    #[cfg(not(slipway_no_relay))]
    #[test]
    fn the_program_relays_and_says_when_it_connected() {
        use std::io::{Read, Write};
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("slipway-relay");
        std::fs::write(&program, BINARY.unwrap()).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let echo = std::thread::spawn(move || {
            let (mut s, _) = server.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            s.write_all(&[b"echo:".as_slice(), &got].concat()).unwrap();
        });
        // Another test's fork may briefly hold the file open for writing (ETXTBSY): retry.
        let spawn = |cmd: &mut std::process::Command| {
            for _ in 0..50 {
                match cmd.spawn() {
                    Err(e) if e.raw_os_error() == Some(26) => std::thread::sleep(std::time::Duration::from_millis(20)),
                    other => return other.unwrap(),
                }
            }
            panic!("{program:?} stays busy")
        };
        let mut child = spawn(
            std::process::Command::new(&program)
                .args(["127.0.0.1", &port.to_string(), "20"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
        );
        child.stdin.take().unwrap().write_all(b"ping").unwrap(); // dropped: stdin ends
        let out = child.wait_with_output().unwrap();
        echo.join().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(out.stdout, b"echo:ping");
        assert!(String::from_utf8_lossy(&out.stderr).contains("slipway-relay: connected"), "{out:?}");

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let refused = spawn(
            std::process::Command::new(&program)
                .args(["127.0.0.1", &port.to_string()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
        );
        let out = refused.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(out.stdout.is_empty());
        assert!(String::from_utf8_lossy(&out.stderr).contains("refused"), "{out:?}");
    }
}
