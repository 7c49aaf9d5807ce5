//! The engine room over `ssh://` against a real second host (`RemoteHost`: dockerd + sshd in their
//! own network namespace): one master connection per command, strict host keys, typed errors
//! (host key, refused key, unreachable port, no `docker` on the remote side); a socket named in
//! the URL forwarded through the master, and an opt-in kept master reused by the next command.

use slipway::engine::{ConnectOptions, Connection, EngineError, TransportError};
use slipway_e2e::remote_host::RemoteHost;

/// Tests here share one sshd log (connections are counted): one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn options(host: &RemoteHost, ssh_config: std::path::PathBuf) -> ConnectOptions {
    ConnectOptions::host(Some(&host.ssh_url())).ssh_config(Some(ssh_config))
}

#[tokio::test]
async fn many_requests_share_one_master_connection_to_the_remote_engine() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let host = RemoteHost::shared().await?;
    let before = host.accepted_connections();
    let connection = Connection::resolve(&options(host, host.ssh_config()))?;
    assert!(connection.is_remote());
    let docker = slipway::engine::connect(&connection).await?;
    let info = docker.info().await?;
    let remote_root = host.docker(&["info", "--format", "{{.DockerRootDir}}"])?;
    assert_eq!(info.docker_root_dir.as_deref(), Some(remote_root.trim()), "the namespaced engine answered");
    // Several requests, in parallel too, and a second client from the same connection.
    let again = slipway::engine::connect(&connection).await?;
    let (a, b, c) = tokio::join!(docker.version(), again.list_containers(None), docker.ping());
    a?;
    b?;
    c?;
    assert_eq!(host.accepted_connections() - before, 1, "one SSH master connection for the whole command");
    Ok(())
}

#[tokio::test]
async fn a_wrong_host_key_is_refused_before_anything_is_asked() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let host = RemoteHost::shared().await?;
    let containers_before = host.docker(&["ps", "-aq"])?;
    let connection = Connection::resolve(&options(host, host.ssh_config_with_wrong_host_key()?))?;
    let err = slipway::engine::connect(&connection).await.expect_err("a mismatched host key must be refused");
    match &err {
        EngineError::Transport(TransportError::HostKeyMismatch { host: h }) => assert!(h.contains(&host.addr())),
        other => panic!("expected a host-key mismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("ssh-keygen -R"), "says what to do: {err}");
    assert_eq!(host.docker(&["ps", "-aq"])?, containers_before, "nothing changed on the host");
    Ok(())
}

#[tokio::test]
async fn refused_keys_and_unreachable_hosts_are_told_apart() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let host = RemoteHost::shared().await?;
    // A config offering a key the host does not authorise.
    let wrong = host.ssh_config_with_wrong_host_key()?; // creates other_host_key
    let text = std::fs::read_to_string(host.ssh_config())?.replace("/id\n", "/other_host_key\n");
    let bad_key = wrong.with_file_name("ssh_config_bad_key");
    std::fs::write(&bad_key, text)?;
    let err = slipway::engine::connect(&Connection::resolve(&options(host, bad_key))?).await.unwrap_err();
    assert!(matches!(err, EngineError::Transport(TransportError::AuthRefused { .. })), "{err:?}");
    // Nothing listens on port 2 of the host.
    let url = format!("ssh://root@{}:2", host.addr());
    let refused = ConnectOptions::host(Some(&url)).ssh_config(Some(host.ssh_config()));
    let err = slipway::engine::connect(&Connection::resolve(&refused)?).await.unwrap_err();
    assert!(matches!(err, EngineError::Transport(TransportError::Unreachable { .. })), "{err:?}");
    assert!(err.to_string().contains(&host.addr()), "names the host: {err}");
    Ok(())
}

#[tokio::test]
async fn a_remote_side_without_docker_is_told_as_such() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let host = RemoteHost::shared().await?;
    let no_docker = ConnectOptions::host(Some(&host.ssh_url_without_docker())).ssh_config(Some(host.ssh_config()));
    let err = slipway::engine::connect(&Connection::resolve(&no_docker)?).await.unwrap_err();
    assert!(matches!(err, EngineError::Transport(TransportError::DockerMissing { .. })), "{err:?}");
    assert!(err.to_string().contains("install the Docker CLI"), "says what to do: {err}");
    Ok(())
}

#[tokio::test]
async fn a_named_socket_is_forwarded_and_a_kept_master_serves_the_next_command() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let host = RemoteHost::shared().await?;
    let (connections, sessions) = (host.accepted_connections(), host.sessions_started());
    // The URL names the engine's socket: forwarded through the master, no dial-stdio session.
    let url = host.ssh_url_with_socket();
    let kept = ConnectOptions::host(Some(&url))
        .ssh_config(Some(host.ssh_config()))
        .ssh_persist(Some(std::time::Duration::from_secs(30)));
    for _command in 0..2 {
        let connection = Connection::resolve(&kept)?;
        let docker = slipway::engine::connect(&connection).await?;
        let (a, b) = tokio::join!(docker.version(), docker.list_containers(None));
        a?;
        b?;
    }
    assert_eq!(host.sessions_started(), sessions, "no remote docker CLI was started");
    assert_eq!(host.accepted_connections() - connections, 1, "the second command reused the kept master");
    // Ended on request: the next command connects again.
    let connection = Connection::resolve(&kept)?;
    slipway::engine::connect(&connection).await?.ping().await?;
    connection.close_ssh_master();
    drop(connection);
    let last = Connection::resolve(&kept)?;
    slipway::engine::connect(&last).await?.ping().await?;
    last.close_ssh_master(); // leave no process behind
    assert_eq!(host.accepted_connections() - connections, 2, "a closed master is not reused");
    Ok(())
}

/// The files in the user's directory of kept masters (`/tmp/slipway-ssh-<uid>`).
fn kept_master_files() -> std::collections::BTreeSet<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or_default();
    std::fs::read_dir(format!("/tmp/slipway-ssh-{uid}"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_cli_keeps_the_master_for_the_next_command_with_ssh_persist() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let host = RemoteHost::shared().await?;
    let slipway = slipway_e2e::cli::slipway_bin();
    let before = kept_master_files();
    let connections = host.accepted_connections();
    let list = |persist: &str| {
        let out = std::process::Command::new(&slipway)
            .args(["backup", "list", "-p", "nothing-here", "--json", "-H", &host.ssh_url(), "--ssh-persist", persist])
            .env("SLIPWAY_SSH_CONFIG", host.ssh_config())
            .env_remove("SLIPWAY_SSH_PERSIST")
            .output()
            .expect("run slipway");
        assert!(out.status.success(), "slipway backup list: {}", String::from_utf8_lossy(&out.stderr));
    };
    list("30s");
    list("30s");
    assert_eq!(host.accepted_connections() - connections, 1, "the second command reused the master");
    // A bad duration is refused by the one duration parser, before anything connects.
    let bad = std::process::Command::new(&slipway)
        .args(["backup", "list", "-H", &host.ssh_url(), "--ssh-persist", "soon"])
        .output()?;
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid duration"));
    // Ending the kept master leaves nothing of it behind (its log goes with it; ssh removes the
    // control socket).
    let kept = ConnectOptions::host(Some(&host.ssh_url()))
        .ssh_config(Some(host.ssh_config()))
        .ssh_persist(Some(std::time::Duration::from_secs(30)));
    let connection = Connection::resolve(&kept)?;
    slipway::engine::connect(&connection).await?.ping().await?;
    assert!(kept_master_files().len() > before.len(), "the kept master's files are in the directory");
    connection.close_ssh_master();
    let left: Vec<_> = kept_master_files().difference(&before).cloned().collect();
    assert!(left.is_empty(), "files of the ended master are left: {left:?}");
    assert_eq!(host.accepted_connections() - connections, 1, "the Rust API found the CLI's master too");
    Ok(())
}
