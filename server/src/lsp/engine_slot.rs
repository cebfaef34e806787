//! The engine as the LSP server sees it: loading in the background, then ready or failed.
//!
//! The model loads after `initialize` (whose options may name the model), off the async runtime.
//! Requests that arrive meanwhile wait for it; if loading failed, they get its error.

use splice_model::{Engine, EngineConfig};
use std::sync::Arc;
use tokio::sync::watch;

/// Where the engine is in its life.
#[derive(Clone, Debug)]
pub enum EngineState {
    /// `initialize` has not started the load yet.
    NotStarted,
    /// The model is loading.
    Loading,
    /// The model is loaded.
    Ready(Engine),
    /// Loading failed; the message says why, in the user's words.
    Failed(Arc<str>),
}

impl EngineState {
    /// `loading`, `ready` or `error`, for `splice/status`.
    pub fn label(&self) -> &'static str {
        match self {
            EngineState::NotStarted | EngineState::Loading => "loading",
            EngineState::Ready(_) => "ready",
            EngineState::Failed(_) => "error",
        }
    }
}

/// Holds the engine's state and lets requests wait for it.
pub struct EngineSlot {
    state: watch::Sender<EngineState>,
}

impl EngineSlot {
    /// A slot whose engine has not started loading.
    pub fn new() -> Self {
        Self { state: watch::Sender::new(EngineState::NotStarted) }
    }

    /// Starts loading on a blocking thread; `on_done` runs (on the runtime) when it finished.
    pub fn start(&self, config: EngineConfig, on_done: impl FnOnce(&EngineState) + Send + 'static) {
        self.state.send_replace(EngineState::Loading);
        let state = self.state.clone();
        tokio::spawn(async move {
            let loaded = tokio::task::spawn_blocking(move || Engine::start(config)).await;
            let next = match loaded {
                Ok(Ok(engine)) => EngineState::Ready(engine),
                Ok(Err(err)) => EngineState::Failed(err.to_string().into()),
                Err(join) => EngineState::Failed(format!("the model thread failed: {join}").into()),
            };
            if let EngineState::Failed(reason) = &next {
                tracing::error!("model failed to load: {reason}");
            }
            state.send_replace(next.clone());
            on_done(&next);
        });
    }

    /// A receiver of state changes, for tasks that outlive a borrow of the slot.
    pub fn watch(&self) -> watch::Receiver<EngineState> {
        self.state.subscribe()
    }

    /// The current state, without waiting.
    pub fn current(&self) -> EngineState {
        self.state.borrow().clone()
    }

    /// Waits until the engine is ready or failed. Cancel-safe: dropping the future stops waiting.
    pub async fn ready(&self) -> Result<Engine, Arc<str>> {
        let mut rx = self.state.subscribe();
        let settled = rx
            .wait_for(|state| matches!(state, EngineState::Ready(_) | EngineState::Failed(_)))
            .await
            .map(|state| state.clone());
        match settled {
            Ok(EngineState::Ready(engine)) => Ok(engine),
            Ok(EngineState::Failed(reason)) => Err(reason),
            _ => Err("the model engine has stopped".into()),
        }
    }
}
