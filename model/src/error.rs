//! The ways loading a model or running a request can fail, in the user's words.

use std::path::PathBuf;

/// Why a model could not be loaded. Each message says what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The path does not exist.
    #[error("model file not found: {0} (pass --model PATH, or run `make models` to fetch the default model)")]
    NotFound(PathBuf),
    /// The path exists but could not be read.
    #[error("cannot read model file {path}: {source}")]
    Unreadable {
        /// The model path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not start with the GGUF magic bytes.
    #[error("model file is not GGUF: {0} (Splice loads llama.cpp GGUF files; convert the model with llama.cpp's convert_hf_to_gguf.py)")]
    NotGguf(PathBuf),
    /// The GGUF header or metadata is damaged.
    #[error("model file is a damaged GGUF: {path} ({reason})")]
    Corrupt {
        /// The model path.
        path: PathBuf,
        /// What llama.cpp reported.
        reason: String,
    },
    /// llama.cpp does not know the model's architecture.
    #[error("model architecture '{architecture}' of {path} is not supported by this build of llama.cpp")]
    UnsupportedArchitecture {
        /// The model path.
        path: PathBuf,
        /// `general.architecture` from the GGUF metadata.
        architecture: String,
    },
    /// The requested context cannot hold a prompt plus the generation budget.
    #[error("context of {requested} tokens is too small: Splice needs at least {needed} ({max_tokens} generated tokens plus a {min_prompt}-token prompt); raise --ctx or lower --max-tokens")]
    ContextTooSmall {
        /// `--ctx` as given.
        requested: u32,
        /// The smallest context that works.
        needed: u32,
        /// The generation budget.
        max_tokens: u32,
        /// The smallest prompt Splice accepts.
        min_prompt: u32,
    },
    /// llama.cpp failed for another reason (out of memory, GPU errors, …).
    #[error("llama.cpp could not {action}: {reason}")]
    Llama {
        /// What Splice was doing.
        action: &'static str,
        /// llama.cpp's last error message, or the binding's error.
        reason: String,
    },
    /// The engine thread could not be started.
    #[error("could not start the model thread: {0}")]
    Thread(std::io::Error),
}

/// Why a completion request did not produce a completion.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The request's [`CancelToken`](crate::CancelToken) was cancelled.
    #[error("request cancelled")]
    Cancelled,
    /// The engine thread has stopped (shutdown, or it failed).
    #[error("the model engine has stopped")]
    Stopped,
    /// llama.cpp failed while decoding.
    #[error("decoding failed: {0}")]
    Decode(String),
    /// The remote engine failed, or is down and not due for a retry; the message says which.
    #[error("{0}")]
    Remote(String),
    /// The engine cannot do this (a remote engine has no prompt logits, for one).
    #[error("not supported by this engine: {0}")]
    Unsupported(&'static str),
}
