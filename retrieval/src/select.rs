//! From ranked hits to the snippets a prompt gets: best first, deduplicated, a per-file cap,
//! a count limit and a byte budget.

use std::cmp::Ordering;
use std::path::PathBuf;

use crate::Snippet;

/// How many snippets a search returns and how big they may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchLimits {
    /// At most this many snippets (top-k).
    pub max_snippets: usize,
    /// At most this many snippets from one file.
    pub per_file: usize,
    /// Total snippet text, in bytes (≈ 4 bytes per token).
    pub budget_bytes: usize,
}

impl Default for SearchLimits {
    /// 4 snippets, 2 per file, 2048 bytes (≈ 512 tokens, Repoformer's cross-file budget).
    fn default() -> Self {
        Self { max_snippets: 4, per_file: 2, budget_bytes: 2048 }
    }
}

impl SearchLimits {
    /// How many ranked candidates a search fetches to pick from.
    pub fn candidates(&self) -> usize {
        (self.max_snippets * 8).max(32)
    }
}

/// A snippet that does not fit the remaining budget is cut to whole lines if at least this
/// much budget is left; otherwise it is skipped.
const MIN_TRIMMED_BYTES: usize = 256;

/// Orders candidates best first; ties by path, then first line (deterministic).
pub fn rank(candidates: &mut [Snippet]) {
    candidates.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.lines.start.cmp(&b.lines.start))
    });
}

/// Picks snippets from ranked candidates within `limits`.
pub fn select(candidates: Vec<Snippet>, limits: &SearchLimits) -> Vec<Snippet> {
    let mut out: Vec<Snippet> = Vec::new();
    let mut used = 0;
    for mut snippet in candidates {
        if out.len() >= limits.max_snippets {
            break;
        }
        let same_file: Vec<&Snippet> = out.iter().filter(|s| s.path == snippet.path).collect();
        let overlaps = same_file.iter().any(|s| s.lines.start < snippet.lines.end && snippet.lines.start < s.lines.end);
        if same_file.len() >= limits.per_file || overlaps || out.iter().any(|s| s.text == snippet.text) {
            continue;
        }
        let left = limits.budget_bytes.saturating_sub(used);
        if snippet.text.len() > left && (left < MIN_TRIMMED_BYTES || !trim_to(&mut snippet, left)) {
            continue;
        }
        used += snippet.text.len();
        out.push(snippet);
    }
    out
}

/// Cuts a snippet to the whole lines that fit in `bytes`; false if not even one does.
fn trim_to(snippet: &mut Snippet, bytes: usize) -> bool {
    let mut keep = 0;
    let mut lines = 0;
    for line in snippet.text.split_inclusive('\n') {
        if keep + line.len() > bytes {
            break;
        }
        keep += line.len();
        lines += 1;
    }
    if lines == 0 {
        return false;
    }
    snippet.text.truncate(keep);
    snippet.lines.end = snippet.lines.end.min(snippet.lines.start + lines);
    true
}

/// A snippet's path as shown to the model (relative, `/`-separated).
pub fn snippet_path(rel: &str) -> PathBuf {
    PathBuf::from(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snippet(path: &str, lines: std::ops::Range<u32>, text: &str, score: f32) -> Snippet {
        Snippet { path: PathBuf::from(path), lines, text: text.to_owned(), score }
    }

    #[test]
    fn per_file_cap_dedup_and_count_limit_apply() {
        let candidates = vec![
            snippet("a.py", 0..10, "a1\n", 9.0),
            snippet("a.py", 5..15, "a-overlap\n", 8.0),
            snippet("a.py", 20..30, "a2\n", 7.0),
            snippet("a.py", 40..50, "a3\n", 6.0),
            snippet("b.py", 0..10, "a1\n", 5.0),
            snippet("c.py", 0..10, "c1\n", 4.0),
            snippet("d.py", 0..10, "d1\n", 3.0),
            snippet("e.py", 0..10, "e1\n", 2.0),
        ];
        let limits = SearchLimits { max_snippets: 4, per_file: 2, budget_bytes: 10_000 };
        let picked: Vec<_> = select(candidates, &limits).into_iter().map(|s| s.text).collect();
        assert_eq!(picked, ["a1\n", "a2\n", "c1\n", "d1\n"]);
    }

    #[test]
    fn the_budget_trims_or_skips() {
        let big = "x = 1\n".repeat(100); // 600 bytes
        let candidates = vec![snippet("a.py", 0..100, &big, 2.0), snippet("b.py", 0..1, "small\n", 1.0)];
        let limits = SearchLimits { max_snippets: 4, per_file: 2, budget_bytes: 300 };
        let picked = select(candidates, &limits);
        assert_eq!(picked[0].text.len(), 300);
        assert_eq!(picked[0].lines, 0..50);
        assert_eq!(picked.len(), 1, "the small one does not fit in what is left");
    }

    #[test]
    fn ties_rank_by_path_then_line() {
        let mut candidates =
            vec![snippet("b.py", 0..1, "b", 1.0), snippet("a.py", 9..10, "a9", 1.0), snippet("a.py", 0..1, "a0", 1.0)];
        rank(&mut candidates);
        let order: Vec<_> = candidates.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(order, ["a0", "a9", "b"]);
    }
}
