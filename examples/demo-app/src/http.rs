//! A minimal HTTP/1.x request reader and response writer (enough for health checks, proxies and
//! load generators: keep-alive, pipelining, Content-Length bodies).

use std::io::{self, BufRead, Read, Write};

/// Largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted (it is read and discarded).
const MAX_BODY: u64 = 1024 * 1024;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The query string without `?` (empty when none).
    pub query: String,
    /// Whether the client wants the connection kept open after the response.
    pub keep_alive: bool,
}

impl Request {
    /// The value of query parameter `name`, if present.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection before a request started.
    Closed,
    /// The request is malformed or too large (answer 400 and close).
    Bad(&'static str),
    /// The socket failed or timed out (the connection is closed without an answer).
    Io,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// Reads one request head and discards its body.
pub fn read_request(reader: &mut impl BufRead) -> Result<Request, ReadError> {
    let mut head_len = 0;
    let mut line = String::new();
    // Tolerate empty lines before a request (RFC 9112 section 2.2).
    loop {
        line.clear();
        let n = reader.by_ref().take((MAX_HEAD - head_len) as u64).read_line(&mut line)?;
        if n == 0 {
            return Err(if head_len == 0 { ReadError::Closed } else { ReadError::Bad("truncated request") });
        }
        head_len += n;
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ReadError::Bad("malformed request line"));
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(ReadError::Bad("unsupported HTTP version")),
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request =
        Request { method: method.to_owned(), path: path.to_owned(), query: query.to_owned(), keep_alive: http11 };
    let mut content_length: u64 = 0;
    loop {
        line.clear();
        if head_len >= MAX_HEAD {
            return Err(ReadError::Bad("request head too large"));
        }
        let n = reader.by_ref().take((MAX_HEAD - head_len) as u64).read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            return Err(ReadError::Bad("truncated request head"));
        }
        head_len += n;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(ReadError::Bad("malformed header"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().map_err(|_| ReadError::Bad("bad Content-Length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ReadError::Bad("chunked request bodies are not supported"));
        } else if name.eq_ignore_ascii_case("connection") {
            let tokens = value.split(',').map(str::trim);
            for token in tokens {
                if token.eq_ignore_ascii_case("close") {
                    request.keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    request.keep_alive = true;
                }
            }
        }
    }
    if content_length > MAX_BODY {
        return Err(ReadError::Bad("request body too large"));
    }
    let skipped = io::copy(&mut reader.by_ref().take(content_length), &mut io::sink())?;
    if skipped != content_length {
        return Err(ReadError::Bad("truncated request body"));
    }
    Ok(request)
}

/// A response to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Plain-text body.
    pub body: String,
}

impl Response {
    /// A response with `status` and `body`.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self { status, body: body.into() }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes `response` (without body for `HEAD`), with `Connection: keep-alive` or `close`.
pub fn write_response(
    writer: &mut impl Write,
    response: &Response,
    version: &str,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: {connection}\r\nX-Demo-Version: {version}\r\n\r\n",
        response.status,
        reason(response.status),
        response.body.len(),
    );
    if !head_only {
        out.push_str(&response.body);
    }
    writer.write_all(out.as_bytes())?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Request, ReadError> {
        read_request(&mut io::BufReader::new(raw.as_bytes()))
    }

    #[test]
    fn http11_keeps_alive_unless_closed() {
        let r = parse("GET /slow?ms=20&x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!((r.path.as_str(), r.keep_alive), ("/slow", true));
        assert_eq!(r.query_param("ms"), Some("20"));
        assert_eq!(r.query_param("y"), None);
        assert!(!parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap().keep_alive);
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap().keep_alive);
    }

    #[test]
    fn pipelined_requests_and_bodies_are_read_one_by_one() {
        let raw = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n";
        let mut reader = io::BufReader::new(raw.as_bytes());
        assert_eq!(read_request(&mut reader).unwrap().path, "/a");
        assert_eq!(read_request(&mut reader).unwrap().path, "/b");
        assert!(matches!(read_request(&mut reader), Err(ReadError::Closed)));
    }

    #[test]
    fn malformed_requests_are_refused() {
        assert!(matches!(parse("GARBAGE\r\n\r\n"), Err(ReadError::Bad(_))));
        assert!(matches!(parse("GET / HTTP/2\r\n\r\n"), Err(ReadError::Bad(_))));
        assert!(matches!(parse("GET / HTTP/1.1\r\nHost"), Err(ReadError::Bad(_))));
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(parse(&huge), Err(ReadError::Bad(_))));
    }

    #[test]
    fn responses_carry_length_connection_and_version() {
        let mut out = Vec::new();
        write_response(&mut out, &Response::new(503, "failing"), "v1", false, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{text}");
        assert!(text.contains("Content-Length: 7\r\n") && text.contains("Connection: close\r\n"), "{text}");
        assert!(text.ends_with("X-Demo-Version: v1\r\n\r\nfailing"), "{text}");
    }
}
