//! The LSP server state and its handlers.
//!
//! Documents are the input: the editor's text, kept byte-identical through incremental edits.
//! Everything else (prompts, KV cache) is derived from them on demand. Each handler is a short
//! function; the completion path is shared by `textDocument/inlineCompletion` and
//! `textDocument/completion`.

use super::convert;
use super::engine_slot::{EngineSlot, EngineState};
use super::indexing;
use super::partial::{self, Asker, RunInProgress, Waited};
use super::prefetch::{self, PrefetchContext, PrefetchGate, TypedAlong};
use super::status::{self, StatusBoard};
use crate::completion::{self, Prepared, Reach};
use crate::config::{Options, Settings};
use crate::document::{Document, PositionEncoding};
use crate::memory::{self, Activity};
use crate::prefetch::AcceptedText;
use crate::typed_ahead::{Origin, RecentSuggestions, Served, Window};
use crate::workspace::Workspace;
use dashmap::DashMap;
use serde_json::Value;
use splice_model::{CancelToken, CompletionStats, Engine, EngineError, ReuseMode};
use splice_retrieval::tokenize::word_start;
use splice_retrieval::IndexOptions;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

/// An open document and whether Splice still trusts that it matches the editor's.
struct OpenDocument {
    document: Document,
    /// False after an edit was rejected; a full-text change or reopening fixes it.
    in_sync: bool,
}

/// A suggestion and where it goes.
struct Suggestion {
    text: String,
    /// The cursor.
    at: Position,
    /// Start of the identifier left of the cursor (for `textDocument/completion` filtering).
    word_start: Position,
    /// That identifier's text.
    word: String,
    /// The document's text the suggestion was made for, what a prefetch accepts it into. Weak,
    /// so that an edit while the request runs changes the text in place instead of copying it:
    /// it then no longer upgrades.
    document: Weak<String>,
    /// The cursor's byte offset in `document`.
    cursor: usize,
}

/// A request's view of its document, taken without holding the document map.
struct RequestSnapshot {
    /// The whole text as it was when the request came (shared, not copied).
    text: Arc<String>,
    /// Byte offset of the cursor.
    cursor: usize,
    /// The cursor's line.
    cursor_line: u32,
    /// Start of the identifier left of the cursor (for `textDocument/completion` filtering).
    word_start: Position,
    /// That identifier's text.
    word: String,
}

/// Cuts the prompt window at the cursor and asks the retriever: O(window), never O(document).
/// `None`: nothing to complete (binary text).
fn prepare_request(
    uri: &Uri,
    snapshot: &RequestSnapshot,
    workspace: &Workspace,
    settings: &Settings,
    context_tokens: u32,
    cancel: CancelToken,
) -> Option<Prepared> {
    let path = uri.to_file_path();
    let target = completion::At {
        document: uri.as_str(),
        text: &snapshot.text,
        cursor: snapshot.cursor,
        text_offset: 0,
        path: path.as_deref(),
        cursor_line: Some(snapshot.cursor_line),
        ahead: false,
    };
    completion::prepare(target, workspace, settings, context_tokens, cancel)
        .inspect_err(|skip| tracing::warn!(uri = uri.as_str(), "no completion: {skip}"))
        .ok()
}

/// The server.
pub struct Backend {
    client: Client,
    cli_options: Options,
    settings: RwLock<Settings>,
    encoding: RwLock<PositionEncoding>,
    documents: Arc<DashMap<Uri, OpenDocument>>,
    in_flight: DashMap<Uri, CancelToken>,
    engine: EngineSlot,
    board: Arc<StatusBoard>,
    /// The workspace folders and their index, set by `initialize`.
    workspace: OnceLock<Arc<Workspace>>,
    /// Whether the client accepts server-created `$/progress` tokens.
    work_done_progress: RwLock<bool>,
    /// Per document, the latest edit's number: a debounced index update runs only if no edit
    /// came after it.
    index_edits: Arc<DashMap<Uri, u64>>,
    /// Per document, its turn to update the index: a debounced re-chunk and the refresh from
    /// disk on `didClose` run one after the other, so text read before the close can never land
    /// after the refresh and outlive the document.
    index_order: Arc<DashMap<Uri, Arc<tokio::sync::Mutex<()>>>>,
    /// Per document, the suggestions shown lately: typing along one, or coming back to a spot,
    /// is answered from here without the model; also the suggestions prefetched.
    recent: Arc<DashMap<Uri, RecentSuggestions>>,
    /// Per document, the engine job of its latest model request, until it ends (`true`). A
    /// request released mid-generation still finishes and lands in `recent`; the document's next
    /// request waits for it before looking there.
    pending: Arc<DashMap<Uri, PendingRun>>,
    /// When a prefetch may run, and the one running.
    prefetch: Arc<PrefetchGate>,
    /// Requests and edits seen: free heap is given back to the OS after some.
    activity: Arc<Activity>,
    /// The remote engine's outages the user was told of (`window/showMessage` once each).
    engine_outages_shown: AtomicU64,
    /// Whether the client asked to be told when the whole suggestion of a request answered
    /// with a part is ready (`experimental.spliceSuggestionReady`; see [`SuggestionReady`]).
    suggestion_ready: AtomicBool,
}

/// Quiet time after an edit before the edited file is re-chunked into the index.
const INDEX_DEBOUNCE: Duration = Duration::from_millis(1000);

impl Backend {
    /// A server whose command-line options win over the editor's `initializationOptions`.
    pub fn new(client: Client, cli_options: Options) -> Self {
        Self {
            client,
            settings: RwLock::new(Settings::resolve(cli_options.clone())),
            cli_options,
            encoding: RwLock::new(PositionEncoding::Utf16),
            documents: Arc::new(DashMap::new()),
            in_flight: DashMap::new(),
            engine: EngineSlot::new(),
            board: Arc::new(StatusBoard::default()),
            workspace: OnceLock::new(),
            work_done_progress: RwLock::new(false),
            index_edits: Arc::new(DashMap::new()),
            index_order: Arc::new(DashMap::new()),
            recent: Arc::new(DashMap::new()),
            pending: Arc::new(DashMap::new()),
            prefetch: Arc::new(PrefetchGate::default()),
            activity: Arc::default(),
            engine_outages_shown: AtomicU64::new(0),
            suggestion_ready: AtomicBool::new(false),
        }
    }

    /// `textDocument/inlineCompletion` (LSP 3.18).
    ///
    /// Not an `async fn`: the request is counted when tower-lsp-server takes it, before its
    /// future is first polled, so a request cancelled while it waits for a free slot is counted
    /// too (an `async fn`'s body would never run).
    pub fn inline_completion(
        &self,
        params: InlineCompletionParams,
    ) -> impl std::future::Future<Output = Result<Option<InlineCompletionResponse>>> + Send + '_ {
        let guard = RequestGuard::new(self.board.clone(), self.prefetch.clone(), self.finishes_released_work());
        self.activity.bump();
        async move {
            let position = params.text_document_position;
            let suggestion = self.suggest(guard, &position.text_document.uri, position.position).await?;
            let items = suggestion
                .map(|s| InlineCompletionItem {
                    insert_text: s.text,
                    filter_text: None,
                    range: Some(convert::empty_range(s.at)),
                    command: None,
                    // LSP 3.18's `InlineCompletionItem` has no `insertTextFormat`: plain text is
                    // a string `insertText`, which the field's serializer writes when it is None.
                    insert_text_format: None,
                })
                .into_iter()
                .collect();
            Ok(Some(InlineCompletionResponse::List(InlineCompletionList { items })))
        }
    }

    /// `splice/status`: engine state, model and counters.
    pub async fn status(&self, _params: Value) -> Result<Value> {
        let mut status = status::to_json(&self.engine.current(), &self.board.snapshot(), self.index_status().as_ref());
        // Requests whose model run the engine took and has not ended (released ones included).
        let running = self.pending.iter().filter(|job| job.run.cancel().is_some_and(CancelToken::has_started)).count();
        status["running"] = running.into();
        Ok(status)
    }

    fn index_status(&self) -> Option<splice_retrieval::IndexStatus> {
        self.workspace.get().and_then(|workspace| workspace.status())
    }

    fn workspace(&self) -> Arc<Workspace> {
        match self.workspace.get() {
            Some(workspace) => workspace.clone(),
            None => {
                let settings = self.settings.read().unwrap_or_else(|p| p.into_inner()).retrieval.clone();
                Arc::new(Workspace::none(settings))
            }
        }
    }

    /// The shared completion path: waits for the engine, supersedes the document's older request,
    /// runs the model and postprocesses. `Ok(None)` means "no item".
    async fn suggest(&self, mut guard: RequestGuard, uri: &Uri, at: Position) -> Result<Option<Suggestion>> {
        let engine = match self.engine.ready().await {
            Ok(engine) => engine,
            Err(reason) => {
                guard.finish(|counters| counters.failed += 1);
                return Err(convert::server_error(format!("model failed to load: {reason}")));
            }
        };
        let arrived = guard.arrived;
        let outcome = match self.typed_ahead(&engine, uri, at, arrived).await {
            Some(outcome) => {
                // Answered without the engine: a request of the document still in flight is for
                // text that has moved on.
                self.release_in_flight(uri);
                outcome
            }
            None => self.run_model(&mut guard, &engine, uri, at, arrived).await,
        };
        guard.finish(|counters| outcome.count(counters));
        tracing::debug!(
            uri = uri.as_str(),
            line = at.line,
            col = at.character,
            ms = arrived.elapsed().as_millis() as u64,
            outcome = outcome.label(),
            "answered"
        );
        match outcome {
            // A prefetch that found nothing here answers nothing.
            Outcome::Cached(suggestion) | Outcome::Prefetched(suggestion, _) if suggestion.text.is_empty() => Ok(None),
            Outcome::Shown(suggestion, _) | Outcome::Cached(suggestion) | Outcome::Prefetched(suggestion, _) => {
                self.prefetch_after(&engine, uri, &suggestion);
                Ok(Some(suggestion))
            }
            // The run still writes the rest: nothing to prefetch after until it has.
            Outcome::Partial(suggestion) => Ok(Some(suggestion)),
            Outcome::Empty(_) | Outcome::Superseded => Ok(None),
            Outcome::EngineUnavailable(reason) => {
                self.tell_of_engine_outage(&engine, &reason).await;
                Ok(None)
            }
            Outcome::Failed(err) => Err(err),
        }
    }

    /// The request's path through the engine: supersedes the document's older request, then
    /// prepares, runs and finishes this one.
    async fn run_model(
        &self,
        guard: &mut RequestGuard,
        engine: &Engine,
        uri: &Uri,
        at: Position,
        arrived: std::time::Instant,
    ) -> Outcome {
        guard.take_engine();
        let cancel = guard.cancel.clone();
        if let Some(older) = self.in_flight.insert(uri.clone(), cancel.clone()) {
            self.let_go(&older);
        }
        let outcome = match self.compute(engine, uri, at, cancel.clone(), arrived).await {
            // Released while it ran (a newer request or an edit came): its work went to the
            // typed-ahead cache, and its answer would be for a document that has moved on.
            Outcome::Shown(..) | Outcome::Cached(_) | Outcome::Prefetched(..) | Outcome::Empty(_)
                if cancel.is_released() =>
            {
                Outcome::Superseded
            }
            outcome => outcome,
        };
        self.forget_in_flight(uri, &cancel);
        outcome
    }

    /// A remote engine failed a request: the editor gets an empty answer, and the user is told
    /// once per outage (the status bar shows it for as long as it lasts). A request the engine
    /// refused without going down (a prompt over its context) is only logged.
    async fn tell_of_engine_outage(&self, engine: &Engine, reason: &str) {
        tracing::warn!("completion empty: {reason}");
        let Some(status) = engine.remote_status() else { return };
        let shown = self.engine_outages_shown.fetch_max(status.outages, Ordering::SeqCst);
        if status.outages > shown {
            let message = format!(
                "Splice: the completion engine is unavailable ({reason}). Suggestions stay empty until it answers; \
                 retrying in the background."
            );
            self.client.show_message(MessageType::WARNING, message).await;
            let index = self.index_status();
            Self::notify_status(&self.client, &self.engine.current(), &self.board, index.as_ref()).await;
        }
    }

    /// The typed-ahead answer, before any window, shape or retrieval work and without the
    /// engine: the rest of a suggestion the person is typing along, or the one prefetched for
    /// this very spot (see [`RecentSuggestions::serve_typed`]). If the person has just typed
    /// out the suggestion that the running prefetch assumes accepted, the prefetch computes this
    /// request: it is waited for rather than stopped and started over. `None`: the whole path.
    async fn typed_ahead(
        &self,
        engine: &Engine,
        uri: &Uri,
        at: Position,
        arrived: std::time::Instant,
    ) -> Option<Outcome> {
        let started = std::time::Instant::now();
        let snapshot = self.snapshot(uri, at).ok()?;
        if let Some(outcome) = self.serve_typed(engine, uri, at, &snapshot, started) {
            return Some(outcome);
        }
        let (ended, run) = self.prefetch.typed_out(uri, snapshot.cursor)?;
        let waited = std::time::Instant::now();
        let ended = partial::until_true(ended);
        // Past the deadline, the part the prefetch has written answers: it computes this spot.
        let settings = self.settings.read().unwrap_or_else(|p| p.into_inner()).partial_after();
        let deadline = settings.map(|budget| partial::deadline(arrived, budget));
        let shown = partial::wait_or_show_part(ended, deadline, &run, false, |prepared, part| {
            run.show_part(Asker::Other, at, || {
                let window = Window::of(&prepared.request);
                self.recent.get_mut(uri)?.remember_partial(window, part, Origin::Prefetched);
                self.serve_typed(engine, uri, at, &snapshot, started)
            })
        });
        let shown = shown.await.into_shown();
        tracing::info!(
            uri = uri.as_str(),
            ms = waited.elapsed().as_millis() as u64,
            part = shown.is_some(),
            "waited for the prefetch of this spot"
        );
        if let Some(outcome) = shown {
            return Some(outcome);
        }
        let snapshot = self.snapshot(uri, at).ok()?;
        match self.serve_typed(engine, uri, at, &snapshot, started)? {
            Outcome::Prefetched(suggestion, _) => Some(Outcome::Prefetched(suggestion, PrefetchWait::WaitedFor)),
            outcome => Some(outcome),
        }
    }

    /// A request at `at` was answered from the typed-ahead cache with `served`: when that is a
    /// part of a suggestion still being written, the run writing it (the document's released
    /// run, or its prefetch: a part kept does not say which) tells the client at `at` when the
    /// whole is ready, as it does for the request the part first answered. Called inside a
    /// part's `show_part` too (the prefetch's part served by `serve_typed`): never blocks.
    fn part_served(&self, uri: &Uri, at: Position, served: &Served) {
        if !served.partial {
            return;
        }
        let pending = self.pending.get(uri).map(|job| job.run.clone());
        for run in pending.into_iter().chain(self.prefetch.running_in(uri)) {
            run.part_served_at(at);
        }
    }

    fn serve_typed(
        &self,
        engine: &Engine,
        uri: &Uri,
        at: Position,
        snapshot: &RequestSnapshot,
        started: std::time::Instant,
    ) -> Option<Outcome> {
        let text = snapshot.text.as_str();
        let (start, end) = completion::window_bounds(text, snapshot.cursor, engine.info().context_tokens, 0);
        let (prefix, suffix) = (&text[start..snapshot.cursor], &text[snapshot.cursor..end]);
        let served = self.recent.get_mut(uri)?.serve_typed(prefix, suffix)?;
        self.part_served(uri, at, &served);
        let suggestion = Suggestion {
            text: String::new(),
            at,
            word_start: snapshot.word_start,
            word: snapshot.word.clone(),
            document: Arc::downgrade(&snapshot.text),
            cursor: snapshot.cursor,
        };
        Some(served_outcome(served, suggestion, uri, started))
    }

    /// Prepares, runs and finishes one request.
    async fn compute(
        &self,
        engine: &Engine,
        uri: &Uri,
        at: Position,
        cancel: CancelToken,
        arrived: std::time::Instant,
    ) -> Outcome {
        let started = std::time::Instant::now();
        let snapshot = match self.snapshot(uri, at) {
            Ok(snapshot) => snapshot,
            Err(err) => return Outcome::Failed(err),
        };
        let (word_start, word) = (snapshot.word_start, snapshot.word.clone());
        let (document, cursor) = (Arc::downgrade(&snapshot.text), snapshot.cursor);
        let settings = self.settings.read().unwrap_or_else(|p| p.into_inner()).clone();
        // Past it, the request shows what its run (or the run it waits for) has written so far.
        let deadline = settings.partial_after().map(|budget| partial::deadline(arrived, budget));
        let (workspace, context_tokens, key) = (self.workspace(), engine.info().context_tokens, uri.clone());
        // The window, the shape and the retrieval gate (a tantivy search) run on a blocking
        // thread: they never stall the runtime that reads the editor's next keystrokes.
        let prepared = tokio::task::spawn_blocking(move || {
            prepare_request(&key, &snapshot, &workspace, &settings, context_tokens, cancel)
        })
        .await;
        let prepare_ms = started.elapsed().as_secs_f64() * 1000.0;
        let prepared = match prepared {
            Ok(Some(prepared)) => prepared,
            Ok(None) => return Outcome::Empty(None),
            Err(panic) => {
                return Outcome::Failed(convert::server_error(format!("preparing the request failed: {panic}")))
            }
        };
        let window = Window::of(&prepared.request);
        let decision_ms = prepared.decision_ms;
        let suggestion =
            |text| Suggestion { text, at, word_start, word: word.clone(), document: document.clone(), cursor };
        // A released request that was already generating finishes into `recent`: wait for it
        // (past the deadline, the part it wrote may answer this request).
        if let Some(served) = self.wait_for_pending(uri, (at, window), deadline).await {
            return served_outcome(served, suggestion(String::new()), uri, started);
        }
        if let Some(served) = self.recent.get_mut(uri).and_then(|mut recent| recent.serve(window)) {
            self.part_served(uri, at, &served);
            return served_outcome(served, suggestion(String::new()), uri, started);
        }
        let (done, text) = match self.run_to_recent(engine, uri, prepared, (at, cursor), deadline).await {
            Ok(Ran::Whole(done, text)) => (*done, text),
            Ok(Ran::Part(text)) => {
                tracing::info!(
                    uri = uri.as_str(),
                    line = at.line,
                    col = at.character,
                    ms = arrived.elapsed().as_millis() as u64,
                    "completion: past the latency budget, the part written so far"
                );
                return Outcome::Partial(suggestion(text));
            }
            // The client did not cancel (this future is still running): a newer request or an
            // edit of the document superseded this one.
            Err(EngineError::Cancelled) => return Outcome::Superseded,
            Err(EngineError::Remote(reason)) => return Outcome::EngineUnavailable(reason),
            Err(err) => return Outcome::Failed(convert::server_error(err)),
        };
        let mut done = done;
        done.stats.prepare_ms = prepare_ms;
        done.stats.decision_ms = decision_ms;
        let stats = &done.stats;
        tracing::info!(
            uri = uri.as_str(),
            line = at.line,
            col = at.character,
            prompt = stats.prompt_tokens,
            encoded = stats.encoded_tokens,
            generated = stats.generated_tokens,
            prepare_us = (prepare_ms * 1000.0) as u64,
            decision_us = (decision_ms * 1000.0) as u64,
            first_token_ms = stats.first_token_ms as u64,
            total_ms = stats.total_ms as u64,
            shown = text.is_some(),
            "completion"
        );
        match text {
            Some(text) => Outcome::Shown(suggestion(text), done.stats),
            None => Outcome::Empty(Some(done.stats)),
        }
    }

    /// Waits for the document's released run still generating, if any, which finishes into
    /// `recent`. Past `deadline`, the part of its suggestion written so far is kept there too,
    /// and answers this request at `window` when the person typed along it: `Some`.
    async fn wait_for_pending(
        &self,
        uri: &Uri,
        (at, window): (Position, Window<'_>),
        deadline: Option<std::time::Instant>,
    ) -> Option<Served> {
        let (ended, run) = {
            let job = self.pending.get(uri)?;
            (job.ended.clone(), job.run.clone())
        };
        let waiting = std::time::Instant::now();
        let ended = partial::until_true(ended);
        // A run the person typed past writes what is typed before anything else: this request's
        // own run is sooner.
        let waited = partial::wait_or_show_part(ended, deadline, &run, true, |prepared, part| {
            run.show_part(Asker::Other, at, || {
                let mut recent = self.recent.entry(uri.clone()).or_default();
                recent.remember_partial(Window::of(&prepared.request), part, Origin::Shown);
                recent.serve(window)
            })
        });
        let served = waited.await.into_shown();
        tracing::debug!(
            uri = uri.as_str(),
            ms = waiting.elapsed().as_millis() as u64,
            part = served.is_some(),
            "waited for the document's released run"
        );
        served
    }

    /// What the request needs of its document, taken under the document map's lock at a cost
    /// that does not grow with the document (an `Arc` clone, the cursor's offset and word);
    /// the lock is released before any window, shape or retrieval work.
    fn snapshot(&self, uri: &Uri, at: Position) -> Result<RequestSnapshot> {
        let open = self
            .documents
            .get(uri)
            .ok_or_else(|| convert::invalid_params(format!("document {} is not open", uri.as_str())))?;
        if !open.in_sync {
            return Err(convert::invalid_params(format!(
                "document {} is out of sync after a rejected edit; close and reopen it",
                uri.as_str()
            )));
        }
        let encoding = *self.encoding.read().unwrap_or_else(|p| p.into_inner());
        let document = &open.document;
        let cursor = document.offset_at(convert::position(at), encoding).map_err(convert::invalid_params)?;
        let word_offset = word_start(document.text(), cursor);
        let word_start = document.position_at(word_offset, encoding).map(convert::lsp_position).unwrap_or(at);
        Ok(RequestSnapshot {
            text: document.snapshot(),
            cursor,
            cursor_line: at.line,
            word_start,
            word: document.text()[word_offset..cursor].to_owned(),
        })
    }

    /// The client, when it asked to be told that a suggestion shown in part is whole
    /// (`experimental.spliceSuggestionReady`; see [`tell_suggestion_ready`]).
    fn ready_client(&self) -> Option<Client> {
        self.suggestion_ready.load(Ordering::Relaxed).then(|| self.client.clone())
    }

    /// Starts computing the next suggestion as if `shown` were accepted, when prefetching is on,
    /// the engine's cache follows edits by PIE, no request is live, none runs, and the document
    /// is still the one `shown` was made for (see [`prefetch`]).
    fn prefetch_after(&self, engine: &Engine, uri: &Uri, shown: &Suggestion) {
        let settings = self.settings.read().unwrap_or_else(|p| p.into_inner()).clone();
        if !settings.prefetch || engine.info().reuse != ReuseMode::Pie {
            return;
        }
        // An edit since the request left the weak reference nothing to upgrade to, or (when
        // another snapshot held the text) copied it: the document's text is then another `Arc`.
        let Some(text) = shown.document.upgrade() else { return };
        let unchanged = || {
            self.documents.get(uri).is_some_and(|open| open.in_sync && Arc::ptr_eq(&text, &open.document.snapshot()))
        };
        let along = TypedAlong::new(uri.clone(), shown.cursor, shown.text.clone());
        let Some(cancel) = self.prefetch.claim(along, unchanged) else { return };
        // O(window) copied at once: holding the text would make the next edit copy all of it.
        let reach = Reach::for_context(engine.info().context_tokens);
        let accepted = AcceptedText::new(&text, shown.cursor, shown.at.line, &shown.text, reach);
        drop(text);
        let context = PrefetchContext {
            engine: engine.clone(),
            workspace: self.workspace(),
            settings,
            recent: self.recent.clone(),
            board: self.board.clone(),
            gate: self.prefetch.clone(),
            ready: self.ready_client(),
        };
        tokio::spawn(prefetch::run(context, uri.clone(), accepted, cancel));
    }

    /// Runs `prepared` on the engine in a task of its own, which remembers the finished
    /// suggestion in `recent` even if this request's future is gone by then (released: the
    /// editor moved on, maybe along this very suggestion). Returns the completion and its
    /// suggestion (`None`: no item), or, past `deadline`, the part of the suggestion written so
    /// far (kept in `recent` until the whole one replaces it; the client is told when it does,
    /// if it asked: [`SuggestionReady`]). `(at, cursor)` is the request's position and its byte
    /// offset in the document.
    async fn run_to_recent(
        &self,
        engine: &Engine,
        uri: &Uri,
        prepared: Prepared,
        (at, cursor): (Position, usize),
        deadline: Option<std::time::Instant>,
    ) -> std::result::Result<Ran, EngineError> {
        let prepared = Arc::new(prepared);
        let progress = RunInProgress::new(prepared.clone());
        let (ended_tx, ended_rx) = tokio::sync::watch::channel(false);
        let job = PendingRun { ended: ended_rx.clone(), run: progress.clone(), cursor };
        self.pending.insert(uri.clone(), job);
        let (engine, key) = (engine.clone(), uri.clone());
        let (recent, pending, board) = (self.recent.clone(), self.pending.clone(), self.board.clone());
        let ready = self.ready_client();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let running = progress.clone();
        tokio::spawn(async move {
            let window = Window::of(&prepared.request);
            let result = run(&engine, prepared.request.clone()).await.map(|done| {
                let text = completion::finish(&prepared, &done);
                (done, text)
            });
            let settle = || {
                let mut recent = recent.entry(key.clone()).or_default();
                match &result {
                    Ok((_, Some(text))) => recent.remember(window, text),
                    _ => recent.forget_partial(window),
                }
            };
            let ending = running.end(settle);
            if let Ok((done, whole)) = &result {
                if ending.own_part_shown {
                    // Its request was answered with a part: nobody else counts the run.
                    board.update(|counters| counters.add_run(&done.stats));
                }
                if whole.is_some() {
                    tell_suggestion_ready(ready.as_ref(), &key, ending.part_shown_at).await;
                }
            }
            let _ = ended_tx.send(true);
            pending.remove_if(&key, |_, current| current.ended.same_channel(&ended_rx));
            let _ = tx.send(result);
        });
        let ended = async { rx.await.unwrap_or(Err(EngineError::Stopped)) };
        let waited = partial::wait_or_show_part(ended, deadline, &progress, false, |prepared, part| {
            progress.show_part(Asker::Own, at, || {
                let window = Window::of(&prepared.request);
                self.recent.entry(uri.clone()).or_default().remember_partial(window, part, Origin::Shown);
                Some(part.to_owned())
            })
        });
        match waited.await {
            Waited::Ended(result) => result.map(|(done, text)| Ran::Whole(Box::new(done), text)),
            Waited::Shown(part) => Ok(Ran::Part(part)),
            Waited::Overtaken => Err(EngineError::Cancelled),
        }
    }

    /// Whether work the editor no longer waits for is released (finishing if started, for the
    /// typed-ahead cache) rather than cancelled: with a latency budget, which bounds it.
    fn finishes_released_work(&self) -> bool {
        self.settings.read().unwrap_or_else(|p| p.into_inner()).engine.latency_budget.is_some()
    }

    /// Releases (see [`Self::finishes_released_work`]) or cancels `token`.
    fn let_go(&self, token: &CancelToken) {
        if self.finishes_released_work() {
            token.release();
        } else {
            token.cancel();
        }
    }

    /// The document's request in flight is no longer awaited (an edit came).
    fn release_in_flight(&self, uri: &Uri) {
        if let Some((_, token)) = self.in_flight.remove(uri) {
            self.let_go(&token);
        }
    }

    fn forget_in_flight(&self, uri: &Uri, cancel: &CancelToken) {
        self.in_flight.remove_if(uri, |_, current| current.same_as(cancel));
    }

    fn cancel_in_flight(&self, uri: &Uri) {
        if let Some((_, token)) = self.in_flight.remove(uri) {
            token.cancel();
        }
    }

    async fn notify_status(
        client: &Client,
        state: &EngineState,
        board: &StatusBoard,
        index: Option<&splice_retrieval::IndexStatus>,
    ) {
        client.send_notification::<StatusNotification>(status::to_json(state, &board.snapshot(), index)).await;
        if let EngineState::Failed(reason) = state {
            client.show_message(MessageType::ERROR, format!("Splice: model failed to load: {reason}")).await;
        }
    }
}

impl Backend {
    /// Cancels every request and stops prefetching for good (`shutdown`); returns the engine
    /// to wait for.
    ///
    /// The process exits soon after, running llama.cpp's static destructors: a decode still
    /// running on the engine thread then crashes it (a session that ends without `shutdown`
    /// still risks that). Once the work is cancelled, any job the engine answers
    /// (`needs_repair_blocking` is the cheapest) means it is free.
    fn stop_engine_work(&self) -> Option<Engine> {
        for entry in self.in_flight.iter() {
            entry.value().cancel();
        }
        self.prefetch.close();
        match self.engine.current() {
            EngineState::Ready(engine) => Some(engine),
            _ => None,
        }
    }
}

impl Drop for Backend {
    /// The session ended (`exit`, or the input closed, with or without `shutdown`): nothing
    /// may keep the engine busy.
    fn drop(&mut self) {
        self.stop_engine_work();
    }
}

/// What a request's own model run gave it.
enum Ran {
    /// The run ended: its completion and suggestion (`None`: no item).
    Whole(Box<splice_model::Completion>, Option<String>),
    /// Past the deadline, the part of its suggestion written so far; the run goes on.
    Part(String),
}

/// How a request ended.
enum Outcome {
    /// A suggestion to show.
    Shown(Suggestion, CompletionStats),
    /// A suggestion to show, served from one already shown (typed ahead, or the same spot
    /// again) without the model.
    Cached(Suggestion),
    /// A suggestion to show, served without the model from one prefetched as if the suggestion
    /// shown before had been accepted, and whether that prefetch was still running when the
    /// request came (the request waited for it).
    Prefetched(Suggestion, PrefetchWait),
    /// A suggestion to show: past the latency budget, the part of one that a model run was
    /// still writing (the run goes on, for the typed-ahead cache).
    Partial(Suggestion),
    /// Nothing worth showing (or nothing to run, e.g. binary text).
    Empty(Option<CompletionStats>),
    /// A newer request or an edit replaced it.
    Superseded,
    /// An error for the client.
    Failed(Error),
    /// The remote engine failed or is down: an empty answer, and the user is told once.
    EngineUnavailable(String),
}

impl Outcome {
    /// What the log calls it.
    fn label(&self) -> &'static str {
        match self {
            Outcome::Shown(..) => "shown",
            Outcome::Cached(_) => "cached",
            Outcome::Prefetched(..) => "prefetched",
            Outcome::Partial(_) => "partial",
            Outcome::Empty(_) => "empty",
            Outcome::Superseded => "superseded",
            Outcome::Failed(_) => "failed",
            Outcome::EngineUnavailable(_) => "engine unavailable",
        }
    }

    fn count(&self, counters: &mut status::Counters) {
        let stats = match self {
            Outcome::Shown(_, stats) => {
                counters.suggested += 1;
                Some(stats)
            }
            Outcome::Cached(_) => {
                counters.cached += 1;
                None
            }
            Outcome::Prefetched(_, wait) => {
                counters.prefetched += 1;
                counters.prefetch.used += 1;
                if *wait == PrefetchWait::WaitedFor {
                    counters.prefetched_waited += 1;
                }
                None
            }
            Outcome::Partial(_) => {
                counters.partial += 1;
                None
            }
            Outcome::Empty(stats) => {
                counters.empty += 1;
                stats.as_ref()
            }
            Outcome::Superseded => {
                counters.superseded += 1;
                None
            }
            Outcome::Failed(_) | Outcome::EngineUnavailable(_) => {
                counters.failed += 1;
                None
            }
        };
        if let Some(stats) = stats {
            counters.add_run(stats);
        }
    }
}

/// Whether a request answered from a prefetch found it finished or waited for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrefetchWait {
    /// The prefetched suggestion was there when the request came.
    Finished,
    /// The prefetch was computing this very spot (its suggestion had just been typed out), and
    /// the request waited for it to end.
    WaitedFor,
}

/// The engine job of a document's latest model request, until it ends.
struct PendingRun {
    /// Becomes `true` when it ended.
    ended: tokio::sync::watch::Receiver<bool>,
    /// Its request (whose token is told what the person types, see [`CancelToken::typed`]),
    /// and what it has written so far.
    run: RunInProgress,
    /// Its cursor, a byte offset in the document as it was.
    cursor: usize,
}

impl PendingRun {
    /// An edit of its document, `insertion` the text it inserted and where when it only
    /// inserted: typed at the run's cursor (right after what was typed there before), or not.
    fn edited(&self, insertion: Option<(usize, &str)>) {
        // A pending run's request is prepared before the job is made.
        let Some(cancel) = self.run.cancel() else { return };
        let at_its_cursor = |&(at, _): &(usize, &str)| at == self.cursor + cancel.typed_len();
        cancel.typed(insertion.filter(at_its_cursor).map(|(_, text)| text));
    }
}

/// A request answered from the typed-ahead cache with `served` (`suggestion` is where it goes):
/// logged, and counted by where the suggestion came from.
fn served_outcome(served: Served, suggestion: Suggestion, uri: &Uri, started: std::time::Instant) -> Outcome {
    let suggestion = Suggestion { text: served.rest, ..suggestion };
    let from = match (served.origin, served.partial) {
        (_, true) => "the part of a suggestion a run is still writing",
        (Origin::Shown, false) => "a suggestion already shown",
        (Origin::Prefetched, false) => "a suggestion prefetched as if the last one was accepted",
    };
    tracing::info!(
        uri = uri.as_str(),
        line = suggestion.at.line,
        col = suggestion.at.character,
        us = started.elapsed().as_micros() as u64,
        "completion served from {from}"
    );
    match (served.origin, served.partial) {
        (_, true) => Outcome::Partial(suggestion),
        (Origin::Shown, false) => Outcome::Cached(suggestion),
        (Origin::Prefetched, false) => Outcome::Prefetched(suggestion, PrefetchWait::Finished),
    }
}

/// Runs a request on the engine thread and awaits it without blocking the runtime.
pub(super) async fn run(
    engine: &Engine,
    request: splice_model::CompletionRequest,
) -> std::result::Result<splice_model::Completion, EngineError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    engine.submit(
        request,
        Box::new(move |result| {
            let _ = tx.send(result);
        }),
    );
    rx.await.unwrap_or(Err(EngineError::Stopped))
}

/// One completion request from the moment tower-lsp-server takes it: counts it as received,
/// cancels the engine request when the handler's future is dropped (the client sent
/// `$/cancelRequest`, or the connection closed), and counts how it ended, so that `received`
/// always equals the sum of the outcomes once nothing is in flight. While it lives, no prefetch
/// runs once it takes the engine: taking it stops the running one.
struct RequestGuard {
    cancel: CancelToken,
    /// When the request was taken: its latency budget counts from here.
    arrived: std::time::Instant,
    board: Arc<StatusBoard>,
    prefetch: Arc<PrefetchGate>,
    finished: bool,
    /// It took the engine ([`PrefetchGate::request_taken`]): its end is told to the gate.
    engine_taken: bool,
    /// Dropped unfinished, release the engine request instead of cancelling it.
    release_on_drop: bool,
}

impl RequestGuard {
    fn new(board: Arc<StatusBoard>, prefetch: Arc<PrefetchGate>, release_on_drop: bool) -> Self {
        board.update(|c| c.received += 1);
        Self {
            cancel: CancelToken::new(),
            arrived: std::time::Instant::now(),
            board,
            prefetch,
            finished: false,
            engine_taken: false,
            release_on_drop,
        }
    }

    /// The request needs the engine (the typed-ahead cache could not answer it): the running
    /// prefetch stops, and none starts until the request ended.
    fn take_engine(&mut self) {
        if !self.engine_taken {
            self.engine_taken = true;
            self.prefetch.request_taken();
        }
    }

    fn finish(&mut self, count: impl FnOnce(&mut status::Counters)) {
        self.finished = true;
        self.board.update(count);
        if self.engine_taken {
            self.prefetch.request_ended();
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if self.release_on_drop {
            self.cancel.release();
        } else {
            self.cancel.cancel();
        }
        if !self.finished {
            self.board.update(|c| c.cancelled += 1);
            if self.engine_taken {
                self.prefetch.request_ended();
            }
        }
    }
}

/// Sends `splice/suggestionReady` for `uri` at `at` (where a request was answered with a part of
/// a suggestion now whole) to `client`, the client that asked for it (`None`: it did not).
pub(super) async fn tell_suggestion_ready(client: Option<&Client>, uri: &Uri, at: Option<Position>) {
    if let (Some(client), Some(at)) = (client, at) {
        let params = serde_json::json!({ "textDocument": { "uri": uri.as_str() }, "position": at });
        client.send_notification::<SuggestionReady>(params).await;
    }
}

/// `splice/suggestionReady`: the whole suggestion of a request answered with a part of it is
/// ready, and asking again at `position` of `textDocument` (the cursor still there, nothing
/// typed) gets it from the typed-ahead cache. Sent only to a client that declared
/// `experimental.spliceSuggestionReady`: inline completions are pulled, and an editor asks
/// again on its own only when the person types.
enum SuggestionReady {}

impl notification::Notification for SuggestionReady {
    type Params = Value;
    const METHOD: &'static str = "splice/suggestionReady";
}

/// `splice/status` as a server-to-client notification, sent when the engine's state changes.
enum StatusNotification {}

impl notification::Notification for StatusNotification {
    type Params = Value;
    const METHOD: &'static str = "splice/status";
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let encoding = convert::negotiate_encoding(&params);
        *self.encoding.write().unwrap_or_else(|p| p.into_inner()) = encoding;
        // A bad option fails `initialize` with its name and range, before anything is loaded.
        let editor_options =
            parse_initialization_options(params.initialization_options.clone()).map_err(convert::invalid_params)?;
        let settings = Settings::resolve(self.cli_options.clone().or(editor_options));
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = settings.clone();
        tracing::info!(encoding = ?encoding, model = %settings.engine.model_path.display(), "initialize");
        let roots = workspace_roots(&params);
        tracing::info!(roots = ?roots, retrieval = ?settings.retrieval.mode, "workspace");
        let workspace = Arc::new(Workspace::new(roots, settings.retrieval.clone()));
        let _ = self.workspace.set(workspace.clone());
        *self.work_done_progress.write().unwrap_or_else(|p| p.into_inner()) =
            params.capabilities.window.as_ref().and_then(|window| window.work_done_progress).unwrap_or(false);
        let experimental = params.capabilities.experimental.as_ref();
        let ready = experimental.and_then(|e| e.get("spliceSuggestionReady")).and_then(Value::as_bool);
        self.suggestion_ready.store(ready == Some(true), Ordering::Relaxed);
        let (client, board) = (self.client.clone(), self.board.clone());
        self.engine.start(settings.engine, move |state| {
            let state = state.clone();
            tokio::spawn(async move {
                let index = workspace.status();
                Backend::notify_status(&client, &state, &board, index.as_ref()).await
            });
        });
        Ok(InitializeResult {
            capabilities: capabilities(encoding),
            server_info: Some(server_info()),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        tracing::debug!("client initialized");
        tokio::spawn(memory::trim_after_activity(Arc::downgrade(&self.activity)));
        let workspace = self.workspace();
        if workspace.wants_index() {
            let progress = *self.work_done_progress.read().unwrap_or_else(|p| p.into_inner());
            let (client, board, engine) = (self.client.clone(), self.board.clone(), self.engine.watch());
            tokio::spawn(indexing::run(workspace, client, progress, move |client, index| {
                let (board, state) = (board.clone(), engine.borrow().clone());
                async move { Backend::notify_status(&client, &state, &board, index.as_ref()).await }
            }));
        }
    }

    async fn shutdown(&self) -> Result<()> {
        if let Some(engine) = self.stop_engine_work() {
            let _ = tokio::task::spawn_blocking(move || engine.needs_repair_blocking()).await;
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        tracing::debug!(uri = doc.uri.as_str(), bytes = doc.text.len(), "didOpen");
        let document = Document::new(doc.text, doc.version);
        let text = document.snapshot();
        let path = doc.uri.to_file_path().map(|path| path.into_owned());
        self.documents.insert(doc.uri, OpenDocument { document, in_sync: true });
        // The retrieval gate reads the file's syntax now, while the person has not typed yet, so
        // that a request anywhere in it parses only the construct at its cursor.
        if let (Some(workspace), Some(path)) = (self.workspace.get().cloned(), path) {
            tokio::task::spawn_blocking(move || workspace.document_opened(&path, &text));
        }
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        self.activity.bump();
        // Idle work waits for a pause in typing, not only for a pause in requests.
        if let EngineState::Ready(engine) = self.engine.current() {
            engine.typing();
        }
        let uri = params.text_document.uri;
        self.release_in_flight(&uri);
        let encoding = *self.encoding.read().unwrap_or_else(|p| p.into_inner());
        let Some(mut open) = self.documents.get_mut(&uri) else {
            self.warn(format!("didChange for {}, which is not open; ignored", uri.as_str())).await;
            return;
        };
        let full_text = params.content_changes.iter().any(|c| c.range.is_none());
        let changes: Vec<_> = params.content_changes.into_iter().map(convert::change).collect();
        match open.document.apply_changes(&changes, params.text_document.version, encoding) {
            Ok(edits) => {
                open.in_sync |= full_text;
                let inserted = match edits.as_slice() {
                    [edit] if edit.start == edit.old_end && !full_text => {
                        Some((edit.start, open.document.text()[edit.start..edit.new_end].to_owned()))
                    }
                    _ => None,
                };
                drop(open);
                // A released run goes on only while the person types along what it generates.
                if let Some(run) = self.pending.get(&uri) {
                    run.edited(inserted.as_ref().map(|(at, text)| (*at, text.as_str())));
                }
                // After the edit: a prefetch claimed before it is stopped unless the edit typed
                // along the suggestion it assumes accepted, and none claimed after it sees the
                // old text (see `PrefetchGate::claim`).
                self.prefetch.edited(&uri, inserted.as_ref().map(|(at, text)| (*at, text.as_str())));
                self.reindex(&uri, INDEX_DEBOUNCE);
            }
            Err(err) => {
                open.in_sync = false;
                drop(open);
                self.prefetch.preempt();
                self.warn(format!("rejected an edit of {}: {err}; the document is kept as it was", uri.as_str())).await;
            }
        }
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        let uri = params.text_document.uri;
        tracing::debug!(uri = uri.as_str(), "didSave");
        self.reindex(&uri, Duration::ZERO);
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        self.cancel_in_flight(&uri);
        if self.documents.remove(&uri).is_none() {
            tracing::warn!(uri = uri.as_str(), "didClose for a document that is not open");
        }
        self.prefetch.preempt();
        if let EngineState::Ready(engine) = self.engine.current() {
            engine.close_document(uri.as_str());
        }
        self.index_edits.remove(&uri);
        self.recent.remove(&uri);
        if let (Some(path), Some(workspace)) = (uri.to_file_path(), self.workspace.get().cloned()) {
            let (path, order) = (path.into_owned(), self.index_turn(&uri));
            tokio::spawn(async move {
                let _turn = order.lock().await;
                let _ = tokio::task::spawn_blocking(move || workspace.refresh_from_disk(&path)).await;
            });
        }
    }

    // Not `async fn`, for the same reason as `inline_completion`.
    #[allow(clippy::manual_async_fn)]
    fn completion(
        &self,
        params: CompletionParams,
    ) -> impl std::future::Future<Output = Result<Option<CompletionResponse>>> + Send {
        let guard = RequestGuard::new(self.board.clone(), self.prefetch.clone(), self.finishes_released_work());
        self.activity.bump();
        async move { self.completion_item(guard, params).await }
    }
}

impl Backend {
    /// `textDocument/completion`: the suggestion as one completion item.
    async fn completion_item(
        &self,
        guard: RequestGuard,
        params: CompletionParams,
    ) -> Result<Option<CompletionResponse>> {
        let position = params.text_document_position;
        let Some(s) = self.suggest(guard, &position.text_document.uri, position.position).await? else {
            return Ok(None);
        };
        let label = s.text.lines().next().unwrap_or_default().trim().chars().take(80).collect::<String>();
        let new_text = format!("{}{}", s.word, s.text);
        let item = CompletionItem {
            label: if label.is_empty() { new_text.trim().chars().take(80).collect() } else { label },
            kind: Some(CompletionItemKind::TEXT),
            detail: Some("Splice".to_owned()),
            filter_text: Some(new_text.clone()),
            sort_text: Some("0".to_owned()),
            insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                range: Range { start: s.word_start, end: s.at },
                new_text,
            })),
            ..CompletionItem::default()
        };
        Ok(Some(CompletionResponse::Array(vec![item])))
    }
}

impl Backend {
    /// Re-chunks the document into the index after `delay` (didChange: [`INDEX_DEBOUNCE`];
    /// didSave: none) unless another edit or save of it comes first. The text is read when the
    /// update runs, so typing copies nothing; a document out of sync or too big to index is left
    /// alone.
    fn reindex(&self, uri: &Uri, delay: Duration) {
        let (Some(workspace), Some(path)) = (self.workspace.get().cloned(), uri.to_file_path()) else { return };
        if workspace.index().is_none() {
            return;
        }
        let path = path.into_owned();
        let edit = {
            let mut entry = self.index_edits.entry(uri.clone()).or_insert(0);
            *entry += 1;
            *entry
        };
        let (documents, edits, order, uri) =
            (self.documents.clone(), self.index_edits.clone(), self.index_turn(uri), uri.clone());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // Checked in turn: a `didClose` that came first has removed the edit number.
            let _turn = order.lock().await;
            if edits.get(&uri).is_none_or(|latest| *latest != edit) {
                return;
            }
            let max_bytes = IndexOptions::default().max_file_bytes;
            // A shared snapshot: the map's lock is held for an `Arc` clone, not a copy.
            let text = documents
                .get(&uri)
                .filter(|open| open.in_sync && open.document.text().len() as u64 <= max_bytes)
                .map(|open| open.document.snapshot());
            if let Some(text) = text {
                let _ = tokio::task::spawn_blocking(move || workspace.update_text(&path, &text)).await;
            }
        });
    }

    /// The lock that orders `uri`'s index updates (see `index_order`).
    fn index_turn(&self, uri: &Uri) -> Arc<tokio::sync::Mutex<()>> {
        self.index_order.entry(uri.clone()).or_default().clone()
    }

    async fn warn(&self, message: String) {
        tracing::warn!("{message}");
        self.client.log_message(MessageType::WARNING, message).await;
    }
}

/// The workspace folders the client named: `workspaceFolders`, else the deprecated `rootUri`.
fn workspace_roots(params: &InitializeParams) -> Vec<std::path::PathBuf> {
    let folders = params.workspace_folders.iter().flatten().map(|folder| &folder.uri);
    #[allow(deprecated)]
    let root = params.root_uri.iter();
    let mut roots: Vec<_> = folders.filter_map(|uri| uri.to_file_path().map(|path| path.into_owned())).collect();
    if roots.is_empty() {
        roots.extend(root.filter_map(|uri| uri.to_file_path().map(|path| path.into_owned())));
    }
    roots
}

/// The editor's options, checked: a wrong type or an out-of-range number is an error naming the
/// option (unknown keys are ignored, for clients that send settings of their own).
fn parse_initialization_options(value: Option<Value>) -> std::result::Result<Options, String> {
    let options = match value {
        None | Some(Value::Null) => Options::default(),
        Some(value) => serde_json::from_value::<Options>(value)
            .map_err(|err| format!("initializationOptions are malformed: {err}"))?,
    };
    options.validate().map_err(|err| err.to_string())?;
    Ok(options)
}

fn capabilities(encoding: PositionEncoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(convert::encoding_kind(encoding)),
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::INCREMENTAL),
            save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions { include_text: Some(false) })),
            ..TextDocumentSyncOptions::default()
        })),
        completion_provider: Some(CompletionOptions::default()),
        inline_completion_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

fn server_info() -> ServerInfo {
    ServerInfo { name: "splice".to_owned(), version: Some(env!("CARGO_PKG_VERSION").to_owned()) }
}
