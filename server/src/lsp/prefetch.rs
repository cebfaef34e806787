//! Prefetch as if accepted: after a suggestion is shown and the engine is otherwise idle, the next
//! suggestion is computed for the document with the shown one inserted and the cursor after it.
//!
//! The prefetch goes through the request path ([`completion::prepare`], the engine, the same
//! document key) with the accepted text around the cursor ([`AcceptedText`]); its suggestion is
//! remembered in the document's [`RecentSuggestions`] for the window it was computed for, so
//! that the request after the editor inserted exactly that text is answered without the model.
//! Using the real document's key moves its cached sequence to the accepted text, by PIE, and
//! back by PIE on the next request if the user typed something else: the cost of a miss is the
//! few tokens of the difference. That is also why a prefetch runs only under `--reuse pie`.
//!
//! [`PrefetchGate`] keeps the prefetch out of the way of real work: one runs only when no
//! request is running or waiting, never two at a time, and a request taken or any edit or close
//! cancels it at once (the engine stops before its next token or prompt batch). A prefetch is
//! not a request: it changes none of the request counters, only `prefetch` in `splice/status`.

use super::backend;
use super::partial::RunInProgress;
use super::status::StatusBoard;
use crate::completion::{self, Prepared};
use crate::config::Settings;
use crate::prefetch::AcceptedText;
use crate::typed_ahead::{RecentSuggestions, Window};
use crate::workspace::Workspace;
use dashmap::DashMap;
use splice_model::{CancelToken, Engine, EngineError};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tower_lsp_server::ls_types::Uri;
use tower_lsp_server::Client;

/// When a prefetch may run, and the one running: requests that need the engine, and edits other
/// than typing along the suggestion it assumes accepted, stop it.
#[derive(Debug, Default)]
pub struct PrefetchGate {
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    /// Requests that took the engine and have not ended (waiting for it, or running).
    live_requests: usize,
    /// The running prefetch.
    running: Option<Running>,
    /// After `shutdown`: no prefetch starts any more.
    closed: bool,
}

/// The running prefetch: its token, what it assumes, and who waits for its end.
#[derive(Debug)]
struct Running {
    token: CancelToken,
    along: TypedAlong,
    /// Set to `true` when it finished; dropped (closed) when it was stopped.
    ended: watch::Sender<bool>,
    /// Its request once prepared, and what it has written so far: a request that waits for it
    /// past its latency budget shows that part.
    run: RunInProgress,
}

/// The suggestion a prefetch assumes accepted, and how much of it the person has typed since:
/// typing it key by key leads to the same document as accepting it, so the prefetch stays
/// useful (and running) while every edit types its next characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedAlong {
    /// The document it was shown in.
    pub uri: Uri,
    /// Byte offset in the document where it is inserted (the cursor it was shown at).
    pub at: usize,
    /// Its text.
    pub text: String,
    /// Bytes of it inserted since it was shown.
    pub typed: usize,
}

impl TypedAlong {
    /// `text` shown at byte `at` of `uri`, nothing of it typed yet.
    pub fn new(uri: Uri, at: usize, text: String) -> Self {
        Self { uri, at, text, typed: 0 }
    }

    /// Takes `inserted` at byte `offset` of `uri` as the next characters typed, if they are.
    fn advance(&mut self, uri: &Uri, offset: usize, inserted: &str) -> bool {
        let next = self.text.get(self.typed..).filter(|rest| rest.starts_with(inserted));
        let along = *uri == self.uri && offset == self.at + self.typed && !inserted.is_empty() && next.is_some();
        if along {
            self.typed += inserted.len();
        }
        along
    }

    /// Whether all of it was typed and the cursor (byte `cursor` of `uri`) is right after it.
    fn typed_out(&self, uri: &Uri, cursor: usize) -> bool {
        *uri == self.uri && self.typed == self.text.len() && cursor == self.at + self.typed
    }
}

impl PrefetchGate {
    /// A request needs the engine: the running prefetch stops, and none starts until it ended.
    pub fn request_taken(&self) {
        let mut state = self.lock();
        state.live_requests += 1;
        stop(&mut state);
    }

    /// A request taken with [`request_taken`](Self::request_taken) ended.
    pub fn request_ended(&self) {
        let mut state = self.lock();
        state.live_requests = state.live_requests.saturating_sub(1);
    }

    /// Stops the running prefetch, if any (a document closed, an edit refused).
    pub fn preempt(&self) {
        stop(&mut self.lock());
    }

    /// An edit of `uri` was applied; `insertion` is the text it inserted and the byte offset
    /// where, when it only inserted. The running prefetch goes on if the edit typed the next
    /// characters of the suggestion it assumes accepted; any other edit stops it.
    pub fn edited(&self, uri: &Uri, insertion: Option<(usize, &str)>) {
        let mut state = self.lock();
        let along = match (state.running.as_mut(), insertion) {
            (Some(running), Some((offset, text))) => running.along.advance(uri, offset, text),
            _ => false,
        };
        if !along {
            stop(&mut state);
        }
    }

    /// The end of the running prefetch and the run itself, if the person has typed (or
    /// accepted) all of the suggestion it assumes and a request came at byte `cursor` right after
    /// it in `uri`: that request is the one the prefetch computes, and waits for it rather than
    /// starting over.
    pub fn typed_out(&self, uri: &Uri, cursor: usize) -> Option<(watch::Receiver<bool>, RunInProgress)> {
        let state = self.lock();
        let running = state.running.as_ref().filter(|r| r.along.typed_out(uri, cursor))?;
        Some((running.ended.subscribe(), running.run.clone()))
    }

    /// The run of the prefetch running in `uri`, if any.
    pub fn running_in(&self, uri: &Uri) -> Option<RunInProgress> {
        let state = self.lock();
        state.running.as_ref().filter(|running| running.along.uri == *uri).map(|running| running.run.clone())
    }

    /// The prefetch holding `token` prepared its request: its run, which requests waiting for
    /// it see (`None`: it was stopped).
    fn prepared(&self, token: &CancelToken, prepared: Arc<Prepared>) -> Option<RunInProgress> {
        let state = self.lock();
        let running = state.running.as_ref().filter(|running| running.token.same_as(token))?;
        running.run.prepare(prepared);
        Some(running.run.clone())
    }

    /// Stops the running prefetch and lets none start again (`shutdown`: the engine must fall
    /// idle before the process exits).
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        stop(&mut state);
    }

    /// The token of a new prefetch after `along`, if one may start now: no request is live,
    /// none runs, and `still_current` (checked under the gate's lock, so that an edit that comes
    /// after it preempts the new prefetch) says that what it would compute from is still the
    /// document.
    pub fn claim(&self, along: TypedAlong, still_current: impl FnOnce() -> bool) -> Option<CancelToken> {
        let mut state = self.lock();
        if state.closed || state.live_requests > 0 || state.running.is_some() || !still_current() {
            return None;
        }
        let token = CancelToken::new();
        let (ended, _) = watch::channel(false);
        state.running = Some(Running { token: token.clone(), along, ended, run: RunInProgress::default() });
        Some(token)
    }

    /// The prefetch holding `token` ended; those waiting for it go on.
    fn release(&self, token: &CancelToken) {
        let mut state = self.lock();
        if state.running.as_ref().is_some_and(|running| running.token.same_as(token)) {
            if let Some(running) = state.running.take() {
                running.ended.send_replace(true);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Cancels the running prefetch; its waiters see its end channel close.
fn stop(state: &mut GateState) {
    if let Some(running) = state.running.take() {
        running.token.cancel();
    }
}

/// What a prefetch needs of the server, shared with it.
pub struct PrefetchContext {
    /// The loaded engine.
    pub engine: Engine,
    /// The workspace, for retrieval (as a request would).
    pub workspace: Arc<Workspace>,
    /// The settings in force.
    pub settings: Settings,
    /// The documents' remembered suggestions, where the prefetched one goes.
    pub recent: Arc<DashMap<Uri, RecentSuggestions>>,
    /// Where the prefetch is counted.
    pub board: Arc<StatusBoard>,
    /// The gate that granted `cancel`; released when the prefetch ends.
    pub gate: Arc<PrefetchGate>,
    /// The client, when it asked to be told that a suggestion shown in part is whole
    /// ([`backend::tell_suggestion_ready`]).
    pub ready: Option<Client>,
}

/// How a prefetch ended.
enum Ended {
    /// It never reached the engine: cancelled while its window was cut, nothing to complete,
    /// or a suggestion for its window is already known.
    NotStarted,
    /// The engine finished it; the tokens it generated.
    Finished(usize),
    /// A request or an edit stopped it.
    Preempted,
    /// The engine failed.
    Failed,
}

/// Runs the prefetch for `accepted` (a suggestion shown in `uri`, accepted), holding `cancel`
/// (from [`PrefetchGate::claim`]), to its end; counts how it ended and releases the gate.
pub async fn run(context: PrefetchContext, uri: Uri, accepted: AcceptedText, cancel: CancelToken) {
    let ended = compute(&context, uri, accepted, &cancel).await;
    context.gate.release(&cancel);
    context.board.update(|counters| {
        let prefetch = &mut counters.prefetch;
        match ended {
            Ended::NotStarted => {}
            Ended::Finished(generated) => {
                prefetch.finished += 1;
                prefetch.generated_tokens += generated as u64;
            }
            Ended::Preempted => prefetch.preempted += 1,
            Ended::Failed => prefetch.failed += 1,
        }
    });
}

async fn compute(context: &PrefetchContext, uri: Uri, accepted: AcceptedText, cancel: &CancelToken) -> Ended {
    let line = accepted.cursor_line;
    let context_tokens = context.engine.info().context_tokens;
    let (workspace, settings, token, key) =
        (context.workspace.clone(), context.settings.clone(), cancel.clone(), uri.clone());
    // The window and the retrieval gate run on a blocking thread, as a request's do.
    let prepared = tokio::task::spawn_blocking(move || {
        let path = key.to_file_path();
        let at = accepted.at(key.as_str(), path.as_deref());
        completion::prepare(at, &workspace, &settings, context_tokens, token).ok()
    })
    .await;
    let Ok(Some(prepared)) = prepared else { return Ended::NotStarted };
    let prepared = Arc::new(prepared);
    let Some(progress) = context.gate.prepared(cancel, prepared.clone()) else { return Ended::NotStarted };
    let window = Window::of(&prepared.request);
    // No entry: the document was closed. A hit: the next request is answered already.
    let needless = context.recent.get(&uri).is_none_or(|recent| recent.lookup(window).is_some());
    if cancel.is_cancelled() || needless {
        return Ended::NotStarted;
    }
    context.board.update(|counters| counters.prefetch.started += 1);
    tracing::debug!(uri = uri.as_str(), line, "prefetch started");
    let done = match backend::run(&context.engine, prepared.request.clone()).await {
        Ok(done) => done,
        Err(err) => {
            // A part of it that a request showed goes: nothing will complete it.
            progress.end(|| {
                if let Some(mut recent) = context.recent.get_mut(&uri) {
                    recent.forget_partial(window);
                }
            });
            if let EngineError::Cancelled = err {
                tracing::debug!(uri = uri.as_str(), "prefetch preempted");
                return Ended::Preempted;
            }
            tracing::warn!(uri = uri.as_str(), "prefetch failed: {err}");
            return Ended::Failed;
        }
    };
    let text = completion::finish(&prepared, &done);
    // Only while the document is open: `didClose` removed its entry. Nothing to suggest is
    // remembered too: the request that comes here then needs no model run to learn it.
    let ending = progress.end(|| {
        if let Some(mut recent) = context.recent.get_mut(&uri) {
            recent.remember_prefetched(window, text.as_deref().unwrap_or_default());
        }
    });
    if text.is_some() {
        backend::tell_suggestion_ready(context.ready.as_ref(), &uri, ending.part_shown_at).await;
    }
    let stats = &done.stats;
    tracing::info!(
        uri = uri.as_str(),
        encoded = stats.encoded_tokens,
        generated = stats.generated_tokens,
        total_ms = stats.total_ms as u64,
        shown = text.is_some(),
        "prefetch"
    );
    Ended::Finished(stats.generated_tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(name: &str) -> Uri {
        format!("file:///{name}").parse().unwrap()
    }

    /// `return a + b` shown at byte 20 of a.py.
    fn along() -> TypedAlong {
        TypedAlong::new(uri("a.py"), 20, "return a + b".to_owned())
    }

    #[test]
    fn a_prefetch_starts_only_when_no_request_is_live_and_none_runs() {
        let gate = PrefetchGate::default();
        gate.request_taken();
        assert!(gate.claim(along(), || true).is_none(), "a request is live");
        gate.request_ended();
        assert!(gate.claim(along(), || false).is_none(), "the document changed");
        let first = gate.claim(along(), || true).expect("idle");
        assert!(gate.claim(along(), || true).is_none(), "one at a time");
        gate.release(&first);
        assert!(gate.claim(along(), || true).is_some(), "released");
    }

    #[test]
    fn a_request_or_an_edit_preempts_the_running_prefetch() {
        let gate = PrefetchGate::default();
        let prefetch = gate.claim(along(), || true).unwrap();
        gate.request_taken();
        assert!(prefetch.is_cancelled());
        gate.request_ended();
        let prefetch = gate.claim(along(), || true).unwrap();
        gate.edited(&uri("a.py"), None);
        assert!(prefetch.is_cancelled(), "an edit that is not an insertion");
        let prefetch = gate.claim(along(), || true).unwrap();
        gate.preempt();
        assert!(prefetch.is_cancelled());
        let next = gate.claim(along(), || true).expect("a preempted prefetch frees the gate at once");
        gate.release(&prefetch);
        assert!(gate.claim(along(), || true).is_none(), "releasing an old token leaves the new one running");
        assert!(!next.is_cancelled());
        gate.close();
        assert!(next.is_cancelled());
        assert!(gate.claim(along(), || true).is_none(), "closed for good");
    }

    #[test]
    fn typing_along_the_assumed_suggestion_keeps_the_prefetch_and_anything_else_stops_it() {
        let gate = PrefetchGate::default();
        let prefetch = gate.claim(along(), || true).unwrap();
        gate.edited(&uri("a.py"), Some((20, "ret")));
        gate.edited(&uri("a.py"), Some((23, "u")));
        assert!(!prefetch.is_cancelled(), "typed along");
        assert!(gate.typed_out(&uri("a.py"), 24).is_none(), "not all typed yet");
        gate.edited(&uri("a.py"), Some((24, "rn a + c")));
        assert!(prefetch.is_cancelled(), "typed something else");

        for (edit, why) in [
            ((uri("b.py"), 20, "r"), "another document"),
            ((uri("a.py"), 21, "r"), "elsewhere"),
            ((uri("a.py"), 20, ""), "nothing inserted"),
        ] {
            let prefetch = gate.claim(along(), || true).unwrap();
            gate.edited(&edit.0, Some((edit.1, edit.2)));
            assert!(prefetch.is_cancelled(), "{why}");
        }
    }

    #[test]
    fn a_request_after_the_whole_suggestion_waits_for_the_prefetch_to_end() {
        let gate = PrefetchGate::default();
        let prefetch = gate.claim(along(), || true).unwrap();
        gate.edited(&uri("a.py"), Some((20, "return a + b")));
        assert!(gate.typed_out(&uri("a.py"), 31).is_none(), "the cursor is not after it");
        assert!(gate.typed_out(&uri("b.py"), 32).is_none());
        let (ended, _) = gate.typed_out(&uri("a.py"), 32).expect("accepted whole");
        assert!(!*ended.borrow());
        gate.release(&prefetch);
        assert!(*ended.borrow(), "finished");

        let _prefetch = gate.claim(along(), || true).unwrap();
        gate.edited(&uri("a.py"), Some((20, "return a + b")));
        let (ended, _) = gate.typed_out(&uri("a.py"), 32).unwrap();
        gate.preempt();
        assert!(ended.has_changed().is_err(), "stopped: the waiter goes on at once");
    }
}
