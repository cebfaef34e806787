//! The HTTP side of the remote engine: JSON requests for probing, and one streamed completion
//! that stops the moment its request is cancelled or its reader has seen enough, by closing
//! the connection (llama-server and vLLM abort a generation whose client went away).
//!
//! Connections are kept alive between requests (an engine behind an HTTPS proxy would
//! otherwise cost a TLS handshake per request, and per step on llama-server). An engine may
//! close a kept connection just as a request goes out on it: llama-server closes one after
//! every stream, without saying so, and vLLM's server after a few idle seconds. Such a request
//! was never read, so it is sent once more on a new connection; and once an engine is seen
//! closing right after a stream, its streams each get a connection of their own
//! (`Connection: close`), so the next step does not try the closed one first.

use super::sse::{SseDecoder, SseError};
use super::wire::{self, EngineProtocol, StreamEvent};
use super::RemoteEndpoint;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long connecting may take before the engine counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a probe or another small JSON request may take in all.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest silence within a streamed completion (headers included) before it counts as
/// stalled: a shared engine may queue a request behind others' for a while.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a waiting request asks whether it is still wanted.
const CANCEL_POLL: Duration = Duration::from_millis(5);
/// The most of an error body kept for its message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// How long a finished stream waits for the end of its body (the chunked encoding's last,
/// empty chunk, which follows the last event at once), so that its connection can be kept.
const BODY_END_GRACE: Duration = Duration::from_millis(20);
/// A kept connection found closed this soon after a stream ended was closed by the engine
/// because of that stream (llama-server), not for being idle.
const CLOSED_AFTER_STREAM_WINDOW: Duration = Duration::from_secs(1);

/// Why talking to the engine failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The request was cancelled; the connection was closed.
    Cancelled,
    /// No answer: connection refused, DNS, TLS, a timeout, or the connection broke.
    Unreachable(String),
    /// An HTTP error status, with the engine's message.
    Status(u16, String),
    /// The engine answered something that is not its protocol.
    Malformed(String),
}

impl Fault {
    /// Whether the engine as a whole is unusable (down, misaddressed, unauthorized), as opposed
    /// to one request it refused (a prompt over its context, say).
    pub(crate) fn is_outage(&self) -> bool {
        match self {
            Fault::Cancelled => false,
            Fault::Unreachable(_) | Fault::Malformed(_) => true,
            Fault::Status(code, _) => *code >= 500 || matches!(code, 401 | 403 | 404 | 405 | 408 | 429),
        }
    }

    /// The fault in the user's words.
    pub(crate) fn describe(&self, url: &str) -> String {
        match self {
            Fault::Cancelled => "cancelled".to_owned(),
            Fault::Unreachable(why) => format!("cannot reach the engine at {url}: {why}"),
            Fault::Status(401 | 403, message) => {
                format!("the engine at {url} refused the API key ({message}); set SPLICE_ENGINE_API_KEY or the editor's engineApiKey")
            }
            Fault::Status(code, message) => format!("the engine at {url} answered HTTP {code}: {message}"),
            Fault::Malformed(why) => format!("the engine at {url} {why}"),
        }
    }
}

/// What ended a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// The engine finished (its last event, or the end of the stream after one).
    Finished,
    /// The reader said stop; the connection was closed.
    Stopped,
}

/// What the reader of a stream wants after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Read on.
    Continue,
    /// Enough: close the connection.
    Stop,
}

/// An HTTP client bound to one engine; clones share its connections and what it learnt.
#[derive(Clone)]
pub(crate) struct EngineClient {
    /// Keeps connections alive between requests.
    http: reqwest::Client,
    /// Opens a connection per request: streams to an engine that closes after each one.
    fresh: reqwest::Client,
    /// Whether the engine was seen closing a connection right after a stream.
    closes_after_stream: Arc<AtomicBool>,
    /// When the last stream that ran to its end ended.
    last_stream_end: Arc<Mutex<Option<Instant>>>,
    /// The base URL, without a trailing `/` or `/v1`.
    base: String,
    api_key: Option<String>,
}

impl EngineClient {
    /// A client for `endpoint`; fails only if the URL or the TLS set-up is unusable.
    pub(crate) fn new(endpoint: &RemoteEndpoint) -> Result<Self, String> {
        let base = base_url(&endpoint.url)?;
        let builder = || reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).tcp_nodelay(true);
        let http = builder().build().map_err(|err| describe(&err))?;
        let fresh = builder().pool_max_idle_per_host(0).build().map_err(|err| describe(&err))?;
        Ok(EngineClient {
            http,
            fresh,
            closes_after_stream: Arc::default(),
            last_stream_end: Arc::default(),
            base,
            api_key: endpoint.api_key.clone(),
        })
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, client: &reqwest::Client, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = client.request(method, format!("{}{path}", self.base));
        match &self.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    /// `GET path` as JSON.
    pub(crate) async fn get_json(&self, path: &str) -> Result<Value, Fault> {
        self.json(|client| self.request(client, reqwest::Method::GET, path)).await
    }

    /// `POST path` with a JSON body, answered as JSON.
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Result<Value, Fault> {
        self.json(|client| self.request(client, reqwest::Method::POST, path).json(body)).await
    }

    async fn json(&self, request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder) -> Result<Value, Fault> {
        let send = |client| request(client).timeout(PROBE_TIMEOUT).send();
        let response = match send(&self.http).await {
            // A kept connection the engine had just closed: the request was never read.
            Err(err) if is_closed_connection(&err) => send(&self.fresh).await,
            sent => sent,
        }
        .map_err(|err| Fault::Unreachable(describe(&err)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_fault(response).await);
        }
        let bytes = response.bytes().await.map_err(|err| Fault::Unreachable(describe(&err)))?;
        serde_json::from_slice(&bytes).map_err(|err| Fault::Malformed(format!("sent JSON that does not parse: {err}")))
    }

    /// Posts a streamed completion and hands each event to `on_event` until the engine
    /// finishes, `on_event` says stop, or `stop_now` (asked every [`CANCEL_POLL`] while
    /// waiting for the engine) says the request is no longer wanted; the last two close the
    /// connection.
    pub(crate) async fn stream(
        &self,
        protocol: EngineProtocol,
        body: &Value,
        stop_now: &dyn Fn() -> bool,
        mut on_event: impl FnMut(StreamEvent) -> Flow,
    ) -> Result<StreamEnd, Fault> {
        let post = |fresh: bool| {
            match fresh {
                true => self
                    .request(&self.fresh, reqwest::Method::POST, protocol.completion_path())
                    .header(reqwest::header::CONNECTION, "close"),
                false => self.request(&self.http, reqwest::Method::POST, protocol.completion_path()),
            }
            .json(body)
        };
        let fresh = self.closes_after_stream.load(Ordering::Relaxed);
        let response = match until_cancelled(stop_now, post(fresh).send()).await? {
            Ok(response) => response,
            Err(err) if !fresh && is_closed_connection(&err) => {
                // The request went out on a kept connection the engine was closing: it was never
                // read. Right after a stream, that is an engine closing after every stream.
                let after_stream = self
                    .last_stream_end
                    .lock()
                    .is_ok_and(|end| end.is_some_and(|end| end.elapsed() < CLOSED_AFTER_STREAM_WINDOW));
                if after_stream {
                    self.closes_after_stream.store(true, Ordering::Relaxed);
                    tracing::debug!("the engine closes its connection after every stream: one connection per stream");
                }
                match until_cancelled(stop_now, post(true).send()).await? {
                    Ok(response) => response,
                    Err(err) => return Err(Fault::Unreachable(describe(&err))),
                }
            }
            Err(err) => return Err(Fault::Unreachable(describe(&err))),
        };
        if !response.status().is_success() {
            return Err(status_fault(response).await);
        }
        let mut response = response;
        let mut decoder = SseDecoder::default();
        let mut finished = false;
        loop {
            let chunk = match until_cancelled(stop_now, response.chunk()).await? {
                Ok(chunk) => chunk,
                Err(err) => return Err(Fault::Unreachable(format!("the stream broke: {}", describe(&err)))),
            };
            let Some(bytes) = chunk else { break };
            let events = decoder.push(&bytes).map_err(|err| match err {
                SseError::LineTooLong => Fault::Malformed("sent an event line over 1 MiB".to_owned()),
                SseError::NotUtf8 => Fault::Malformed("sent an event that is not UTF-8".to_owned()),
            })?;
            for data in events {
                let event = wire::parse_event(protocol, &data).map_err(Fault::Malformed)?;
                if event.done {
                    finished = true;
                    break;
                }
                let last = event.stop.is_some() && protocol == EngineProtocol::LlamaServer;
                if on_event(event) == Flow::Stop {
                    // Dropping the response closes the connection: the engine stops generating.
                    return Ok(StreamEnd::Stopped);
                }
                finished |= last;
            }
            if finished {
                self.finish_body(response).await;
                return Ok(StreamEnd::Finished);
            }
        }
        if decoder.is_mid_event() || (protocol == EngineProtocol::LlamaServer && !finished) {
            return Err(Fault::Malformed("ended the stream before its last event (truncated)".to_owned()));
        }
        self.saw_stream_end();
        Ok(StreamEnd::Finished)
    }

    /// Reads what is left of a finished stream's body (its end follows the last event at once)
    /// for at most [`BODY_END_GRACE`], so that the connection is kept for the next request;
    /// an engine slower than that only loses it.
    async fn finish_body(&self, mut response: reqwest::Response) {
        let end = async { while let Ok(Some(_)) = response.chunk().await {} };
        let _ = tokio::time::timeout(BODY_END_GRACE, end).await;
        self.saw_stream_end();
    }

    fn saw_stream_end(&self) {
        if let Ok(mut end) = self.last_stream_end.lock() {
            *end = Some(Instant::now());
        }
    }
}

/// Whether `err` is a kept connection that the engine closed as the request went out on it
/// (HTTP/1.1 allows a server to close an idle connection at any time): the request was not
/// read, and another connection may be tried. A refused connection or a timeout is not.
fn is_closed_connection(err: &reqwest::Error) -> bool {
    if err.is_connect() || err.is_timeout() {
        return false;
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() {
                return true;
            }
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
            if matches!(io.kind(), ConnectionReset | BrokenPipe | ConnectionAborted) {
                return true;
            }
        }
        source = cause.source();
    }
    false
}

/// Waits for `future`, or fails with [`Fault::Cancelled`] as soon as `stop_now` says so
/// (dropping `future`, and with it the connection), or as stalled after [`STALL_TIMEOUT`].
async fn until_cancelled<T>(
    stop_now: &dyn Fn() -> bool,
    future: impl std::future::Future<Output = T>,
) -> Result<T, Fault> {
    let cancelled = async {
        while !stop_now() {
            tokio::time::sleep(CANCEL_POLL).await;
        }
    };
    tokio::select! {
        value = future => Ok(value),
        () = cancelled => Err(Fault::Cancelled),
        () = tokio::time::sleep(STALL_TIMEOUT) => {
            Err(Fault::Unreachable(format!("no answer for {} s", STALL_TIMEOUT.as_secs())))
        }
    }
}

/// The fault of a response with an error status, with the engine's message from its body.
async fn status_fault(response: reqwest::Response) -> Fault {
    let code = response.status().as_u16();
    let reason = response.status().canonical_reason().unwrap_or("error").to_owned();
    let body = match response.bytes().await {
        Ok(bytes) => bytes.slice(..bytes.len().min(MAX_ERROR_BODY)),
        Err(_) => return Fault::Status(code, reason),
    };
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| {
            value.get("error").map(wire::error_message).or_else(|| value.get("detail").map(Value::to_string))
        })
        .or_else(|| {
            let text = String::from_utf8_lossy(&body).trim().chars().take(200).collect::<String>();
            (!text.is_empty()).then_some(text)
        })
        .unwrap_or(reason);
    Fault::Status(code, message)
}

/// The base URL of `url`: scheme and host required, a trailing `/` or `/v1` dropped.
fn base_url(url: &str) -> Result<String, String> {
    let parsed =
        reqwest::Url::parse(url.trim()).map_err(|err| format!("the engine URL {url:?} is not a URL: {err}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("the engine URL {url:?} must be http:// or https:// with a host"));
    }
    let mut base = parsed.as_str().trim_end_matches('/').to_owned();
    if base.ends_with("/v1") {
        base.truncate(base.len() - 3);
    }
    Ok(base)
}

/// A reqwest error with its causes, which say what actually failed (refused, DNS, TLS).
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() { "timed out".to_owned() } else { err.to_string() };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_trailing_slashes_and_v1_and_bad_ones_are_refused() {
        assert_eq!(base_url("http://127.0.0.1:8080/").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(base_url("https://gpu.example/v1").unwrap(), "https://gpu.example");
        assert_eq!(base_url("http://h/api/v1/").unwrap(), "http://h/api");
        assert!(base_url("127.0.0.1:8080").is_err());
        assert!(base_url("ftp://h").is_err());
        assert!(base_url("").is_err());
    }

    /// An engine that answers one streamed event and then stays silent, as a slow engine does
    /// between two tokens; says on `closed` when the client closed the connection.
    fn engine_silent_after_one_event(closed: std::sync::mpsc::Sender<()>) -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        std::thread::spawn(move || {
            let Ok((mut connection, _)) = listener.accept() else { return };
            let mut request = [0u8; 4096];
            let _ = connection.read(&mut request);
            let event = "data: {\"content\":\"x\",\"stop\":false}\n\n";
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
            let _ = connection.write_all(format!("{head}{:x}\r\n{event}\r\n", event.len()).as_bytes());
            // Whatever is left of the request, then the end of the connection.
            while connection.read(&mut request).is_ok_and(|n| n > 0) {}
            let _ = closed.send(());
        });
        port
    }

    #[test]
    fn a_stream_no_longer_wanted_is_closed_while_the_engine_is_between_events() {
        let (closed_tx, closed) = std::sync::mpsc::channel();
        let port = engine_silent_after_one_event(closed_tx);
        let client = client_for(port);
        let runtime = runtime();
        // The person types past the text so far right after the first event.
        let wanted = std::cell::Cell::new(true);
        let mut events = 0;
        let end = runtime.block_on(client.stream(
            EngineProtocol::LlamaServer,
            &serde_json::json!({}),
            &|| !wanted.get(),
            |_| {
                events += 1;
                wanted.set(false);
                Flow::Continue
            },
        ));
        assert_eq!(end, Err(Fault::Cancelled), "closed without waiting for the engine's next event");
        assert_eq!(events, 1);
        // A guard against a hang, far beyond a poll: the engine sees the connection closed.
        closed.recv_timeout(Duration::from_secs(30)).expect("the engine sees the connection closed");
    }

    /// What a fake engine saw: each request's head (lower-cased), and the connections the
    /// client closed.
    #[derive(Default)]
    struct Seen {
        requests: Mutex<Vec<String>>,
        closed_by_client: std::sync::atomic::AtomicUsize,
    }

    /// Reads one HTTP request (head and `Content-Length` body); `None` at the connection's end.
    fn read_request(connection: &mut std::net::TcpStream) -> Option<String> {
        use std::io::Read;
        let mut bytes = Vec::new();
        let mut byte = [0u8; 1];
        while !bytes.ends_with(b"\r\n\r\n") {
            match connection.read(&mut byte) {
                Ok(1) => bytes.push(byte[0]),
                _ => return None,
            }
        }
        let head = String::from_utf8_lossy(&bytes).to_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        connection.read_exact(&mut body).ok()?;
        Some(head)
    }

    /// A fake engine on a loopback port that answers every request with a one-token
    /// llama-server stream (or, for `GET`, a JSON object) on kept connections, except request
    /// number `unanswered` (counted from 0 over all connections): it closes that one's
    /// connection without a word, as an engine closing a kept connection does when a request
    /// arrives just then. Which connection a request goes out on is the client's pool's
    /// business (hyper may race a new connection against a busy kept one), so nothing here
    /// depends on it.
    fn fake_engine(unanswered: Option<usize>) -> (u16, Arc<Seen>) {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let seen = Arc::new(Seen::default());
        let shared = seen.clone();
        std::thread::spawn(move || {
            for connection in listener.incoming() {
                let Ok(mut connection) = connection else { return };
                let seen = shared.clone();
                std::thread::spawn(move || {
                    while let Some(head) = read_request(&mut connection) {
                        let number = {
                            let mut requests = seen.requests.lock().expect("the log");
                            requests.push(head.clone());
                            requests.len() - 1
                        };
                        if Some(number) == unanswered {
                            return;
                        }
                        let answer = if head.starts_with("get") {
                            let body = "{\"ok\":true}";
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            )
                        } else {
                            let event = "data: {\"content\":\"x\",\"stop\":true,\"stop_type\":\"limit\"}\n\n";
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n0\r\n\r\n",
                                event.len()
                            )
                        };
                        if connection.write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                    seen.closed_by_client.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        (port, seen)
    }

    fn client_for(port: u16) -> EngineClient {
        let endpoint =
            RemoteEndpoint { url: format!("http://127.0.0.1:{port}"), protocol: None, model: None, api_key: None };
        EngineClient::new(&endpoint).expect("a client")
    }

    fn one_stream(runtime: &tokio::runtime::Runtime, client: &EngineClient) -> Result<StreamEnd, Fault> {
        let mut texts = String::new();
        let end =
            runtime.block_on(client.stream(EngineProtocol::LlamaServer, &serde_json::json!({}), &|| false, |event| {
                texts.push_str(&event.text);
                Flow::Continue
            }));
        assert!(end.is_err() || texts == "x", "the stream's one token");
        end
    }

    /// As the remote thread's: a worker of its own runs the connections' tasks (which close a
    /// connection whose request was dropped).
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime")
    }

    /// Three streams to a fake engine (see [`fake_engine`]), each finished; the client, its
    /// runtime (which runs its connections) and what the engine saw.
    fn three_streams(unanswered: Option<usize>) -> (EngineClient, tokio::runtime::Runtime, Arc<Seen>) {
        let (port, seen) = fake_engine(unanswered);
        let client = client_for(port);
        let runtime = runtime();
        for _ in 0..3 {
            assert_eq!(one_stream(&runtime, &client), Ok(StreamEnd::Finished), "no stream fails");
        }
        (client, runtime, seen)
    }

    #[test]
    fn streams_keep_their_connections_where_the_engine_keeps_them() {
        let (client, runtime, seen) = three_streams(None);
        let requests = seen.requests.lock().expect("the log").clone();
        assert!(requests.iter().all(|head| !head.contains("connection: close")), "{requests:?}");
        // A closed connection reaches the engine within a moment; a kept one never does while
        // the client lives (the wait bounds the test when the client is wrong, not right).
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(seen.closed_by_client.load(Ordering::SeqCst), 0, "the client closed a connection after a stream");
        drop((client, runtime));
    }

    #[test]
    fn a_stream_closed_unanswered_right_after_another_is_sent_again_and_streams_then_get_their_own_connections() {
        // The second stream's request is closed unread, as llama-server closes a connection after
        // each stream. (The stream before it ended well within `CLOSED_AFTER_STREAM_WINDOW`, a
        // second, unless this thread stalls for that long.)
        let (client, _runtime, seen) = three_streams(Some(1));
        let requests = seen.requests.lock().expect("the log").clone();
        assert_eq!(requests.len(), 4, "the second stream was sent twice: {requests:?}");
        assert!(!requests[0].contains("connection: close") && !requests[1].contains("connection: close"));
        assert!(requests[2].contains("connection: close") && requests[3].contains("connection: close"));
        assert!(client.closes_after_stream.load(Ordering::Relaxed));
    }

    #[test]
    fn a_probe_closed_unanswered_is_sent_again() {
        let (port, seen) = fake_engine(Some(1));
        let client = client_for(port);
        let runtime = runtime();
        for _ in 0..2 {
            let answer = runtime.block_on(client.get_json("/health")).expect("answered");
            assert_eq!(answer, serde_json::json!({"ok": true}));
        }
        assert_eq!(seen.requests.lock().expect("the log").len(), 3, "the second probe was sent twice");
        assert!(!client.closes_after_stream.load(Ordering::Relaxed), "no stream was involved");
    }

    #[test]
    fn outages_are_the_engine_failing_not_one_request_refused() {
        assert!(Fault::Unreachable("refused".into()).is_outage());
        assert!(Fault::Status(503, "loading".into()).is_outage());
        assert!(Fault::Status(401, "bad key".into()).is_outage());
        assert!(!Fault::Status(400, "context exceeded".into()).is_outage());
        assert!(!Fault::Cancelled.is_outage());
        assert!(Fault::Status(401, "x".into()).describe("http://h").contains("SPLICE_ENGINE_API_KEY"));
    }
}
