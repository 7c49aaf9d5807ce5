//! `serve`: the HTTP server, one thread per connection, with a graceful drain on SIGTERM.
//!
//! On SIGTERM/SIGINT the listener is closed (new connections are refused), requests in flight are
//! finished and answered with `Connection: close`, idle keep-alive connections are closed, and the
//! process exits 0 once no connection is left (or after `DRAIN_TIMEOUT_MS`).

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::http::{read_request, write_response, ReadError, Request, Response};
use crate::settings::Settings;
use crate::store::Store;

/// How often an idle connection checks for shutdown.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How long an idle keep-alive connection is kept open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long a started request may take to arrive completely.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound of `/slow?ms=N`.
const MAX_SLOW_MS: u64 = 600_000;

/// What every connection thread shares.
struct Shared {
    settings: Settings,
    started: Instant,
    hostname: String,
    shutdown: AtomicBool,
    connections: AtomicUsize,
    store: Store,
}

/// Runs the server until SIGTERM/SIGINT; returns the process exit code.
pub fn serve(settings: &Settings) -> ExitCode {
    let shared = Arc::new(Shared {
        settings: settings.clone(),
        started: Instant::now(),
        hostname: hostname(),
        shutdown: AtomicBool::new(false),
        connections: AtomicUsize::new(0),
        store: Store::new(settings.database_url.clone(), settings.redis_url.clone()),
    });
    let mut signals =
        match signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT]) {
            Ok(signals) => signals,
            Err(e) => {
                eprintln!("demo-app: cannot handle signals: {e}");
                return ExitCode::FAILURE;
            }
        };
    std::thread::sleep(settings.startup_delay);
    let address = format!("{}:{}", settings.bind_addr, settings.port);
    let listener = match TcpListener::bind(&address) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("demo-app: cannot listen on {address}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let wake_address = match listener.local_addr() {
        Ok(local) if local.ip().is_unspecified() => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port()),
        Ok(local) => local,
        Err(e) => {
            eprintln!("demo-app: cannot read the listening address: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("demo-app serving version={} on {address}", settings.version);
    {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                println!("demo-app draining after signal {signal}");
                shared.shutdown.store(true, Ordering::SeqCst);
                // Wake the blocking accept so that the listener closes now.
                let _ = TcpStream::connect_timeout(&wake_address, Duration::from_secs(1));
            }
        });
    }
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            handle_connection(stream, &shared);
            shared.connections.fetch_sub(1, Ordering::SeqCst);
        });
    }
    drop(listener);
    let deadline = Instant::now() + settings.drain_timeout;
    while shared.connections.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left = shared.connections.load(Ordering::SeqCst);
    println!("demo-app stopped version={} connections_left={left}", settings.version);
    ExitCode::SUCCESS
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .unwrap_or_default()
}

/// Serves requests on one connection until it closes, the client asks to close, or shutdown.
fn handle_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        if !wait_for_request(&mut reader, &writer, shared) {
            return;
        }
        if writer.set_read_timeout(Some(REQUEST_TIMEOUT)).is_err() {
            return;
        }
        let request = match read_request(&mut reader) {
            Ok(request) => request,
            Err(ReadError::Bad(why)) => {
                let _ = write_response(&mut writer, &Response::new(400, why), &shared.settings.version, false, false);
                return;
            }
            Err(ReadError::Closed | ReadError::Io) => return,
        };
        let response = route(&request, shared);
        let keep_alive = request.keep_alive && !shared.shutdown.load(Ordering::SeqCst);
        let head_only = request.method == "HEAD";
        if write_response(&mut writer, &response, &shared.settings.version, keep_alive, head_only).is_err()
            || !keep_alive
        {
            return;
        }
    }
}

/// Waits until the next request's first byte arrives; false when the connection should close
/// instead (peer closed, idle too long, or shutdown while idle).
fn wait_for_request(reader: &mut BufReader<TcpStream>, socket: &TcpStream, shared: &Shared) -> bool {
    if !reader.buffer().is_empty() {
        return true;
    }
    if socket.set_read_timeout(Some(IDLE_POLL)).is_err() {
        return false;
    }
    let idle_since = Instant::now();
    loop {
        match reader.fill_buf() {
            Ok(buffer) => return !buffer.is_empty(),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if shared.shutdown.load(Ordering::SeqCst) || idle_since.elapsed() > IDLE_TIMEOUT {
                    return false;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn route(request: &Request, shared: &Shared) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        return Response::new(405, "only GET and HEAD\n");
    }
    let settings = &shared.settings;
    let failing =
        settings.fail_health || settings.fail_health_after.is_some_and(|after| shared.started.elapsed() >= after);
    match request.path.as_str() {
        "/health" if failing => Response::new(503, "failing"),
        "/health" => match shared.store.check() {
            Ok(()) => Response::new(200, "ok"),
            Err(e) => Response::new(503, format!("{e}\n")),
        },
        "/version" => Response::new(200, settings.version.clone()),
        "/slow" => {
            let ms = request.query_param("ms").and_then(|ms| ms.parse::<u64>().ok()).unwrap_or(1000);
            let ms = ms.min(MAX_SLOW_MS);
            std::thread::sleep(Duration::from_millis(ms));
            Response::new(200, format!("slept {ms} ms version={}\n", settings.version))
        }
        "/" if shared.store.is_configured() => match shared.store.visit(&settings.version, &shared.hostname) {
            Ok(v) => Response::new(
                200,
                format!(
                    "demo-app version={} host={}\nvisits={} (redis) rows={} processed={} (postgres)\n",
                    settings.version, shared.hostname, v.visits, v.rows, v.processed
                ),
            ),
            Err(e) => Response::new(503, format!("{e}\n")),
        },
        "/" => Response::new(200, format!("demo-app version={} host={}\n", settings.version, shared.hostname)),
        _ => Response::new(404, "not found\n"),
    }
}
