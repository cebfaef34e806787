//! The code below the cursor as a judge of candidate lines, for models that cannot see it.
//!
//! A prefix-only model (no fill-in-the-middle tokens) writes the line at the cursor without
//! the lines after it, although they often decide it: `if not value:` or `if value:` is told
//! by the `raise` below. Bayes' rule gives the line the lines below make most likely, from a
//! left-to-right model: P(line | prefix, below) ∝ P(line | prefix) · P(below | prefix, line),
//! which is the probability of the text *line + below* after the prefix. So when the model was
//! unsure of the first line (a runner-up token within [`UNSURE_MARGIN`] logits of its choice),
//! each candidate line is scored by that probability, teacher-forced in one batch over the
//! cached prompt, and the check ([`crate::candidates`]) shows the most probable among the lines
//! that add the fewest syntax errors.
//!
//! What is scored is a window of the code below: the rest of the cursor's line and the lines
//! after it up to [`WINDOW_LINES`] with code on them, cut at the request's token budget for it.
//!
//! It costs the alternatives' decoding and the scored tokens' prefill; under a latency budget it
//! runs only when [`estimated_ms`], at the engine's measured speeds, fits in what is left.

/// A first line is unsure when a runner-up token of one of its tokens was at most this many
/// logits behind the chosen one (at least e^-2 ≈ 14 % as likely): only then are candidates
/// scored against the code below.
pub(crate) const UNSURE_MARGIN: f32 = 2.0;

/// Lines with code on them that the window takes below the cursor's line.
pub(crate) const WINDOW_LINES: usize = 2;

/// The window of `suffix` (the document after the cursor) that judges a line: the rest of the
/// cursor's line and the following lines through the [`WINDOW_LINES`]-th one with code on it;
/// `None` when none of it has code (the end of a file, blank lines only).
pub(crate) fn window(suffix: &str) -> Option<&str> {
    let mut end = 0;
    let mut with_code = 0;
    for (i, line) in suffix.split_inclusive('\n').enumerate() {
        end += line.len();
        if i > 0 && !line.trim().is_empty() {
            with_code += 1;
            if with_code == WINDOW_LINES {
                break;
            }
        }
    }
    let window = suffix[..end].trim_end();
    (!window.trim().is_empty()).then_some(window)
}

/// What generating `alternatives` lines branched at `branch_steps` (each continuing to the end
/// of a first line of `line_tokens` tokens) and scoring them with the greedy line, each with
/// `window_tokens` tokens below it, should take at `decode_ms_per_token` and
/// `prefill_tokens_per_second`; `None` when a speed is unknown.
pub(crate) fn estimated_ms(
    branch_steps: &[usize],
    line_tokens: usize,
    window_tokens: usize,
    decode_ms_per_token: Option<f64>,
    prefill_tokens_per_second: Option<f64>,
) -> Option<f64> {
    let decode_ms = decode_ms_per_token?;
    let prefill_ms = 1000.0 / prefill_tokens_per_second.filter(|rate| *rate > 0.0)?;
    let generated: usize = branch_steps.iter().map(|step| line_tokens.saturating_sub(*step).max(1)).sum();
    let scored = (branch_steps.len() + 1) * (line_tokens + window_tokens);
    Some(generated as f64 * decode_ms + scored as f64 * prefill_ms)
}

/// `text` cut to at most `max_bytes` bytes, at a character boundary.
pub(crate) fn cut_at(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The natural log of the softmax probability of token `id` under `logits`. O(vocabulary).
pub(crate) fn log_probability(logits: &[f32], id: usize) -> f64 {
    let Some(&chosen) = logits.get(id) else { return f64::NEG_INFINITY };
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    f64::from(chosen - max) - sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_rest_of_the_line_and_two_lines_with_code() {
        let suffix = ")\n\n        raise ValueError(x)\n    return x\n\ndef g():\n";
        assert_eq!(window(suffix), Some(")\n\n        raise ValueError(x)\n    return x"));
        // From an empty line's indentation: the line break, then the code below.
        assert_eq!(window("\n    b = 2\n    c = 3\n    d = 4\n"), Some("\n    b = 2\n    c = 3"));
        assert_eq!(window("\n    b = 2"), Some("\n    b = 2"), "a last line without a line break");
    }

    #[test]
    fn nothing_below_judges_nothing() {
        assert_eq!(window(""), None);
        assert_eq!(window("\n\n   \n"), None);
        assert_eq!(window("  "), None);
    }

    #[test]
    fn the_cost_is_the_branches_decoding_and_every_candidates_prefill() {
        // Two branches of a 10-token line, at steps 2 and 7: 8 + 3 tokens decoded at 50 ms;
        // three candidates of 10 + 20 tokens scored at 200 tokens/s (5 ms each).
        assert_eq!(estimated_ms(&[2, 7], 10, 20, Some(50.0), Some(200.0)), Some(11.0 * 50.0 + 90.0 * 5.0));
        assert_eq!(estimated_ms(&[2], 10, 20, None, Some(200.0)), None, "unmeasured: no promise");
        assert_eq!(estimated_ms(&[2], 10, 20, Some(50.0), Some(0.0)), None);
    }

    #[test]
    fn a_cut_keeps_whole_characters() {
        assert_eq!(cut_at("abc", 10), "abc");
        assert_eq!(cut_at("abc", 2), "ab");
        assert_eq!(cut_at("aé", 2), "a", "é is two bytes");
    }

    #[test]
    fn log_probabilities_are_normalized() {
        let logits = [1.0, 2.0, 3.0];
        let total: f64 = (0..3).map(|id| log_probability(&logits, id).exp()).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(log_probability(&logits, 2) > log_probability(&logits, 0));
        assert_eq!(log_probability(&logits, 7), f64::NEG_INFINITY);
    }
}
