//! `splice-model`: everything Splice knows about language models, and nothing about editors.
//!
//! The crate owns one llama.cpp model and context on a dedicated worker thread ([`Engine`]) and
//! talks to the rest of the program through messages. It knows how a model family wants its
//! fill-in-the-middle prompt laid out ([`PromptTemplate`]), how to fit a prompt into the context
//! with the model's own tokenizer ([`prompt`]), how to sample ([`SamplingConfig`]), and when a
//! suggestion is complete ([`shape`]). It never sees an LSP type: positions, URIs and JSON-RPC
//! belong to the server crate.

mod average;
mod batch_threads;
mod build_info;
pub mod cache_plan;
mod cancel;
pub mod candidates;
mod code_below;
mod context_threads;
mod documents;
mod draft;
mod engine;
mod error;
mod healing;
mod line_watch;
mod llama_log;
mod loader;
pub mod prompt;
mod prompt_builder;
mod rates;
mod remote;
pub mod repo_context;
mod sampling;
mod sequence;
pub mod shape;
mod speculation;
pub mod template;
mod vocabulary;
mod worker;

pub use cache_plan::ReuseMode;
pub use cancel::CancelToken;
pub use candidates::{Candidate, CandidateSource, CheckStats, SuggestionCheck};
pub use engine::{
    detect_template, wait_for_engine_threads, CacheType, Completion, CompletionRequest, CompletionStats,
    ContextVerdict, Engine, EngineConfig, FlashAttention, ModelInfo, Reply, StopReason, DEFAULT_CONTEXT_TOKENS,
    DEFAULT_DRAFT_TOKENS, DEFAULT_REPAIR_IDLE, MIN_PROMPT_TOKENS,
};
pub use error::{EngineError, ModelError};
pub use rates::MeasuredRates;
pub use remote::{EngineHealthState, EngineProtocol, RemoteEndpoint, RemoteStatus};
pub use repo_context::{ContextFile, ContextUse, RepoContext, RepoFormat, FIRST_LINE_WATCH_TOKENS};
pub use sampling::SamplingConfig;
pub use template::{FimFamily, FimTemplate, PromptTemplate};
