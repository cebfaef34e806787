//! A minimal LSP client over the server's stdio: Content-Length framing, request ids, and a
//! reader thread so that every wait is guarded (a hung server fails the test, never hangs it).
//!
//! Waits are based on progress, not time: a wait goes on as long as the server keeps using CPU
//! (a cold prompt on a busy 2-core machine can take minutes), and fails only when the server
//! has neither answered nor computed anything for [`STALL_GUARD`], or after [`HANG_GUARD`].

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The longest any single wait may take, however busy the server is: a guard against a server
/// spinning forever, not a latency assertion.
pub const HANG_GUARD: Duration = Duration::from_secs(30 * 60);

/// How long a wait accepts a server that neither answers nor uses any CPU before the test fails
/// as a hang. Generous: a starved process still gets some CPU within seconds.
pub const STALL_GUARD: Duration = Duration::from_secs(120);

/// Tracks whether the server is still working while a test waits for it.
struct Progress {
    /// The server and the processes it waits on (a remote engine).
    pids: Vec<u32>,
    started: Instant,
    last_cpu: Option<u64>,
    last_progress: Instant,
}

impl Progress {
    fn new(pids: Vec<u32>) -> Self {
        let now = Instant::now();
        Progress { last_cpu: total_cpu_ticks(&pids), pids, started: now, last_progress: now }
    }

    /// `Err` with the reason once the wait should give up.
    fn check(&mut self) -> Result<(), String> {
        let cpu = total_cpu_ticks(&self.pids);
        if cpu.is_some() && cpu != self.last_cpu {
            self.last_cpu = cpu;
            self.last_progress = Instant::now();
        }
        if self.last_progress.elapsed() > STALL_GUARD {
            return Err(format!("the server neither answered nor used CPU for {STALL_GUARD:?}"));
        }
        if self.started.elapsed() > HANG_GUARD {
            return Err(format!("the server was still busy after {HANG_GUARD:?}"));
        }
        Ok(())
    }
}

/// The CPU ticks of `pids` together (those `/proc` can tell).
fn total_cpu_ticks(pids: &[u32]) -> Option<u64> {
    pids.iter().filter_map(|&pid| cpu_ticks(pid)).reduce(|a, b| a + b)
}

/// User plus system CPU time of process `pid` in clock ticks (`/proc/PID/stat` fields 14 and
/// 15), or `None` where `/proc` cannot tell (then only [`STALL_GUARD`] of silence counts).
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// A message from the server.
pub type Message = Value;

/// A running `splice serve` and the client side of its stdio.
pub struct LspClient {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Message>,
    /// Messages read while waiting for something else (notifications, other responses).
    seen: Vec<Message>,
    /// Other processes whose CPU use counts as the server's progress (a remote engine).
    also_watched: Vec<u32>,
    next_id: i64,
}

impl LspClient {
    /// Starts `splice serve` with `args`, logging to `log_file`.
    pub fn start(args: &[&str], log_file: &Path) -> LspClient {
        // A latency budget cuts suggestions where the machine's speed happens to be; tests see
        // whole suggestions unless they test the budget.
        let budget: &[&str] = if args.contains(&"--latency-budget") { &[] } else { &["--latency-budget", "0"] };
        let mut child = Command::new(super::splice_bin())
            .arg("serve")
            .args(args)
            .args(budget)
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
        LspClient { child, stdin, incoming, seen: Vec::new(), also_watched: Vec::new(), next_id: 1 }
    }

    /// A server on `model`, initialized with `options` as `initializationOptions` and loaded;
    /// its log goes to a temporary folder named `name`.
    pub fn ready(name: &str, model: &Path, options: Value) -> LspClient {
        let dir = super::temp_dir(name);
        let mut client = LspClient::start(&["--model", model.to_str().unwrap()], &dir.join("splice.log"));
        client.initialize(json!({}), options);
        let status = client.wait_until_loaded();
        assert_eq!(status["state"], "ready", "{status}");
        client
    }

    /// Counts process `pid`'s CPU use as the server's progress while waiting: the engine a
    /// server with `--engine` waits on.
    pub fn also_watch(&mut self, pid: u32) {
        self.also_watched.push(pid);
    }

    fn progress(&self) -> Progress {
        let mut pids = vec![self.child.id()];
        pids.extend(&self.also_watched);
        Progress::new(pids)
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

    /// Removes and returns the messages already read (while waiting for others) that match
    /// `accept`.
    pub fn take_seen(&mut self, accept: impl Fn(&Message) -> bool) -> Vec<Message> {
        let (taken, kept) = std::mem::take(&mut self.seen).into_iter().partition(|m| accept(m));
        self.seen = kept;
        taken
    }

    /// Waits for the first message (already seen or new) matching `accept`.
    pub fn wait_for(&mut self, what: &str, accept: impl Fn(&Message) -> bool) -> Message {
        if let Some(i) = self.seen.iter().position(&accept) {
            return self.seen.remove(i);
        }
        let mut progress = self.progress();
        loop {
            match self.incoming.recv_timeout(Duration::from_secs(1)) {
                Ok(message) if accept(&message) => return message,
                Ok(message) => self.seen.push(message),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(reason) = progress.check() {
                        panic!("no {what}: {reason}; seen: {:?}", self.seen)
                    }
                }
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
        let mut progress = self.progress();
        loop {
            let status = self.call_ok("splice/status", json!({}));
            if status["state"] != "loading" {
                return status;
            }
            if let Err(reason) = progress.check() {
                panic!("the model did not load: {reason}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Calls `check` every `every` until it returns `Some`, failing the test only when the server
    /// stops making progress (see the module's doc): the progress-based way to wait for
    /// something the server does in the background (indexing, a debounced re-index).
    pub fn poll<T>(&mut self, what: &str, every: Duration, mut check: impl FnMut(&mut Self) -> Option<T>) -> T {
        let mut progress = self.progress();
        loop {
            if let Some(done) = check(self) {
                return done;
            }
            if let Err(reason) = progress.check() {
                panic!("{what}: {reason}");
            }
            std::thread::sleep(every);
        }
    }

    /// Opens a document.
    pub fn open(&mut self, uri: &str, language: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": language, "version": 1, "text": text } }),
        );
    }

    /// Inserts `text` at (`line`, `character`) of `uri`, making it `version` (an incremental
    /// `didChange`, as an editor sends for a key typed or a suggestion accepted).
    pub fn insert(&mut self, uri: &str, version: i32, line: u32, character: u32, text: &str) {
        let at = json!({ "line": line, "character": character });
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version },
                    "contentChanges": [{ "range": { "start": at, "end": at }, "text": text }] }),
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
        let mut progress = self.progress();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if let Err(reason) = progress.check() {
                panic!("the server did not exit after {after}: {reason}");
            }
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
