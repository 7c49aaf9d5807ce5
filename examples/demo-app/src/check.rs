//! `check URL`: an HTTP GET that exits 0 on a 2xx answer, a health check command for scratch images.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// Runs the check; prints the reason to stderr when it fails.
pub fn check(url: &str, timeout: Duration) -> ExitCode {
    match get_status(url, timeout) {
        Ok(status) if (200..300).contains(&status) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("demo-app check: {url} answered {status}");
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("demo-app check: {url}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Splits `http://host[:port][/path]` into (host, port, path).
fn split_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| format!("bad port {port:?}"))?),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err("no host in the URL".into());
    }
    Ok((host.to_owned(), port, path.to_owned()))
}

fn get_status(url: &str, timeout: Duration) -> Result<u16, String> {
    let (host, port, path) = split_url(url)?;
    let address = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(|e| format!("cannot connect: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nUser-Agent: demo-app-check\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(|e| format!("cannot send: {e}"))?;
    let mut head = [0u8; 32];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(format!("cannot read the answer: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&head[..read]);
    let status = text
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP answer: {text:?}"))?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn urls_split_into_host_port_and_path() {
        assert_eq!(split_url("http://127.0.0.1:8080/health").unwrap(), ("127.0.0.1".into(), 8080, "/health".into()));
        assert_eq!(split_url("http://web").unwrap(), ("web".into(), 80, "/".into()));
        assert!(split_url("https://web/").is_err());
        assert!(split_url("http://:80/").is_err());
    }
}
