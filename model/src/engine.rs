//! The engine: one thread that owns the llama.cpp model and context, and the messages to it.
//!
//! llama.cpp contexts are not thread-safe and a decode can take seconds on a CPU, so the context
//! lives on its own thread and everything else sends it [`CompletionRequest`]s. Requests run one
//! at a time in arrival order; a request whose [`CancelToken`] fired while it waited is dropped
//! without touching the model.

use crate::cache_plan::ReuseMode;
use crate::cancel::CancelToken;
use crate::candidates::{CheckStats, SuggestionCheck};
use crate::error::{EngineError, ModelError};
use crate::loader;
use crate::rates::{MeasuredRates, SharedRates};
use crate::remote::{self, RemoteEndpoint, RemoteHandle, RemoteStatus};
use crate::repo_context::{RepoContext, RepoFormat};
use crate::sampling::SamplingConfig;
use crate::shape::SuggestionShape;
use crate::template::PromptTemplate;
use crate::vocabulary;
use crate::worker::Worker;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The smallest prompt Splice will build; a context must hold this plus the generation budget.
pub const MIN_PROMPT_TOKENS: u32 = 64;

/// Default context size when none is given (capped at the model's training context).
pub const DEFAULT_CONTEXT_TOKENS: u32 = 4096;

/// Default number of documents with their own cached sequence.
pub const DEFAULT_MAX_DOCUMENTS: u32 = 4;

/// Default largest number of draft tokens verified with each generated token (speculative
/// decoding): the most that keeps the output identical to plain decoding (see
/// `speculation.rs`); `splice bench decode` compares it with plain decoding.
pub const DEFAULT_DRAFT_TOKENS: u32 = 2;

/// Default idle time before background repair of stale cells.
pub const DEFAULT_REPAIR_IDLE: Duration = Duration::from_millis(300);

/// How to load the model and size its context.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The GGUF file.
    pub model_path: PathBuf,
    /// Context size in tokens; `None` = [`DEFAULT_CONTEXT_TOKENS`] capped at the training context.
    pub context_tokens: Option<u32>,
    /// Largest number of tokens decoded in one llama.cpp batch.
    pub batch_tokens: u32,
    /// Threads for prompt batches; `None` = all cores.
    pub batch_threads: Option<u32>,
    /// Threads for single-token decodes; `None` = 1. Two threads spin-waiting on each other
    /// collapse generation speed when the editor keeps the other core busy.
    pub decode_threads: Option<u32>,
    /// Layers offloaded to a GPU; `None` = all when llama.cpp was built with a GPU backend, else 0.
    pub gpu_layers: Option<u32>,
    /// The largest generation budget any request will ask for (checked against the context).
    pub max_tokens: u32,
    /// How requests reuse the KV cache: PIE (default), prefix only, or not at all.
    pub reuse: ReuseMode,
    /// Idle time after a request before stale cells are re-encoded in the background.
    pub repair_idle: Duration,
    /// How many documents keep their own cached sequence at once (least recently used evicted).
    pub max_documents: u32,
    /// Storage type of the K cache. Quantized types save memory; every shift then dequantizes,
    /// rotates and requantizes the keys, adding a little error.
    pub cache_type_k: CacheType,
    /// Speculative decoding: at most this many draft tokens (guessed from the prompt and recent
    /// suggestions) are verified with each generated token; 0 turns it off. Greedy requests only,
    /// whose output it never changes.
    pub draft_tokens: u32,
    /// Verify drafts whenever some are found, even where plain decoding is measured to be
    /// faster (for tests of the identical output, and to measure acceptance alone).
    pub draft_always: bool,
    /// Generation stops at the end of the last complete line once the next token would end
    /// after this long from the start of the request on the engine thread; the first line is
    /// always finished unless it runs past 100 characters from the line's start (then it ends
    /// at its last blank). `None`: no budget.
    pub latency_budget: Option<Duration>,
    /// Whether attention uses llama.cpp's fused flash-attention kernels.
    pub flash_attention: FlashAttention,
    /// Whether a prompt ending in a partial word or in blanks is healed (see the `healing`
    /// module); off only to measure what healing is worth.
    pub token_healing: bool,
    /// A remote engine to send completions to instead of loading the weights: `model_path` is
    /// then read for its vocabulary only (see the `remote` module).
    pub remote: Option<RemoteEndpoint>,
}

/// When llama.cpp uses its fused flash-attention kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlashAttention {
    /// llama.cpp decides per device (llama.cpp's and `llama-server`'s default).
    #[default]
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

impl FlashAttention {
    pub(crate) fn llama(self) -> llama_cpp_sys_2::llama_flash_attn_type {
        match self {
            FlashAttention::Auto => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
            FlashAttention::On => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
            FlashAttention::Off => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        }
    }
}

/// Storage types offered for the K cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheType {
    /// 16-bit floats (llama.cpp's default).
    #[default]
    F16,
    /// 32-bit floats.
    F32,
    /// 8-bit blocks.
    Q8_0,
    /// 4-bit blocks.
    Q4_0,
}

impl CacheType {
    pub(crate) fn llama(self) -> llama_cpp_2::context::params::KvCacheType {
        use llama_cpp_2::context::params::KvCacheType;
        match self {
            CacheType::F16 => KvCacheType::F16,
            CacheType::F32 => KvCacheType::F32,
            CacheType::Q8_0 => KvCacheType::Q8_0,
            CacheType::Q4_0 => KvCacheType::Q4_0,
        }
    }
}

impl EngineConfig {
    /// A configuration with Splice's defaults for `model_path`.
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        Self {
            model_path: model_path.into(),
            context_tokens: None,
            batch_tokens: 512,
            batch_threads: None,
            decode_threads: None,
            gpu_layers: None,
            max_tokens: 128,
            reuse: ReuseMode::Pie,
            repair_idle: DEFAULT_REPAIR_IDLE,
            cache_type_k: CacheType::F16,
            max_documents: DEFAULT_MAX_DOCUMENTS,
            draft_tokens: DEFAULT_DRAFT_TOKENS,
            draft_always: false,
            latency_budget: None,
            flash_attention: FlashAttention::Auto,
            token_healing: true,
            remote: None,
        }
    }
}

/// What was loaded, for logs, `splice/status` and `--json` output.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The GGUF file.
    pub path: PathBuf,
    /// `general.architecture`, e.g. `gemma3`, `llama`, `qwen2`.
    pub architecture: String,
    /// The detected prompt template.
    pub template: PromptTemplate,
    /// How repository context is written for this model.
    pub repo_format: RepoFormat,
    /// Context size in tokens.
    pub context_tokens: u32,
    /// The model's training context.
    pub trained_context_tokens: u32,
    /// Layers offloaded to a GPU (0 on CPU, and whenever the linked llama.cpp cannot offload).
    pub gpu_layers: u32,
    /// Whether this build of llama.cpp can offload to a GPU at all.
    pub gpu_offload_supported: bool,
    /// The compute devices the linked llama.cpp found (`CUDA0: NVIDIA H200`, `CPU: …`), so that a
    /// user sees which backend runs the model.
    pub devices: Vec<String>,
    /// Threads used for prompt batches and for single-token decodes.
    pub threads: (u32, u32),
    /// The reuse mode in force (PIE falls back to prefix reuse on models whose cache cannot shift;
    /// a remote engine's own prefix cache is prefix reuse).
    pub reuse: ReuseMode,
    /// The remote engine's URL when completions go to one (the GGUF gave its vocabulary only).
    pub engine_url: Option<String>,
}

/// One completion to compute.
#[derive(Debug, Clone)]
pub struct CompletionRequest {
    /// Which document this is (e.g. its URI). Requests of one document share a cached sequence;
    /// different documents do not evict each other until the context is full.
    pub document: String,
    /// Document text before the cursor (the caller may already have cut far-away text).
    pub prefix: String,
    /// Document text after the cursor.
    pub suffix: String,
    /// When generation may stop early (single line, block end, …).
    pub shape: SuggestionShape,
    /// Generation budget in tokens.
    pub max_tokens: u32,
    /// Sampling settings.
    pub sampling: SamplingConfig,
    /// Fires when the editor no longer wants the answer.
    pub cancel: CancelToken,
    /// Snippets of other workspace files to write before the document, and when to use them.
    pub context: Option<RepoContext>,
    /// How the suggestion is checked before it is shown (greedy requests only); `None`: not.
    pub check: Option<SuggestionCheck>,
}

impl CompletionRequest {
    /// A greedy single-line completion of `prefix` in `document`, with no text after the
    /// cursor, no repository context and no check: the plainest request (scripts, tests);
    /// set the other fields with struct update syntax.
    pub fn single_line(document: &str, prefix: &str, max_tokens: u32) -> Self {
        Self {
            document: document.to_owned(),
            prefix: prefix.to_owned(),
            suffix: String::new(),
            shape: SuggestionShape::SingleLine,
            max_tokens,
            sampling: SamplingConfig::default(),
            cancel: CancelToken::new(),
            context: None,
            check: None,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model produced an end-of-generation or template stop token.
    EndOfGeneration,
    /// The suggestion's shape was complete (end of line, end of block, line budget).
    ShapeComplete,
    /// The token budget was spent.
    TokenBudget,
    /// The context is full.
    ContextFull,
    /// The latency budget was reached after a complete line; the partial line after it was
    /// dropped.
    LatencyBudget,
}

/// Counters and timings of one request; `--json` and the benchmarks print them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompletionStats {
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Prompt tokens found in the KV cache from an earlier request.
    pub reused_tokens: usize,
    /// Prompt tokens decoded for this request.
    pub encoded_tokens: usize,
    /// Cached cells moved to new positions (PIE's shift after an edit), 0 when nothing moved.
    pub shifted_tokens: usize,
    /// Prefix tokens dropped to fit the context (or the latency budget).
    pub dropped_prefix_tokens: usize,
    /// Of those, how many the latency budget dropped: the cache could not follow the whole
    /// window in time (a cold document); idle time puts them back.
    pub budget_cut_tokens: usize,
    /// Tokens generated (for the suggestion shown).
    pub generated_tokens: usize,
    /// Tokens generated without the repository context and thrown away, because the model was
    /// unsure of one of them and the line was written again with the context.
    pub discarded_tokens: usize,
    /// Milliseconds to decode the prompt.
    pub prompt_ms: f64,
    /// Milliseconds from the start of the request to the first generated token.
    pub first_token_ms: f64,
    /// Milliseconds for the whole request.
    pub total_ms: f64,
    /// A remote engine's own milliseconds on the request (its `prompt_ms + predicted_ms`, as of
    /// the last event read, over every step and a stream the gate discarded); `None` in process,
    /// or when the engine did not say.
    pub engine_ms: Option<f64>,
    /// Milliseconds the caller spent before submitting the request (the prompt window, the
    /// retrieval gate and search); 0 when the caller does not measure it.
    pub prepare_ms: f64,
    /// Milliseconds of `prepare_ms` that the retrieval decision took (the gate: its reading of
    /// the syntax near the cursor and its index search); 0 when the caller does not measure it.
    pub decision_ms: f64,
    /// Prompt tokens of the repository context block (0 without one).
    pub context_tokens: usize,
    /// Snippets in the repository context block.
    pub context_files: usize,
    /// What became of the request's repository context, when it had one.
    pub context: Option<ContextVerdict>,
    /// Batches that decoded a generated token together with draft tokens.
    pub verify_steps: usize,
    /// Draft tokens decoded in those batches.
    pub draft_tokens: usize,
    /// Draft tokens the model agreed with (kept as generated tokens).
    pub accepted_draft_tokens: usize,
    /// What checking the suggestion did, when the request asked for it.
    pub check: Option<CheckStats>,
    /// Token healing: the prompt text left out for the first generated tokens to spell again
    /// (empty: nothing left out, only a wider blank refused after the prompt's trailing blanks);
    /// `None` when the prompt was not healed.
    pub healed_text: Option<String>,
}

/// Whether a request's repository context was used, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextVerdict {
    /// Whether the prompt included it.
    pub used: bool,
    /// Why, in words.
    pub reason: String,
    /// The most likely first token's probability without the context, when it was computed
    /// ([`ContextUse::IfUncertain`](crate::ContextUse::IfUncertain)).
    pub first_token_probability: Option<f32>,
    /// When the model was sure of the first token and went on writing the first line without
    /// the context: the least probability among the next tokens it watched there (the one that
    /// brought the context in, when it was used).
    pub line_probability: Option<f32>,
}

impl ContextVerdict {
    /// A verdict: whether the context was used, why, and the first token's probability when
    /// it was asked for.
    pub(crate) fn new(used: bool, reason: impl Into<String>, first_token_probability: Option<f32>) -> Self {
        ContextVerdict { used, reason: reason.into(), first_token_probability, line_probability: None }
    }

    /// The verdict with the first line's least watched probability.
    pub(crate) fn with_line_probability(self, line_probability: Option<f32>) -> Self {
        ContextVerdict { line_probability, ..self }
    }
}

impl CompletionStats {
    /// Milliseconds spent decoding the suggestion's tokens after the first: the request's time
    /// after its first token, less the checking of its candidates (branched alternatives,
    /// scoring against the code below), which is not decoding the suggestion. The engine's
    /// measured decode rate is this.
    pub fn decode_ms(&self) -> f64 {
        let checking_ms = self.check.as_ref().map_or(0.0, |check| check.alternatives_ms + check.below_ms);
        self.total_ms - self.first_token_ms - checking_ms
    }

    /// Generated tokens per second after the first one (the decode speed), if measurable: the
    /// tokens after the first over [`Self::decode_ms`], the same definition as the engine's
    /// measured rate and `decodeMs`, so checking candidates never reads as slow decoding.
    pub fn generation_tokens_per_second(&self) -> Option<f64> {
        let decode_ms = self.decode_ms();
        (self.generated_tokens > 1 && decode_ms > 0.0).then(|| (self.generated_tokens - 1) as f64 * 1000.0 / decode_ms)
    }
}

/// A finished request: the raw generated text (before postprocessing) and how it went.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The generated text, exactly as decoded.
    pub text: String,
    /// Why generation ended.
    pub stop: StopReason,
    /// Counters and timings.
    pub stats: CompletionStats,
}

/// Called on the engine thread with a request's outcome. Must not block.
pub type Reply = Box<dyn FnOnce(Result<Completion, EngineError>) + Send>;

pub(crate) enum Job {
    Complete(Box<CompletionRequest>, Reply),
    Logits(Box<CompletionRequest>, Box<dyn FnOnce(Result<Vec<f32>, EngineError>) + Send>),
    /// Up to this many steps of idle work now, then the reply with how many were done.
    Repair(usize, Box<dyn FnOnce(Result<usize, EngineError>) + Send>),
    NeedsRepair(Box<dyn FnOnce(bool) + Send>),
    Close(String),
    /// The person edited a document: no work, but idle time starts over, as after a job.
    Typing,
}

/// A handle to the engine thread. Cloning is cheap; the thread stops when the last handle drops.
#[derive(Clone)]
pub struct Engine {
    jobs: mpsc::Sender<Job>,
    info: Arc<ModelInfo>,
    rates: SharedRates,
    /// The remote engine's state, when completions go to one.
    remote: Option<RemoteHandle>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads the model on a new engine thread and waits until it is ready (or failed).
    /// Costs the model load: well under a second for small models with a warm page cache.
    pub fn start(config: EngineConfig) -> Result<Engine, ModelError> {
        if let Some(endpoint) = config.remote.clone() {
            return Self::connect(config, endpoint);
        }
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<ModelInfo, ModelError>>();
        let rates = SharedRates::default();
        let thread_rates = rates.clone();
        std::thread::Builder::new()
            .name("splice-engine".to_owned())
            .spawn(move || run_thread(config, ready_tx, job_rx, thread_rates))
            .map_err(ModelError::Thread)?;
        let info = ready_rx.recv().map_err(|_| ModelError::Llama {
            action: "start",
            reason: "the model thread stopped while loading".to_owned(),
        })??;
        Ok(Engine { jobs, info: Arc::new(info), rates, remote: None })
    }

    /// Loads the vocabulary of `config.model_path` and starts the thread that sends completions
    /// to the remote engine at `endpoint`. Does not wait for the engine: one that is down is
    /// retried with backoff, and requests fail meanwhile ([`EngineError::Remote`]).
    fn connect(config: EngineConfig, endpoint: RemoteEndpoint) -> Result<Engine, ModelError> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let rates = SharedRates::default();
        let thread_rates = rates.clone();
        std::thread::Builder::new()
            .name("splice-remote".to_owned())
            .spawn(move || {
                let _running = RunningEngine::enter();
                remote::run_thread(config, endpoint, ready_tx, job_rx, thread_rates)
            })
            .map_err(ModelError::Thread)?;
        let (info, handle) = ready_rx.recv().map_err(|_| ModelError::Llama {
            action: "start",
            reason: "the remote engine's thread stopped while loading the vocabulary".to_owned(),
        })??;
        Ok(Engine { jobs, info: Arc::new(info), rates, remote: Some(handle) })
    }

    /// The remote engine's state, when completions go to one.
    pub fn remote_status(&self) -> Option<RemoteStatus> {
        self.remote.as_ref().map(RemoteHandle::status)
    }

    /// What was loaded.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The prefill and decode speeds measured so far.
    pub fn rates(&self) -> MeasuredRates {
        *self.rates.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Queues a request; `reply` is called on the engine thread when it is done, failed or was
    /// cancelled. If the engine has stopped, `reply` is called at once with [`EngineError::Stopped`].
    pub fn submit(&self, request: CompletionRequest, reply: Reply) {
        if let Err(mpsc::SendError(Job::Complete(_, reply))) = self.jobs.send(Job::Complete(Box::new(request), reply)) {
            reply(Err(EngineError::Stopped));
        }
    }

    /// The next-token logits at the end of `request`'s prompt, after updating the cache as a
    /// completion would (no generation). Blocks. For fidelity checks and diagnostics.
    pub fn prompt_logits_blocking(&self, request: CompletionRequest) -> Result<Vec<f32>, EngineError> {
        let (tx, rx) = mpsc::channel();
        let job = Job::Logits(Box::new(request), Box::new(move |result| drop(tx.send(result))));
        self.jobs.send(job).map_err(|_| EngineError::Stopped)?;
        rx.recv().unwrap_or(Err(EngineError::Stopped))
    }

    /// Frees the cached sequence of `document` (the editor closed it). Does not wait.
    pub fn close_document(&self, document: &str) {
        let _ = self.jobs.send(Job::Close(document.to_owned()));
    }

    /// The person is typing: idle work (widening a cut prompt, repairing stale cells) waits until
    /// they have paused for the idle time, as it waits after a request. Edits answered from the
    /// typed-ahead cache reach the engine as nothing else, and an idle step begun between two
    /// keys (a widening step costs a K-shift pass, 250–400 ms with one core busy) held up the
    /// next key's request. Costs one message.
    pub fn typing(&self) {
        let _ = self.jobs.send(Job::Typing);
    }

    /// Does now what idle time would: widens a prompt the latency budget cut back to its full
    /// window, then re-encodes every stale cell; returns how many chunks that took (0: nothing to
    /// do). Blocks. For tests and benchmarks that need the repaired state at a known time.
    pub fn repair_blocking(&self) -> Result<usize, EngineError> {
        self.idle_steps_blocking(usize::MAX)
    }

    /// Does at most `steps` steps of what idle time would do ([`repair_blocking`](Self::repair_blocking)
    /// does all of it); returns how many it did. Blocks. For tests of the state a request finds
    /// between two idle steps.
    pub fn idle_steps_blocking(&self, steps: usize) -> Result<usize, EngineError> {
        let (tx, rx) = mpsc::channel();
        let job = Job::Repair(steps, Box::new(move |result| drop(tx.send(result))));
        self.jobs.send(job).map_err(|_| EngineError::Stopped)?;
        rx.recv().unwrap_or(Err(EngineError::Stopped))
    }

    /// Whether any cell is still stale (waiting for the idle repair), without repairing it.
    /// Blocks until the engine thread is free. For tests that wait for the idle repair by its
    /// progress rather than by the clock.
    pub fn needs_repair_blocking(&self) -> Result<bool, EngineError> {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Job::NeedsRepair(Box::new(move |stale| {
                let _ = tx.send(stale);
            })))
            .map_err(|_| EngineError::Stopped)?;
        rx.recv().map_err(|_| EngineError::Stopped)
    }

    /// Runs a request and waits for it. For the CLI and benchmarks; async callers use [`submit`](Self::submit).
    pub fn complete_blocking(&self, request: CompletionRequest) -> Result<Completion, EngineError> {
        let (tx, rx) = mpsc::channel();
        self.submit(
            request,
            Box::new(move |result| {
                let _ = tx.send(result);
            }),
        );
        rx.recv().unwrap_or(Err(EngineError::Stopped))
    }
}

/// Loads only the vocabulary of `path` and detects its prompt template. Cheap: no weights are read.
pub fn detect_template(path: &Path) -> Result<PromptTemplate, ModelError> {
    let (model, _) = loader::load_model(path, 0, true)?;
    Ok(vocabulary::detect_template(&model).0)
}

/// How many engine threads are running (loading, serving, or freeing their model).
static RUNNING_ENGINES: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

/// Counts an engine thread as running for as long as it lives.
struct RunningEngine;

impl RunningEngine {
    fn enter() -> Self {
        *RUNNING_ENGINES.0.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        RunningEngine
    }
}

impl Drop for RunningEngine {
    fn drop(&mut self) {
        let mut running = RUNNING_ENGINES.0.lock().unwrap_or_else(|p| p.into_inner());
        *running = running.saturating_sub(1);
        RUNNING_ENGINES.1.notify_all();
    }
}

/// Waits up to `timeout` until every engine thread has ended (its last handle dropped, its
/// current job finished or cancelled, its model freed); returns whether they all did. A
/// process must not exit while a thread is inside llama.cpp: llama.cpp's exit-time cleanup
/// would pull the backend out from under a running decode.
pub fn wait_for_engine_threads(timeout: Duration) -> bool {
    let running = RUNNING_ENGINES.0.lock().unwrap_or_else(|p| p.into_inner());
    let (running, _) = RUNNING_ENGINES
        .1
        .wait_timeout_while(running, timeout, |running| *running > 0)
        .unwrap_or_else(|p| p.into_inner());
    *running == 0
}

/// The model at `path` with `gpu_layers` layers offloaded, and those layers; when a GPU load
/// fails (out of memory, a driver error), the model loaded on the CPU instead, with a warning,
/// and 0.
fn load_with_cpu_fallback(
    path: &std::path::Path,
    gpu_layers: u32,
) -> Result<(llama_cpp_2::model::LlamaModel, String, u32), ModelError> {
    match loader::load_model(path, gpu_layers, false) {
        Ok((model, architecture)) => Ok((model, architecture, gpu_layers)),
        Err(err) if gpu_layers > 0 && !matches!(err, ModelError::NotFound(_)) => {
            tracing::warn!(%err, gpu_layers, "the model did not load onto the GPU: running it on the CPU instead");
            let (model, architecture) = loader::load_model(path, 0, false)?;
            Ok((model, architecture, 0))
        }
        Err(err) => Err(err),
    }
}

fn run_thread(
    config: EngineConfig,
    ready: mpsc::Sender<Result<ModelInfo, ModelError>>,
    jobs: mpsc::Receiver<Job>,
    rates: SharedRates,
) {
    let _running = RunningEngine::enter();
    let gpu_offload_supported = match loader::backend() {
        Ok(backend) => backend.supports_gpu_offload(),
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    // Without a GPU backend nothing is offloaded, whatever was asked.
    let wanted = if gpu_offload_supported { config.gpu_layers.unwrap_or(u32::MAX) } else { 0 };
    let (model, architecture, gpu_layers) = match load_with_cpu_fallback(&config.model_path, wanted) {
        Ok(loaded) => loaded,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let mut worker = match Worker::new(&model, &config, rates) {
        Ok(worker) => worker,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let info = ModelInfo {
        path: config.model_path.clone(),
        architecture,
        template: worker.template().clone(),
        repo_format: worker.repo_format(),
        context_tokens: worker.context_tokens(),
        trained_context_tokens: model.n_ctx_train(),
        gpu_layers: gpu_layers.min(model.n_layer()),
        gpu_offload_supported,
        devices: loader::devices(),
        threads: worker.threads(),
        reuse: worker.reuse(),
        engine_url: None,
    };
    tracing::info!(
        model = %info.path.display(), architecture = %info.architecture, template = %info.template.describe(),
        ctx = info.context_tokens, gpu_layers = info.gpu_layers, devices = ?info.devices, "model loaded"
    );
    tracing::debug!(system = %crate::build_info::llama_system_info(), "llama.cpp");
    if ready.send(Ok(info)).is_err() {
        return;
    }
    serve_jobs(&mut worker, &jobs, config.repair_idle);
}

/// Runs jobs in arrival order. When no job came for `repair_idle` (an edit's [`Job::Typing`]
/// counts: the person is not idle while typing along a suggestion), idle time first gives a
/// prompt the latency budget cut its full window back, then re-encodes stale cells, one chunk at
/// a time, checking for a new job between chunks.
fn serve_jobs(worker: &mut Worker<'_>, jobs: &mpsc::Receiver<Job>, repair_idle: Duration) {
    let mut last_job = Instant::now();
    loop {
        let job = if worker.has_idle_work() {
            match jobs.recv_timeout(repair_idle.saturating_sub(last_job.elapsed())) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(err) = worker.idle_step() {
                        tracing::warn!("background widening or repair failed: {err}");
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        run_job(worker, job);
        last_job = Instant::now();
    }
}

fn run_job(worker: &mut Worker<'_>, job: Job) {
    match job {
        Job::Complete(request, reply) => {
            let result = if request.cancel.start() { worker.complete(&request) } else { Err(EngineError::Cancelled) };
            reply(result);
        }
        Job::Logits(request, reply) => reply(worker.prompt_logits(&request)),
        Job::Close(document) => worker.close_document(&document),
        Job::Typing => {}
        Job::NeedsRepair(reply) => reply(worker.needs_repair()),
        Job::Repair(steps, reply) => {
            let mut chunks = 0;
            let result = loop {
                if chunks == steps || !worker.has_idle_work() {
                    break Ok(chunks);
                }
                chunks += 1;
                if let Err(err) = worker.idle_step() {
                    break Err(err);
                }
            };
            reply(result);
        }
    }
}
