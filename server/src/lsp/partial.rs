//! Waiting for a model run, up to the latency budget: past it, the part of the suggestion the
//! run has written so far is shown while the run writes the rest.
//!
//! On a CPU a first line of 20–30 tokens takes a second or more to write, and the budget lets
//! the run finish its first line whatever that costs (a cut line is worth less than a whole
//! one). A request does not wait that long: once its budget is spent it shows what the run has
//! written, up to its last whole word ([`completion::finish_partial`]), and the run goes on. Its
//! whole suggestion lands in the typed-ahead cache, where typing along the part shown, or
//! accepting it, finds the rest.
//!
//! The engine tells the run's [`CancelToken`] what it has written after every token
//! ([`CancelToken::wrote`]); the waiter reads it every [`POLL`] once the budget is spent.

use crate::completion::{self, Prepared};
use splice_model::CancelToken;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tower_lsp_server::ls_types::Position;

/// How often a waiter past its budget looks at what the run has written: well under one decoded
/// token (20–60 ms on a CPU).
pub(super) const POLL: Duration = Duration::from_millis(5);

/// A run the person has typed this many bytes past (about two tokens of code) is overtaken at
/// once, not at the deadline: it would write them a decode each before it could suggest
/// anything, where a request of its own encodes them in one batch. (In a `bench typing --busy`
/// log a request waited its whole budget for a run that had written nothing while the person
/// typed 10 bytes past it, then ran its own.)
const OVERTAKE_AT_ONCE_BYTES: usize = 8;

/// How long before the budget ends a waiter starts looking at what the run has written: one
/// [`POLL`] and the answer's way to the editor, so that a part shown arrives within the budget.
const LOOK_EARLY: Duration = Duration::from_millis(10);

/// When a request that came at `arrived` with a latency budget of `budget` starts showing the
/// part of the first line written so far.
pub(super) fn deadline(arrived: Instant, budget: Duration) -> Instant {
    arrived + budget.saturating_sub(LOOK_EARLY)
}

/// The future of `ended` turning `true` (or its sender going: the job was stopped).
pub(super) async fn until_true(mut ended: tokio::sync::watch::Receiver<bool>) {
    let _ = ended.wait_for(|ended| *ended).await;
}

/// How a wait ended.
pub(super) enum Waited<T, S> {
    /// The run ended first: its result.
    Ended(T),
    /// Past the deadline, `show` took a part of the suggestion: what it made of it.
    Shown(S),
    /// Past the deadline, the person had typed more than the run had written: the run was
    /// cancelled (see [`wait_or_show_part`]).
    Overtaken,
}

impl<T, S> Waited<T, S> {
    /// What `show` made of a part, if the wait ended with one.
    pub fn into_shown(self) -> Option<S> {
        match self {
            Waited::Shown(shown) => Some(shown),
            Waited::Ended(_) | Waited::Overtaken => None,
        }
    }
}

/// A model run in progress: what a waiter needs to show part of its suggestion.
#[derive(Clone, Default)]
pub(super) struct RunInProgress {
    /// The request it runs, once prepared (a prefetch's window is cut after it was claimed):
    /// its window and shape trim what it wrote, and its token says what it wrote.
    prepared: Arc<OnceLock<Arc<Prepared>>>,
    /// Whether a part of its suggestion was shown before it ended, and whether it ended.
    handoff: Arc<Mutex<Handoff>>,
}

impl std::fmt::Debug for RunInProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunInProgress").field("prepared", &self.prepared().is_some()).finish_non_exhaustive()
    }
}

/// Who saw a run's end first: a waiter that showed part of its suggestion, or the run itself.
#[derive(Debug, Default)]
struct Handoff {
    /// A part of the run's suggestion answered its own request.
    part_shown: bool,
    /// Where the latest request answered with a part of it (its own, or one typed along it)
    /// asked: where the whole suggestion is worth asking for again once it is ready.
    shown_at: Option<Position>,
    /// The run ended (its result is on its way).
    ended: bool,
}

/// What the end of a run learnt from the requests answered with parts of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ending {
    /// Its own request was answered with a part: its stats are counted by whoever holds its
    /// result (nobody else will).
    pub own_part_shown: bool,
    /// Where the latest request answered with a part asked (see [`Handoff::shown_at`]).
    pub part_shown_at: Option<Position>,
}

/// Whose request a part of a run answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Asker {
    /// The run's own request.
    Own,
    /// A later request: typed along the run's suggestion, or at the spot a prefetch computes.
    Other,
}

impl RunInProgress {
    /// A run of `prepared`, not ended, nothing of it shown.
    pub fn new(prepared: Arc<Prepared>) -> Self {
        let run = RunInProgress::default();
        run.prepare(prepared);
        run
    }

    /// The run's request is `prepared` (a run made with [`Default`] is not prepared yet).
    pub fn prepare(&self, prepared: Arc<Prepared>) {
        let _ = self.prepared.set(prepared);
    }

    /// The run's request, once prepared.
    pub fn prepared(&self) -> Option<&Arc<Prepared>> {
        self.prepared.get()
    }

    /// The token of the run's request, once prepared.
    pub fn cancel(&self) -> Option<&CancelToken> {
        self.prepared().map(|prepared| &prepared.request.cancel)
    }

    /// The run ended: `settle` keeps its whole suggestion where a part of it may have been kept
    /// (or forgets that part), under the same lock as [`show_part`](Self::show_part), so that no
    /// part is kept after it. Returns what the requests answered with parts of it left to do.
    pub fn end(&self, settle: impl FnOnce()) -> Ending {
        let mut handoff = self.handoff.lock().unwrap_or_else(|p| p.into_inner());
        handoff.ended = true;
        settle();
        Ending { own_part_shown: handoff.part_shown, part_shown_at: handoff.shown_at }
    }

    /// A part of this run kept earlier answered another request at `at` again (from the
    /// typed-ahead cache): the whole suggestion is worth asking for there, unless the run has
    /// ended. Never blocks: a part being shown holds the lock while its `keep` serves the
    /// request (which comes here), and that [`show_part`](Self::show_part) records `at` itself;
    /// the other contention (a run ending, another part shown) lasts microseconds, and losing
    /// one position to it only sends the notification to an earlier cursor.
    pub fn part_served_at(&self, at: Position) {
        if let Ok(mut handoff) = self.handoff.try_lock() {
            if !handoff.ended {
                handoff.shown_at = Some(at);
            }
        }
    }

    /// Shows a part to `asker`'s request at `at`: `keep` keeps the part where the whole
    /// suggestion will replace it and answers with it (`None`: it does not answer this request),
    /// unless the run has ended already (its whole result is then there to take instead:
    /// `None`, `keep` not run). A part that answers is remembered, for [`end`](Self::end).
    pub fn show_part<S>(&self, asker: Asker, at: Position, keep: impl FnOnce() -> Option<S>) -> Option<S> {
        let mut handoff = self.handoff.lock().unwrap_or_else(|p| p.into_inner());
        if handoff.ended {
            return None;
        }
        let shown = keep()?;
        handoff.part_shown |= asker == Asker::Own;
        handoff.shown_at = Some(at);
        Some(shown)
    }
}

/// Waits for `ended` (the run's end); from `deadline` on (none: no deadline), every [`POLL`]
/// offers the part of the run's suggestion written so far, trimmed as a suggestion is, to
/// `show` with the run's request, until `show` takes it (`Some`) or the run ends. A part is
/// offered again only when it changed. With `overtake`, a run the person has typed past
/// ([`CancelToken::behind_by`]) is cancelled then, and one they have typed
/// [`OVERTAKE_AT_ONCE_BYTES`] past is cancelled before the deadline too: a request of its own
/// gets there sooner.
pub(super) async fn wait_or_show_part<T, S>(
    ended: impl Future<Output = T>,
    deadline: Option<Instant>,
    run: &RunInProgress,
    overtake: bool,
    mut show: impl FnMut(&Prepared, &str) -> Option<S>,
) -> Waited<T, S> {
    tokio::pin!(ended);
    let Some(deadline) = deadline else { return Waited::Ended(ended.await) };
    let (mut read, mut offered) = (None, None);
    loop {
        let now = Instant::now();
        let past = now >= deadline;
        if let Some(prepared) = run.prepared() {
            let cancel = &prepared.request.cancel;
            let written = past.then(|| cancel.written()).filter(|written| read.as_ref() != Some(written));
            if let Some(written) = written {
                let part = completion::finish_partial(prepared, &written);
                if part.is_some() && part != offered {
                    if let Some(shown) = show(prepared, part.as_deref().unwrap_or_default()) {
                        return Waited::Shown(shown);
                    }
                    offered = part;
                }
                read = Some(written);
            }
            // Typed past: overtaken from the deadline on, or at once when typed far past.
            let too_far = if past { 1 } else { OVERTAKE_AT_ONCE_BYTES };
            if overtake && cancel.behind_by() >= too_far {
                tracing::debug!(typed = cancel.typed_len(), written = ?cancel.written(), "overtook a run typed past");
                cancel.cancel();
                return Waited::Overtaken;
            }
        }
        // Before the deadline only a waiter that may overtake looks, every POLL.
        let wake = match (past, overtake) {
            (false, false) => deadline,
            (false, true) => deadline.min(now + POLL),
            (true, _) => now + POLL,
        };
        tokio::select! {
            result = &mut ended => return Waited::Ended(result),
            () = tokio::time::sleep_until(wake.into()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::{prepare, At};
    use crate::config::{Options, Settings};
    use crate::workspace::Workspace;

    /// A run of a request at the end of `x = `, on a new line below a function.
    fn run() -> RunInProgress {
        let settings = Settings::resolve(Options::default());
        let text = "def f(a):\n    x = ";
        let at = At::whole("t.py", text, text.len(), None);
        let prepared = prepare(at, &Workspace::none(settings.retrieval.clone()), &settings, 4096, CancelToken::new());
        RunInProgress::new(Arc::new(prepared.unwrap()))
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
    }

    #[test]
    fn without_a_deadline_the_run_is_waited_for_whatever_it_wrote() {
        let run = run();
        run.prepared().unwrap().request.cancel.wrote("compute(a)");
        let waited =
            runtime().block_on(wait_or_show_part(async { 7 }, None, &run, false, |_, part| Some(part.to_owned())));
        assert!(matches!(waited, Waited::Ended(7)));
    }

    #[test]
    fn past_the_deadline_each_new_part_of_whole_words_is_offered_until_taken() {
        let run = run();
        let cancel = run.prepared().unwrap().request.cancel.clone();
        cancel.wrote("compute(a, b.tot");
        let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut offered = Vec::new();
        let waited = runtime().block_on(wait_or_show_part(rx, Some(Instant::now()), &run, false, |_, part| {
            offered.push(part.to_owned());
            if offered.len() == 1 {
                // The engine writes on: the same part again, then a longer one.
                cancel.wrote("compute(a, b.total");
                let cancel = cancel.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(POLL * 3);
                    cancel.wrote("compute(a, b.total)");
                });
            }
            part.ends_with(')').then(|| part.to_owned())
        }));
        assert!(matches!(waited, Waited::Shown(ref part) if part == "compute(a, b.total)"));
        assert_eq!(offered, ["compute(a, b.", "compute(a, b.total)"], "no half word, no part twice");
    }

    #[test]
    fn a_run_that_ends_while_nothing_is_taken_ends_the_wait() {
        let run = run();
        run.prepared().unwrap().request.cancel.wrote("compute(a)");
        let waited = runtime().block_on(async {
            let ended = async {
                tokio::time::sleep(POLL * 3).await;
                "ended"
            };
            wait_or_show_part(ended, Some(Instant::now()), &run, false, |_, _| None::<String>).await
        });
        assert!(matches!(waited, Waited::Ended("ended")));
    }

    #[test]
    fn a_part_is_shown_only_before_the_run_ends() {
        let own_at = Position::new(1, 8);
        let shown = run();
        assert_eq!(shown.show_part(Asker::Own, own_at, || Some("kept")), Some("kept"));
        let mut settled = false;
        let ending = shown.end(|| settled = true);
        assert!(settled);
        assert_eq!(
            ending,
            Ending { own_part_shown: true, part_shown_at: Some(own_at) },
            "the run learns its request was answered with a part, and where"
        );
        let ended = run();
        assert_eq!(ended.end(|| ()), Ending { own_part_shown: false, part_shown_at: None });
        let mut kept = false;
        let late = ended.show_part(Asker::Own, own_at, || {
            kept = true;
            Some("kept")
        });
        assert_eq!(late, None, "ended first: its whole result is there to take");
        assert!(!kept, "nothing kept after the run settled");
    }

    #[test]
    fn the_latest_request_answered_with_a_part_is_where_the_whole_is_asked_for_again() {
        let (own_at, later_at) = (Position::new(1, 8), Position::new(1, 10));
        let own = run();
        assert_eq!(own.show_part(Asker::Own, own_at, || Some(1)), Some(1));
        assert_eq!(own.show_part(Asker::Other, later_at, || None::<u8>), None, "a part that did not answer");
        assert_eq!(own.end(|| ()).part_shown_at, Some(own_at));
        let typed_along = run();
        assert_eq!(typed_along.show_part(Asker::Other, later_at, || Some(2)), Some(2));
        let ending = typed_along.end(|| ());
        assert_eq!(ending, Ending { own_part_shown: false, part_shown_at: Some(later_at) }, "its stats are its own");
    }

    #[test]
    fn a_part_served_again_while_a_part_is_shown_neither_blocks_nor_loses_the_position() {
        let (shown_at, typed_at) = (Position::new(1, 8), Position::new(1, 10));
        let prefetch = run();
        // Serving the part just kept (the prefetch's part, answered from the cache) notes the
        // position under the lock `show_part` holds: it must not wait for it.
        let shown = prefetch.show_part(Asker::Other, shown_at, || {
            prefetch.part_served_at(Position::new(9, 9));
            Some(())
        });
        assert_eq!(shown, Some(()));
        assert_eq!(prefetch.end(|| ()).part_shown_at, Some(shown_at));
        let typed_along = run();
        typed_along.part_served_at(typed_at);
        assert_eq!(typed_along.end(|| ()).part_shown_at, Some(typed_at));
        typed_along.part_served_at(shown_at);
        assert_eq!(typed_along.end(|| ()).part_shown_at, Some(typed_at), "not after its end");
    }

    #[test]
    fn a_run_not_prepared_yet_is_waited_for_until_it_is() {
        let later = RunInProgress::default();
        let prepared = run().prepared().unwrap().clone();
        prepared.request.cancel.wrote("compute(a)");
        let waited = runtime().block_on(async {
            let prepare = async {
                tokio::time::sleep(POLL * 3).await;
                later.prepare(prepared.clone());
                std::future::pending::<()>().await
            };
            let wait =
                wait_or_show_part(std::future::pending::<()>(), Some(Instant::now()), &later, false, |_, part| {
                    Some(part.to_owned())
                });
            tokio::select! {
                waited = wait => waited,
                () = prepare => unreachable!(),
            }
        });
        assert!(matches!(waited, Waited::Shown(ref part) if part == "compute(a)"));
    }

    #[test]
    fn a_run_the_person_typed_past_is_cancelled_past_the_deadline_when_asked() {
        let (run, cancel) = run_four_bytes_behind();
        let waited = runtime().block_on(async {
            let before = wait_or_show_part(std::future::pending::<()>(), None, &run, true, |_, _| None::<String>);
            let before = tokio::time::timeout(POLL * 4, before).await;
            assert!(before.is_err(), "no deadline: waited for");
            wait_or_show_part(std::future::pending::<()>(), Some(Instant::now()), &run, true, |_, _| None::<String>)
                .await
        });
        assert!(matches!(waited, Waited::Overtaken));
        assert!(cancel.is_cancelled());
    }

    #[test]
    fn a_run_the_person_typed_far_past_is_cancelled_before_the_deadline() {
        let (run, cancel) = run_four_bytes_behind();
        assert!(wait_before_the_deadline(&run, true, POLL * 4).is_none(), "4 bytes behind: waited for");
        assert!(!cancel.is_cancelled());
        cancel.typed(Some("a, b"));
        // A hang guard, not a speed bound: overtaking takes a poll.
        let waited = wait_before_the_deadline(&run, true, Duration::from_secs(60));
        assert!(matches!(waited, Some(Waited::Overtaken)), "8 bytes behind: overtaken at once");
        assert!(cancel.is_cancelled());
        let unasked = run_typed_past(16);
        assert!(wait_before_the_deadline(&unasked, false, POLL * 4).is_none(), "a waiter that may not overtake waits");
        assert!(!unasked.prepared().unwrap().request.cancel.is_cancelled());
    }

    /// Waits on `run` that never ends, with a deadline ten minutes away, for at most `limit`:
    /// `None` while it still waits.
    fn wait_before_the_deadline(run: &RunInProgress, overtake: bool, limit: Duration) -> Option<Waited<(), String>> {
        let later = Instant::now() + Duration::from_secs(600);
        runtime().block_on(async {
            let wait =
                wait_or_show_part(std::future::pending::<()>(), Some(later), run, overtake, |_, _| None::<String>);
            tokio::time::timeout(limit, wait).await.ok()
        })
    }

    /// A run that wrote `comp` while the person typed `compute(`, and its token.
    fn run_four_bytes_behind() -> (RunInProgress, CancelToken) {
        let run = run();
        let cancel = run.prepared().unwrap().request.cancel.clone();
        cancel.wrote("comp");
        cancel.typed(Some("compute("));
        (run, cancel)
    }

    /// A run that has written nothing while the person typed `bytes` past its cursor.
    fn run_typed_past(bytes: usize) -> RunInProgress {
        let run = run();
        run.prepared().unwrap().request.cancel.typed(Some(&"x".repeat(bytes)));
        run
    }
}
