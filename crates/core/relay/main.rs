//! slipway-relay: the helper program of the engine room's relay (engine/relay.rs), run in a small
//! container on the target engine's host so that probes of container addresses run from there
//! when the engine is reached over tcp:// or TLS (no ssh tunnel). std only, built by
//! crates/core/build.rs as a static binary and imported into the engine as `slipway-relay:<hash>`.
//!
//! - `slipway-relay HOST PORT [MAX_SECS]`: connect over TCP, copy stdin -> socket and
//!   socket -> stdout. A failed connect exits 1 at once (stdout closes with nothing written, so a
//!   refused port reads as refused); stdin's end half-closes the socket; the socket's end exits.
//!   The whole connection lasts at most MAX_SECS (default 120). Once connected it says
//!   `slipway-relay: connected` on stderr (how a `tcp://` probe tells accepted from refused).
//! - `slipway-relay idle [SECS]`: the container's main process; exits once no other process has
//!   run in the container for SECS (default 600), so a left-over helper ends by itself.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs = |i: usize, default: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("idle") => idle(Duration::from_secs(secs(1, 600))),
        Some(host) if args.len() >= 2 => relay(host, &args[1], Duration::from_secs(secs(2, 120))),
        _ => {
            eprintln!("usage: slipway-relay HOST PORT [MAX_SECS] | slipway-relay idle [SECS]");
            std::process::exit(2)
        }
    }
}

fn relay(host: &str, port: &str, max: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(max);
        std::process::exit(3)
    });
    let connect = || -> std::io::Result<TcpStream> {
        let port: u16 = port.parse().map_err(|_| std::io::Error::other("bad port"))?;
        let mut last = std::io::Error::other("no address");
        for addr in (host, port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    };
    let socket = match connect() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("slipway-relay: {host}:{port}: {e}");
            std::process::exit(1)
        }
    };
    eprintln!("slipway-relay: connected");
    let Ok(mut to_socket) = socket.try_clone() else { std::process::exit(1) };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to_socket);
        let _ = to_socket.shutdown(Shutdown::Write);
    });
    let mut from_socket = socket;
    let mut out = std::io::stdout().lock();
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n @ 1..) = from_socket.read(&mut buf) {
        if out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    std::process::exit(0)
}

fn idle(bound: Duration) {
    let me = std::process::id().to_string();
    let mut last_busy = Instant::now();
    while last_busy.elapsed() < bound {
        std::thread::sleep(Duration::from_secs(1));
        let others = std::fs::read_dir("/proc").map(|d| {
            d.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.bytes().all(|b| b.is_ascii_digit()) && name != me.as_str()
            })
        });
        if others.unwrap_or(true) {
            last_busy = Instant::now();
        }
    }
}
