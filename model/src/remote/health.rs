//! Whether the remote engine can be asked, and when to try again after it failed: retries with
//! exponential backoff, so an engine that is down costs a request nothing but an empty answer,
//! and one that comes back is found again without a request. Pure: the caller passes the time.

use std::time::{Duration, Instant};

/// The first wait after a failure.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between retries.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The engine's state as Splice last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineHealthState {
    /// Not reached yet (the first probe has not answered).
    Connecting,
    /// It answered.
    Up,
    /// It did not answer, or answered with an error (see the last error).
    Down,
    /// It answers, but its model tokenizes differently from the vocabulary Splice fits prompts
    /// with: every prompt would be wrong.
    WrongModel,
}

impl EngineHealthState {
    /// `connecting`, `ok`, `down` or `wrong-model`, for `splice/status`.
    pub fn label(self) -> &'static str {
        match self {
            EngineHealthState::Connecting => "connecting",
            EngineHealthState::Up => "ok",
            EngineHealthState::Down => "down",
            EngineHealthState::WrongModel => "wrong-model",
        }
    }
}

/// The engine's health and the retry schedule.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    state: EngineHealthState,
    /// Failures in a row.
    failures: u32,
    /// How many times the engine went from up (or connecting) to down or wrong.
    outages: u64,
    /// What the last failure was, in the user's words.
    last_error: Option<String>,
    /// When the next try may go; `None`: now.
    retry_at: Option<Instant>,
}

impl Default for Health {
    fn default() -> Self {
        Health { state: EngineHealthState::Connecting, failures: 0, outages: 0, last_error: None, retry_at: None }
    }
}

impl Health {
    /// The state.
    pub(crate) fn state(&self) -> EngineHealthState {
        self.state
    }

    /// Failures in a row.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// Outages so far.
    pub(crate) fn outages(&self) -> u64 {
        self.outages
    }

    /// The last failure's message, while the engine is not up.
    pub(crate) fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// The engine answered.
    pub(crate) fn succeeded(&mut self) {
        self.state = EngineHealthState::Up;
        self.failures = 0;
        self.last_error = None;
        self.retry_at = None;
    }

    /// The engine failed with `error`; the next try waits the backoff. `wrong_model`: it answers,
    /// but with another model.
    pub(crate) fn failed(&mut self, now: Instant, error: String, wrong_model: bool) {
        if matches!(self.state, EngineHealthState::Up | EngineHealthState::Connecting) {
            self.outages += 1;
        }
        self.state = if wrong_model { EngineHealthState::WrongModel } else { EngineHealthState::Down };
        self.failures = self.failures.saturating_add(1);
        self.last_error = Some(error);
        self.retry_at = Some(now + self.backoff());
    }

    /// How long this failure waits: 0.5 s, doubling with every failure in a row, at most 30 s.
    fn backoff(&self) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(16);
        FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF)
    }

    /// Whether the engine may be asked now: it is up, or a retry is due.
    pub(crate) fn may_try(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|at| now >= at)
    }

    /// How long until a retry is due, when the engine is not up (`Some(0)`: now); `None` when
    /// it is up and nothing needs probing.
    pub(crate) fn probe_in(&self, now: Instant) -> Option<Duration> {
        match self.state {
            EngineHealthState::Up => None,
            _ => Some(self.retry_at.map_or(Duration::ZERO, |at| at.saturating_duration_since(now))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_doubling_to_a_cap_and_success_resets_them() {
        let now = Instant::now();
        let mut health = Health::default();
        assert_eq!(health.state(), EngineHealthState::Connecting);
        assert_eq!(health.probe_in(now), Some(Duration::ZERO), "the first probe goes at once");
        let mut waits = Vec::new();
        for _ in 0..10 {
            health.failed(now, "connection refused".to_owned(), false);
            waits.push(health.probe_in(now).unwrap());
        }
        assert_eq!(waits[0], Duration::from_millis(500));
        assert_eq!(waits[1], Duration::from_secs(1));
        assert_eq!(waits[2], Duration::from_secs(2));
        assert_eq!(*waits.last().unwrap(), MAX_BACKOFF);
        assert_eq!((health.failures(), health.outages()), (10, 1), "one outage, ten failures");
        assert!(!health.may_try(now));
        assert!(health.may_try(now + MAX_BACKOFF));
        health.succeeded();
        assert_eq!((health.state(), health.failures(), health.last_error()), (EngineHealthState::Up, 0, None));
        assert_eq!(health.probe_in(now), None);
        assert!(health.may_try(now));
        health.failed(now, "503".to_owned(), false);
        assert_eq!(health.outages(), 2, "a new outage after a recovery");
        assert_eq!(health.probe_in(now), Some(FIRST_BACKOFF), "the backoff starts over");
    }

    #[test]
    fn a_wrong_model_is_its_own_state_with_its_message() {
        let mut health = Health::default();
        health.failed(Instant::now(), "tokenizes differently".to_owned(), true);
        assert_eq!(health.state().label(), "wrong-model");
        assert_eq!(health.last_error(), Some("tokenizes differently"));
    }
}
