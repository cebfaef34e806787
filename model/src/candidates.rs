//! Candidates checked before they are shown: when the greedy suggestion makes the code around
//! the cursor worse (the caller's judge says how many syntax errors it adds), cheaper
//! candidates that share the prompt's cache are tried, and the first that adds none is shown
//! instead; when none does, the one that adds the fewest.
//!
//! The candidates, in order: the greedy suggestion; its first line alone (no model call); then
//! up to [`SuggestionCheck::alternatives`] lines that branch from the greedy one at its least
//! certain tokens of the first line (the smallest gap between the chosen token's logit and the
//! runner-up's, token healing respected), each continued greedily to the end of its line. A
//! branch re-uses every cell up to its branch point: it costs the tokens after it.
//!
//! The judge is the caller's (this crate knows no grammar): a function from the raw generated
//! text to the syntax errors it adds, or `None` when it cannot tell (no grammar for the file).
//! Only greedy requests are checked.
//!
//! With [`SuggestionCheck::with_code_below`], the code below the cursor judges too
//! ([`crate::code_below`]): when the model was unsure of the first line, the alternatives are
//! generated even if the greedy line adds no error, every candidate's first line is scored by
//! the probability of it followed by the code below, and among the candidates that add the
//! fewest errors the most probable is shown ([`best`]).

use crate::healing::Healing;
use llama_cpp_2::token::LlamaToken;
use std::fmt;
use std::sync::Arc;

/// The caller's judge of a raw suggestion: syntax errors it adds around the cursor, `None`
/// when it cannot tell.
pub type Judge = dyn Fn(&str) -> Option<usize> + Send + Sync;

/// How a request's suggestion is checked before it is shown.
#[derive(Clone)]
pub struct SuggestionCheck {
    judge: Arc<Judge>,
    /// Largest number of branched alternatives generated when the greedy suggestion is worse
    /// (or its first line unsure, when the code below judges).
    pub alternatives: usize,
    /// Tokens of the code below the cursor that score candidate lines (0: it does not judge).
    pub below_tokens: usize,
}

impl SuggestionCheck {
    /// A check with `judge`, trying at most `alternatives` branched lines.
    pub fn new(alternatives: usize, judge: impl Fn(&str) -> Option<usize> + Send + Sync + 'static) -> Self {
        SuggestionCheck { judge: Arc::new(judge), alternatives, below_tokens: 0 }
    }

    /// The same check, with up to `tokens` tokens of the code below the cursor scoring the
    /// candidate lines when the model is unsure of the first line (0: not).
    pub fn with_code_below(mut self, tokens: usize) -> Self {
        self.below_tokens = tokens;
        self
    }

    /// Syntax errors `text` adds, if the judge can tell.
    pub fn errors_added(&self, text: &str) -> Option<usize> {
        (self.judge)(text)
    }
}

impl fmt::Debug for SuggestionCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SuggestionCheck")
            .field("alternatives", &self.alternatives)
            .field("below_tokens", &self.below_tokens)
            .finish_non_exhaustive()
    }
}

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CandidateSource {
    /// Plain greedy decoding.
    Greedy,
    /// The greedy suggestion's first line alone.
    FirstLine,
    /// A branch at the greedy suggestion's `step`-th generated token, whose runner-up was
    /// `margin` logits behind.
    Branch {
        /// The generated token's index where the branch starts.
        step: usize,
        /// The logit gap between the greedy token and the runner-up taken there.
        margin: f32,
    },
}

/// One candidate as judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The raw generated text.
    pub text: String,
    /// Syntax errors it adds (`None`: the judge could not tell).
    pub errors_added: Option<usize>,
    /// How it was made.
    pub source: CandidateSource,
    /// The natural log of the probability of its first line followed by the code below the
    /// cursor, given the prompt (`None`: not scored).
    pub below_logprob: Option<f64>,
}

/// What the check did for one request; `splice complete --json` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckStats {
    /// Every candidate judged, greedy first.
    pub candidates: Vec<Candidate>,
    /// The index of the candidate shown.
    pub chosen: usize,
    /// Milliseconds spent judging (parsing).
    pub judge_ms: f64,
    /// Milliseconds spent generating branched alternatives.
    pub alternatives_ms: f64,
    /// Tokens generated for branched alternatives.
    pub alternative_tokens: usize,
    /// Of those, draft tokens the model agreed with (speculative decoding, as for the
    /// suggestion itself).
    pub alternative_accepted_drafts: usize,
    /// Milliseconds spent scoring candidate lines against the code below.
    pub below_ms: f64,
    /// Tokens decoded to score them (each candidate's line and the window below it).
    pub below_scored_tokens: usize,
}

/// The candidate to show: of those that add the fewest syntax errors (an unknown count is
/// none), the most probable with the code below when scored, else the first (greedy first).
pub(crate) fn best(candidates: &[Candidate]) -> usize {
    let mut best = 0;
    for (i, candidate) in candidates.iter().enumerate().skip(1) {
        let (a, b) = (candidate, &candidates[best]);
        let (a_errors, b_errors) = (a.errors_added.unwrap_or(0), b.errors_added.unwrap_or(0));
        let more_probable = match (a.below_logprob, b.below_logprob) {
            (Some(a), Some(b)) => a > b,
            (Some(_), None) => true,
            _ => false,
        };
        if a_errors < b_errors || (a_errors == b_errors && more_probable) {
            best = i;
        }
    }
    best
}

/// A place in the greedy suggestion's first line where another token was nearly as likely.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    /// Index of the generated token it replaces.
    pub step: usize,
    /// The runner-up token taken instead.
    pub token: LlamaToken,
    /// The logit gap to the greedy token there.
    pub margin: f32,
    /// Bytes of generated text before it.
    pub text_len: usize,
    /// The token healing still owed there.
    pub healing: Option<Healing>,
}

/// The first line of a multi-line suggestion, the cheapest alternative to it (no model call),
/// when that line has code on it.
pub(crate) fn first_line(text: &str) -> Option<&str> {
    text.find('\n').map(|end| &text[..end]).filter(|first| !first.trim().is_empty())
}

/// The text a suggestion puts on the cursor's line: all of it up to its first line break.
pub(crate) fn cursor_line(text: &str) -> &str {
    text.split('\n').next().unwrap_or_default()
}

/// The best and the runner-up of the tokens `allowed`, with the runner-up's logit gap.
pub(crate) fn runner_up(logits: &[f32], allowed: impl Fn(usize) -> bool) -> Option<(LlamaToken, LlamaToken, f32)> {
    let mut best: Option<(usize, f32)> = None;
    let mut second: Option<(usize, f32)> = None;
    for (id, &logit) in logits.iter().enumerate() {
        if best.is_some_and(|(_, b)| logit <= b) && second.is_some_and(|(_, s)| logit <= s) {
            continue;
        }
        if !allowed(id) {
            continue;
        }
        match best {
            Some((_, b)) if logit <= b => second = Some((id, logit)),
            _ => {
                second = best;
                best = Some((id, logit));
            }
        }
    }
    let ((b, bl), (s, sl)) = (best?, second?);
    Some((LlamaToken(b as i32), LlamaToken(s as i32), bl - sl))
}

/// The branches to try, least certain first, at most `count`.
pub(crate) fn most_uncertain(mut branches: Vec<Branch>, count: usize) -> Vec<Branch> {
    branches.sort_by(|a, b| a.margin.total_cmp(&b.margin));
    branches.truncate(count);
    branches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_up_is_the_second_best_allowed_token() {
        let logits = [0.5, 3.0, 2.0, 2.5, -1.0];
        let (best, second, margin) = runner_up(&logits, |_| true).unwrap();
        assert_eq!((best, second), (LlamaToken(1), LlamaToken(3)));
        assert!((margin - 0.5).abs() < 1e-6);
        let (best, second, _) = runner_up(&logits, |id| id != 1).unwrap();
        assert_eq!((best, second), (LlamaToken(3), LlamaToken(2)));
        assert!(runner_up(&logits, |id| id == 0).is_none());
    }

    #[test]
    fn the_cursor_line_ends_at_the_first_line_break() {
        assert_eq!(cursor_line("if x:\n    y"), "if x:");
        assert_eq!(cursor_line("x = 1"), "x = 1");
        assert_eq!(cursor_line("\n    y"), "");
    }

    #[test]
    fn the_least_certain_branches_come_first() {
        let branch = |step, margin| Branch { step, token: LlamaToken(0), margin, text_len: 0, healing: None };
        let picked = most_uncertain(vec![branch(0, 3.0), branch(1, 0.5), branch(2, 1.0)], 2);
        assert_eq!(picked.iter().map(|b| b.step).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn a_check_calls_its_judge() {
        let check = SuggestionCheck::new(2, |text: &str| Some(text.matches(')').count()));
        assert_eq!(check.errors_added("f(a))"), Some(2));
        assert!(format!("{check:?}").contains("alternatives: 2"));
        assert_eq!(check.below_tokens, 0, "the code below judges only when asked");
        assert_eq!(check.with_code_below(24).below_tokens, 24);
    }

    fn candidate(errors_added: Option<usize>, below_logprob: Option<f64>) -> Candidate {
        Candidate { text: String::new(), errors_added, source: CandidateSource::Greedy, below_logprob }
    }

    #[test]
    fn fewer_errors_win_then_the_code_below_then_greedy() {
        // Unscored: the fewest errors, greedy on a tie.
        assert_eq!(best(&[candidate(Some(1), None), candidate(Some(0), None), candidate(Some(0), None)]), 1);
        assert_eq!(best(&[candidate(Some(0), None), candidate(Some(0), None)]), 0);
        assert_eq!(best(&[candidate(None, None), candidate(Some(0), None)]), 0, "unknown counts as none");
        // Scored: the most probable with the code below among the fewest errors.
        let scored = [candidate(Some(0), Some(-9.0)), candidate(Some(0), Some(-4.0)), candidate(Some(1), Some(-1.0))];
        assert_eq!(best(&scored), 1, "a line that breaks the syntax loses however probable");
        assert_eq!(best(&[candidate(Some(0), Some(-4.0)), candidate(Some(0), Some(-4.0))]), 0, "greedy on a tie");
    }
}
