//! A real llama.cpp `llama-server` for the remote-engine tests: started on a free loopback port,
//! waited for by its progress (its own CPU use), asked over plain HTTP, killed on drop.
//!
//! `make test` builds it once (`bench/build_llama_server.sh`, cached beside the models) and
//! passes its path in `SPLICE_LLAMA_SERVER`.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the engine may use no CPU while a test waits for it to come up.
const STALL_GUARD: Duration = Duration::from_secs(120);

/// The `llama-server` binary: `$SPLICE_LLAMA_SERVER`, else where `bench/build_llama_server.sh`
/// puts it in Splice's cache.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("SPLICE_LLAMA_SERVER").map(PathBuf::from).unwrap_or_else(|| {
        super::models_dir()
            .parent()
            .expect("the models folder is in the cache")
            .join("peer/llama.cpp/build/bin/llama-server")
    });
    assert!(path.exists(), "{} is missing: run `bench/build_llama_server.sh` (make test does)", path.display());
    path
}

/// A free TCP port on the loopback interface (free when this returns; the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

/// A running `llama-server`.
pub struct LlamaServer {
    child: Child,
    port: u16,
}

impl LlamaServer {
    /// Starts `llama-server` on `model` at `port` (one slot, a 4096-token context, `/metrics`),
    /// logging to `log`, and waits until `/health` answers 200. Its cache and threads are set as
    /// Splice's engine sets its own (the whole sliding-window cache, one unified cache, batches
    /// of 512, one decode thread and two batch threads), so that both compute alike.
    pub fn start(model: &Path, port: u16, log: &Path) -> LlamaServer {
        LlamaServer::start_with_slots(model, port, log, 1)
    }

    /// [`LlamaServer::start`] with `slots` parallel slots sharing the 4096-token cache.
    pub fn start_with_slots(model: &Path, port: u16, log: &Path, slots: u32) -> LlamaServer {
        let log = std::fs::File::create(log).expect("llama-server log file");
        let child = Command::new(binary())
            .args(["-m", model.to_str().expect("UTF-8 path"), "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-c", "4096", "--parallel", &slots.to_string(), "--metrics", "--slots"])
            .args(["--swa-full", "--kv-unified", "-b", "512", "-ub", "512", "-t", "1", "-tb", "2"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("llama-server starts");
        let mut server = LlamaServer { child, port };
        server.wait_until(|server| server.get("/health").is_some_and(|(status, _)| status == 200), "/health says ok");
        server
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path`: the status and the JSON body (`Null` if it is not JSON), or `None` when the
    /// server does not answer.
    pub fn get(&self, path: &str) -> Option<(u16, Value)> {
        let (status, body) = self.get_text(path)?;
        Some((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    /// The tokens the engine generated since it started, for every request and slot
    /// (`llamacpp:tokens_predicted_total` of `/metrics`).
    pub fn tokens_predicted(&self) -> Option<u64> {
        let (_, metrics) = self.get_text("/metrics")?;
        let line = metrics.lines().find(|line| line.starts_with("llamacpp:tokens_predicted_total "))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok().map(|n| n as u64)
    }

    /// `GET path`: the status and the body as text, or `None` when the server does not answer.
    fn get_text(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).ok()?;
        let text = String::from_utf8_lossy(&response);
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            unchunk(body)
        } else {
            body.to_owned()
        };
        Some((status, body))
    }

    /// Polls `check` every 100 ms until it holds; fails the test when the server died, or used
    /// no CPU for [`STALL_GUARD`].
    pub fn wait_until(&mut self, mut check: impl FnMut(&Self) -> bool, what: &str) {
        let mut last_cpu = super::lsp_client::cpu_ticks(self.pid());
        let mut last_progress = Instant::now();
        loop {
            if check(self) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("llama-server exited ({status}) while waiting until {what}");
            }
            let cpu = super::lsp_client::cpu_ticks(self.pid());
            if cpu != last_cpu {
                last_cpu = cpu;
                last_progress = Instant::now();
            }
            assert!(last_progress.elapsed() < STALL_GUARD, "llama-server made no progress until {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the server at once (SIGKILL), as a crash or a lost machine would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A chunked HTTP body's data.
fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
