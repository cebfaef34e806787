//! The HTTP side of the remote engine: JSON requests for probing, and one streamed completion
//! that stops the moment its request is cancelled or its reader has seen enough, by closing
//! the connection (llama-server and vLLM abort a generation whose client went away).

use super::sse::{SseDecoder, SseError};
use super::wire::{self, EngineProtocol, StreamEvent};
use super::RemoteEndpoint;
use serde_json::Value;
use std::time::Duration;

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

/// An HTTP client bound to one engine; clones share its connections.
#[derive(Clone)]
pub(crate) struct EngineClient {
    http: reqwest::Client,
    /// The base URL, without a trailing `/` or `/v1`.
    base: String,
    api_key: Option<String>,
}

impl EngineClient {
    /// A client for `endpoint`; fails only if the URL or the TLS set-up is unusable.
    pub(crate) fn new(endpoint: &RemoteEndpoint) -> Result<Self, String> {
        let base = base_url(&endpoint.url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .build()
            .map_err(|err| describe(&err))?;
        Ok(EngineClient { http, base, api_key: endpoint.api_key.clone() })
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    /// `GET path` as JSON.
    pub(crate) async fn get_json(&self, path: &str) -> Result<Value, Fault> {
        self.json(self.request(reqwest::Method::GET, path)).await
    }

    /// `POST path` with a JSON body, answered as JSON.
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Result<Value, Fault> {
        self.json(self.request(reqwest::Method::POST, path).json(body)).await
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> Result<Value, Fault> {
        let response = request.timeout(PROBE_TIMEOUT).send().await.map_err(|err| Fault::Unreachable(describe(&err)))?;
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
        let mut post = self.request(reqwest::Method::POST, protocol.completion_path()).json(body);
        if protocol == EngineProtocol::LlamaServer {
            // llama-server closes the connection after every stream, without saying so: a pooled
            // connection would fail the next request ("connection closed before message
            // completed") when the engine's close arrives after it was sent.
            post = post.header(reqwest::header::CONNECTION, "close");
        }
        let send = post.send();
        let response = match until_cancelled(stop_now, send).await? {
            Ok(response) => response,
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
                    return Ok(StreamEnd::Finished);
                }
                let last = event.stop.is_some() && protocol == EngineProtocol::LlamaServer;
                if on_event(event) == Flow::Stop {
                    // Dropping the response closes the connection: the engine stops generating.
                    return Ok(StreamEnd::Stopped);
                }
                finished |= last;
            }
            if finished {
                return Ok(StreamEnd::Finished);
            }
        }
        if decoder.is_mid_event() || (protocol == EngineProtocol::LlamaServer && !finished) {
            return Err(Fault::Malformed("ended the stream before its last event (truncated)".to_owned()));
        }
        Ok(StreamEnd::Finished)
    }
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
        let endpoint =
            RemoteEndpoint { url: format!("http://127.0.0.1:{port}"), protocol: None, model: None, api_key: None };
        let client = EngineClient::new(&endpoint).expect("a client");
        // As the remote thread's: a worker of its own runs the connection's task, which closes it.
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
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
