//! The HTTP(S) probe against real servers on 127.0.0.1: status ranges, body text, a Host header
//! (as used to reach a service through Traefik), redirects not followed, and TLS with OpenSSL's
//! `s_server` behind a throwaway CA: verification on by default, an extra CA, `insecure`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use slipway::health::{parse_target, parse_target_with, target::parse_status_range, Outcome, TargetOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const T: Duration = Duration::from_secs(5);

/// Answers by Host header: `app.local` gets 200 "hello app", anything else 404; `/moved` redirects.
async fn virtual_host_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut len = 0;
                while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => len += n,
                    }
                }
                let req = String::from_utf8_lossy(&buf[..len]).to_ascii_lowercase();
                let (status, body) = if req.starts_with("get /moved") {
                    ("302 Found\r\nLocation: /", "")
                } else if req.contains("\r\nhost: app.local\r\n") {
                    ("200 OK", "hello app")
                } else {
                    ("404 Not Found", "no such site")
                };
                let reply =
                    format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn host_header_status_range_and_body() {
    let port = virtual_host_server().await;
    let url = format!("http://127.0.0.1:{port}/");
    let plain = parse_target(&url).unwrap().probe(T).await;
    assert_eq!(plain.outcome, Outcome::unhealthy("status 404, expected 200-299"), "{plain:?}");
    let with_host = TargetOptions::default().header("Host", "app.local");
    let r = parse_target_with(&url, &with_host).unwrap().probe(T).await;
    assert_eq!(r.outcome, Outcome::Healthy, "{r:?}");
    let r = parse_target_with(&url, &with_host.clone().body_contains("hello")).unwrap().probe(T).await;
    assert_eq!(r.outcome, Outcome::Healthy, "{r:?}");
    let r = parse_target_with(&url, &with_host.body_contains("goodbye")).unwrap().probe(T).await;
    assert!(r.outcome.reason().unwrap().contains("does not contain"), "{r:?}");
    assert_eq!(r.output.as_deref(), Some("hello app"));
    // 404 accepted when the range says so.
    let accept_4xx = TargetOptions::default().status(parse_status_range("4xx").unwrap());
    assert!(parse_target_with(&url, &accept_4xx).unwrap().probe(T).await.outcome.is_healthy());
    // Redirects are reported, not followed.
    let moved = parse_target(&format!("http://127.0.0.1:{port}/moved")).unwrap().probe(T).await;
    assert!(moved.outcome.reason().unwrap().contains("status 302"), "{moved:?}");
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA and a leaf certificate for 127.0.0.1 signed by it, in `dir`.
fn make_pki(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=slipway-t-health CA"]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend(["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"]);
    openssl(dir, &csr);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn tls_is_verified_by_default_with_an_optional_ca() {
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    let port = slipway_e2e::services::free_port().unwrap();
    let _server = Server(
        Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept", &format!("127.0.0.1:{port}")])
            .args(["-cert", "leaf.pem", "-key", "leaf.key"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("https://127.0.0.1:{port}/");
    let tcp = parse_target(&format!("tcp://127.0.0.1:{port}")).unwrap();
    slipway::wait::wait_until("s_server to listen", T, Duration::from_millis(50), || {
        let tcp = tcp.clone();
        async move { tcp.probe(T).await.outcome.is_healthy().then_some(()) }
    })
    .await
    .unwrap();
    let untrusted = parse_target(&url).unwrap().probe(T).await;
    assert!(matches!(untrusted.outcome, Outcome::Unreachable { .. }), "{untrusted:?}");
    assert!(untrusted.outcome.reason().unwrap().to_lowercase().contains("certificate"), "{untrusted:?}");
    let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let trusted = parse_target_with(&url, &TargetOptions::default().ca_pem(ca)).unwrap().probe(T).await;
    assert_eq!(trusted.outcome, Outcome::Healthy, "{trusted:?}");
    let insecure = parse_target_with(&url, &TargetOptions::default().verify_tls(false)).unwrap().probe(T).await;
    assert_eq!(insecure.outcome, Outcome::Healthy, "{insecure:?}");
}
