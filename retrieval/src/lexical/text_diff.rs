//! The edits that turn one text into another, found by comparing them, for tree-sitter's
//! incremental parse: it re-reads only what an edit touches, so the fewer bytes the edits span,
//! the cheaper the next parse.
//!
//! One edit from the texts' common start to their common end is exact but can span the whole
//! text: a prompt window that moved (text gone at the top, new text at the bottom), or the next
//! task two screens below the last one. So a long changed span is split where both texts hold the same line:
//! a probe line from the middle of the new side is looked up in the old side, and the two sides
//! of the match are compared again, each on its own. Any match gives correct edits (the texts
//! around it are equal); a poor one (repeated code) only gives larger ones.

use std::ops::Range;

use tree_sitter::{InputEdit, Point};

/// Changed spans shorter than this on both sides stay one edit: splitting them would save less
/// parsing than the search costs.
const SPLIT_ABOVE: usize = 512;

/// The longest probe looked up, in bytes (from a line start).
const PROBE_BYTES: usize = 64;

/// The shortest probe worth looking up: shorter lines (`}`, blank lines) match anywhere.
const MIN_PROBE_BYTES: usize = 16;

/// How many probe lines are tried in one changed span before it stays one edit.
const PROBES_PER_SPAN: usize = 8;

/// How many lookups one comparison may make in all, so its cost stays linear in the text.
const LOOKUPS: usize = 64;

/// One changed span: `old` in the old text became `new` in the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hunk {
    old: Range<usize>,
    new: Range<usize>,
}

/// The edits that turn `old` into `new`, as [`text_edits_to_cut`] gives them but never cut.
/// Empty when the texts are equal.
pub fn text_edits(old: &str, new: &str) -> Vec<InputEdit> {
    to_input_edits(old, new, &hunks(old, new))
}

/// The changed spans between `old` and `new`, in order.
fn hunks(old: &str, new: &str) -> Vec<Hunk> {
    let mut hunks = Vec::new();
    let mut lookups = LOOKUPS;
    split(old, new, 0..old.len(), 0..new.len(), &mut lookups, &mut hunks);
    hunks
}

/// Bytes compared at once while looking for the first difference (slice comparisons are
/// `memcmp`, many times faster than comparing byte by byte).
const BLOCK: usize = 64;

/// The length of the longest common prefix of `a` and `b`.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let limit = a.len().min(b.len());
    let mut at = 0;
    while at + BLOCK <= limit && a[at..at + BLOCK] == b[at..at + BLOCK] {
        at += BLOCK;
    }
    at + a[at..limit].iter().zip(&b[at..limit]).take_while(|(x, y)| x == y).count()
}

/// The length of the longest common suffix of `a` and `b`.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let limit = a.len().min(b.len());
    let (a, b) = (&a[a.len() - limit..], &b[b.len() - limit..]);
    let mut matched = 0;
    while matched + BLOCK <= limit
        && a[limit - matched - BLOCK..limit - matched] == b[limit - matched - BLOCK..limit - matched]
    {
        matched += BLOCK;
    }
    matched
        + a[..limit - matched].iter().rev().zip(b[..limit - matched].iter().rev()).take_while(|(x, y)| x == y).count()
}

/// How many bytes `old` and `new` share at their start and end together (each character
/// whole): when it is nearly all of `new`, the edits between them are small.
pub fn shared_ends(old: &str, new: &str) -> usize {
    let (o, _) = trim_common(old, new, 0..old.len(), 0..new.len());
    old.len() - o.len()
}

/// How many bytes of `new` the edits from `old` leave as they were: what an incremental parse
/// from `old`'s tree need not read again.
pub fn unchanged_bytes(old: &str, new: &str) -> usize {
    let inserted: usize = hunks(old, new).iter().map(|hunk| hunk.new.len()).sum();
    new.len() - inserted
}

/// A change this close to the end of a text cut short still counts as its cut (what follows
/// it is the same short tail in both texts).
const CUT_TAIL: usize = 256;

/// A change must remove at least this many more bytes than it inserts to be a cut.
const CUT_BYTES: usize = 1024;

/// The edits that turn `old` into `new`, in the order tree-sitter must apply them (each in the
/// coordinates of the text the ones before it left), on character boundaries, for a `new` text
/// that may end where `old` goes on (a construct that the prompt window ends inside, whose old
/// tree runs to its end). When the last change lies
/// within [`CUT_TAIL`] bytes of `new`'s end and removes at least [`CUT_BYTES`] more than it
/// inserts, it becomes the insertion of the rest of `new` followed by the removal of the rest
/// of `old`: the last edit then removes everything after `new`'s end, and the second value says
/// so (see [`crate::lexical::reparse`], which parses such a text without that edit).
pub fn text_edits_to_cut(old: &str, new: &str) -> (Vec<InputEdit>, bool) {
    let mut hunks = hunks(old, new);
    let cut = hunks
        .last()
        .is_some_and(|last| new.len() - last.new.end <= CUT_TAIL && last.old.len() >= last.new.len() + CUT_BYTES);
    if let Some(last) = hunks.pop_if(|_| cut) {
        if last.new.start < new.len() {
            hunks.push(Hunk { old: last.old.start..last.old.start, new: last.new.start..new.len() });
        }
        hunks.push(Hunk { old: last.old.start..old.len(), new: new.len()..new.len() });
    }
    (to_input_edits(old, new, &hunks), cut)
}

/// Adds to `hunks`, in order, the changed spans between `old[o]` and `new[n]`.
fn split(old: &str, new: &str, o: Range<usize>, n: Range<usize>, lookups: &mut usize, hunks: &mut Vec<Hunk>) {
    let (o, n) = trim_common(old, new, o, n);
    if o.is_empty() && n.is_empty() {
        return;
    }
    if o.len().max(n.len()) > SPLIT_ABOVE && !o.is_empty() && !n.is_empty() {
        if let Some((at_old, at_new)) = find_shared_line(old, new, &o, &n, lookups) {
            split(old, new, o.start..at_old, n.start..at_new, lookups, hunks);
            split(old, new, at_old..o.end, at_new..n.end, lookups, hunks);
            return;
        }
    }
    hunks.push(Hunk { old: o, new: n });
}

/// `o` and `n` without their common start and common end (which never overlap), on character
/// boundaries of both texts.
fn trim_common(old: &str, new: &str, o: Range<usize>, n: Range<usize>) -> (Range<usize>, Range<usize>) {
    let (a, b) = (&old.as_bytes()[o.clone()], &new.as_bytes()[n.clone()]);
    let mut start = common_prefix(a, b);
    while !(old.is_char_boundary(o.start + start) && new.is_char_boundary(n.start + start)) {
        start -= 1;
    }
    let limit = a.len().min(b.len()) - start;
    let mut end = common_suffix(&a[a.len() - limit..], &b[b.len() - limit..]);
    while !(old.is_char_boundary(o.end - end) && new.is_char_boundary(n.end - end)) {
        end -= 1;
    }
    (o.start + start..o.end - end, n.start + start..n.end - end)
}

/// A place where `old[o]` and `new[n]` hold the same line: a probe line of the new side (tried
/// from its middle outwards) found in the old side. Positions of the probe's start in each.
fn find_shared_line(
    old: &str,
    new: &str,
    o: &Range<usize>,
    n: &Range<usize>,
    lookups: &mut usize,
) -> Option<(usize, usize)> {
    let haystack = &old[o.clone()];
    let mut repeated = None;
    for probe_start in probe_lines(new, n).take(PROBES_PER_SPAN) {
        if *lookups == 0 {
            break;
        }
        *lookups -= 1;
        let probe = probe_at(new, probe_start, n.end);
        if let Some(found) = haystack.find(probe) {
            // A line the old side holds once is where the two sides align; a repeated one
            // (`assert!(…)` in a run of tests) may pair two different places.
            if haystack[found + 1..].contains(probe) {
                repeated = repeated.or(Some((o.start + found, probe_start)));
            } else {
                return Some((o.start + found, probe_start));
            }
        }
    }
    repeated
}

/// Line starts inside `new[n]` whose line can serve as a probe, from the middle outwards.
fn probe_lines<'a>(new: &'a str, n: &Range<usize>) -> impl Iterator<Item = usize> + 'a {
    let (start, end) = (n.start, n.end);
    let middle = line_start_at_or_after(new, start + (end - start) / 2, end);
    let after = std::iter::successors(middle, move |&at| line_start_at_or_after(new, at + 1, end));
    let before = std::iter::successors(line_start_before(new, middle.unwrap_or(end), start), move |&at| {
        line_start_before(new, at, start)
    });
    interleave(after, before).filter(move |&at| is_distinctive(probe_at(new, at, end)))
}

/// The probe beginning at `at`: the rest of its line, at most [`PROBE_BYTES`], before `end`.
fn probe_at(new: &str, at: usize, end: usize) -> &str {
    let line_end = new[at..end].find('\n').map_or(end, |i| at + i);
    let mut cut = line_end.min(at + PROBE_BYTES);
    while !new.is_char_boundary(cut) {
        cut -= 1;
    }
    &new[at..cut]
}

/// Whether a probe is long enough and has enough besides whitespace to be worth looking up.
fn is_distinctive(probe: &str) -> bool {
    probe.len() >= MIN_PROBE_BYTES && probe.trim().len() >= MIN_PROBE_BYTES / 2
}

/// The first line start in `text[from..end]`, if any (`from` itself when it begins a line).
fn line_start_at_or_after(text: &str, from: usize, end: usize) -> Option<usize> {
    if from >= end {
        return None;
    }
    if from == 0 || text.as_bytes()[from - 1] == b'\n' {
        return Some(from);
    }
    let bytes = &text.as_bytes()[from..end];
    bytes.iter().position(|&b| b == b'\n').map(|i| from + i + 1).filter(|&at| at < end)
}

/// The last line start in `text[start..before]` strictly before `before`, if any.
fn line_start_before(text: &str, before: usize, start: usize) -> Option<usize> {
    if before <= start {
        return None;
    }
    let line = text.as_bytes()[..before - 1].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line >= start).then_some(line)
}

/// `a` and `b` taken in turn until both end.
fn interleave<T>(a: impl Iterator<Item = T>, b: impl Iterator<Item = T>) -> impl Iterator<Item = T> {
    let (mut a, mut b) = (a.fuse(), b.fuse());
    let mut take_a = true;
    std::iter::from_fn(move || {
        let next = if take_a { a.next().or_else(|| b.next()) } else { b.next().or_else(|| a.next()) };
        take_a = !take_a;
        next
    })
}

/// Tree-sitter's edits for `hunks` (in order): when one applies, the text before it is already
/// the new text's, so it starts where its span starts in the new text.
fn to_input_edits(old: &str, new: &str, hunks: &[Hunk]) -> Vec<InputEdit> {
    let mut edits = Vec::with_capacity(hunks.len());
    let (mut at, mut point) = (0, Point::new(0, 0));
    for hunk in hunks {
        point = advance(point, &new[at..hunk.new.start]);
        at = hunk.new.start;
        let removed = hunk.old.len();
        edits.push(InputEdit {
            start_byte: at,
            old_end_byte: at + removed,
            new_end_byte: hunk.new.end,
            start_position: point,
            old_end_position: advance(point, &old[hunk.old.clone()]),
            new_end_position: advance(point, &new[hunk.new.clone()]),
        });
    }
    edits
}

/// The row and byte column of `text`'s end.
pub fn end_point(text: &str) -> Point {
    advance(Point::new(0, 0), text)
}

/// The row and byte column reached from `point` by reading `text`.
fn advance(point: Point, text: &str) -> Point {
    match text.rfind('\n') {
        Some(last) => {
            let rows = text.bytes().filter(|&b| b == b'\n').count();
            Point::new(point.row + rows, text.len() - last - 1)
        }
        None => Point::new(point.row, point.column + text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `old` with `edits` applied one after the other, each taking its new bytes from `new`;
    /// also checks that every position is the row and column of its byte.
    fn apply(old: &str, new: &str, edits: &[InputEdit]) -> String {
        let mut text = old.to_owned();
        for edit in edits {
            assert!(edit.old_end_byte <= text.len() && edit.start_byte <= edit.new_end_byte, "{edit:?}");
            assert_eq!(edit.start_position, advance(Point::new(0, 0), &text[..edit.start_byte]));
            assert_eq!(edit.old_end_position, advance(Point::new(0, 0), &text[..edit.old_end_byte]));
            assert_eq!(edit.new_end_position, advance(Point::new(0, 0), &new[..edit.new_end_byte]));
            text.replace_range(edit.start_byte..edit.old_end_byte, &new[edit.start_byte..edit.new_end_byte]);
        }
        text
    }

    /// The bytes the edits span, on both sides.
    fn spanned(edits: &[InputEdit]) -> usize {
        edits.iter().map(|e| (e.old_end_byte - e.start_byte) + (e.new_end_byte - e.start_byte)).sum()
    }

    /// A file of `n` distinct functions.
    fn file(n: usize) -> String {
        (0..n)
            .map(|i| format!("fn function_{i}(value: u32) -> u32 {{\n    value * {i} + helper_{i}()\n}}\n\n"))
            .collect()
    }

    #[test]
    fn a_text_cut_short_ends_with_the_removal_of_the_old_rest() {
        let old: String = (0..200).map(|i| format!("    fn f{i}() {{ g({i}); }}\n")).collect();
        // Keys typed above, then the text cut mid-line, as a prompt window's end cuts a construct.
        let mut new = old[..3000].to_owned();
        new.insert_str(100, "let x = 1;");
        let (edits, cut) = text_edits_to_cut(&old, &new);
        assert!(cut);
        assert_eq!(apply(&old, &new, &edits), new);
        let last = edits.last().unwrap();
        assert_eq!((last.start_byte, last.new_end_byte, last.old_end_byte), (new.len(), new.len(), old.len() + 10));
        assert_eq!(apply(&old, &new, &edits[..edits.len() - 1]), format!("{new}{}", &old[3000..]));
        // The rest of a shared last line is kept apart as inserted text.
        let new = format!("{}}}\n", &old[..2999]);
        let (edits, cut) = text_edits_to_cut(&old, &new);
        assert!(cut);
        assert_eq!(apply(&old, &new, &edits), new);
        // A few bytes less at the end is a small edit, not a cut; the same text is no edit.
        assert!(!text_edits_to_cut(&old, &old[..old.len() - 40]).1);
        assert_eq!(text_edits_to_cut(&old, &old), (Vec::new(), false));
    }

    #[test]
    fn repeated_lines_do_not_pair_two_different_places() {
        // Tests whose bodies repeat the same lines, edited near the top and near the bottom.
        let old: String = (0..120)
            .map(|i| {
                format!("    #[test]\n    fn case_{i}() {{\n        assert_eq!(parse(\"input\"), Ok(()));\n    }}\n\n")
            })
            .collect();
        let new = old.replacen("fn case_3()", "fn case_three()", 1).replacen("fn case_110()", "fn case_last()", 1);
        let edits = text_edits(&old, &new);
        assert_eq!(apply(&old, &new, &edits), new);
        assert!(spanned(&edits) < 200, "{} bytes spanned: {edits:?}", spanned(&edits));
    }

    #[test]
    fn a_small_change_is_one_edit_on_character_boundaries() {
        let edits = text_edits("fn a() {}\nfn b() {}\n", "fn a() {}\nfn bc() {}\n");
        assert_eq!(edits.len(), 1);
        let edit = edits[0];
        assert_eq!((edit.start_byte, edit.old_end_byte, edit.new_end_byte), (14, 14, 15));
        assert_eq!((edit.start_position, edit.new_end_position), (Point::new(1, 4), Point::new(1, 5)));
        // Repeated text: the common start and end never overlap.
        let edit = text_edits("aaa", "aaaa")[0];
        assert_eq!((edit.start_byte, edit.old_end_byte, edit.new_end_byte), (3, 3, 4));
        // `é` and `è` share their first byte: the edit takes the whole character.
        let edit = text_edits("xé\ny", "xè\ny")[0];
        assert_eq!((edit.start_byte, edit.old_end_byte, edit.new_end_byte), (1, 3, 3));
        let edit = text_edits("line\n", "")[0];
        assert_eq!((edit.old_end_position, edit.new_end_position), (Point::new(1, 0), Point::new(0, 0)));
        assert!(text_edits("same", "same").is_empty());
    }

    #[test]
    fn two_distant_changes_are_two_small_edits() {
        let old = file(200);
        let new = old.replace("value * 20 +", "value * 20 -").replace("helper_170()", "helper_170(1)");
        let edits = text_edits(&old, &new);
        assert_eq!(apply(&old, &new, &edits), new);
        assert_eq!(edits.len(), 2, "{edits:?}");
        assert!(spanned(&edits) <= 4, "{edits:?}");
    }

    #[test]
    fn a_window_that_moved_is_a_cut_at_the_top_and_text_added_at_the_bottom() {
        let document = file(300);
        let (a, b) = (document.find("fn function_40(").unwrap(), document.find("fn function_200(").unwrap());
        let (c, d) = (document.find("fn function_90(").unwrap(), document.find("fn function_250(").unwrap());
        let (old, new) = (&document[a..b], &document[c..d]);
        let edits = text_edits(old, new);
        assert_eq!(apply(old, new, &edits), new);
        assert_eq!(edits.len(), 2, "{edits:?}");
        assert!(spanned(&edits) <= (c - a) + (d - b), "{edits:?}");
    }

    #[test]
    fn a_window_of_the_opened_file_with_a_key_typed_cuts_both_ends() {
        let document = file(300);
        let (a, b) = (document.find("fn function_100(").unwrap(), document.find("fn function_180(").unwrap());
        let cursor = document.find("helper_150()").unwrap();
        let window = format!("{}x{}", &document[a..cursor], &document[cursor..b]);
        let edits = text_edits(&document, &window);
        assert_eq!(apply(&document, &window, &edits), window);
        assert_eq!(edits.len(), 3, "{edits:?}");
        assert_eq!(spanned(&edits), a + 1 + (document.len() - b));
    }

    #[test]
    fn any_pair_of_texts_gives_edits_that_rebuild_the_new_one() {
        let base = format!("{}é ü 中文\n{}", file(40), file(30).replace("value", "välue"));
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound.max(1) as u64) as usize
        };
        for _ in 0..300 {
            let mut new = base.clone();
            for _ in 0..next(5) {
                let at = crate::query::floor_char_boundary(&new, next(new.len()));
                let to = crate::query::floor_char_boundary(&new, (at + next(3000)).min(new.len()));
                let insert = match next(3) {
                    0 => String::new(),
                    1 => "    let é = 1;\n".repeat(next(4)),
                    _ => base[crate::query::floor_char_boundary(&base, next(base.len()))..]
                        .chars()
                        .take(next(700))
                        .collect(),
                };
                new.replace_range(at..to, &insert);
            }
            let edits = text_edits(&base, &new);
            assert_eq!(apply(&base, &new, &edits), new);
            let edits = text_edits(&new, &base);
            assert_eq!(apply(&new, &base, &edits), base);
        }
    }
}
