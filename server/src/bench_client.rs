//! A small blocking LSP client for the benchmarks that measure Splice as an editor meets it:
//! `splice serve` started from this same binary, spoken to over pipes.
//!
//! One reader thread turns the server's stdout into JSON messages; every wait has a deadline, so
//! a hung server is reported as a hang and a dead one as a death, never as a stuck benchmark.
//! Requests the server sends (`window/workDoneProgress/create`) are answered with `null`, as an
//! editor would. The end-to-end tests have their own client (`tests/support/lsp_client.rs`), which
//! panics where this one returns errors a benchmark can count.

use crate::config::Options;
use crate::document::{TextPosition, TextRange};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a benchmark waits for any one answer while the server makes no progress before it
/// calls the request hung. Generous: this is a hang guard on a busy machine, not a latency limit.
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// A wait the server keeps using CPU through (a cold prompt on a loaded machine) is extended
/// by [`HANG_GUARD`] at a time, up to this long in all.
pub const HANG_CAP: Duration = Duration::from_secs(30 * 60);

/// CPU time (in clock ticks, 100 per second on Linux) the server must have used during a
/// [`HANG_GUARD`] window for the wait to count as progress: one second of work.
const PROGRESS_TICKS: u64 = 100;

/// The progress token the server uses for workspace indexing (`lsp/indexing.rs`).
const INDEXING_TOKEN: &str = "splice/indexing";

/// Why a wait on the server ended without what was waited for.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Nothing came before the hang guard ran out.
    #[error("no {what} before the hang guard ran out")]
    Hang {
        /// What was waited for.
        what: String,
    },
    /// The server closed its stdout or stdin: the process ended.
    #[error("the server exited ({})", .status.map_or("status unknown".to_owned(), |s| s.to_string()))]
    Died {
        /// Its exit status, when it could be read.
        status: Option<ExitStatus>,
    },
    /// The server answered a request with a JSON-RPC error.
    #[error("{method} failed: {error}")]
    Refused {
        /// The request's method.
        method: String,
        /// The `error` object of the response.
        error: Value,
    },
}

/// A running `splice serve` and the client side of its stdio.
pub struct LspSession {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    /// Responses read while waiting for something else, by request id.
    responses: HashMap<i64, Value>,
    /// Server notifications not yet taken.
    notifications: Vec<Value>,
    next_id: i64,
    log_file: PathBuf,
}

impl LspSession {
    /// Starts `splice serve` (this executable) with its logs in `log_file`. Costs a process
    /// start; the model loads only after [`initialize`](Self::initialize).
    pub fn spawn(log_file: &Path) -> anyhow::Result<LspSession> {
        let exe = std::env::current_exe().map_err(|e| anyhow::anyhow!("cannot find the splice binary: {e}"))?;
        let mut child = Command::new(exe)
            .arg("serve")
            .arg("--log-file")
            .arg(log_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start `splice serve`: {e}"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout pipe"))?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin pipe"))?;
        let (tx, incoming) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Ok(Some(message)) = read_frame(&mut reader) {
                if tx.send(message).is_err() {
                    return;
                }
            }
        });
        let log_file = log_file.to_path_buf();
        Ok(LspSession {
            child,
            stdin,
            incoming,
            responses: HashMap::new(),
            notifications: Vec::new(),
            next_id: 1,
            log_file,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where the server writes its logs.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The server's resident set size in KiB (`VmRSS` of `/proc/PID/status`); `None` when it is
    /// gone or not on Linux. Costs one small file read.
    pub fn rss_kib(&self) -> Option<u64> {
        crate::memory::proc_status_kib(self.pid(), "VmRSS")
    }

    /// The exit status if the server has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) -> Result<(), SessionError> {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }))
    }

    /// Sends a request and returns its id without waiting.
    pub fn request(&mut self, method: &str, params: Value) -> Result<i64, SessionError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))?;
        Ok(id)
    }

    /// `$/cancelRequest` for request `id`; its answer (an error, -32800) still comes.
    pub fn cancel(&mut self, id: i64) -> Result<(), SessionError> {
        self.notify("$/cancelRequest", json!({ "id": id }))
    }

    /// Waits until `deadline` for the response to request `id` (the whole message: `result` or
    /// `error`). A server that used CPU since the wait began (or was last extended) is working,
    /// not hung: the wait goes on [`HANG_GUARD`] at a time, up to [`HANG_CAP`].
    pub fn response_by(&mut self, id: i64, deadline: Instant) -> Result<Value, SessionError> {
        let cap = Instant::now() + HANG_CAP;
        let mut deadline = deadline;
        let mut ticks = self.cpu_ticks();
        loop {
            if let Some(response) = self.responses.remove(&id) {
                return Ok(response);
            }
            match self.pump_until(deadline, &format!("answer to request {id}")) {
                Err(SessionError::Hang { .. }) if Instant::now() < cap && self.progressed(&mut ticks) => {
                    deadline = Instant::now() + HANG_GUARD;
                }
                result => result?,
            }
        }
    }

    /// Whether the server used at least [`PROGRESS_TICKS`] of CPU since `ticks` (updated).
    fn progressed(&self, ticks: &mut Option<u64>) -> bool {
        let now = self.cpu_ticks();
        let progressed = matches!((*ticks, now), (Some(before), Some(now)) if now >= before + PROGRESS_TICKS);
        *ticks = now;
        progressed
    }

    /// The server's user + system CPU time in clock ticks (`/proc/PID/stat`), Linux only.
    fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // Fields after the command name (which may hold spaces, so split after its `)`).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    /// Waits until `deadline` for the next response to any request and returns its id and the
    /// whole message; `None` when the deadline came first (the caller has other things to do at
    /// that time: this is not a hang). Responses already read come first, in no set order.
    pub fn next_response_by(&mut self, deadline: Instant) -> Result<Option<(i64, Value)>, SessionError> {
        loop {
            if let Some(&id) = self.responses.keys().next() {
                let response = self.responses.remove(&id).unwrap_or_default();
                return Ok(Some((id, response)));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(message) => self.file(message)?,
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => return Err(self.died()),
            }
        }
    }

    /// Sends a request and returns its `result`; an error response is [`SessionError::Refused`].
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, SessionError> {
        let id = self.request(method, params)?;
        let mut response = self.response_by(id, Instant::now() + HANG_GUARD)?;
        match response.get_mut("error") {
            Some(error) => Err(SessionError::Refused { method: method.to_owned(), error: error.take() }),
            None => Ok(response["result"].take()),
        }
    }

    /// The server notifications received so far (`window/logMessage`, `splice/status`, …),
    /// oldest first; they are not kept afterwards.
    pub fn take_notifications(&mut self) -> Vec<Value> {
        self.drain();
        std::mem::take(&mut self.notifications)
    }

    /// `initialize` with these workspace folders and `initializationOptions` (the server's flags
    /// in camelCase), then `initialized`. The client accepts work-done progress, so indexing
    /// reports its end (see [`wait_for_indexing`](Self::wait_for_indexing)).
    pub fn initialize(&mut self, folders: &[PathBuf], options: Value) -> Result<Value, SessionError> {
        let folders: Vec<Value> = folders
            .iter()
            .map(|f| {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                json!({ "uri": file_uri(f), "name": name })
            })
            .collect();
        let result = self.call(
            "initialize",
            json!({
                "processId": std::process::id(),
                "rootUri": null,
                "capabilities": { "window": { "workDoneProgress": true } },
                "workspaceFolders": if folders.is_empty() { Value::Null } else { Value::Array(folders) },
                "initializationOptions": options,
            }),
        )?;
        self.notify("initialized", json!({}))?;
        Ok(result)
    }

    /// `splice/status`.
    pub fn status(&mut self) -> Result<Value, SessionError> {
        self.call("splice/status", json!({}))
    }

    /// Polls `splice/status` every 50 ms until the model has loaded (or failed to); returns that
    /// status.
    pub fn wait_for_engine(&mut self) -> Result<Value, SessionError> {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let status = self.status()?;
            if status["state"] != "loading" {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(SessionError::Hang { what: "loaded model".to_owned() });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the end of the indexing progress (`$/progress` `end` of `splice/indexing`),
    /// then returns `splice/status`. Only call it when the server indexes (workspace folders
    /// and retrieval not `never`). `guard` bounds the wait: a large workspace takes a while.
    pub fn wait_for_indexing(&mut self, guard: Duration) -> Result<Value, SessionError> {
        let deadline = Instant::now() + guard;
        loop {
            let ended = self.notifications.iter().position(|n| {
                n["method"] == "$/progress"
                    && n["params"]["token"] == INDEXING_TOKEN
                    && n["params"]["value"]["kind"] == "end"
            });
            if let Some(i) = ended {
                self.notifications.remove(i);
                return self.status();
            }
            self.pump_until(deadline, "end of indexing")?;
        }
    }

    /// `textDocument/didOpen`.
    pub fn open(&mut self, uri: &str, text: &str, version: i32) -> Result<(), SessionError> {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "python", "version": version, "text": text } }),
        )
    }

    /// `textDocument/didClose`.
    pub fn close(&mut self, uri: &str) -> Result<(), SessionError> {
        self.notify("textDocument/didClose", json!({ "textDocument": { "uri": uri } }))
    }

    /// Sends `textDocument/inlineCompletion` (invoked) at a zero-based line and UTF-16 character;
    /// returns the request id.
    pub fn inline_completion(&mut self, uri: &str, line: u32, character: u32) -> Result<i64, SessionError> {
        self.request(
            "textDocument/inlineCompletion",
            json!({
                "textDocument": { "uri": uri },
                "position": { "line": line, "character": character },
                "context": { "triggerKind": 1 }
            }),
        )
    }

    /// `shutdown` and `exit`; waits for the process to end and returns its status.
    pub fn shutdown(mut self) -> Result<ExitStatus, SessionError> {
        self.call("shutdown", Value::Null)?;
        self.notify("exit", Value::Null)?;
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(SessionError::Hang { what: "exit after `exit`".to_owned() });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, message: &Value) -> Result<(), SessionError> {
        let bytes = frame(message);
        if self.stdin.write_all(&bytes).and_then(|()| self.stdin.flush()).is_err() {
            return Err(self.died());
        }
        Ok(())
    }

    /// Reads messages until one arrives or `deadline` passes.
    fn pump_until(&mut self, deadline: Instant, what: &str) -> Result<(), SessionError> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.incoming.recv_timeout(left) {
            Ok(message) => self.file(message),
            Err(RecvTimeoutError::Timeout) => Err(SessionError::Hang { what: what.to_owned() }),
            Err(RecvTimeoutError::Disconnected) => Err(self.died()),
        }
    }

    /// Files every message already read, without waiting.
    fn drain(&mut self) {
        while let Ok(message) = self.incoming.try_recv() {
            let _ = self.file(message);
        }
    }

    /// Files one message: a response by id, a notification in the list; a request from the
    /// server is answered with `null`.
    fn file(&mut self, message: Value) -> Result<(), SessionError> {
        let id = message.get("id").cloned();
        match (id, message.get("method").is_some()) {
            (Some(id), true) => self.send(&json!({ "jsonrpc": "2.0", "id": id, "result": null })),
            (Some(id), false) => {
                if let Some(id) = id.as_i64() {
                    self.responses.insert(id, message);
                }
                Ok(())
            }
            (None, _) => {
                self.notifications.push(message);
                Ok(())
            }
        }
    }

    fn died(&mut self) -> SessionError {
        // The pipe closes a moment before the process is reaped.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return SessionError::Died { status: Some(status) };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        SessionError::Died { status: None }
    }
}

impl Drop for LspSession {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One JSON-RPC message framed for the wire: `Content-Length` header, blank line, body.
pub fn frame(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend(body.into_bytes());
    bytes
}

/// Reads one framed message; `Ok(None)` at the end of the stream. Headers other than
/// `Content-Length` are skipped.
pub fn read_frame(reader: &mut impl BufRead) -> std::io::Result<Option<Value>> {
    let mut length = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let length = length.ok_or_else(|| std::io::Error::other("a message without Content-Length"))?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    serde_json::from_slice(&body).map(Some).map_err(std::io::Error::other)
}

/// `options` as `initializationOptions`: the server's flags in camelCase, unset ones left out.
pub fn initialization_options(options: &Options) -> Value {
    let mut value = serde_json::to_value(options).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    value
}

/// The LSP JSON of a range.
pub fn lsp_range(range: TextRange) -> Value {
    let position = |p: TextPosition| json!({ "line": p.line, "character": p.character });
    json!({ "start": position(range.start), "end": position(range.end) })
}

/// The `file://` URI of an absolute path, percent-encoding every byte outside the unreserved
/// set and `/`.
pub fn file_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file://");
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_back_whole_with_byte_lengths_and_extra_headers() {
        let first = json!({ "jsonrpc": "2.0", "id": 1, "result": { "text": "naïve 😀 中文\r\n" } });
        let second = json!({ "jsonrpc": "2.0", "method": "window/logMessage", "params": { "type": 2 } });
        let mut wire = frame(&first);
        wire.extend(b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n");
        wire.extend(frame(&second));
        let mut reader = std::io::Cursor::new(wire);
        assert_eq!(read_frame(&mut reader).unwrap(), Some(first));
        assert_eq!(read_frame(&mut reader).unwrap(), Some(second));
        assert_eq!(read_frame(&mut reader).unwrap(), None);
    }

    #[test]
    fn a_frame_without_content_length_is_an_error() {
        let mut reader = std::io::Cursor::new(b"Content-Type: x\r\n\r\n{}".to_vec());
        assert!(read_frame(&mut reader).is_err());
    }

    #[test]
    fn file_uris_percent_encode_what_is_not_plain() {
        assert_eq!(file_uri(Path::new("/tmp/a b/ü.py")), "file:///tmp/a%20b/%C3%BC.py");
    }
}
