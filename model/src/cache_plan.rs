//! Planning how the KV cache follows a new prompt: which cells stay, which go, which move.
//!
//! The cache holds the previous prompt's tokens at positions 0..n. A new prompt usually differs
//! from it in one place (the user typed, deleted or pasted something), so the plan keeps the
//! common prefix, replaces the differing middle, and keeps the common tail, shifted by the
//! length change (PIE, arXiv 2407.03157). The prompt's last token is always decoded again, so
//! that fresh logits are available for generation.
//!
//! This module only computes the plan; `cache_surgery` applies it to llama.cpp.

use std::ops::Range;

/// How much of the previous prompt's cache a new request may reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReuseMode {
    /// Keep the common prefix and the common tail (shifted); encode only the changed tokens.
    #[default]
    Pie,
    /// Keep the common prefix only; encode everything after the first change (llama-server's
    /// behaviour after an insertion).
    Prefix,
    /// Encode the whole prompt every time (the fidelity reference).
    None,
}

impl std::str::FromStr for ReuseMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "pie" => Ok(ReuseMode::Pie),
            "prefix" => Ok(ReuseMode::Prefix),
            "none" => Ok(ReuseMode::None),
            other => Err(format!("unknown reuse mode {other:?} (expected pie, prefix or none)")),
        }
    }
}

/// What to do to the cache so that it holds `prompt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePlan {
    /// Cells 0..keep stay as they are.
    pub keep: usize,
    /// Old positions of the cells to remove (the differing middle, possibly empty).
    pub removed: Range<usize>,
    /// New positions of the tokens to decode in place of `removed`, before the tail.
    pub inserted: Range<usize>,
    /// Old positions of the kept tail; it moves by `shift`. Cells after it (the old prompt's
    /// last token, and anything generated after it) are removed.
    pub tail: Range<usize>,
    /// New minus old length of the middle.
    pub shift: isize,
    /// New positions decoded after the tail (at least the prompt's last token).
    pub appended: Range<usize>,
}

impl CachePlan {
    /// Tokens this plan decodes.
    pub fn encoded(&self) -> usize {
        self.inserted.len() + self.appended.len()
    }

    /// Whether the tail must move (a K-shift pass over the cache at the next decode).
    pub fn shifts(&self) -> bool {
        !self.tail.is_empty() && self.shift != 0
    }
}

/// Plans the cache update from the cached prompt `cached` to `prompt` (non-empty).
/// O(len) comparisons.
pub fn plan<T: PartialEq>(cached: &[T], prompt: &[T], mode: ReuseMode) -> CachePlan {
    debug_assert!(!prompt.is_empty());
    let last = prompt.len().saturating_sub(1);
    // Both prompts' last tokens are left out of the reuse: the new one is always decoded again
    // for its logits, so the old one's cell goes.
    let cached_body = &cached[..cached.len().saturating_sub(1)];
    let prompt_body = &prompt[..last];
    let common = match mode {
        ReuseMode::None => 0,
        _ => common_prefix(cached, prompt_body),
    };
    let tail_len = match mode {
        ReuseMode::Pie if common < cached_body.len() => common_tail(&cached_body[common..], &prompt_body[common..]),
        _ => 0,
    };
    if tail_len == 0 {
        return CachePlan {
            keep: common,
            removed: common..cached.len(),
            inserted: common..common,
            tail: cached.len()..cached.len(),
            shift: 0,
            appended: common..prompt.len(),
        };
    }
    let old_mid_end = cached_body.len() - tail_len;
    let new_mid_end = last - tail_len;
    CachePlan {
        keep: common,
        removed: common..old_mid_end,
        inserted: common..new_mid_end,
        tail: old_mid_end..cached_body.len(),
        shift: new_mid_end as isize - old_mid_end as isize,
        appended: last..prompt.len(),
    }
}

/// Length of the longest common start of `a` and `b`.
pub(crate) fn common_prefix<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn common_tail<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    /// Applies a plan to the cached sequence the way the cache does, returning the new sequence.
    fn apply(cached: &[char], prompt: &[char], plan: &CachePlan) -> Vec<char> {
        let mut out: Vec<char> = cached[..plan.keep].to_vec();
        out.extend(&prompt[plan.inserted.clone()]);
        out.extend(&cached[plan.tail.clone()]);
        out.extend(&prompt[plan.appended.clone()]);
        out
    }

    #[test]
    fn typing_at_the_end_is_an_append() {
        let (old, new) = (chars("def f(x):\n    ret"), chars("def f(x):\n    retu"));
        let p = plan(&old, &new, ReuseMode::Pie);
        assert_eq!((p.keep, p.encoded(), p.shifts()), (old.len(), 1, false), "the old last token stays");
        assert_eq!(apply(&old, &new, &p), new);
    }

    #[test]
    fn an_edit_in_the_middle_encodes_only_the_edit_and_shifts_the_tail() {
        let old = chars("import os\nx = 1\nprint(os.path)\nreturn x");
        let new = chars("import os, sys\nx = 1\nprint(os.path)\nreturn x");
        let p = plan(&old, &new, ReuseMode::Pie);
        assert_eq!(p.keep, 9);
        assert_eq!(p.inserted, 9..14, "`, sys` is all that is new");
        assert_eq!(p.shift, 5);
        assert_eq!(p.appended.len(), 1, "the last token is decoded again for its logits");
        assert_eq!(apply(&old, &new, &p), new);
    }

    #[test]
    fn a_deletion_shifts_left() {
        let old = chars("aaaa-XYZ-bbbb");
        let new = chars("aaaa--bbbb");
        let p = plan(&old, &new, ReuseMode::Pie);
        assert_eq!((p.removed.clone(), p.inserted.len(), p.shift), (5..8, 0, -3));
        assert_eq!(apply(&old, &new, &p), new);
    }

    #[test]
    fn prefix_mode_encodes_everything_after_the_change() {
        let old = chars("aaaa-XYZ-bbbb");
        let new = chars("aaaa--bbbb");
        let p = plan(&old, &new, ReuseMode::Prefix);
        assert_eq!((p.keep, p.encoded(), p.shifts()), (5, 5, false));
        assert_eq!(apply(&old, &new, &p), new);
    }

    #[test]
    fn none_mode_encodes_everything() {
        let old = chars("same");
        let p = plan(&old, &old, ReuseMode::None);
        assert_eq!((p.keep, p.encoded()), (0, 4));
    }

    #[test]
    fn an_unchanged_prompt_decodes_only_its_last_token() {
        let old = chars("unchanged");
        let p = plan(&old, &old, ReuseMode::Pie);
        assert_eq!((p.keep, p.encoded()), (8, 1));
        assert_eq!(apply(&old, &old, &p), old);
    }

    #[test]
    fn every_plan_rebuilds_the_prompt() {
        // Deterministic pseudo-random edits over a small alphabet, so that repeats abound.
        let mut seed = 0x2545_f491_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..2000 {
            let old: Vec<char> = (0..next(30)).map(|_| ['a', 'b', 'c'][next(3)]).collect();
            let mut new = old.clone();
            let at = next(new.len() + 1);
            let cut = next(new.len() - at + 1);
            let insert: Vec<char> = (0..next(5)).map(|_| ['a', 'b', 'c'][next(3)]).collect();
            new.splice(at..at + cut, insert);
            if new.is_empty() {
                continue;
            }
            for mode in [ReuseMode::Pie, ReuseMode::Prefix, ReuseMode::None] {
                let p = plan(&old, &new, mode);
                assert_eq!(apply(&old, &new, &p), new, "{old:?} → {new:?} ({mode:?}): {p:?}");
                assert_eq!(p.keep + p.inserted.len() + p.tail.len() + p.appended.len(), new.len());
                assert!(!p.appended.is_empty(), "the last token always gets fresh logits");
            }
        }
    }
}

/// A changed region between two token sequences: `old` positions replaced by `new` positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// Positions in the old sequence.
    pub old: Range<usize>,
    /// Positions in the new sequence.
    pub new: Range<usize>,
}

/// The sequences that apply `hunks` of `old` → `new` one at a time, ending with `new`: each
/// differs from the one before in one hunk only. Hunks that shrink the sequence go first, so no
/// intermediate sequence is longer than both `old` and `new` (growing a region near the start
/// before shrinking one near the end would need cells the context may not have).
pub fn one_region_at_a_time<T: Clone>(old: &[T], new: &[T], hunks: &[Hunk]) -> Vec<Vec<T>> {
    let mut order: Vec<usize> = (0..hunks.len()).collect();
    order.sort_by_key(|&i| (hunks[i].new.len() > hunks[i].old.len(), i));
    let mut applied = vec![false; hunks.len()];
    let mut out = Vec::with_capacity(hunks.len().max(1));
    for &i in order.iter().take(hunks.len().saturating_sub(1)) {
        applied[i] = true;
        let mut target = Vec::with_capacity(old.len().max(new.len()));
        let mut at = 0;
        for (hunk, &done) in hunks.iter().zip(&applied) {
            target.extend_from_slice(&old[at..hunk.old.start]);
            target.extend_from_slice(if done { &new[hunk.new.clone()] } else { &old[hunk.old.clone()] });
            at = hunk.old.end;
        }
        target.extend_from_slice(&old[at..]);
        out.push(target);
    }
    out.push(new.to_vec());
    out
}

/// Unchanged runs shorter than this are re-encoded rather than kept: keeping a run between two
/// edits costs one more shift pass over the cache, which is worth it only for long runs.
pub const MIN_KEPT_RUN: usize = 64;

/// The changed regions of `old` → `new`, in order, keeping unchanged runs of at least
/// [`MIN_KEPT_RUN`] tokens between them (several edits made between two requests, such as a
/// rename). Costs O(n) hashing per level of recursion; edits are few.
pub fn hunks<T: PartialEq + std::hash::Hash>(old: &[T], new: &[T]) -> Vec<Hunk> {
    let mut out = Vec::new();
    split_hunks(old, new, 0, 0, &mut out);
    out
}

fn split_hunks<T: PartialEq + std::hash::Hash>(
    old: &[T],
    new: &[T],
    old_at: usize,
    new_at: usize,
    out: &mut Vec<Hunk>,
) {
    let head = common_prefix(old, new);
    let tail = common_tail(&old[head..], &new[head..]);
    let (old_mid, new_mid) = (&old[head..old.len() - tail], &new[head..new.len() - tail]);
    if old_mid.is_empty() && new_mid.is_empty() {
        return;
    }
    let (o, n) = (old_at + head, new_at + head);
    match longest_common_run(old_mid, new_mid) {
        Some((i, j, len)) if len >= MIN_KEPT_RUN => {
            split_hunks(&old_mid[..i], &new_mid[..j], o, n, out);
            split_hunks(&old_mid[i + len..], &new_mid[j + len..], o + i + len, n + j + len, out);
        }
        _ => out.push(Hunk { old: o..o + old_mid.len(), new: n..n + new_mid.len() }),
    }
}

/// The longest run of equal tokens at `old[i..i+len]` and `new[j..j+len]`, found through
/// anchors of [`ANCHOR`] tokens; `None` when no anchor matches.
fn longest_common_run<T: PartialEq + std::hash::Hash>(old: &[T], new: &[T]) -> Option<(usize, usize, usize)> {
    const ANCHOR: usize = 8;
    if old.len() < ANCHOR || new.len() < ANCHOR {
        return None;
    }
    // One hasher state for all windows, so equal windows hash equally.
    let state = std::collections::hash_map::RandomState::new();
    let hash_with = |window: &[T]| {
        use std::hash::BuildHasher;
        state.hash_one(window)
    };
    let mut anchors: std::collections::HashMap<u64, Vec<usize>> = std::collections::HashMap::new();
    for i in (0..=old.len() - ANCHOR).step_by(ANCHOR / 2) {
        anchors.entry(hash_with(&old[i..i + ANCHOR])).or_default().push(i);
    }
    let mut best: Option<(usize, usize, usize)> = None;
    for j in 0..=new.len() - ANCHOR {
        let Some(starts) = anchors.get(&hash_with(&new[j..j + ANCHOR])) else { continue };
        for &i in starts {
            if old[i..i + ANCHOR] != new[j..j + ANCHOR] {
                continue;
            }
            let back = old[..i].iter().rev().zip(new[..j].iter().rev()).take_while(|(a, b)| a == b).count();
            let forward = common_prefix(&old[i..], &new[j..]);
            let (start_old, start_new, len) = (i - back, j - back, back + forward);
            if best.is_none_or(|(_, _, l)| len > l) {
                best = Some((start_old, start_new, len));
            }
        }
    }
    best
}

#[cfg(test)]
mod hunk_tests {
    use super::*;

    #[test]
    fn regions_apply_one_at_a_time_and_never_outgrow_both_ends() {
        // A region near the start grows by 50, one near the end shrinks by 80.
        let old: Vec<u32> = (0..400).collect();
        let mut new: Vec<u32> = (0..10).collect();
        new.extend(1000..1060);
        new.extend(20..300);
        new.extend(380..400);
        let hunks = hunks(&old, &new);
        assert_eq!(hunks.len(), 2, "{hunks:?}");
        let steps = one_region_at_a_time(&old, &new, &hunks);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps.last().unwrap(), &new);
        assert!(steps.iter().all(|s| s.len() <= old.len().max(new.len())), "shrinking goes first");
        assert_eq!(steps[0].len(), old.len() - 80);
        assert_eq!(&steps[0][..20], &old[..20], "the growing region is not applied yet");
    }

    fn apply(old: &[u32], new: &[u32], hunks: &[Hunk]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = 0;
        for h in hunks {
            out.extend_from_slice(&old[at..h.old.start]);
            out.extend_from_slice(&new[h.new.clone()]);
            at = h.old.end;
        }
        out.extend_from_slice(&old[at..]);
        out
    }

    #[test]
    fn two_far_apart_edits_are_two_hunks() {
        let old: Vec<u32> = (0..1000).collect();
        let mut new = old.clone();
        new[100] = 5000;
        new.insert(800, 6000);
        let found = hunks(&old, &new);
        assert_eq!(found, vec![Hunk { old: 100..101, new: 100..101 }, Hunk { old: 800..800, new: 800..801 }]);
        assert_eq!(apply(&old, &new, &found), new);
    }

    #[test]
    fn close_edits_merge_into_one_hunk() {
        let old: Vec<u32> = (0..1000).collect();
        let mut new = old.clone();
        new[100] = 5000;
        new[120] = 6000;
        assert_eq!(hunks(&old, &new), vec![Hunk { old: 100..121, new: 100..121 }]);
    }

    #[test]
    fn identical_sequences_have_no_hunk() {
        let old: Vec<u32> = (0..50).collect();
        assert!(hunks(&old, &old).is_empty());
    }

    #[test]
    fn random_edits_are_reproduced() {
        let mut seed = 0x9e37_79b9_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        for _ in 0..300 {
            let old: Vec<u32> = (0..next(600)).map(|_| next(40) as u32).collect();
            let mut new = old.clone();
            for _ in 0..next(4) {
                let at = next(new.len() + 1);
                let cut = next((new.len() - at).min(20) + 1);
                let insert: Vec<u32> = (0..next(10)).map(|_| next(40) as u32).collect();
                new.splice(at..at + cut, insert);
            }
            let found = hunks(&old, &new);
            assert_eq!(apply(&old, &new, &found), new);
            assert!(found.windows(2).all(|w| w[0].old.end < w[1].old.start && w[0].new.end < w[1].new.start));
        }
    }
}
