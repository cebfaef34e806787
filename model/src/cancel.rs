//! Cooperative cancellation: the editor moves on faster than a model decodes.
//!
//! A [`CancelToken`] travels with every completion request. The engine checks it before it starts
//! a request, between prompt batches and before every generated token, so a cancelled request
//! stops within one token's decode time.
//!
//! A request can also be *released*: the editor no longer waits for its answer, but the work may
//! still pay off (the person typed on along the suggestion being computed, and the finished
//! suggestion answers the next keystrokes from the typed-ahead cache). A released request that
//! has not started is skipped; one that has started runs to its end, unless what the person
//! typed since contradicts what it generated ([`CancelToken::typed`],
//! [`CancelToken::should_stop`]): then its suggestion can answer nothing, and the engine is
//! freed for the request that waits behind it.
//!
//! The engine also tells the token what it has written so far ([`CancelToken::wrote`]): a
//! waiter past its latency budget shows that part ([`CancelToken::written`]) while the run goes on.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// Nothing asked; the engine has not taken the request.
const WAITING: u8 = 0;
/// The engine took the request.
const STARTED: u8 = 1;
/// Released before the engine took it: skip it.
const RELEASED: u8 = 2;
/// Released after the engine took it: let it finish.
const STARTED_RELEASED: u8 = 3;
/// Stop at the next check.
const CANCELLED: u8 = 4;

/// A shared flag that asks the engine to stop a request at the next token boundary, or (released)
/// not to start it.
///
/// Cloning is cheap (one `Arc`); every clone observes the same state.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    state: AtomicU8,
    /// What the person did at the cursor since the request was made.
    since: Mutex<TypedSince>,
    /// The suggestion's text as far as the engine has written it.
    written: Mutex<String>,
}

/// The text the person typed at the request's cursor since, or that they did something else.
#[derive(Debug, Default)]
struct TypedSince {
    text: String,
    elsewhere: bool,
}

impl CancelToken {
    /// A fresh, not-yet-cancelled token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every holder of this token to stop. Idempotent; wins over a release.
    pub fn cancel(&self) {
        self.0.state.store(CANCELLED, Ordering::Release);
    }

    /// Nobody waits for the answer any more: skip the request if it has not started, else let it
    /// finish. Returns whether it had started (its result will still come).
    pub fn release(&self) -> bool {
        let mut state = self.0.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                WAITING => RELEASED,
                STARTED => STARTED_RELEASED,
                _ => return state == STARTED_RELEASED,
            };
            match self.0.state.compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return next == STARTED_RELEASED,
                Err(now) => state = now,
            }
        }
    }

    /// The engine takes the request (or another job of the same request): `false` if it was
    /// released or cancelled first (skip it).
    pub fn start(&self) -> bool {
        match self.0.state.compare_exchange(WAITING, STARTED, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => true,
            Err(state) => state == STARTED,
        }
    }

    /// Whether the engine took the request (a release then lets it finish).
    pub fn has_started(&self) -> bool {
        matches!(self.0.state.load(Ordering::Acquire), STARTED | STARTED_RELEASED)
    }

    /// Whether `other` is a clone of this token (not merely in the same state).
    pub fn same_as(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Whether [`cancel`](Self::cancel) was called on any clone.
    pub fn is_cancelled(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == CANCELLED
    }

    /// Whether nobody waits for the answer: released or cancelled.
    pub fn is_released(&self) -> bool {
        self.0.state.load(Ordering::Acquire) >= RELEASED
    }

    /// The person typed `text` at the request's cursor, right after what they typed there since
    /// the request was made (`Some`), or edited the document in any other way (`None`).
    pub fn typed(&self, text: Option<&str>) {
        let mut since = self.0.since.lock().unwrap_or_else(|p| p.into_inner());
        match text {
            Some(text) => since.text.push_str(text),
            None => since.elsewhere = true,
        }
    }

    /// Bytes typed at the request's cursor since it was made (see [`typed`](Self::typed)).
    pub fn typed_len(&self) -> usize {
        self.0.since.lock().unwrap_or_else(|p| p.into_inner()).text.len()
    }

    /// The engine has written `generated` of the suggestion so far (the text [`should_stop`]
    /// is given): kept for [`written`](Self::written). Copies only when it grew or changed.
    ///
    /// [`should_stop`]: Self::should_stop
    pub fn wrote(&self, generated: &str) {
        let mut written = self.0.written.lock().unwrap_or_else(|p| p.into_inner());
        if written.as_str() != generated {
            written.clear();
            written.push_str(generated);
        }
    }

    /// What the engine has written of the suggestion so far (see [`wrote`](Self::wrote)): what a
    /// request that cannot wait for the run's end shows of it.
    pub fn written(&self) -> String {
        self.0.written.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many bytes more the person has typed at the request's cursor than the engine has
    /// written of its suggestion (blanks at the start aside); 0 when it is not behind. A run
    /// behind must write what is already typed before it can suggest anything, one token at a
    /// time, where a new request would encode it in one batch.
    pub fn behind_by(&self) -> usize {
        let typed = self.0.since.lock().unwrap_or_else(|p| p.into_inner()).text.trim_start().len();
        typed.saturating_sub(self.0.written.lock().unwrap_or_else(|p| p.into_inner()).trim_start().len())
    }

    /// Whether the engine should stop the request now that it has generated `generated` (the
    /// suggestion's text so far): it was cancelled, or it was released and the person has since
    /// edited elsewhere or typed something that is not the start of it (blanks at the start
    /// aside: the suggestion's indentation is settled when it is shown). Typing along it, or
    /// typing ahead of what it generated so far, lets it go on.
    pub fn should_stop(&self, generated: &str) -> bool {
        match self.0.state.load(Ordering::Acquire) {
            CANCELLED => true,
            STARTED_RELEASED | RELEASED => {
                let since = self.0.since.lock().unwrap_or_else(|p| p.into_inner());
                let (typed, generated) = (since.text.trim_start(), generated.trim_start());
                since.elsewhere || !(generated.starts_with(typed) || typed.starts_with(generated))
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag() {
        let token = CancelToken::new();
        let clone = token.clone();
        assert!(!clone.is_cancelled());
        token.cancel();
        assert!(clone.is_cancelled());
    }

    #[test]
    fn a_release_skips_a_request_not_started_and_lets_a_started_one_finish() {
        let waiting = CancelToken::new();
        assert!(!waiting.release(), "not started");
        assert!(!waiting.start(), "the engine skips it");
        assert!(!waiting.is_cancelled() && waiting.is_released());

        let running = CancelToken::new();
        assert!(running.start());
        assert!(running.release(), "started: its result still comes");
        assert!(!running.is_cancelled(), "generation goes on");
        assert!(running.release(), "idempotent");
        running.cancel();
        assert!(running.is_cancelled(), "a cancel still stops it");
        assert!(!running.release());

        let cancelled = CancelToken::new();
        cancelled.cancel();
        assert!(!cancelled.start());
    }

    #[test]
    fn a_released_request_stops_once_what_was_typed_contradicts_what_it_generated() {
        let token = CancelToken::new();
        assert!(token.start());
        token.typed(Some("re"));
        assert!(!token.should_stop("self.x"), "awaited: the editor still wants it");
        token.release();
        assert!(!token.should_stop(""), "nothing generated yet");
        assert!(!token.should_stop("ret"), "typed along");
        assert!(!token.should_stop("r"), "typed ahead of it");
        assert!(!token.should_stop("    return x"), "blanks at the start aside");
        assert!(token.should_stop("self.x"), "typed something else");
        token.typed(Some("turn"));
        assert_eq!(token.typed_len(), 6);
        assert!(!token.should_stop("return x"));
        token.typed(None);
        assert!(token.should_stop("return x"), "an edit elsewhere");

        let cancelled = CancelToken::new();
        cancelled.cancel();
        assert!(cancelled.should_stop("anything"));
    }

    #[test]
    fn every_clone_reads_what_the_engine_wrote_last() {
        let token = CancelToken::new();
        let waiter = token.clone();
        assert_eq!(waiter.written(), "");
        token.wrote("return se");
        token.wrote("return self.x");
        assert_eq!(waiter.written(), "return self.x");
        token.wrote("");
        assert_eq!(waiter.written(), "", "a generation started over");
    }

    #[test]
    fn a_run_is_behind_once_more_was_typed_than_it_wrote() {
        let token = CancelToken::new();
        assert_eq!(token.behind_by(), 0, "nothing typed");
        token.typed(Some("    ret"));
        assert!(token.behind_by() > 0);
        token.wrote("return");
        assert_eq!(token.behind_by(), 0, "blanks at the start aside");
        token.typed(Some("urn x"));
        assert!(token.behind_by() > 0);
        assert_eq!(token.behind_by(), "return x".len() - "return".len(), "by the bytes it has yet to write");
    }
}
