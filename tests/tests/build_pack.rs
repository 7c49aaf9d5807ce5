//! Packed images from this machine's own binaries (`pack`): PostgreSQL and Redis run in the
//! engine without pulling anything, and answer their protocols over a published port.

use std::time::Duration;

use slipway::build::oci::{Base, FileMapping, ImageConfig, LayerSpec, OciOutput, Platform, PlatformImage};
use slipway::build::pack::{minimal_users, Pack};
use slipway::build::{Builder, OciBuild};
use slipway::events::NoopObserver;
use slipway::ImageRef;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::containers::TestContainer;
use slipway_e2e::{docker, names};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PG: &str = "/usr/lib/postgresql/15";

async fn load(build: OciBuild, cleanup: &Cleanup) -> String {
    let docker = docker::connect().await.unwrap();
    let tag = ImageRef::parse(&format!("{}:packed", names::unique("builder"))).unwrap();
    cleanup.image(tag.to_string());
    build.output(OciOutput::Engine { docker, tag: tag.clone() }).build(&NoopObserver).await.unwrap();
    tag.to_string()
}

/// Connect and exchange one request; `None` until the server answers.
async fn exchange(port: u16, request: &[u8], min_len: usize) -> Option<Vec<u8>> {
    let mut s =
        tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(("127.0.0.1", port))).await.ok()?.ok()?;
    s.write_all(request).await.ok()?;
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await.ok()?.ok()?;
    (n >= min_len).then(|| buf[..n].to_vec())
}

#[tokio::test]
async fn packed_redis_starts_and_answers_ping() {
    let pack = Pack::new().program("/usr/bin/redis-server");
    let mut config = ImageConfig::default();
    config.entrypoint = Some(
        ["/usr/bin/redis-server", "--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""]
            .map(String::from)
            .to_vec(),
    );
    let image = PlatformImage::new(Platform::linux_amd64(), Base::Scratch).layer(pack.layer().unwrap()).config(config);
    let cleanup = Cleanup::new();
    let tag = load(OciBuild::new().image(image), &cleanup).await;
    let docker = docker::connect().await.unwrap();
    let running =
        TestContainer::new(tag, names::unique("builder")).publish(6379).start(&docker, &cleanup).await.unwrap();
    let port = running.host_port(6379).unwrap();
    let reply = slipway::wait::wait_until("redis answers", Duration::from_secs(20), Duration::from_millis(200), || {
        exchange(port, b"PING\r\n", 7)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&reply[..7], b"+PONG\r\n");
}

#[tokio::test]
async fn packed_postgres_initialises_starts_and_answers() {
    let pack = Pack::new()
        .program(format!("{PG}/bin/postgres"))
        .program(format!("{PG}/bin/initdb"))
        .data(format!("{PG}/lib/plpgsql.so"))
        .data(format!("{PG}/lib/dict_snowball.so"))
        .data("/usr/share/postgresql/15")
        .data("/usr/share/zoneinfo/UTC")
        .data("/usr/share/zoneinfo/Etc/UTC");
    let mut files = minimal_users("postgres", 999, 999);
    files.push(FileMapping::path("/bin/busybox", "/bin/busybox"));
    files.push(FileMapping::symlink("busybox", "/bin/sh"));
    files.push(FileMapping::directory("/tmp").mode(0o1777));
    files.push(FileMapping::directory("/var/lib/postgresql").mode(0o700).owner(999, 999));
    let script = format!(
        "{PG}/bin/initdb -D /var/lib/postgresql/data -U postgres --auth=trust -E UTF8 --locale=C >/tmp/initdb.log 2>&1 \
         || {{ cat /tmp/initdb.log; exit 1; }}; echo \"host all all all trust\" >> /var/lib/postgresql/data/pg_hba.conf; exec {PG}/bin/postgres -D /var/lib/postgresql/data -k /tmp -c listen_addresses='*'"
    );
    let mut config = ImageConfig::default();
    config.entrypoint = Some(vec!["/bin/sh".into(), "-c".into(), script]);
    config.user = Some("postgres".into());
    config.env.insert("TZ".into(), "UTC".into());
    config.env.insert("LANG".into(), "C".into());
    let image = PlatformImage::new(Platform::linux_amd64(), Base::Scratch)
        .layer(pack.layer().unwrap())
        .layer(LayerSpec::new(files).comment("users, shell, data directory"))
        .config(config);
    let cleanup = Cleanup::new();
    let tag = load(OciBuild::new().image(image), &cleanup).await;
    let docker = docker::connect().await.unwrap();
    let running =
        TestContainer::new(tag, names::unique("builder")).publish(5432).start(&docker, &cleanup).await.unwrap();
    let port = running.host_port(5432).unwrap();
    // SSLRequest (length 8, code 80877103): a PostgreSQL server answers 'N' (no TLS) or 'S'.
    let ssl_request = [0u8, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    // A startup message for user postgres (trust auth): AuthenticationOk ('R', int32 0) once the
    // server accepts connections ('E' "starting up" before that).
    let mut body = Vec::new();
    body.extend_from_slice(&196608u32.to_be_bytes());
    body.extend_from_slice(b"user\0postgres\0\0");
    let mut startup = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    startup.extend_from_slice(&body);
    let ready = slipway::wait::wait_until(
        "postgres accepts a session",
        Duration::from_secs(60),
        Duration::from_millis(300),
        || {
            let startup = startup.clone();
            async move {
                let ssl = exchange(port, &ssl_request, 1).await?;
                let auth = exchange(port, &startup, 9).await?;
                (auth[0] == b'R').then_some((ssl, auth))
            }
        },
    )
    .await;
    let logs = running.logs(&docker).await.unwrap_or_default();
    let (ssl, auth) = ready.unwrap_or_else(|e| panic!("{e}\n{logs}"));
    assert_eq!(ssl, b"N", "{logs}");
    assert_eq!(&auth[5..9], &[0, 0, 0, 0], "expected AuthenticationOk");
}
