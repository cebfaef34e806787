//! A minimal LSP client over the server's stdio: Content-Length framing, request ids, and a
//! reader thread so that every wait has a deadline (a hung server fails the test, never hangs it).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails as a hang. Generous: CI machines are
/// slow and busy; this is a hang guard, not a latency assertion.
pub const HANG_GUARD: Duration = Duration::from_secs(180);

/// A message from the server.
pub type Message = Value;

/// A running `splice serve` and the client side of its stdio.
pub struct LspClient {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Message>,
    /// Messages read while waiting for something else (notifications, other responses).
    seen: Vec<Message>,
    next_id: i64,
}

impl LspClient {
    /// Starts `splice serve` with `args`, logging to `log_file`.
    pub fn start(args: &[&str], log_file: &Path) -> LspClient {
        let mut child = Command::new(super::splice_bin())
            .arg("serve")
            .args(args)
            .arg("--log-file")
            .arg(log_file)
            .arg("--log-level")
            .arg("debug,llama_cpp=warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("splice starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stdin = child.stdin.take();
        let (tx, incoming) = mpsc::channel();
        std::thread::spawn(move || read_messages(stdout, tx));
        LspClient { child, stdin, incoming, seen: Vec::new(), next_id: 1 }
    }

    /// Writes raw bytes to the server's stdin.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).expect("server reads stdin");
        stdin.flush().expect("flush");
    }

    /// Sends one framed JSON-RPC message.
    pub fn send(&mut self, message: &Value) {
        self.send_body(&serde_json::to_vec(message).expect("json"));
    }

    /// Sends `body`, whatever its bytes, in a frame with the right `Content-Length`.
    pub fn send_body(&mut self, body: &[u8]) {
        self.send_raw(&frame(body));
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and returns its id without waiting.
    pub fn request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        id
    }

    /// Waits for the response to request `id` (the whole message: `result` or `error`).
    pub fn response(&mut self, id: i64) -> Message {
        self.wait_for(&format!("the response to request {id}"), |m| {
            m.get("id") == Some(&json!(id)) && m.get("method").is_none()
        })
    }

    /// Sends a request and waits for its response.
    pub fn call(&mut self, method: &str, params: Value) -> Message {
        let id = self.request(method, params);
        self.response(id)
    }

    /// Sends a request and returns its `result`, failing the test on an error response.
    pub fn call_ok(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    /// Waits for a server notification with `method` whose params satisfy `accept`.
    pub fn notification(&mut self, method: &str, accept: impl Fn(&Value) -> bool) -> Message {
        self.wait_for(&format!("a {method} notification"), |m| {
            m["method"] == method && m.get("id").is_none() && accept(&m["params"])
        })
    }

    /// Waits for the first message (already seen or new) matching `accept`.
    pub fn wait_for(&mut self, what: &str, accept: impl Fn(&Message) -> bool) -> Message {
        if let Some(i) = self.seen.iter().position(&accept) {
            return self.seen.remove(i);
        }
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(message) if accept(&message) => return message,
                Ok(message) => self.seen.push(message),
                Err(RecvTimeoutError::Timeout) => panic!("no {what} within {HANG_GUARD:?}; seen: {:?}", self.seen),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the server closed stdout before {what}; seen: {:?}", self.seen)
                }
            }
        }
    }

    /// `initialize` + `initialized` with the given client capabilities and options.
    pub fn initialize(&mut self, capabilities: Value, options: Value) -> Value {
        let result = self.call_ok(
            "initialize",
            json!({ "processId": null, "rootUri": null, "capabilities": capabilities, "initializationOptions": options }),
        );
        self.notify("initialized", json!({}));
        result
    }

    /// Polls `splice/status` until the model is no longer loading; returns the last status.
    pub fn wait_until_loaded(&mut self) -> Value {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let status = self.call_ok("splice/status", json!({}));
            if status["state"] != "loading" {
                return status;
            }
            assert!(Instant::now() < deadline, "the model did not load within {HANG_GUARD:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens a document.
    pub fn open(&mut self, uri: &str, language: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": language, "version": 1, "text": text } }),
        );
    }

    /// Sends `textDocument/inlineCompletion` and waits for the response.
    pub fn inline_completion(&mut self, uri: &str, line: u32, character: u32) -> Message {
        self.call("textDocument/inlineCompletion", inline_params(uri, line, character))
    }

    /// Params of an inline completion request invoked by the user.
    pub fn inline_params_for(uri: &str, line: u32, character: u32) -> Value {
        inline_params(uri, line, character)
    }

    /// `shutdown`, `exit`, and the process's exit status.
    pub fn shutdown(mut self) -> ExitStatus {
        self.call_ok("shutdown", Value::Null);
        self.exit()
    }

    /// `exit` (without `shutdown` unless it was sent before), and the process's exit status.
    pub fn exit(mut self) -> ExitStatus {
        self.notify("exit", Value::Null);
        // stdin stays open: editors do not always close it, and the server must exit anyway.
        self.wait_for_exit("`exit`")
    }

    /// Closes the server's stdin, as a client that goes away does, and returns its exit status.
    pub fn close_input(mut self) -> ExitStatus {
        drop(self.stdin.take());
        self.wait_for_exit("stdin was closed")
    }

    fn wait_for_exit(&mut self, after: &str) -> ExitStatus {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit after {after}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `body` framed with its `Content-Length` header.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    frame
}

/// Params of an inline completion request invoked by the user.
pub fn inline_params(uri: &str, line: u32, character: u32) -> Value {
    json!({
        "textDocument": { "uri": uri },
        "position": { "line": line, "character": character },
        "context": { "triggerKind": 1 }
    })
}

impl Drop for LspClient {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_messages(stdout: impl Read, tx: mpsc::Sender<Message>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("Content-Length:") {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let Some(length) = length else { return };
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let Ok(message) = serde_json::from_slice(&body) else { return };
        if tx.send(message).is_err() {
            return;
        }
    }
}
