//! `splice bench typing --peer`: the keystrokes Splice's first run recorded, replayed at the same
//! moments on llama.cpp's `llama-server`, with the client of llama.vim in front of it.
//!
//! **Server.** `llama-server` on the same GGUF with Splice's context size, batch (512) and
//! threads (`-t` decode, `-tb` batch), `--swa-full` as Splice's context has, `--cache-reuse 256`
//! (llama.vim's recommendation), one slot, no RAM prompt cache. A model without FIM tokens
//! (Gemma 3) cannot use `/infill`, so every request is `/completion` whose prompt is Splice's
//! prefix-only prompt: the text before the cursor, from a window start chosen as Splice chooses
//! it (`completion::window_start`: a line start on a coarse grid, so typing does not move it),
//! with a byte budget measured once per spot with `/tokenize` so that the prompt fills the
//! context less Splice's `--max-tokens` as Splice's token-exact fit does. llama.vim's own 256-line
//! window would slide on every line break and every speculative request, which `--cache-reuse`
//! cannot follow back (it only shifts cells left). Then `cache_prompt`, greedy, `n_predict` =
//! Splice's `--max-tokens`, streamed: the client applies Splice's own stop rule
//! (`SuggestionShape::verdict` for the cursor, blocks ending as the file's language ends them)
//! to the text so far and closes the connection when
//! it says stop, then trims it with Splice's `finish_suggestion`. Both servers therefore decode the
//! same prompt with the same budget and stop at the same point. Not modelled: llama.vim's ring
//! buffer of extra context (needs `/infill`), its `t_max_predict_ms`, Splice's repository context.
//!
//! **Client** (llama.vim's `fim_try_hint` / `llama#fim` / `fim_on_response`): on every key the
//! shown hint is hidden, the cache is tried (`bench_typing_vim.rs`): a hit is shown at once and a
//! speculative request for the text as if it were accepted follows; then a request for the
//! cursor is sent unless its keys are cached. Only one request is ever in flight: a request
//! wanted meanwhile waits for a 100 ms timer, restarted on each key. An answer goes into the
//! cache under its context's keys and, if nothing is shown, the cache is tried again at the
//! cursor. A speculative request whose timer fires after the text changed is dropped
//! (llama.vim would build it from a stale position).
//!
//! A keystroke is answered when a hint valid at its text is shown (an empty one included), late
//! if the next key came first; its latency runs from the key to that moment.

use crate::bench_http;
use crate::bench_typing_record::{Along, KeyKind, KeyOutcome, RecordedKey, Run, Source};
use crate::bench_typing_script::{Buffer, Spot};
use crate::bench_typing_vim::{LocalContext, VimCache};
use crate::block_syntax::block_syntax;
use crate::completion::window_start;
use anyhow::{bail, Context};
use serde_json::json;
use splice_model::shape::{finish_suggestion, BlockSyntax, CursorContext, ShapeLimits, StreamVerdict, SuggestionShape};
use splice_retrieval::language::Language;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// llama.vim's wait before retrying while a request is in flight.
const RETRY: Duration = Duration::from_millis(100);

/// How long one request (or the server's start) may take before the bench gives up on it.
const GUARD: Duration = Duration::from_secs(120);

/// What the peer replay needs to know of Splice's settings.
#[derive(Debug, Clone)]
pub struct PeerSettings {
    /// The GGUF file.
    pub model: std::path::PathBuf,
    /// Context size in tokens.
    pub ctx: u32,
    /// Threads for prompt batches and for single-token decodes.
    pub threads: (u32, u32),
    /// `n_predict`: Splice's `--max-tokens`.
    pub max_tokens: u32,
    /// Splice's `--max-lines`, for the stop rule.
    pub max_lines: usize,
    /// `-b` and `-ub`: Splice's batch size (512).
    pub batch: u32,
    /// `-fa`: `auto`, `on` or `off`.
    pub flash_attention: &'static str,
}

/// A running `llama-server`, ended when dropped.
pub struct LlamaServer {
    child: Child,
    addr: SocketAddr,
}

impl LlamaServer {
    /// Starts `binary` on a free local port and waits until `/health` answers 200. Its output
    /// goes to `log`.
    pub fn start(binary: &Path, settings: &PeerSettings, log: &Path) -> anyhow::Result<LlamaServer> {
        let args: Vec<String> = [
            "-c",
            &settings.ctx.to_string(),
            "-b",
            &settings.batch.to_string(),
            "-ub",
            &settings.batch.to_string(),
            "-fa",
            settings.flash_attention,
            "--swa-full",
            "-np",
            "1",
            "--cache-reuse",
            "256",
            "--cache-ram",
            "0",
            "-t",
            &settings.threads.1.to_string(),
            "-tb",
            &settings.threads.0.to_string(),
        ]
        .map(str::to_owned)
        .into();
        Self::spawn(binary, &settings.model, &args, log)
    }

    /// Starts `binary` on `model` with `args` (everything but the model, the address and the web
    /// UI) on a free local port and waits until `/health` answers 200. Its output goes to `log`.
    pub fn spawn(binary: &Path, model: &Path, args: &[String], log: &Path) -> anyhow::Result<LlamaServer> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let output = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(binary)
            .args(["-m".as_ref(), model.as_os_str()])
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--no-webui"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = LlamaServer { child, addr };
        let deadline = Instant::now() + GUARD;
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("llama-server exited ({status}) before it was ready; log: {}", log.display());
            }
            if bench_http::get(addr, "/health", Duration::from_secs(2)).is_ok_and(|s| s == 200) {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                bail!("llama-server was not ready after {} s; log: {}", GUARD.as_secs(), log.display());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl LlamaServer {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many bytes before the cursor fit a prefix prompt on `server`: the context less the
/// generation budget and a margin, at this text's bytes per token (one `/tokenize` of `before`,
/// the text before the cursor).
pub fn window_bytes(server: SocketAddr, settings: &PeerSettings, before: &str) -> anyhow::Result<usize> {
    let tokens = bench_http::post_json(server, "/tokenize", &json!({ "content": before }), GUARD)?;
    let count = tokens["tokens"].as_array().map_or(0, Vec::len).max(1);
    let budget = settings.ctx.saturating_sub(settings.max_tokens + 16) as f64;
    let bytes_per_token = before.len().max(1) as f64 / count as f64;
    Ok((budget * bytes_per_token * 0.95) as usize)
}

/// One request's result, sent back by its thread.
struct Done {
    job: u64,
    result: Result<Answer, String>,
}

/// A finished request: the suggestion as Splice would show it, and the client-side decode time.
struct Answer {
    suggestion: String,
    /// Streamed tokens after the first and the milliseconds between the first and the last.
    decode: (u64, f64),
}

/// The request in flight.
struct Job {
    id: u64,
    context: LocalContext,
}

/// llama.vim's retry timer: when it fires, and the speculative suggestion it was for (with the
/// text version it belongs to).
struct Timer {
    at: Instant,
    speculative: Option<(u64, String)>,
}

/// The peer replay's state.
struct PeerReplay<'a> {
    addr: SocketAddr,
    settings: &'a PeerSettings,
    cache: VimCache,
    job: Option<Job>,
    timer: Option<Timer>,
    /// The hint on screen, if any.
    shown: Option<String>,
    /// The key whose answer is awaited, and when it was pressed.
    pending: Option<(usize, Instant)>,
    buffer: Buffer,
    /// Bytes of text before the cursor that fit the prompt (measured per spot).
    window_bytes: usize,
    /// How the spot's file ends blocks, as Splice's shape has it for that file.
    block_syntax: BlockSyntax,
    version: u64,
    jobs: u64,
    done_tx: Sender<Done>,
    done_rx: Receiver<Done>,
    run: Run,
}

/// Replays `recording` (one list of keys per spot) on `server`.
pub fn replay(
    server: &LlamaServer,
    settings: &PeerSettings,
    spots: &[Spot],
    recording: &[Vec<RecordedKey>],
) -> anyhow::Result<Run> {
    let (done_tx, done_rx) = mpsc::channel();
    let mut replay = PeerReplay {
        addr: server.addr,
        settings,
        cache: VimCache::default(),
        job: None,
        timer: None,
        shown: None,
        pending: None,
        buffer: Buffer::new(String::new(), 0),
        window_bytes: usize::MAX,
        block_syntax: BlockSyntax::Indentation,
        version: 0,
        jobs: 0,
        done_tx,
        done_rx,
        run: Run { name: "llama-server".to_owned(), ..Run::default() },
    };
    for (spot, keys) in spots.iter().zip(recording) {
        replay.spot(spot, keys)?;
    }
    Ok(replay.run)
}

impl PeerReplay<'_> {
    fn spot(&mut self, spot: &Spot, keys: &[RecordedKey]) -> anyhow::Result<()> {
        self.settle()?;
        (self.buffer, self.version, self.shown, self.timer) =
            (Buffer::new(spot.cut.opened.clone(), spot.cut.cursor), self.version + 1, None, None);
        self.window_bytes = window_bytes(self.addr, self.settings, &spot.cut.opened[..spot.cut.cursor])?;
        self.block_syntax = block_syntax(Language::from_path(&spot.path));
        let started = Instant::now();
        self.fim(None);
        self.pump_while(|r| r.shown.is_none() && (r.job.is_some() || r.timer.is_some()))?;
        self.run.warmup_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let ready = Instant::now();
        for key in keys {
            self.pump_until(ready + key.at)?;
            self.press(key);
        }
        self.run.mark_stops(keys);
        self.pump_while(|r| r.pending.is_some() && (r.job.is_some() || r.timer.is_some()))?;
        // Nothing in flight and nothing cached at the cursor: llama.vim shows nothing.
        self.pending = None;
        Ok(())
    }

    /// Waits until no request is in flight and no timer is set (between spots).
    fn settle(&mut self) -> anyhow::Result<()> {
        self.timer = None;
        self.pump_while(|r| r.job.is_some())
    }

    fn press(&mut self, key: &RecordedKey) {
        let now = Instant::now();
        self.pending = None; // an unanswered previous key stays late
        let along = match key.kind {
            KeyKind::Typed => Along::of(self.shown.as_deref(), &key.text),
            KeyKind::Tab => Along::No,
        };
        self.buffer.insert(&key.text);
        self.version += 1;
        self.run.keys.push(KeyOutcome {
            kind: key.kind,
            along,
            latency_ms: None,
            source: Source::Unknown,
            stopped: false,
        });
        self.pending = Some((self.run.keys.len() - 1, now));
        self.shown = None;
        self.try_hint(Source::Cache);
        self.fim(None);
    }

    /// llama.vim's `fim_try_hint`: shows what the cache has for the cursor and, if it is a
    /// suggestion, asks ahead for the text as if it were accepted.
    fn try_hint(&mut self, source: Source) {
        let context = LocalContext::at(&self.buffer.text, self.buffer.cursor);
        let Some(hint) = self.cache.hint(&context) else { return };
        if let Some((key, pressed)) = self.pending.take() {
            let outcome = &mut self.run.keys[key];
            outcome.latency_ms = Some(pressed.elapsed().as_secs_f64() * 1000.0);
            outcome.source = source;
        }
        if !hint.is_empty() {
            self.fim(Some(hint.clone()));
        }
        self.shown = Some(hint);
    }

    /// llama.vim's `llama#fim`: a request for the cursor (or, with `speculative`, for the text
    /// with that suggestion accepted) unless one is in flight or its answer is cached.
    fn fim(&mut self, speculative: Option<String>) {
        if self.job.is_some() {
            let speculative = speculative.map(|s| (self.version, s));
            self.timer = Some(Timer { at: Instant::now() + RETRY, speculative });
            return;
        }
        let (text, cursor) = match speculative {
            None => (self.buffer.text.clone(), self.buffer.cursor),
            Some(accepted) => {
                let mut text = self.buffer.text.clone();
                text.insert_str(self.buffer.cursor, &accepted);
                (text, self.buffer.cursor + accepted.len())
            }
        };
        let context = LocalContext::at(&text, cursor);
        if self.cache.covers(&context) {
            return;
        }
        self.jobs += 1;
        let (id, addr, tx) = (self.jobs, self.addr, self.done_tx.clone());
        let body = json!({
            "prompt": &text[window_start(&text, cursor, self.window_bytes, 0)..cursor],
            "n_predict": self.settings.max_tokens,
            "temperature": 0.0,
            "stream": true,
            "cache_prompt": true,
            "n_cache_reuse": 256,
            "id_slot": 0,
        });
        let limits = ShapeLimits { max_lines: self.settings.max_lines, block_syntax: self.block_syntax };
        std::thread::spawn(move || {
            let result = complete(addr, &body, &text, cursor, limits);
            let _ = tx.send(Done { job: id, result });
        });
        self.run.requests_sent += 1;
        self.job = Some(Job { id, context });
    }

    /// Handles answers and timers until `until`.
    fn pump_until(&mut self, until: Instant) -> anyhow::Result<()> {
        loop {
            let now = Instant::now();
            if self.timer.as_ref().is_some_and(|t| t.at <= now) {
                self.fire_timer();
                continue;
            }
            if now >= until {
                return Ok(());
            }
            let wake = self.timer.as_ref().map_or(until, |t| t.at.min(until));
            match self.done_rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(done) => self.answered(done),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => bail!("the request threads are gone"),
            }
        }
    }

    /// Handles answers and timers while `condition` holds, under the guard.
    fn pump_while(&mut self, condition: impl Fn(&Self) -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + GUARD;
        while condition(self) {
            if Instant::now() >= deadline {
                self.run.hangs += 1;
                self.job = None;
                self.timer = None;
                return Ok(());
            }
            self.pump_until((Instant::now() + Duration::from_millis(20)).min(deadline))?;
        }
        Ok(())
    }

    fn fire_timer(&mut self) {
        let Some(timer) = self.timer.take() else { return };
        match timer.speculative {
            Some((version, _)) if version != self.version => {}
            Some((_, suggestion)) => self.fim(Some(suggestion)),
            None => self.fim(None),
        }
    }

    /// llama.vim's `fim_on_response`.
    fn answered(&mut self, done: Done) {
        let Some(job) = self.job.take_if(|j| j.id == done.job) else { return };
        match done.result {
            Ok(answer) => {
                self.run.decode_tokens += answer.decode.0;
                self.run.decode_ms += answer.decode.1;
                self.cache.insert(&job.context, &answer.suggestion);
                if self.shown.as_ref().is_none_or(String::is_empty) {
                    self.try_hint(Source::Model);
                }
            }
            Err(message) => self.run.error(message),
        }
    }
}

/// One streamed `/completion`, stopped by Splice's stop rule for the cursor at `cursor` of
/// `text`; the suggestion finished as Splice finishes it.
fn complete(
    addr: SocketAddr,
    body: &serde_json::Value,
    text: &str,
    cursor: usize,
    limits: ShapeLimits,
) -> Result<Answer, String> {
    let cursor_context = CursorContext::from_text(text, cursor);
    let shape = SuggestionShape::for_cursor(&cursor_context, limits);
    let mut generated = String::new();
    let (mut tokens, mut first, mut last) = (0u64, None, None);
    bench_http::post_events(addr, "/completion", body, GUARD, |event| {
        if let Some(piece) = event["content"].as_str().filter(|p| !p.is_empty()) {
            generated.push_str(piece);
            tokens += 1;
            let now = Instant::now();
            first.get_or_insert(now);
            last = Some(now);
        }
        event["stop"] != true && shape.verdict(&generated) == StreamVerdict::Continue
    })
    .map_err(|e| format!("llama-server: {e}"))?;
    let decode_ms = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64() * 1000.0,
        _ => 0.0,
    };
    let suggestion = finish_suggestion(&shape, &cursor_context, &generated).unwrap_or_default();
    Ok(Answer { suggestion, decode: (tokens.saturating_sub(1), decode_ms) })
}
