//! A remote engine: the forward passes run in an inference server that a team shares
//! (llama.cpp's `llama-server`, vLLM, SGLang, TGI, any OpenAI-compatible completions API), and
//! everything around them stays here, exactly as with the local engine: the prompt window and
//! its token budget, the FIM and repository formats, the retrieval gate, the suggestion's shape
//! and its checks, cancellation.
//!
//! The prompt is fitted with the model's own vocabulary, loaded from a GGUF without its weights
//! (llama.cpp's `vocab_only`), and sent as token ids: the engine decodes exactly the tokens the
//! local engine would, and fitting a prompt on every keystroke costs no round trip to a
//! tokenize endpoint. At connect time Splice asks the engine to tokenize a probe text (where it
//! can) and refuses to send prompts to an engine whose model tokenizes differently.
//!
//! One thread (`splice-remote`) runs the jobs in arrival order, as the local engine thread
//! does, on a small tokio runtime of its own for the HTTP client (one I/O thread, which closes a
//! cancelled request's connection at once); it probes the engine with
//! backoff while the engine is down. A cancelled request closes its HTTP connection, and
//! llama-server and vLLM stop generating when their client disconnects.

mod budget_cut;
mod client;
mod health;
mod request;
mod slot;
mod sse;
mod steps;
mod wire;

pub use health::EngineHealthState;
pub use wire::EngineProtocol;

use crate::engine::{EngineConfig, Job, ModelInfo};
use crate::error::{EngineError, ModelError};
use crate::loader;
use crate::rates::SharedRates;
use crate::vocabulary;
use std::fmt;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

/// Where the remote engine is and how to talk to it.
#[derive(Clone, PartialEq)]
pub struct RemoteEndpoint {
    /// The engine's base URL, e.g. `http://gpu-box:8080` (a trailing `/v1` is allowed).
    pub url: String,
    /// The protocol; `None`: detected at connect time (`/props` answers only on llama-server).
    pub protocol: Option<EngineProtocol>,
    /// The model name sent with OpenAI requests; `None`: the engine's first (`/v1/models`).
    pub model: Option<String>,
    /// Sent as `Authorization: Bearer …`; never logged or shown.
    pub api_key: Option<String>,
}

impl fmt::Debug for RemoteEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteEndpoint")
            .field("url", &self.url)
            .field("protocol", &self.protocol)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .finish()
    }
}

/// The remote engine as `splice/status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteStatus {
    /// The engine's base URL.
    pub url: String,
    /// The protocol in use, once known.
    pub protocol: Option<EngineProtocol>,
    /// The engine's model name, once known.
    pub model: Option<String>,
    /// The engine's context size per request, once known.
    pub context_tokens: Option<usize>,
    /// Whether it can be asked.
    pub state: EngineHealthState,
    /// Why not, while it cannot.
    pub last_error: Option<String>,
    /// Failures in a row.
    pub failures: u32,
    /// Times it went down (or turned out to serve another model) so far.
    pub outages: u64,
    /// Milliseconds until the next retry, while it is down.
    pub retry_in_ms: Option<u64>,
    /// Whether the engine returns log-probabilities (the model step of the retrieval gate
    /// needs them); `None` until a request asked.
    pub logprobs: Option<bool>,
    /// The llama-server slot this editor's requests ask for, once learnt.
    pub slot: Option<u32>,
    /// The tokens the last step of a llama-server request asked for (requests there are asked
    /// in steps), once one was asked.
    pub step_tokens: Option<usize>,
    /// The measured round trip of a step beyond the engine's own time, in milliseconds.
    pub step_round_trip_ms: Option<f64>,
}

/// What the engine said about itself at connect time.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct EngineFacts {
    pub protocol: Option<EngineProtocol>,
    pub model: Option<String>,
    pub context_tokens: Option<usize>,
    pub logprobs: Option<bool>,
}

/// State shared between the remote thread and the engine's handles.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub health: health::Health,
    pub facts: EngineFacts,
    pub slot: slot::EngineSlot,
    /// How many tokens each step of a llama-server request asks for (see `steps.rs`).
    pub steps: steps::StepSizer,
    /// The tokens the last step asked for, once one was asked.
    pub last_step_tokens: Option<usize>,
}

/// A handle's view of the remote engine's state.
#[derive(Debug, Clone)]
pub(crate) struct RemoteHandle {
    url: String,
    shared: Arc<Mutex<Shared>>,
}

impl RemoteHandle {
    /// The engine's state now.
    pub(crate) fn status(&self) -> RemoteStatus {
        let shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let health = &shared.health;
        RemoteStatus {
            url: self.url.clone(),
            protocol: shared.facts.protocol,
            model: shared.facts.model.clone(),
            context_tokens: shared.facts.context_tokens,
            state: health.state(),
            last_error: health.last_error().map(str::to_owned),
            failures: health.failures(),
            outages: health.outages(),
            // `probe_in` is `None` while the engine is up.
            retry_in_ms: health.probe_in(now).map(|d| d.as_millis() as u64),
            logprobs: shared.facts.logprobs,
            slot: shared.slot.get(),
            step_tokens: shared.last_step_tokens,
            step_round_trip_ms: shared.steps.round_trip_ms(),
        }
    }
}

/// Loads the vocabulary of `config.model_path`, then serves `jobs` against the remote engine on
/// this thread until every handle is dropped. Sends the model's description (or why it could
/// not load) on `ready` before serving.
pub(crate) fn run_thread(
    config: EngineConfig,
    endpoint: RemoteEndpoint,
    ready: mpsc::Sender<Result<(ModelInfo, RemoteHandle), ModelError>>,
    jobs: mpsc::Receiver<Job>,
    rates: SharedRates,
) {
    let loaded = loader::load_model(&config.model_path, 0, true);
    let (model, architecture) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    // A worker thread of its own: the HTTP client's connection tasks must run between jobs too,
    // or a connection whose request was cancelled would never be closed (and the engine would
    // generate on for nobody).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("splice-remote-io")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = ready.send(Err(ModelError::Thread(err)));
            return;
        }
    };
    let client = match client::EngineClient::new(&endpoint) {
        Ok(client) => client,
        Err(reason) => {
            let _ = ready.send(Err(ModelError::Llama { action: "set up the engine's HTTP client", reason }));
            return;
        }
    };
    let shared = Arc::new(Mutex::new(Shared::default()));
    let (template, repo_format) = vocabulary::detect_template(&model);
    let trained = trained_context(&model, &architecture);
    let context_tokens = config.context_tokens.unwrap_or(crate::DEFAULT_CONTEXT_TOKENS.min(trained.max(1)));
    let info = ModelInfo {
        path: config.model_path.clone(),
        architecture,
        template: template.clone(),
        repo_format,
        context_tokens,
        trained_context_tokens: trained,
        gpu_layers: 0,
        gpu_offload_supported: false,
        devices: Vec::new(),
        threads: (0, 0),
        reuse: crate::ReuseMode::Prefix,
        engine_url: Some(endpoint.url.clone()),
    };
    tracing::info!(
        engine = %endpoint.url, vocabulary = %info.path.display(), template = %info.template.describe(),
        "remote engine: vocabulary loaded; connecting"
    );
    let handle = RemoteHandle { url: endpoint.url.clone(), shared: shared.clone() };
    if ready.send(Ok((info, handle))).is_err() {
        return;
    }
    let mut worker =
        request::RemoteWorker::new(&model, (template, repo_format), &config, context_tokens, client, shared, rates);
    serve(&mut worker, &runtime, &jobs);
}

/// The model's training context from the GGUF's metadata (a vocabulary-only load leaves
/// llama.cpp's own hyperparameters unset).
fn trained_context(model: &llama_cpp_2::model::LlamaModel, architecture: &str) -> u32 {
    let loaded = model.n_ctx_train();
    if loaded > crate::MIN_PROMPT_TOKENS {
        return loaded;
    }
    model
        .meta_val_str(&format!("{architecture}.context_length"))
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(crate::DEFAULT_CONTEXT_TOKENS)
}

/// Runs jobs in arrival order; while the engine is not up, probes it when its retry is due.
fn serve(worker: &mut request::RemoteWorker<'_>, runtime: &tokio::runtime::Runtime, jobs: &mpsc::Receiver<Job>) {
    loop {
        let job = match worker.probe_in() {
            Some(wait) => match jobs.recv_timeout(wait) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    runtime.block_on(worker.probe());
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            },
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            Job::Complete(request, reply) => {
                let result = if request.cancel.start() {
                    runtime.block_on(worker.complete(&request))
                } else {
                    Err(EngineError::Cancelled)
                };
                reply(result);
            }
            Job::Logits(_, reply) => reply(Err(EngineError::Unsupported(
                "prompt logits: a remote engine returns log-probabilities of generated tokens only",
            ))),
            Job::Repair(_, reply) => reply(Ok(0)),
            Job::NeedsRepair(reply) => reply(false),
            Job::Close(document) => worker.close_document(&document),
            Job::Typing => {}
        }
    }
}
