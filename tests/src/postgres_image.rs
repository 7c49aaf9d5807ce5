//! `postgres_image()`: a PostgreSQL 15 image packed from this machine's own binaries (no pull),
//! whose entrypoint honours `POSTGRES_USER`, `POSTGRES_PASSWORD` and `POSTGRES_DB` as the official
//! image does, and which carries `pg_dump`, `pg_restore` and `psql` (for backup tests) and busybox.
//! Data lives in `/var/lib/postgresql/data` (mount a volume there); sockets in `/var/run/postgresql`.

use anyhow::Context;
use sha2::{Digest as _, Sha256};
use slipway::build::oci::{Base, FileMapping, ImageConfig, LayerSpec, OciOutput, Platform, PlatformImage};
use slipway::build::pack::{minimal_users, Pack};
use slipway::build::{Builder, OciBuild};
use slipway::{ImageRef, NoopObserver};

use crate::fixture_lock;
use crate::images::image_exists;

/// PostgreSQL's installation on this machine (Debian's postgresql-15).
const PG: &str = "/usr/lib/postgresql/15";
/// The repository of the packed image (the tag hashes the entrypoint script).
pub const POSTGRES_REPOSITORY: &str = "slipway-fixture/postgres";

/// The entrypoint: initialise on first start (user, password, database), then run the server.
const ENTRYPOINT: &str = r#"set -e
DATA=/var/lib/postgresql/data
U="${POSTGRES_USER:-postgres}"
D="${POSTGRES_DB:-$U}"
if [ ! -s "$DATA/PG_VERSION" ]; then
  printf '%s\n' "${POSTGRES_PASSWORD:-postgres}" > /tmp/pwfile
  initdb -D "$DATA" -U "$U" --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >/tmp/initdb.log 2>&1 || { cat /tmp/initdb.log; exit 1; }
  rm -f /tmp/pwfile
  echo "host all all all scram-sha-256" >> "$DATA/pg_hba.conf"
  if [ "$D" != "postgres" ]; then echo "CREATE DATABASE \"$D\";" | postgres --single -D "$DATA" postgres >/dev/null; fi
fi
exec postgres -D "$DATA" -k /var/run/postgresql -c listen_addresses='*'
"#;

/// Returns `slipway-fixture/postgres:15-<hash>`, packing and loading it first when the engine lacks it.
pub async fn postgres_image() -> anyhow::Result<String> {
    let hash = hex::encode(Sha256::digest(ENTRYPOINT.as_bytes()));
    let tag = format!("{POSTGRES_REPOSITORY}:15-{}", &hash[..12]);
    let docker = crate::docker::connect().await?;
    if image_exists(&docker, &tag).await? {
        return Ok(tag);
    }
    let _in_process = fixture_lock::IN_PROCESS.lock().await;
    let mut lock = fixture_lock::open(&fixture_lock::path_for("postgres-image"))?;
    let _guard = fixture_lock::acquire(&mut lock).await?;
    if image_exists(&docker, &tag).await? {
        return Ok(tag);
    }
    let mut pack = Pack::new();
    for program in ["postgres", "initdb", "pg_dump", "pg_restore", "psql", "pg_isready"] {
        pack = pack.program(format!("{PG}/bin/{program}"));
    }
    let pack = pack
        .data(format!("{PG}/lib/plpgsql.so"))
        .data(format!("{PG}/lib/dict_snowball.so"))
        .data("/usr/share/postgresql/15")
        .data("/usr/share/zoneinfo/UTC")
        .data("/usr/share/zoneinfo/Etc/UTC");
    let mut files = minimal_users("postgres", 999, 999);
    files.push(FileMapping::path("/bin/busybox", "/bin/busybox"));
    for applet in ["sh", "cat", "rm", "printf", "echo", "ls"] {
        files.push(FileMapping::symlink("busybox", format!("/bin/{applet}")));
    }
    files.push(FileMapping::directory("/tmp").mode(0o1777));
    files.push(FileMapping::directory("/var/lib/postgresql").mode(0o755).owner(999, 999));
    files.push(FileMapping::directory("/var/lib/postgresql/data").mode(0o700).owner(999, 999));
    files.push(FileMapping::directory("/var/run/postgresql").mode(0o2775).owner(999, 999));
    let mut config = ImageConfig::default();
    config.entrypoint = Some(vec!["/bin/sh".into(), "-c".into(), ENTRYPOINT.into()]);
    config.user = Some("postgres".into());
    config.env.insert("PATH".into(), format!("{PG}/bin:/bin"));
    config.env.insert("TZ".into(), "UTC".into());
    config.env.insert("LANG".into(), "C".into());
    let image = PlatformImage::new(Platform::linux_amd64(), Base::Scratch)
        .layer(pack.layer().context("packing PostgreSQL")?)
        .layer(LayerSpec::new(files).comment("users, shell, directories"))
        .config(config);
    let reference = ImageRef::parse(&tag)?;
    OciBuild::new()
        .image(image)
        .output(OciOutput::Engine { docker, tag: reference })
        .build(&NoopObserver)
        .await
        .with_context(|| format!("building {tag}"))?;
    Ok(tag)
}
