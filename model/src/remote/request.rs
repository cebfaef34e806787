//! One completion through the remote engine: the prompt fitted locally with the model's
//! vocabulary (the same tokens the local engine would decode, without token healing: no engine
//! API can constrain the first tokens to re-spell a word), the retrieval gate's model step from
//! the engine's log-probability of the first token, the stream read until the suggestion's shape
//! is complete (then the connection is closed), and the local candidate check.

use super::budget_cut::BudgetCuts;
use super::client::{EngineClient, Fault, Flow, StreamEnd};
use super::health::EngineHealthState;
use super::steps;
use super::wire::{self, EngineProtocol, EngineStop, StreamEvent, WireRequest};
use super::{slot, EngineFacts, Shared};
use crate::cache_plan;
use crate::candidates::{self, CandidateSource, CheckStats};
use crate::engine::{Completion, CompletionRequest, CompletionStats, ContextVerdict, EngineConfig, StopReason};
use crate::error::EngineError;
use crate::line_watch::LineWatch;
use crate::prompt_builder::{self, DocumentTokens, Prompt, PromptBuilder};
use crate::rates::SharedRates;
use crate::repo_context::{ContextUse, RenderedContext, RepoFormat};
use crate::shape::{self, StreamVerdict};
use crate::template::PromptTemplate;
use crate::MIN_PROMPT_TOKENS;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The text both sides tokenize at connect time: code, a comment, indentation and a non-ASCII
/// word, so that a model with another vocabulary shows itself.
const PROBE_TEXT: &str = "def splice_probe(items):\n    return [x * 2 for x in items]  # ünïcode, 日本\n";

/// What a request's stream produced.
struct Streamed {
    text: String,
    stop: StopReason,
    /// Events that carried text (about one per token).
    tokens: usize,
    first_token_ms: f64,
    counters: wire::EngineCounters,
}

/// The share of a prompt the engine must hold for it to count as warm (see
/// `RemoteWorker::warm_instead`).
const WARM_SHARE: f64 = 0.75;

/// Whether a prompt of `len` tokens of which the engine would encode `cost` is warm.
fn is_warm(cost: usize, len: usize) -> bool {
    (len - cost.min(len)) as f64 >= WARM_SHARE * len as f64
}

/// What a prompt sent instead of one with new snippets holds (see `RemoteWorker::warm_instead`).
#[derive(Debug, Clone, Copy)]
enum WarmInstead {
    /// No snippets.
    Bare,
    /// The document's previous snippets.
    Kept,
}

/// Whether the model step of the gate let a stream without context run on.
enum Gated {
    /// The stream ran to its end (the model was sure, or there was no gate).
    Ran(Streamed, StreamGate),
    /// The first token's probability was below the threshold (or unknown), or one of the first
    /// line's next tokens' was: the stream (discarded) was closed; the request runs again with
    /// its context.
    Unsure(StreamGate, Streamed),
}

/// What a stream without the request's context saw of the model's confidence: the first
/// token's probability, then the first line's next tokens', watched as the local engine
/// watches them ([`LineWatch`]).
#[derive(Debug, Clone, Copy)]
struct StreamGate {
    /// `None` before the first event; `Some(None)` when it came without a probability.
    first: Option<Option<f32>>,
    line: LineWatch,
}

impl StreamGate {
    fn new(min_probability: f32, watch_tokens: usize) -> Self {
        StreamGate { first: None, line: LineWatch::new(min_probability, watch_tokens) }
    }

    /// Reads one event's probability; returns whether the model is unsure, so that the stream
    /// stops. `token` is the event's place among the generated tokens, `before` the text before it.
    fn saw(&mut self, token: usize, before: &str, logprob: Option<f32>) -> bool {
        let p = logprob.map(f32::exp);
        if self.first.is_none() {
            self.first = Some(p);
        } else if let Some(p) = p.filter(|_| self.line.watches(token, before)) {
            self.line.saw(token, p);
        }
        self.unsure()
    }

    /// Whether the model was unsure without the context (or the engine gave no probability).
    fn unsure(&self) -> bool {
        let first_unsure = self.first.is_some_and(|p| p.is_none_or(|p| p < self.line.min_probability));
        first_unsure || self.line.unsure().is_some()
    }

    /// The verdict's reason and probabilities.
    fn verdict(&self) -> ContextVerdict {
        let min = self.line.min_probability;
        let (used, reason) = match self.first {
            None => (false, "the model wrote nothing without it".to_owned()),
            Some(None) => {
                (true, "the engine gives no log-probabilities: the lexical and score gates decided".to_owned())
            }
            Some(Some(p)) if p < min => (true, format!("model unsure without it (first token p={p:.2} < {min})")),
            Some(Some(first)) => match self.line.unsure_reason() {
                Some(reason) => (true, reason),
                None => (false, format!("model sure without it (first token p={first:.2} ≥ {min})")),
            },
        };
        let line_probability = self.line.least.map(|(_, p)| p);
        ContextVerdict::new(used, reason, self.first.flatten()).with_line_probability(line_probability)
    }
}

/// A stream's reading, event by event and across its steps: the text so far (kept apart, in
/// the `RefCell` the cancellation poll reads too) and what ends it where the local engine would
/// stop: the gate unsure, the person typing past a released request, the shape complete, or the
/// latency budget after a complete line.
struct StreamReader<'r, 'g> {
    request: &'r CompletionRequest,
    started: Instant,
    budget_ms: Option<f64>,
    gate: Option<&'g mut StreamGate>,
    out: Streamed,
    /// Cancelled, or released and the person typed something else since: nobody can use the
    /// rest, and the engine's slot is wanted by the next keystroke's request.
    unwanted: bool,
    /// The cursor's column (see [`shape::budget_may_end`]).
    column: usize,
}

impl<'r, 'g> StreamReader<'r, 'g> {
    fn new(
        request: &'r CompletionRequest,
        started: Instant,
        budget_ms: Option<f64>,
        gate: Option<&'g mut StreamGate>,
    ) -> Self {
        let out = Streamed {
            text: String::new(),
            stop: StopReason::EndOfGeneration,
            tokens: 0,
            first_token_ms: 0.0,
            counters: wire::EngineCounters::default(),
        };
        let column = shape::cursor_column(&request.prefix);
        StreamReader { request, started, budget_ms, gate, out, unwanted: false, column }
    }

    /// Reads one event into `generated`; whether the stream should stop.
    fn read(&mut self, event: &StreamEvent, generated: &RefCell<String>) -> Flow {
        if let Some(gate) = self.gate.as_mut() {
            let first = gate.first.is_none() && (!event.text.is_empty() || event.stop.is_some());
            if (first || !event.text.is_empty()) && gate.saw(self.out.tokens, &generated.borrow(), event.logprob) {
                return Flow::Stop;
            }
        }
        if event.text.is_empty() {
            return Flow::Continue;
        }
        if self.out.tokens == 0 {
            self.out.first_token_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        }
        self.out.tokens += 1;
        generated.borrow_mut().push_str(&event.text);
        self.request.cancel.wrote(&generated.borrow());
        if self.request.cancel.should_stop(&generated.borrow()) {
            self.unwanted = true;
            return Flow::Stop;
        }
        let text = generated.borrow();
        if self.request.shape.verdict(&text) == StreamVerdict::Stop {
            self.out.stop = StopReason::ShapeComplete;
            return Flow::Stop;
        }
        let late = self.budget_ms.is_some_and(|b| self.started.elapsed().as_secs_f64() * 1000.0 >= b);
        if late && shape::budget_may_end(&text, self.column) {
            self.out.stop = StopReason::LatencyBudget;
            return Flow::Stop;
        }
        Flow::Continue
    }

    /// The stream is asked again from its prompt: its tokens so far are forgotten, and the
    /// gate, which has judged them already, reads no more.
    fn start_again(&mut self) {
        self.out.tokens = 0;
        self.gate = None;
    }
}

/// The remote thread's state.
pub(crate) struct RemoteWorker<'m> {
    model: &'m LlamaModel,
    template: PromptTemplate,
    repo_format: RepoFormat,
    bos: Option<LlamaToken>,
    /// The template's and repository format's stop tokens, as the texts the engine writes.
    stop_texts: Vec<String>,
    /// The same stop tokens' ids: a stepped stream watches for them itself (see `stream`).
    stop_tokens: Vec<i32>,
    /// The configured context size: prompts are fitted to the smaller of it and the engine's.
    context_tokens: usize,
    latency_budget_ms: Option<f64>,
    client: EngineClient,
    protocol_wanted: Option<EngineProtocol>,
    model_name_wanted: Option<String>,
    shared: Arc<Mutex<Shared>>,
    rates: SharedRates,
    /// The repository-context block each document's last prompt began with: kept while it does
    /// not change, so the engine's prefix cache keeps it too.
    blocks: HashMap<String, RenderedContext>,
    /// Where the latency budget cut each document's last prompt: the next keeps the start.
    cuts: BudgetCuts,
    /// This editor's marker: the seed of its greedy llama-server requests, by which `/slots`
    /// tells the slot that ran them (see `slot.rs`).
    marker: u32,
    /// The last prompt sent: what the engine's cache (this editor's slot) holds, as far as this
    /// editor knows.
    sent: RefCell<Vec<LlamaToken>>,
}

impl<'m> RemoteWorker<'m> {
    /// A worker for the engine `client` talks to, fitting prompts with `model`'s vocabulary in
    /// its template and repository format, to at most `context_tokens`.
    pub(crate) fn new(
        model: &'m LlamaModel,
        (template, repo_format): (PromptTemplate, RepoFormat),
        config: &EngineConfig,
        context_tokens: u32,
        client: EngineClient,
        shared: Arc<Mutex<Shared>>,
        rates: SharedRates,
    ) -> Self {
        let vocab = model.vocab();
        let bos = vocab.should_add_bos().then(|| vocab.bos());
        let mut stop_tokens = template.stop_tokens().to_vec();
        stop_tokens.extend(repo_format.stop_tokens());
        let stop_texts = stop_tokens
            .iter()
            .map(|&token| String::from_utf8_lossy(&vocab.token_to_piece(token, true, None)).into_owned())
            .filter(|text| !text.is_empty())
            .collect();
        let remote = config.remote.as_ref();
        RemoteWorker {
            model,
            template,
            repo_format,
            bos,
            stop_texts,
            stop_tokens: stop_tokens.iter().map(|token| token.0).collect(),
            context_tokens: context_tokens as usize,
            latency_budget_ms: config.latency_budget.map(|b| b.as_secs_f64() * 1000.0),
            client,
            protocol_wanted: remote.and_then(|r| r.protocol),
            model_name_wanted: remote.and_then(|r| r.model.clone()),
            shared,
            rates,
            blocks: HashMap::new(),
            cuts: BudgetCuts::default(),
            marker: slot::new_marker(),
            sent: RefCell::new(Vec::new()),
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long until the engine should be probed again; `None` while it is up.
    pub(crate) fn probe_in(&self) -> Option<Duration> {
        self.shared().health.probe_in(Instant::now())
    }

    /// The document was closed: forget its block.
    pub(crate) fn close_document(&mut self, document: &str) {
        self.blocks.remove(document);
        self.cuts.forget(document);
    }

    /// Connects (again): the protocol, the model's name and context size, and a check that
    /// the engine's model tokenizes as the vocabulary does. Records the outcome in the health.
    pub(crate) async fn probe(&mut self) {
        let result = self.connect().await;
        let url = self.client.base().to_owned();
        let mut shared = self.shared();
        match result {
            Ok(facts) => {
                let logprobs = shared.facts.logprobs;
                shared.facts = EngineFacts { logprobs, ..facts };
                if shared.health.state() != EngineHealthState::Up {
                    tracing::info!(engine = %url, protocol = ?shared.facts.protocol.map(EngineProtocol::name),
                        model = ?shared.facts.model, ctx = ?shared.facts.context_tokens, "remote engine connected");
                }
                shared.health.succeeded();
            }
            Err((message, wrong_model)) => {
                if shared.health.last_error() != Some(message.as_str()) {
                    tracing::warn!(engine = %url, "remote engine unavailable: {message}");
                }
                shared.health.failed(Instant::now(), message, wrong_model);
            }
        }
    }

    async fn connect(&self) -> Result<EngineFacts, (String, bool)> {
        let url = self.client.base().to_owned();
        let fault = |fault: Fault| (fault.describe(&url), false);
        let (protocol, props) = match self.protocol_wanted {
            Some(EngineProtocol::LlamaServer) => {
                (EngineProtocol::LlamaServer, Some(self.client.get_json("/props").await.map_err(fault)?))
            }
            Some(EngineProtocol::OpenAi) => (EngineProtocol::OpenAi, None),
            None => match self.client.get_json("/props").await {
                Ok(props) if props.get("default_generation_settings").is_some() => {
                    (EngineProtocol::LlamaServer, Some(props))
                }
                Err(Fault::Unreachable(why)) => return Err(fault(Fault::Unreachable(why))),
                _ => (EngineProtocol::OpenAi, None),
            },
        };
        let mut facts = EngineFacts { protocol: Some(protocol), ..EngineFacts::default() };
        match props {
            Some(props) => {
                // `/health` answers 503 while the model loads.
                self.client.get_json("/health").await.map_err(fault)?;
                facts.context_tokens =
                    props.pointer("/default_generation_settings/n_ctx").and_then(|n| n.as_u64()).map(|n| n as usize);
                facts.model = self.model_name_wanted.clone().or_else(|| {
                    props.get("model_path").and_then(|p| p.as_str()).map(|p| {
                        std::path::Path::new(p).file_name().map_or(p.to_owned(), |f| f.to_string_lossy().into_owned())
                    })
                });
            }
            None => {
                let models = self.client.get_json("/v1/models").await.map_err(fault)?;
                let first = models.pointer("/data/0");
                let served: Vec<&str> = models
                    .get("data")
                    .and_then(|d| d.as_array())
                    .map(|d| d.iter().filter_map(|m| m.get("id").and_then(|id| id.as_str())).collect())
                    .unwrap_or_default();
                facts.model = match &self.model_name_wanted {
                    Some(wanted) if !served.is_empty() && !served.contains(&wanted.as_str()) => {
                        let message = format!("the engine at {url} serves {served:?}, not the model {wanted:?}");
                        return Err((message, true));
                    }
                    Some(wanted) => Some(wanted.clone()),
                    None => served.first().map(|s| (*s).to_owned()),
                };
                if facts.model.is_none() {
                    return Err((format!("the engine at {url} lists no model at /v1/models"), false));
                }
                facts.context_tokens =
                    first.and_then(|m| m.get("max_model_len")).and_then(|n| n.as_u64()).map(|n| n as usize);
            }
        }
        self.check_vocabulary(protocol, facts.model.as_deref()).await?;
        Ok(facts)
    }

    /// Asks the engine to tokenize [`PROBE_TEXT`] and compares with the local vocabulary. An
    /// engine without a tokenize endpoint passes (nothing to compare with).
    async fn check_vocabulary(&self, protocol: EngineProtocol, model: Option<&str>) -> Result<(), (String, bool)> {
        let url = self.client.base().to_owned();
        let body = match protocol {
            EngineProtocol::LlamaServer => json!({ "content": PROBE_TEXT, "add_special": false }),
            EngineProtocol::OpenAi => json!({ "model": model, "prompt": PROBE_TEXT, "add_special_tokens": false }),
        };
        let answer = match self.client.post_json("/tokenize", &body).await {
            Ok(answer) => answer,
            Err(Fault::Status(404 | 405 | 501, _)) => {
                tracing::info!(engine = %url, "the engine has no /tokenize: its vocabulary is not checked");
                return Ok(());
            }
            Err(fault) => return Err((fault.describe(&url), false)),
        };
        let theirs: Option<Vec<i64>> = answer
            .get("tokens")
            .and_then(|t| t.as_array())
            .map(|tokens| tokens.iter().filter_map(|t| t.as_i64().or_else(|| t.get("id")?.as_i64())).collect());
        let ours: Vec<i64> =
            self.model.vocab().tokenize(PROBE_TEXT.as_bytes(), false, false).iter().map(|t| i64::from(t.0)).collect();
        match theirs {
            Some(theirs) if theirs == ours => Ok(()),
            Some(_) => Err((
                format!(
                    "the engine at {url} tokenizes differently from the vocabulary in {} (another model?): point \
                     --model at a GGUF of the engine's model (its vocabulary is enough)",
                    self.model_path_hint()
                ),
                true,
            )),
            None => Err((format!("the engine at {url} answered /tokenize without `tokens`"), false)),
        }
    }

    fn model_path_hint(&self) -> String {
        self.model.meta_val_str("general.name").unwrap_or_else(|_| "the --model GGUF".to_owned())
    }

    /// Runs one request. While the engine is down (and no retry is due) it fails at once with
    /// the engine's state; a fault that takes the engine down records an outage.
    pub(crate) async fn complete(&mut self, request: &CompletionRequest) -> Result<Completion, EngineError> {
        let now = Instant::now();
        let (may_try, up) = {
            let shared = self.shared();
            (shared.health.may_try(now), shared.health.state() == EngineHealthState::Up)
        };
        if !may_try {
            return Err(self.unavailable());
        }
        if !up {
            self.probe().await;
            if self.shared().health.state() != EngineHealthState::Up {
                return Err(self.unavailable());
            }
        }
        match self.run(request, now).await {
            Ok(completion) => Ok(completion),
            Err(Fault::Cancelled) => Err(EngineError::Cancelled),
            Err(fault) => {
                let message = fault.describe(self.client.base());
                if fault.is_outage() {
                    tracing::warn!("remote engine failed: {message}");
                    let mut shared = self.shared();
                    // A restarted engine may have fewer slots: let it choose again.
                    shared.slot.forget();
                    shared.health.failed(Instant::now(), message.clone(), false);
                }
                Err(EngineError::Remote(message))
            }
        }
    }

    fn unavailable(&self) -> EngineError {
        let shared = self.shared();
        let why = shared.health.last_error().unwrap_or("not connected yet").to_owned();
        EngineError::Remote(why)
    }

    fn builder(&self, n_ctx: usize) -> PromptBuilder<'_> {
        PromptBuilder {
            model: self.model,
            template: &self.template,
            repo_format: self.repo_format,
            bos: self.bos,
            n_ctx,
        }
    }

    async fn run(&mut self, request: &CompletionRequest, started: Instant) -> Result<Completion, Fault> {
        let facts = self.shared().facts.clone();
        let n_ctx = facts.context_tokens.map_or(self.context_tokens, |engine| engine.min(self.context_tokens));
        let max_tokens = (request.max_tokens as usize).min(n_ctx.saturating_sub(MIN_PROMPT_TOKENS as usize)).max(1);
        let builder = self.builder(n_ctx);
        let document = builder.document(request, None);
        let allowance = self.cut_allowance();
        let without = |block: RenderedContext| self.fitted(&builder, &document, block, max_tokens, allowance);
        let requested = request
            .context
            .as_ref()
            .map(|context| (context.usage, builder.block(context, max_tokens)))
            .filter(|(_, block)| block.files > 0);
        let key = request.document.clone();
        let cached_block = self.blocks.get(&key).cloned();
        let mut stats = CompletionStats::default();
        // The prompt, and the verdict on its context.
        let (prompt, verdict, gated) = match requested {
            None => match cached_block.filter(|_| request.context.is_none()) {
                Some(block) => {
                    let prompt = without(block);
                    let verdict =
                        ContextVerdict::new(true, "kept the previous request's context (none asked for)", None);
                    (prompt, Some(verdict), None)
                }
                None => {
                    let verdict = request
                        .context
                        .as_ref()
                        .map(|_| ContextVerdict::new(false, "no retrieved snippet fits the context budget", None));
                    (without(RenderedContext::default()), verdict, None)
                }
            },
            Some((usage, block)) => {
                let with = without(block.clone());
                // New snippets the gate chose (asking the model or not) are weighed against
                // the document's warm cells: the engine cannot insert them, only encode the
                // prompt again. `--retrieval always` is what the user asked for.
                let weighed = usage != ContextUse::Always && cached_block.as_ref() != Some(&block);
                let warm = weighed
                    .then(|| {
                        let bare = (without(RenderedContext::default()), WarmInstead::Bare);
                        let kept = cached_block.clone().map(|block| (without(block), WarmInstead::Kept));
                        self.warm_instead(&with, [Some(bare), kept].into_iter().flatten())
                    })
                    .flatten();
                if let Some((prompt, verdict)) = warm {
                    (prompt, Some(verdict), None)
                } else {
                    match usage {
                        ContextUse::Always | ContextUse::Decided => {
                            (with, Some(ContextVerdict::new(true, "used without asking the model", None)), None)
                        }
                        ContextUse::IfUncertain { .. } if cached_block.as_ref() == Some(&block) => {
                            let reason = "the same context as the previous request (kept in the engine's prefix cache)";
                            (with, Some(ContextVerdict::new(true, reason, None)), None)
                        }
                        ContextUse::IfUncertain { .. } if facts.logprobs == Some(false) => {
                            let reason = "the engine gives no log-probabilities: the lexical and score gates decided";
                            (with, Some(ContextVerdict::new(true, reason, None)), None)
                        }
                        ContextUse::IfUncertain { min_probability, watch_tokens } => {
                            let gate = StreamGate::new(min_probability, watch_tokens);
                            (with, None, Some((without(RenderedContext::default()), gate)))
                        }
                    }
                }
            }
        };
        // The engine's time for a stream the gate discarded: the engine spent it on this request.
        let mut discarded_engine_ms = None;
        // Each prompt's cut and context block are remembered as it is sent (see `sending`).
        let (prompt, verdict, streamed) = match gated {
            None => {
                self.sending(&key, &document.prefix, &prompt);
                let streamed = self.stream(request, &prompt, max_tokens, started, None).await?;
                (prompt, verdict, streamed)
            }
            Some((bare, gate)) => {
                self.sending(&key, &document.prefix, &bare);
                match self.stream_gated(request, &bare, max_tokens, started, gate).await? {
                    Gated::Ran(streamed, gate) => (bare, Some(gate.verdict()), streamed),
                    Gated::Unsure(gate, discarded) => {
                        stats.discarded_tokens = discarded.tokens;
                        discarded_engine_ms = discarded.counters.engine_ms();
                        self.sending(&key, &document.prefix, &prompt);
                        let streamed = self.stream(request, &prompt, max_tokens, started, None).await?;
                        (prompt, Some(gate.verdict()), streamed)
                    }
                }
            }
        };
        stats.prompt_tokens = prompt.tokens.len();
        stats.dropped_prefix_tokens = prompt.dropped;
        stats.budget_cut_tokens = prompt.cut;
        stats.context_tokens = prompt.context.tokens.len();
        stats.context_files = prompt.context.files;
        stats.context = verdict;
        let counters = streamed.counters;
        stats.reused_tokens = counters.cached_tokens.unwrap_or(0).min(stats.prompt_tokens);
        stats.encoded_tokens =
            counters.prompt_tokens_evaluated.unwrap_or(stats.prompt_tokens.saturating_sub(stats.reused_tokens));
        stats.prompt_ms = counters.prompt_ms.unwrap_or(streamed.first_token_ms);
        stats.first_token_ms = streamed.first_token_ms;
        stats.engine_ms = counters.engine_ms().map(|ms| ms + discarded_engine_ms.unwrap_or(0.0));
        stats.generated_tokens = counters.predicted_tokens.unwrap_or(streamed.tokens).max(streamed.tokens);
        let (text, stop) = self.check(request, streamed.text, streamed.stop, &mut stats);
        stats.total_ms = started.elapsed().as_secs_f64() * 1000.0;
        if let (Some(prompt_ms), Some(predicted_ms)) = (counters.prompt_ms, counters.predicted_ms) {
            let rates = &mut *self.rates.lock().unwrap_or_else(|p| p.into_inner());
            rates.add(stats.encoded_tokens, prompt_ms, stats.generated_tokens, predicted_ms);
        }
        Ok(Completion { text, stop, stats })
    }

    /// How many prompt tokens a request may have the engine encode within the latency budget
    /// ([`prompt_builder::budget_allowance`]: until a speed is measured, the floor, so the first
    /// request is cut to it and a fast engine's next one gets the whole window); `None` without a
    /// budget.
    fn cut_allowance(&self) -> Option<usize> {
        Some(prompt_builder::budget_allowance(&self.rates, self.latency_budget_ms?))
    }

    /// Records `prompt` as sent for document `key` (whose prefix tokens are `prefix`), before the
    /// engine answers: a request cancelled or superseded meanwhile has still put it in the
    /// engine's cache, so the next request keeps its cut and its context block. (Recorded only
    /// when a request ended, a superseded request's block was forgotten while the engine held
    /// it, and the next keystroke, asking for no context, sent the document without it: under
    /// load, one editor's slot alternated between the two, encoding 256 and 575 tokens by turns.)
    fn sending(&mut self, key: &str, prefix: &[LlamaToken], prompt: &Prompt) {
        self.cuts.sent(key, prefix, prompt);
        if prompt.context.files > 0 {
            self.blocks.insert(key.to_owned(), prompt.context.clone());
        } else {
            self.blocks.remove(key);
        }
    }

    /// `document`'s prompt with `block` before it, fitted to the context and, under a latency
    /// budget, cut at its start where the engine would encode more than `allowance` tokens of
    /// it (see `budget_cut.rs`).
    fn fitted(
        &self,
        builder: &PromptBuilder<'_>,
        document: &DocumentTokens,
        block: RenderedContext,
        max_tokens: usize,
        allowance: Option<usize>,
    ) -> Prompt {
        let full = builder.prompt(document, block.clone(), max_tokens, 0);
        self.cuts.fit(
            &document.key,
            &document.prefix,
            full,
            allowance,
            |drop| builder.prompt(document, block.clone(), max_tokens, drop),
            |prompt| self.engine_encodes(prompt),
        )
    }

    /// Prompt tokens the engine would encode for `prompt`: all after its common prefix with the
    /// last prompt sent (the engine cannot insert: `--cache-reuse` only shifts cached chunks
    /// past tokens the new prompt lacks).
    fn engine_encodes(&self, prompt: &Prompt) -> usize {
        prompt.tokens.len() - cache_plan::common_prefix(&self.sent.borrow(), &prompt.tokens)
    }

    /// Under a latency budget, with the prefill speed measured: when the engine holds most of
    /// one of `instead` (the document's prompt without the new snippets: at least
    /// [`WARM_SHARE`] of it) and the new snippets, by changing the prompt's start, would make it
    /// encode more than the budget's allowance beyond that, the cheapest such prompt and the
    /// verdict. A document's warm cache is not thrown away for snippets the budget cannot pay
    /// for; a cold prompt (a new document, a far spot) is encoded whole anyway and takes them,
    /// and they are then kept while the person types.
    fn warm_instead(
        &self,
        with: &Prompt,
        instead: impl IntoIterator<Item = (Prompt, WarmInstead)>,
    ) -> Option<(Prompt, ContextVerdict)> {
        let budget = self.latency_budget_ms?;
        let allowance = self.rates.lock().unwrap_or_else(|p| p.into_inner()).prefill_allowance(budget)?;
        let full = self.engine_encodes(with);
        let (prompt, kind, cost) = instead
            .into_iter()
            .map(|(prompt, kind)| {
                let cost = self.engine_encodes(&prompt);
                (prompt, kind, cost)
            })
            .filter(|(prompt, _, cost)| is_warm(*cost, prompt.tokens.len()))
            .min_by_key(|(_, _, cost)| *cost)?;
        tracing::debug!(full, cost, allowance, "new snippets: what the engine would encode with and without them");
        if full.saturating_sub(cost) <= allowance {
            return None;
        }
        let why = format!(
            "would make the engine encode {full} prompt tokens rather than {cost}, more than the latency budget \
             allows ({allowance})"
        );
        let verdict = match kind {
            WarmInstead::Bare => ContextVerdict::new(false, format!("the snippets {why}"), None),
            WarmInstead::Kept => {
                ContextVerdict::new(true, format!("kept the previous request's context: the new snippets {why}"), None)
            }
        };
        Some((prompt, verdict))
    }

    /// Streams `prompt` without context, asking for log-probabilities, and decides with `gate`:
    /// the model is sure (the stream runs on) or unsure (it is closed).
    async fn stream_gated(
        &mut self,
        request: &CompletionRequest,
        prompt: &Prompt,
        max_tokens: usize,
        started: Instant,
        mut gate: StreamGate,
    ) -> Result<Gated, Fault> {
        let streamed = self.stream(request, prompt, max_tokens, started, Some(&mut gate)).await;
        if let Some(first) = gate.first {
            self.shared().facts.logprobs = Some(first.is_some());
        }
        match streamed {
            Ok(streamed) if gate.unsure() => Ok(Gated::Unsure(gate, streamed)),
            Ok(streamed) => Ok(Gated::Ran(streamed, gate)),
            Err(fault) => Err(fault),
        }
    }

    /// Streams one completion of `prompt`, stopping where the local engine would: the shape
    /// complete, an end of generation, the token budget, or the latency budget after a complete
    /// line (whose partial next line is dropped). With a `gate`, each event's probability is
    /// shown to it, and the stream stops as soon as the gate finds the model unsure (the first
    /// token below the threshold or without a probability, or one of the first line's next).
    ///
    /// llama-server is asked in steps (see `steps.rs`): each request generates a few tokens
    /// and ends by itself, and the next continues from the prompt and the tokens so far while
    /// the request is still wanted, so a request typed past never holds the editor's slot for
    /// a decode more. Other engines are asked once.
    async fn stream(
        &self,
        request: &CompletionRequest,
        prompt: &Prompt,
        max_tokens: usize,
        started: Instant,
        gate: Option<&mut StreamGate>,
    ) -> Result<Streamed, Fault> {
        let (protocol, model) = {
            let shared = self.shared();
            (shared.facts.protocol.unwrap_or(EngineProtocol::OpenAi), shared.facts.model.clone())
        };
        let prompt_ids: Vec<i32> = prompt.tokens.iter().map(|t| t.0).collect();
        self.sent.replace(prompt.tokens.clone());
        let mut reader = StreamReader::new(request, started, self.latency_budget_ms, gate);
        // The text so far, read at each event and in the wait between events: a released
        // request that the person typed past is closed within a poll of the key, not at the
        // engine's next token (the next keystroke's request waits for this editor's slot).
        let generated = RefCell::new(String::new());
        let stop_now = || request.cancel.should_stop(&generated.borrow());
        let mut stepped = protocol == EngineProtocol::LlamaServer;
        // The prompt and the tokens generated so far: what the next step continues.
        let mut ids = prompt_ids.clone();
        // Tokens the engine generated in the steps so far, by its own count.
        let mut engine_generated = 0;
        // The step being asked for: 0 is the request's first.
        let mut step: u32 = 0;
        let mut marked = false;
        let mut last_stop = None;
        let end = loop {
            let slot = self.shared().slot.get();
            let remaining = max_tokens.saturating_sub(engine_generated).max(1);
            let step_tokens = if stepped {
                let decode_ms = self.rates.lock().unwrap_or_else(|p| p.into_inner()).decode_ms_per_token;
                self.shared().steps.tokens(step, decode_ms).min(remaining)
            } else {
                remaining
            };
            let body = wire::request_body(
                protocol,
                &WireRequest {
                    model: model.as_deref().filter(|_| protocol == EngineProtocol::OpenAi),
                    prompt: &ids,
                    max_tokens: step_tokens,
                    temperature: request.sampling.temperature.max(0.0),
                    top_k: request.sampling.top_k,
                    top_p: request.sampling.top_p,
                    // Each step a seed of its own: the same one would draw the same random
                    // numbers at every step's first token.
                    seed: request.sampling.seed.wrapping_add(step),
                    marker: Some(self.marker),
                    // A stepped stream watches for the stop tokens by id itself: llama-server holds
                    // back text that may begin a stop string ("<" of "<eos>") and drops it when the
                    // step ends there.
                    stop: if stepped { &[] } else { &self.stop_texts },
                    logprobs: reader.gate.is_some(),
                    slot,
                },
            );
            marked |= body.get("seed") == Some(&json!(self.marker));
            if stepped {
                self.shared().last_step_tokens = Some(step_tokens);
            }
            let step_started = Instant::now();
            let mut step_counters: Option<wire::EngineCounters> = None;
            let mut step_ids: Vec<i32> = Vec::new();
            let mut step_stop = None;
            let step_end = self
                .client
                .stream(protocol, &body, &stop_now, |event| {
                    if event.counters.is_some() {
                        step_counters = event.counters;
                    }
                    if let Some(slot) = event.slot {
                        self.shared().slot.learnt(slot);
                    }
                    step_ids.extend_from_slice(&event.tokens);
                    if event.stop.is_some() {
                        step_stop = event.stop;
                    }
                    if stepped && event.tokens.iter().any(|token| self.stop_tokens.contains(token)) {
                        step_stop = Some(EngineStop::End);
                        return Flow::Stop;
                    }
                    reader.read(&event, &generated)
                })
                .await;
            if let Some(counters) = step_counters {
                reader.out.counters = match step {
                    0 => counters,
                    _ => steps::with_continued_step(reader.out.counters, counters),
                };
            }
            let step_end = match step_end {
                Ok(step_end) => step_end,
                Err(fault) => break Err(fault),
            };
            last_stop = step_stop;
            let step_wall_ms = step_started.elapsed().as_secs_f64() * 1000.0;
            let step_engine_ms = step_counters.and_then(|c| c.engine_ms()).unwrap_or(0.0);
            let step_generated = step_counters.and_then(|c| c.predicted_tokens).unwrap_or(step_ids.len());
            if stepped && step > 0 && step_counters.is_some() {
                // A continued step, to its end or to the token Splice stopped at (the counters
                // come with every event): its round trip, without the wait for the slot and the
                // prompt that a request's first step has, and its decode.
                self.shared().steps.saw(step_wall_ms, step_engine_ms, step_generated);
            }
            tracing::debug!(
                step,
                asked = step_tokens,
                tokens = step_ids.len(),
                wall_ms = step_wall_ms as u64,
                engine_ms = step_engine_ms as u64,
                round_trip_ms = self.shared().steps.round_trip_ms().unwrap_or(0.0) as u64,
                stopped = step_end == StreamEnd::Stopped,
                "step"
            );
            if step_end == StreamEnd::Stopped || !stepped {
                break Ok(step_end);
            }
            engine_generated += step_generated;
            if step_stop != Some(EngineStop::Limit) || engine_generated >= max_tokens {
                break Ok(step_end);
            }
            if stop_now() {
                reader.unwanted = true;
                break Ok(StreamEnd::Stopped);
            }
            if step_ids.len() == step_generated {
                ids.extend_from_slice(&step_ids);
            } else {
                // The engine held back a token that ended mid-character and never named it: the
                // tokens so far cannot be continued exactly. Ask again from the prompt, once.
                tracing::debug!(
                    named = step_ids.len(),
                    step_generated,
                    "a step's tokens were not all named: asked again whole"
                );
                stepped = false;
                ids.clone_from(&prompt_ids);
                engine_generated = 0;
                reader.start_again();
                generated.borrow_mut().clear();
                request.cancel.wrote("");
            }
            step += 1;
        };
        let StreamReader { mut out, unwanted, .. } = reader;
        out.text = generated.take();
        // Only a request that carried the marker can be found in `/slots`.
        if marked {
            self.learn_slot();
        }
        let end = end?;
        if unwanted || request.cancel.is_cancelled() {
            tracing::debug!(generated = out.tokens, "stopped: cancelled, or released and typed past");
            return Err(Fault::Cancelled);
        }
        if end == StreamEnd::Finished {
            out.stop = match last_stop {
                Some(EngineStop::Limit) => StopReason::TokenBudget,
                _ if out.tokens >= max_tokens => StopReason::TokenBudget,
                _ => StopReason::EndOfGeneration,
            };
        }
        shape::trim_at_stop(&mut out.text, out.stop);
        Ok(out)
    }

    /// Asks llama-server's `/slots`, in the background, which slot ran this editor's last
    /// request, unless the slot is known or a lookup is on its way (see `slot.rs`).
    fn learn_slot(&self) {
        if !self.shared().slot.start_lookup() {
            return;
        }
        let (client, shared, marker) = (self.client.clone(), Arc::clone(&self.shared), self.marker);
        tokio::spawn(async move {
            let answer = client.get_json("/slots").await;
            let answer = match &answer {
                Ok(slots) => Ok(slots),
                // 501: started with `--no-slots`; 404: not there at all (a proxy, say).
                Err(Fault::Status(404 | 501, _)) => Err(true),
                Err(_) => Err(false),
            };
            shared.lock().unwrap_or_else(|p| p.into_inner()).slot.lookup_ended(answer, marker);
        });
    }

    /// The local candidate check, without branching (that needs the logits of every step) and
    /// without scoring against the code below (that needs teacher-forced logits the completions
    /// API does not return): when the suggestion adds syntax errors and its first line alone
    /// adds fewer, the first line.
    fn check(
        &self,
        request: &CompletionRequest,
        text: String,
        stop: StopReason,
        stats: &mut CompletionStats,
    ) -> (String, StopReason) {
        let Some(check) = request.check.as_ref().filter(|_| request.sampling.is_greedy()) else {
            return (text, stop);
        };
        let judging = Instant::now();
        let mut report = CheckStats::default();
        let greedy = check.errors_added(&text);
        report.candidates.push(crate::Candidate {
            text: text.clone(),
            errors_added: greedy,
            source: CandidateSource::Greedy,
            below_logprob: None,
        });
        let mut shown = (text.clone(), stop);
        if greedy.is_some_and(|errors| errors > 0) {
            if let Some(first) = candidates::first_line(&text) {
                let errors = check.errors_added(first);
                report.candidates.push(crate::Candidate {
                    text: first.to_owned(),
                    errors_added: errors,
                    source: CandidateSource::FirstLine,
                    below_logprob: None,
                });
                if errors.unwrap_or(usize::MAX) < greedy.unwrap_or(0) {
                    report.chosen = 1;
                    shown = (first.to_owned(), StopReason::ShapeComplete);
                }
            }
        }
        report.judge_ms = judging.elapsed().as_secs_f64() * 1000.0;
        stats.check = Some(report);
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo_context::FIRST_LINE_WATCH_TOKENS;

    fn logprob(p: f32) -> Option<f32> {
        Some(p.ln())
    }

    #[test]
    fn a_prompt_is_warm_when_the_engine_holds_three_quarters_of_it() {
        assert!(is_warm(0, 1000));
        assert!(is_warm(250, 1000));
        assert!(!is_warm(251, 1000));
        assert!(!is_warm(1000, 1000), "cold");
    }

    #[test]
    fn the_stream_gate_stops_at_the_first_unsure_token_of_the_first_line() {
        let mut gate = StreamGate::new(0.5, FIRST_LINE_WATCH_TOKENS);
        assert!(!gate.saw(0, "", logprob(0.9)), "sure of the first token");
        assert!(!gate.saw(1, "return", logprob(0.8)));
        assert!(gate.saw(2, "return ", logprob(0.3)), "unsure of the third");
        let verdict = gate.verdict();
        assert!(verdict.used && verdict.reason.contains("token 3 of the first line"), "{verdict:?}");
        assert!((verdict.first_token_probability.unwrap() - 0.9).abs() < 1e-5);
        assert!((verdict.line_probability.unwrap() - 0.3).abs() < 1e-5);
    }

    #[test]
    fn the_stream_gate_watches_only_the_first_line_and_needs_probabilities() {
        let mut gate = StreamGate::new(0.5, FIRST_LINE_WATCH_TOKENS);
        assert!(!gate.saw(0, "", logprob(0.9)));
        assert!(!gate.saw(1, "x", None), "a token without a probability is not judged");
        assert!(!gate.saw(2, "x = 1\n", logprob(0.1)), "past the first line");
        assert!(!gate.saw(FIRST_LINE_WATCH_TOKENS, "a long line", logprob(0.1)), "past the watched tokens");
        let verdict = gate.verdict();
        assert!(!verdict.used && verdict.reason.contains("sure"), "{verdict:?}");

        let mut unsure = StreamGate::new(0.5, FIRST_LINE_WATCH_TOKENS);
        assert!(unsure.saw(0, "", None), "no first probability: the other gates decided");
        assert!(unsure.verdict().used);
        let mut low = StreamGate::new(0.5, FIRST_LINE_WATCH_TOKENS);
        assert!(low.saw(0, "", logprob(0.2)));
        assert!(low.verdict().reason.contains("first token"), "{:?}", low.verdict());
    }
}
