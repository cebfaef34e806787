//! A minimal HTTP/1.1 client for the benchmarks' peer, llama.cpp's `llama-server` on
//! localhost: one request per connection (`Connection: close`), JSON bodies, and server-sent
//! events read as they arrive, so that a stream can be dropped mid-way (llama-server then stops
//! generating, as Splice stops a request the client no longer needs). Not a general client:
//! no TLS, no redirects, no proxies.

use serde_json::Value;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How a stream of events ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The server ended it.
    Finished,
    /// The caller had what it needed and closed the connection.
    Dropped,
}

/// `GET path`; returns the status code. Every read and write waits at most `timeout`.
pub fn get(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<u16> {
    let mut stream = connect(addr, timeout)?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut reader = BufReader::new(stream);
    Ok(read_head(&mut reader)?.status)
}

/// `GET path`; returns the body as text (`/metrics`). A status other than 200 is an error
/// carrying the body.
pub fn get_text(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<String> {
    let mut stream = connect(addr, timeout)?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut reader = BufReader::new(stream);
    let head = read_head(&mut reader)?;
    let mut text = String::new();
    Body::new(reader, &head).read_to_string(&mut text)?;
    if head.status != 200 {
        return Err(io::Error::other(format!("HTTP {}: {}", head.status, text.trim())));
    }
    Ok(text)
}

/// `POST path` with a JSON body; returns the JSON answer. A status other than 200 is an error
/// carrying the body.
pub fn post_json(addr: SocketAddr, path: &str, body: &Value, timeout: Duration) -> io::Result<Value> {
    let mut reader = send_post(addr, path, body, timeout, "application/json")?;
    let head = read_head(&mut reader)?;
    let mut text = String::new();
    Body::new(reader, &head).read_to_string(&mut text)?;
    if head.status != 200 {
        return Err(io::Error::other(format!("HTTP {}: {}", head.status, text.trim())));
    }
    serde_json::from_str(&text).map_err(io::Error::other)
}

/// `POST path` with a JSON body whose answer is a stream of server-sent events; calls `on_event`
/// with each `data:` JSON as it arrives until it returns `false` (the connection is closed then)
/// or the stream ends. A status other than 200 is an error carrying the body.
pub fn post_events(
    addr: SocketAddr,
    path: &str,
    body: &Value,
    timeout: Duration,
    mut on_event: impl FnMut(&Value) -> bool,
) -> io::Result<Ended> {
    let mut reader = send_post(addr, path, body, timeout, "text/event-stream")?;
    let head = read_head(&mut reader)?;
    let mut body = BufReader::new(Body::new(reader, &head));
    if head.status != 200 {
        let mut text = String::new();
        body.take(4096).read_to_string(&mut text)?;
        return Err(io::Error::other(format!("HTTP {}: {}", head.status, text.trim())));
    }
    let mut line = String::new();
    loop {
        line.clear();
        if body.read_line(&mut line)? == 0 {
            return Ok(Ended::Finished);
        }
        let Some(data) = line.trim_end().strip_prefix("data:") else { continue };
        let data = data.trim_start();
        if data == "[DONE]" {
            return Ok(Ended::Finished);
        }
        let event: Value = serde_json::from_str(data).map_err(io::Error::other)?;
        if !on_event(&event) {
            return Ok(Ended::Dropped);
        }
    }
}

/// Connects and writes a `POST` of `body`; returns the connection, ready to read the answer.
fn send_post(
    addr: SocketAddr,
    path: &str,
    body: &Value,
    timeout: Duration,
    accept: &str,
) -> io::Result<BufReader<TcpStream>> {
    let mut stream = connect(addr, timeout)?;
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: {accept}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(BufReader::new(stream))
}

fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The status line and the headers that say how the body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    chunked: bool,
    length: Option<u64>,
}

fn read_head(reader: &mut impl BufRead) -> io::Result<Head> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("not an HTTP status line: {:?}", line.trim_end())))?;
    let mut head = Head { status, chunked: false, length: None };
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            return Ok(head);
        }
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            head.chunked = true;
        } else if name == "content-length" {
            head.length = value.parse().ok();
        }
    }
}

/// A response body: chunked, of a known length, or up to the end of the connection.
enum Body<R> {
    Chunked { inner: R, left: u64, done: bool },
    Sized(io::Take<R>),
    ToEnd(R),
}

impl<R: BufRead> Body<R> {
    fn new(inner: R, head: &Head) -> Body<R> {
        match (head.chunked, head.length) {
            (true, _) => Body::Chunked { inner, left: 0, done: false },
            (false, Some(length)) => Body::Sized(inner.take(length)),
            (false, None) => Body::ToEnd(inner),
        }
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Sized(inner) => inner.read(buf),
            Body::ToEnd(inner) => inner.read(buf),
            Body::Chunked { inner, left, done } => {
                if *done || buf.is_empty() {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut size = String::new();
                    inner.read_line(&mut size)?;
                    let hex = size.trim().split(';').next().unwrap_or("");
                    *left = u64::from_str_radix(hex, 16)
                        .map_err(|_| io::Error::other(format!("bad chunk size {:?}", size.trim())))?;
                    if *left == 0 {
                        *done = true;
                        return Ok(0);
                    }
                }
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = inner.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n as u64;
                if *left == 0 {
                    let mut crlf = String::new();
                    inner.read_line(&mut crlf)?;
                }
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn chunked_bodies_are_joined() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ndata:\r\n3;x=1\r\n {}\r\n0\r\n\r\n";
        let mut reader = Cursor::new(wire.to_vec());
        let head = read_head(&mut reader).unwrap();
        assert_eq!(head, Head { status: 200, chunked: true, length: None });
        let mut text = String::new();
        Body::new(reader, &head).read_to_string(&mut text).unwrap();
        assert_eq!(text, "data: {}");
    }

    #[test]
    fn sized_bodies_stop_at_their_length() {
        let wire = b"HTTP/1.1 501 Not Implemented\r\ncontent-length: 4\r\n\r\nnopeEXTRA";
        let mut reader = Cursor::new(wire.to_vec());
        let head = read_head(&mut reader).unwrap();
        assert_eq!(head.status, 501);
        let mut text = String::new();
        Body::new(reader, &head).read_to_string(&mut text).unwrap();
        assert_eq!(text, "nope");
    }
}
