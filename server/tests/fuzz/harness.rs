//! One fuzz session in process: the real guard, tower-lsp-server and `Backend` (through
//! `splice_server::lsp::serve_session`) over in-memory pipes, and the invariants checked after
//! every batch.
//!
//! Invariants: every request with a valid id gets exactly one response with that id (with the
//! expected error code where the script knows it); every invalid message gets its error with a
//! null id (parse errors from garbage within the bounds the script gives); notifications get
//! nothing; the server's output is always well-framed JSON-RPC; nothing panics; after every
//! batch `splice/status` still answers; the session ends when the script ends it, with the exit
//! code it asked for. Every wait is bounded by [`HANG_GUARD`], a hang guard and never a speed
//! requirement.

use super::script::*;
use serde_json::{json, Value};
use splice_server::config::{Options, Retrieval};
use splice_server::lsp::{serve_session, SessionEnd};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The longest any wait may take before the session counts as hung. Generous: the machine may
/// be busy; this catches hangs, it does not measure speed.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// The hang guard once a hang has been seen: shrinking a hanging script then takes minutes, not
/// hours (a shorter guard can only make the shrunk script less minimal, never pass a failure).
const SHRINKING_HANG_GUARD: Duration = Duration::from_secs(10);

static HANG_SEEN: AtomicBool = AtomicBool::new(false);

/// The hang guard now.
fn hang_guard() -> Duration {
    if HANG_SEEN.load(Ordering::Relaxed) {
        SHRINKING_HANG_GUARD
    } else {
        HANG_GUARD
    }
}

/// A hang failure; later waits use [`SHRINKING_HANG_GUARD`].
fn hang(what: String) -> String {
    HANG_SEEN.store(true, Ordering::Relaxed);
    format!("hang: {what}")
}

/// Where the fuzzed server looks for its model: by default a path that does not exist, so the
/// engine fails at once and every completion answers with that error (fast, no model needed).
/// `SPLICE_FUZZ_MODEL` names a real one, to fuzz the completion path too (much slower).
pub fn options() -> Options {
    let model = std::env::var_os("SPLICE_FUZZ_MODEL").unwrap_or_else(|| "/nonexistent/splice-fuzz/model.gguf".into());
    Options { model: Some(model.into()), retrieval: Some(Retrieval::Never), ..Options::default() }
}

static PANICS: AtomicUsize = AtomicUsize::new(0);
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Counts every panic in the process (tokio contains a panicking task; the fuzzer must not miss
/// it), then reports it as the default hook does.
pub fn count_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            *LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()) = info.to_string();
            report(info);
        }));
    });
}

/// Runs one script to its end; returns how many messages were sent.
pub async fn run(script: &Script) -> Result<u64, String> {
    without_panics(Session::start(options()).play(script)).await
}

/// Runs `work`, and fails if anything in the process panicked meanwhile.
pub async fn without_panics<T>(work: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    count_panics();
    let panics = PANICS.load(Ordering::SeqCst);
    let result = work.await;
    if PANICS.load(Ordering::SeqCst) != panics {
        return Err(format!("panic: {}", LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner())));
    }
    result
}

/// A session's client side.
pub struct Session {
    input: Option<WriteHalf<DuplexStream>>,
    incoming: mpsc::UnboundedReceiver<Result<Value, String>>,
    serving: JoinHandle<SessionEnd>,
    renderer: Renderer,
    messages: u64,
}

impl Session {
    /// Starts `serve_session` on the current runtime.
    pub fn start(options: Options) -> Self {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (server_read, server_write) = tokio::io::split(server);
        let serving = tokio::spawn(serve_session(server_read, server_write, options));
        let (client_read, client_write) = tokio::io::split(client);
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(read_output(client_read, tx));
        Self { input: Some(client_write), incoming, serving, renderer: Renderer::default(), messages: 0 }
    }

    async fn play(mut self, script: &Script) -> Result<u64, String> {
        self.batch(&script.before_initialize).await.map_err(|e| format!("before initialize: {e}"))?;
        self.initialize(&script.initialize_params).await?;
        for (n, batch) in script.batches.iter().enumerate() {
            self.batch(batch).await.map_err(|e| format!("batch {n}: {e}"))?;
        }
        self.end(&script.end).await?;
        Ok(self.messages)
    }

    /// Sends a batch; checked as [`Session::steps`] checks.
    pub async fn batch(&mut self, batch: &[Msg]) -> Result<(), String> {
        let steps: Vec<Step> = batch.iter().map(|msg| self.renderer.render(msg)).collect();
        self.steps(steps).await
    }

    /// Sends the steps and a `splice/status` after them; checks every expectation, and that
    /// `splice/status` still answers with the server's state.
    pub async fn steps(&mut self, mut steps: Vec<Step>) -> Result<(), String> {
        let status = self.renderer.fresh_id();
        steps.push(self.request_step("splice/status", &status, &json!({})));
        let replies = self.exchange(&steps).await?;
        let answer = &replies[&status.to_string()];
        match (self.renderer.initialized, self.renderer.shut_down) {
            (true, false) if !answer["result"]["state"].is_string() => {
                Err(format!("splice/status did not answer with a state: {answer}"))
            }
            _ => Ok(()),
        }
    }

    /// `initialize` with `params`; if they are refused, again with plain ones; then `initialized`.
    pub async fn initialize(&mut self, params: &Value) -> Result<(), String> {
        for params in [params, &json!({ "capabilities": {} })] {
            let id = self.renderer.fresh_id();
            let replies = self.exchange(&[self.request_step("initialize", &id, params)]).await?;
            if replies[&id.to_string()].get("result").is_some() {
                self.renderer.initialized = true;
                let initialized = json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} });
                return self.write(&plain_frame(initialized.to_string().as_bytes())).await;
            }
        }
        Err("initialize with plain params was refused".to_owned())
    }

    /// Ends the session as `end` says and checks how it ended.
    pub async fn end(&mut self, how: &End) -> Result<(), String> {
        match how {
            End::ShutdownThenExit => {
                let id = self.renderer.fresh_id();
                let shutdown = self.request_step("shutdown", &id, &Value::Null);
                self.exchange(&[shutdown]).await?;
                self.renderer.shut_down |= self.renderer.initialized;
                self.write(&plain_frame(br#"{"jsonrpc":"2.0","method":"exit"}"#)).await?;
            }
            End::Exit => self.write(&plain_frame(br#"{"jsonrpc":"2.0","method":"exit"}"#)).await?,
            End::CloseInput => {}
            End::CloseMidFrame(cut) => {
                let frame = plain_frame(br#"{"jsonrpc":"2.0","id":"never","method":"splice/status","params":{}}"#);
                self.write(&frame[..cut % frame.len()]).await?;
            }
        }
        // The write half of a split duplex closes only when told to (its read half is alive).
        if let Some(mut input) = self.input.take() {
            let _ = input.shutdown().await;
        }
        let guard = hang_guard();
        let ended = tokio::time::timeout(guard, &mut self.serving).await;
        let end = match ended {
            Err(_) => return Err(hang(format!("the session did not end within {guard:?} after {how:?}"))),
            Ok(Err(join)) => return Err(format!("the session task failed: {join}")),
            Ok(Ok(end)) => end,
        };
        let expected = if self.renderer.shut_down { SessionEnd::AfterShutdown } else { SessionEnd::WithoutShutdown };
        if end != expected {
            return Err(format!("the session ended {end:?} after {how:?}, expected {expected:?}"));
        }
        while let Some(message) = self.next_message().await? {
            if message.get("method").is_none() {
                return Err(format!("a message after the last check: {message}"));
            }
        }
        Ok(())
    }

    fn request_step(&self, method: &str, id: &Value, params: &Value) -> Step {
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let expect = if self.renderer.initialized || method == "initialize" {
            Expect::Reply(id.clone())
        } else {
            Expect::Error(id.clone(), NOT_INITIALIZED)
        };
        Step { bytes: plain_frame(body.to_string().as_bytes()), expect: vec![expect], shuts_down: false }
    }

    /// Writes the steps, then reads until every reply they expect has come; the responses by id.
    async fn exchange(&mut self, steps: &[Step]) -> Result<HashMap<String, Value>, String> {
        let mut tally = Tally::default();
        for step in steps {
            step.expect.iter().for_each(|expect| tally.expect(expect));
            self.write(&step.bytes).await?;
        }
        while tally.waiting() {
            let Some(message) = self.next_message().await? else {
                return Err(format!("session died: the server closed its output; still due: {:?}", tally.due));
            };
            tally.take(message)?;
        }
        tally.check_null_ids()?;
        Ok(tally.replies)
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.messages += 1;
        let input = self.input.as_mut().ok_or("the input is closed")?;
        let written = async {
            input.write_all(bytes).await?;
            input.flush().await
        };
        let guard = hang_guard();
        match tokio::time::timeout(guard, written).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(format!("session died: the server stopped reading ({err})")),
            Err(_) => Err(hang(format!("the server read nothing for {guard:?}"))),
        }
    }

    /// The next message from the server; `None` once its output is closed.
    async fn next_message(&mut self) -> Result<Option<Value>, String> {
        let guard = hang_guard();
        match tokio::time::timeout(guard, self.incoming.recv()).await {
            Err(_) => Err(hang(format!("no message from the server within {guard:?}"))),
            Ok(None) => Ok(None),
            Ok(Some(Err(malformed))) => Err(format!("the server wrote a malformed frame: {malformed}")),
            Ok(Some(Ok(message))) => Ok(Some(message)),
        }
    }
}

/// The responses due for one exchange, and those seen.
#[derive(Default)]
struct Tally {
    /// Per id (its JSON text): responses still due, and the error code they must carry.
    due: HashMap<String, (usize, Option<i64>)>,
    /// Null-id errors due per code, exactly.
    null_due: HashMap<i64, usize>,
    /// Extra null-id parse errors allowed: at least, at most.
    garbage: (usize, usize),
    null_seen: HashMap<i64, usize>,
    replies: HashMap<String, Value>,
}

impl Tally {
    fn expect(&mut self, expect: &Expect) {
        match expect {
            Expect::Reply(id) => self.due.entry(id.to_string()).or_insert((0, None)).0 += 1,
            Expect::Error(Value::Null, code) => *self.null_due.entry(*code).or_default() += 1,
            Expect::Error(id, code) => self.due.entry(id.to_string()).or_insert((0, Some(*code))).0 += 1,
            Expect::ParseErrors(min, max) => {
                self.garbage.0 += min;
                self.garbage.1 += max;
            }
            Expect::Nothing => {}
        }
    }

    fn waiting(&self) -> bool {
        !self.due.is_empty()
    }

    fn take(&mut self, message: Value) -> Result<(), String> {
        if message.get("method").is_some() {
            return Ok(()); // a notification or request from the server
        }
        let well_formed = message["jsonrpc"] == "2.0"
            && message.get("id").is_some()
            && (message.get("result").is_some() != message.get("error").is_some())
            && message.get("error").is_none_or(is_error_object);
        if !well_formed {
            return Err(format!("not a JSON-RPC response: {message}"));
        }
        let code = message["error"]["code"].as_i64();
        if message["id"].is_null() {
            let code = code.ok_or_else(|| format!("a result with a null id: {message}"))?;
            *self.null_seen.entry(code).or_default() += 1;
            return Ok(());
        }
        let key = message["id"].to_string();
        let Some((left, wanted)) = self.due.get_mut(&key) else {
            return Err(format!("a response nobody asked for (or a second one): {message}"));
        };
        if wanted.is_some() && *wanted != code {
            return Err(format!("expected error {wanted:?}, got {message}"));
        }
        *left -= 1;
        if *left == 0 {
            self.due.remove(&key);
        }
        self.replies.insert(key, message);
        Ok(())
    }

    /// Once every reply has come, every null-id error has come too: the guard writes its errors
    /// before any response to a later message.
    fn check_null_ids(&self) -> Result<(), String> {
        let seen = |code| self.null_seen.get(&code).copied().unwrap_or(0);
        let due = |code| self.null_due.get(&code).copied().unwrap_or(0);
        let parse = (due(PARSE_ERROR) + self.garbage.0, due(PARSE_ERROR) + self.garbage.1);
        if !(parse.0..=parse.1).contains(&seen(PARSE_ERROR)) {
            return Err(format!("{} parse errors with a null id, expected {parse:?}", seen(PARSE_ERROR)));
        }
        for code in self.null_seen.keys().chain(self.null_due.keys()).filter(|code| **code != PARSE_ERROR) {
            if seen(*code) != due(*code) {
                return Err(format!("{} errors {code} with a null id, expected {}", seen(*code), due(*code)));
            }
        }
        Ok(())
    }
}

/// Reads the server's frames; a frame that is not exactly `Content-Length: N\r\n\r\n` + JSON is
/// reported and ends the reading.
async fn read_output(output: ReadHalf<DuplexStream>, tx: mpsc::UnboundedSender<Result<Value, String>>) {
    let mut output = BufReader::new(output);
    loop {
        let mut header = Vec::new();
        match output.read_until(b'\n', &mut header).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let length = header
            .strip_prefix(b"Content-Length: ")
            .and_then(|rest| rest.strip_suffix(b"\r\n"))
            .and_then(|digits| std::str::from_utf8(digits).ok()?.parse::<usize>().ok());
        let mut blank = [0; 2];
        let framed = match length {
            Some(length) if output.read_exact(&mut blank).await.is_ok() && &blank == b"\r\n" => {
                let mut body = vec![0; length];
                match output.read_exact(&mut body).await {
                    Ok(_) => serde_json::from_slice(&body)
                        .map_err(|err| format!("{err}: {:?}", String::from_utf8_lossy(&body))),
                    Err(err) => Err(format!("a truncated body: {err}")),
                }
            }
            _ => Err(format!("a bad header: {:?}", String::from_utf8_lossy(&header))),
        };
        let failed = framed.is_err();
        if tx.send(framed).is_err() || failed {
            return;
        }
    }
}
