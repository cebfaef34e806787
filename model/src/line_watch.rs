//! The first line's confidence, watched while a request's repository context is held back
//! ([`ContextUse::IfUncertain`](crate::ContextUse::IfUncertain)): the local engine reads it from
//! the logits of each generated token, the remote one from each streamed token's
//! log-probability; both give up at the same token, for the same reason.

/// The most likely choice's probability at each of the first line's tokens after the first
/// (which the caller judged before generation), up to the `watch_tokens`-th.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineWatch {
    pub(crate) min_probability: f32,
    watch_tokens: usize,
    /// The least probability seen so far, and at which generated token.
    pub(crate) least: Option<(usize, f32)>,
}

impl LineWatch {
    pub(crate) fn new(min_probability: f32, watch_tokens: usize) -> Self {
        LineWatch { min_probability, watch_tokens, least: None }
    }

    /// Whether the `step`-th generated token is watched, `text` being what came before it.
    pub(crate) fn watches(&self, step: usize, text: &str) -> bool {
        (1..self.watch_tokens).contains(&step) && !crate::shape::has_complete_line(text)
    }

    /// Records the `step`-th token's probability.
    pub(crate) fn saw(&mut self, step: usize, probability: f32) {
        if self.least.is_none_or(|(_, least)| probability < least) {
            self.least = Some((step, probability));
        }
    }

    /// The token at which the model was unsure, if it was.
    pub(crate) fn unsure(&self) -> Option<(usize, f32)> {
        self.least.filter(|&(_, p)| p < self.min_probability)
    }

    /// Why the context went in after all, when the model was unsure.
    pub(crate) fn unsure_reason(&self) -> Option<String> {
        self.unsure().map(|(step, p)| {
            format!(
                "model unsure without it at token {} of the first line (p={p:.2} < {})",
                step + 1,
                self.min_probability
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo_context::FIRST_LINE_WATCH_TOKENS;

    #[test]
    fn the_line_watch_reads_the_first_lines_tokens_after_the_first() {
        let watch = LineWatch::new(0.5, FIRST_LINE_WATCH_TOKENS);
        assert!(!watch.watches(0, ""), "the first token is checked before generation");
        assert!(watch.watches(1, "return"));
        assert!(watch.watches(3, "\n    "), "a line break before any code does not end the line");
        assert!(!watch.watches(3, "x = 1\n"), "a whole line is written");
        assert!(!watch.watches(FIRST_LINE_WATCH_TOKENS, "a very long line"));
        assert!(!LineWatch::new(0.5, 3).watches(3, "a"), "as many tokens as asked for, the first included");
    }

    #[test]
    fn the_line_watch_keeps_the_least_probability_and_is_unsure_below_the_threshold() {
        let mut watch = LineWatch::new(0.5, FIRST_LINE_WATCH_TOKENS);
        watch.saw(1, 0.9);
        watch.saw(2, 0.6);
        watch.saw(3, 0.7);
        assert_eq!(watch.least, Some((2, 0.6)));
        assert_eq!(watch.unsure(), None);
        watch.saw(4, 0.2);
        assert_eq!(watch.unsure(), Some((4, 0.2)));
    }
}
