//! Suggestions already computed for a document, served again without the model.
//!
//! While a person types along a suggestion shown as ghost text, every keystroke asks again at a
//! cursor one character further on. The answer is already known: the rest of that suggestion.
//! [`RecentSuggestions`] keeps the last few suggestions of one document with the prompt window
//! they were computed for, and answers a request whose window is such a window with part of its
//! suggestion typed since (or nothing typed: the same spot again, e.g. after a backspace or an
//! undo). Anything else (a different edit, other repository context) misses, and the request
//! runs the model as usual.
//!
//! A request past its latency budget shows the part of the first line its run has written so
//! far; that part is kept here too, marked partial, until the run's whole suggestion replaces it
//! (or the run stopped without one, and it goes).
//!
//! Suggestions computed ahead for the document as if the shown one had been accepted
//! ([`crate::prefetch`]) are kept here too, marked [`Origin::Prefetched`] until a request is
//! first answered with one: the request after an acceptance is such a request.
//!
//! Costs: a lookup compares the typed part (at most the suggestion's length) for each entry,
//! then the windows of the few entries whose suggestion starts with it: O(window) bytes compared,
//! no allocation. Memory: [`CAPACITY`] windows per open document.

use splice_model::{CompletionRequest, RepoContext};
use std::collections::VecDeque;

/// Suggestions remembered per document.
pub const CAPACITY: usize = 8;

/// Where a remembered suggestion came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// It was shown: a request was answered with it.
    Shown,
    /// It was computed ahead (prefetched) and no request was answered with it yet.
    Prefetched,
}

/// One suggestion and the prompt window it was computed for.
#[derive(Debug, Clone)]
struct Shown {
    prefix: String,
    suffix: String,
    context: Option<RepoContext>,
    text: String,
    origin: Origin,
    /// Part of a suggestion whose run was still writing it.
    partial: bool,
}

/// A request answered from a remembered suggestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// What to show: the rest of the suggestion after what was typed of it.
    pub rest: String,
    /// Where the suggestion came from, before this request.
    pub origin: Origin,
    /// Whether it is the part of a suggestion that a run was still writing when it was kept
    /// ([`RecentSuggestions::remember_partial`]).
    pub partial: bool,
}

/// The last [`CAPACITY`] suggestions shown for one document, newest first.
#[derive(Debug, Clone, Default)]
pub struct RecentSuggestions {
    entries: VecDeque<Shown>,
}

/// A request's window: the text before and after the cursor that the prompt shows, and the
/// repository context it carries.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// Text before the cursor (the prompt's prefix window).
    pub prefix: &'a str,
    /// Text after the cursor (the prompt's suffix window).
    pub suffix: &'a str,
    /// The repository context block, if the request has one.
    pub context: Option<&'a RepoContext>,
}

impl<'a> Window<'a> {
    /// The window of an engine request.
    pub fn of(request: &'a CompletionRequest) -> Self {
        Window { prefix: &request.prefix, suffix: &request.suffix, context: request.context.as_ref() }
    }
}

impl RecentSuggestions {
    /// Remembers `text`, shown for `window`; the oldest entry goes when full. An entry for the
    /// same window is replaced.
    pub fn remember(&mut self, window: Window<'_>, text: &str) {
        self.entries.retain(|e| !e.is_for(window));
        self.push(window, text, Origin::Shown, false);
    }

    /// Remembers `text`, the part of a suggestion for `window` (from `origin`: a request's run,
    /// or a prefetch) that its run is still writing, unless the whole suggestion for that window
    /// is known; an earlier part is replaced. The whole one replaces it when the run ends
    /// ([`remember`](Self::remember), [`remember_prefetched`](Self::remember_prefetched)).
    pub fn remember_partial(&mut self, window: Window<'_>, text: &str, origin: Origin) {
        self.replace_unless_whole(window, text, origin, true);
    }

    /// Forgets the part kept for `window` ([`remember_partial`](Self::remember_partial)): its
    /// run ended without a suggestion.
    pub fn forget_partial(&mut self, window: Window<'_>) {
        self.entries.retain(|e| !(e.is_for(window) && e.partial));
    }

    /// Remembers `text`, computed ahead for `window` and not shown yet, unless a whole
    /// suggestion for that window is already known (a part of this one is replaced); the oldest
    /// entry goes when full. An empty `text` is the model's "nothing to suggest here": served as
    /// such at that very window (no item, without running the same prompt again), never typed
    /// along.
    pub fn remember_prefetched(&mut self, window: Window<'_>, text: &str) {
        self.replace_unless_whole(window, text, Origin::Prefetched, false);
    }

    /// Remembers `text` for `window` in place of a part kept for it, unless a whole suggestion
    /// for that window is known.
    fn replace_unless_whole(&mut self, window: Window<'_>, text: &str, origin: Origin, partial: bool) {
        if self.entries.iter().any(|e| e.is_for(window) && !e.partial) {
            return;
        }
        self.entries.retain(|e| !e.is_for(window));
        self.push(window, text, origin, partial);
    }

    fn push(&mut self, window: Window<'_>, text: &str, origin: Origin, partial: bool) {
        self.entries.push_front(Shown {
            prefix: window.prefix.to_owned(),
            suffix: window.suffix.to_owned(),
            context: window.context.cloned(),
            text: text.to_owned(),
            origin,
            partial,
        });
        self.entries.truncate(CAPACITY);
    }

    /// The rest of a remembered suggestion for a request at `window`: the window is an earlier
    /// one with the first characters of that suggestion typed at its cursor (none, for the same
    /// spot again), and the rest is not blank. `None`: the model must answer.
    pub fn lookup(&self, window: Window<'_>) -> Option<&str> {
        self.entries.iter().find_map(|entry| entry.rest_for(window))
    }

    /// Answers a request at `window` as [`lookup`](Self::lookup) does, saying where the
    /// suggestion came from; a prefetched one counts as shown from now on.
    pub fn serve(&mut self, window: Window<'_>) -> Option<Served> {
        self.entries.iter_mut().find_map(|entry| {
            let rest = entry.rest_for(window)?.to_owned();
            let origin = std::mem::replace(&mut entry.origin, Origin::Shown);
            Some(Served { rest, origin, partial: entry.partial })
        })
    }

    /// Answers a request before its repository context is known (the retrieval gate has not run):
    /// only where the context cannot matter, that is when part of a remembered suggestion was
    /// typed since, or at the very window a suggestion was prefetched for (computed ahead from
    /// this same text, so with the context a request here would retrieve). Else `None`, and the
    /// request takes the whole path, where [`serve`](Self::serve) sees the context.
    pub fn serve_typed(&mut self, prefix: &str, suffix: &str) -> Option<Served> {
        let window = Window { prefix, suffix, context: None };
        self.entries.iter_mut().find_map(|entry| {
            let rest = entry.rest_with(window, entry.origin == Origin::Prefetched)?.to_owned();
            let origin = std::mem::replace(&mut entry.origin, Origin::Shown);
            Some(Served { rest, origin, partial: entry.partial })
        })
    }

    /// Forgets everything (the document was closed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

impl Shown {
    fn is_for(&self, window: Window<'_>) -> bool {
        self.prefix == window.prefix && self.suffix == window.suffix && self.context.as_ref() == window.context
    }

    /// The rest of this suggestion for `window`: the window is where it was made with some of its
    /// first characters typed. Coming back to the very spot (nothing typed) needs the same
    /// repository context too (the same prompt); typing along it does not: the person is typing
    /// the suggestion, whatever the retrieval gate now says about the changed line.
    fn rest_for(&self, window: Window<'_>) -> Option<&str> {
        self.rest_with(window, self.context.as_ref() == window.context)
    }

    /// [`rest_for`](Self::rest_for), told whether the prompt at the very spot would be the same.
    fn rest_with(&self, window: Window<'_>, same_context: bool) -> Option<&str> {
        if self.suffix != window.suffix {
            return None;
        }
        if self.text.is_empty() {
            return (same_context && same_window_start(&self.prefix, window.prefix)).then_some("");
        }
        let longest = self.text.len().min(window.prefix.len());
        // Longest typed part first: typing "aa" along "aab" must answer "b", not "ab".
        (0..=longest).rev().filter(|&typed| self.text.is_char_boundary(typed)).find_map(|typed| {
            let (before, typed_text) = window.prefix.split_at_checked(window.prefix.len() - typed)?;
            let rest = &self.text[typed..];
            let matches = (typed > 0 || same_context)
                && typed_text == &self.text[..typed]
                && same_window_start(&self.prefix, before);
            (matches && !rest.trim().is_empty()).then_some(rest)
        })
    }
}

/// Whether two prefix windows end with the same text before the cursor. They are equal unless
/// the window's start moved (it moves on a coarse grid as the cursor advances); then one ends
/// with the other, which must still be long enough to be the same place.
fn same_window_start(remembered: &str, now: &str) -> bool {
    const SAME_PLACE_BYTES: usize = 1024;
    if remembered.len() == now.len() {
        return remembered == now;
    }
    let (short, long) = if remembered.len() < now.len() { (remembered, now) } else { (now, remembered) };
    short.len() >= SAME_PLACE_BYTES && long.ends_with(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window<'a>(prefix: &'a str, suffix: &'a str) -> Window<'a> {
        Window { prefix, suffix, context: None }
    }

    fn shown(prefix: &str, suffix: &str, text: &str) -> RecentSuggestions {
        let mut recent = RecentSuggestions::default();
        recent.remember(window(prefix, suffix), text);
        recent
    }

    #[test]
    fn typing_along_a_suggestion_is_answered_with_its_rest() {
        let recent = shown("total = price * ", "\nprint(total)\n", "quantity + tax");
        assert_eq!(recent.lookup(window("total = price * ", "\nprint(total)\n")), Some("quantity + tax"));
        assert_eq!(recent.lookup(window("total = price * q", "\nprint(total)\n")), Some("uantity + tax"));
        assert_eq!(recent.lookup(window("total = price * quantity +", "\nprint(total)\n")), Some(" tax"));
    }

    #[test]
    fn anything_but_the_suggestion_typed_misses() {
        let recent = shown("total = price * ", "\nprint(total)\n", "quantity + tax");
        assert_eq!(recent.lookup(window("total = price * z", "\nprint(total)\n")), None, "typed something else");
        assert_eq!(recent.lookup(window("total = price * q", "\nprint(totals)\n")), None, "the text below changed");
        assert_eq!(recent.lookup(window("total = price + q", "\nprint(total)\n")), None, "an edit before the cursor");
        assert_eq!(recent.lookup(window("total = price * quantity + tax", "\nprint(total)\n")), None, "all typed");
        assert_eq!(recent.lookup(window("total = price * quantity + ", "\nprint(total)\n")), Some("tax"));
    }

    #[test]
    fn a_blank_rest_is_not_served() {
        let recent = shown("x = ", "\n", "1\n    ");
        assert_eq!(recent.lookup(window("x = 1", "\n")), None);
    }

    #[test]
    fn the_longest_typed_part_wins() {
        let recent = shown("s = '", "'\n", "aab");
        assert_eq!(recent.lookup(window("s = 'aa", "'\n")), Some("b"));
    }

    /// A repository context block (empty: only its identity matters here).
    fn some_context() -> RepoContext {
        RepoContext {
            repo_name: None,
            files: Vec::new(),
            current_path: None,
            comment: "#".to_owned(),
            max_tokens: 10,
            usage: splice_model::ContextUse::Always,
        }
    }

    #[test]
    fn other_repository_context_misses_only_at_the_very_spot() {
        let mut recent = RecentSuggestions::default();
        let context = some_context();
        recent.remember(Window { prefix: "a = ", suffix: "", context: Some(&context) }, "frob()");
        assert_eq!(recent.lookup(window("a = ", "")), None, "the same spot with another prompt");
        assert_eq!(recent.lookup(Window { prefix: "a = f", suffix: "", context: Some(&context) }), Some("rob()"));
        // Typing along it, the suggestion holds whatever the gate now says about the line.
        assert_eq!(recent.lookup(window("a = fr", "")), Some("ob()"));
    }

    #[test]
    fn a_moved_window_start_still_matches_the_same_place() {
        let body = "x = 1\n".repeat(400);
        let remembered = format!("{body}y = ");
        let recent = shown(&remembered, "\n", "compute(x)");
        let moved = format!("{}co", &remembered[600..]);
        assert_eq!(recent.lookup(window(&moved, "\n")), Some("mpute(x)"));
        let short = "y = co";
        assert_eq!(recent.lookup(window(short, "\n")), None, "too little text to be sure it is the same place");
    }

    #[test]
    fn backspacing_to_an_older_spot_finds_its_suggestion() {
        let mut recent = shown("a = ", "\n", "one()");
        recent.remember(window("a = b", "\n"), "two()");
        assert_eq!(recent.lookup(window("a = ", "\n")), Some("one()"));
        assert_eq!(recent.lookup(window("a = b", "\n")), Some("two()"));
    }

    #[test]
    fn a_prefetched_suggestion_is_served_once_as_prefetched_then_as_shown() {
        let mut recent = shown("n = [1, 2, ", "\n", "3,");
        recent.remember_prefetched(window("n = [1, 2, 3,", "\n"), " 4,");
        assert_eq!(recent.lookup(window("n = [1, 2, 3,", "\n")), Some(" 4,"));
        let served = |rest: &str, origin| Some(Served { rest: rest.to_owned(), origin, partial: false });
        assert_eq!(recent.serve(window("n = [1, 2, 3,", "\n")), served(" 4,", Origin::Prefetched));
        assert_eq!(recent.serve(window("n = [1, 2, 3,", "\n")), served(" 4,", Origin::Shown));
        assert_eq!(recent.serve(window("n = [1, 2, 3, ", "\n")), served("4,", Origin::Shown), "typed along it");
        assert_eq!(recent.serve(window("n = [1, 2, 3", "\n")), served(",", Origin::Shown), "the shown one, typed");
    }

    #[test]
    fn typing_along_a_prefetched_suggestion_before_it_was_shown_is_served_as_prefetched() {
        let mut recent = RecentSuggestions::default();
        recent.remember_prefetched(window("n = [1, 2, 3,", "\n"), " 4,");
        let served = recent.serve(window("n = [1, 2, 3, 4", "\n"));
        assert_eq!(served, Some(Served { rest: ",".to_owned(), origin: Origin::Prefetched, partial: false }));
    }

    #[test]
    fn a_prefetch_never_replaces_a_suggestion_already_known_for_its_window() {
        let mut recent = shown("a = ", "\n", "one()");
        recent.remember_prefetched(window("a = ", "\n"), "two()");
        assert_eq!(
            recent.serve(window("a = ", "\n")).map(|s| (s.rest, s.origin)),
            Some(("one()".to_owned(), Origin::Shown))
        );
    }

    #[test]
    fn before_retrieval_only_typed_parts_and_prefetched_windows_are_served() {
        let context = some_context();
        let mut recent = RecentSuggestions::default();
        recent.remember(Window { prefix: "a = ", suffix: "\n", context: Some(&context) }, "frob(x)");
        recent.remember_prefetched(Window { prefix: "a = frob(x)", suffix: "\n", context: Some(&context) }, " + 1");
        assert_eq!(recent.serve_typed("a = ", "\n"), None, "the very spot of a shown one needs its context");
        let served = recent.serve_typed("a = fr", "\n").unwrap();
        assert_eq!((served.rest.as_str(), served.origin), ("ob(x)", Origin::Shown));
        let served = recent.serve_typed("a = frob(x)", "\n").unwrap();
        assert_eq!((served.rest.as_str(), served.origin), (" + 1", Origin::Prefetched), "typed out: the prefetch");
        assert_eq!(recent.serve_typed("a = frob(x)", "\n"), None, "shown now: the very spot needs its context");
        assert_eq!(recent.serve_typed("a = frob(y", "\n"), None, "typed something else");
    }

    #[test]
    fn a_prefetch_that_found_nothing_answers_nothing_at_its_window_only() {
        let mut recent = shown("x = f(", "\n", "a)");
        recent.remember_prefetched(window("x = f(a)", "\n"), "");
        let served = recent.serve_typed("x = f(a)", "\n").unwrap();
        assert_eq!((served.rest.as_str(), served.origin), ("", Origin::Prefetched));
        assert_eq!(recent.serve_typed("x = f(a) ", "\n"), None, "typed on: the model answers");
        assert_eq!(recent.lookup(window("x = f(a)", "\n")), Some(""), "known: no prefetch again");
    }

    #[test]
    fn only_the_newest_entries_are_kept() {
        let mut recent = RecentSuggestions::default();
        for i in 0..CAPACITY + 2 {
            recent.remember(window(&format!("v{i} = "), "\n"), "1 + 1");
        }
        assert_eq!(recent.lookup(window("v0 = ", "\n")), None);
        assert_eq!(recent.lookup(window(&format!("v{} = ", CAPACITY + 1), "\n")), Some("1 + 1"));
    }
    #[test]
    fn a_part_still_being_written_is_served_as_partial_until_the_whole_suggestion_replaces_it() {
        let mut recent = RecentSuggestions::default();
        recent.remember_partial(window("a = ", "\n"), "frob(", Origin::Shown);
        let served = recent.serve_typed("a = fr", "\n").unwrap();
        assert_eq!((served.rest.as_str(), served.partial), ("ob(", true), "typed along the part shown");
        recent.remember_partial(window("a = ", "\n"), "frob(x, ", Origin::Shown);
        assert_eq!(recent.lookup(window("a = ", "\n")), Some("frob(x, "), "a longer part replaces the first");
        recent.remember(window("a = ", "\n"), "frob(x, y)");
        let served = recent.serve_typed("a = fr", "\n").unwrap();
        assert_eq!((served.rest.as_str(), served.partial), ("ob(x, y)", false), "the whole suggestion");
        recent.remember_partial(window("a = ", "\n"), "frob(", Origin::Shown);
        assert_eq!(recent.lookup(window("a = ", "\n")), Some("frob(x, y)"), "a part never replaces the whole");
        recent.forget_partial(window("a = ", "\n"));
        assert_eq!(recent.lookup(window("a = ", "\n")), Some("frob(x, y)"), "only a part is forgotten");

        recent.remember_partial(window("b = ", "\n"), "frob(", Origin::Shown);
        recent.forget_partial(window("b = ", "\n"));
        assert_eq!(recent.lookup(window("b = ", "\n")), None, "its run ended without a suggestion");
    }
    #[test]
    fn a_part_of_a_prefetch_is_served_at_its_very_window_and_its_whole_suggestion_replaces_it() {
        let mut recent = RecentSuggestions::default();
        recent.remember_partial(window("n = f(", "\n"), "a, ", Origin::Prefetched);
        let served = recent.serve_typed("n = f(", "\n").unwrap();
        assert_eq!((served.rest.as_str(), served.origin, served.partial), ("a, ", Origin::Prefetched, true));
        recent.remember_prefetched(window("n = f(", "\n"), "a, b)");
        let served = recent.serve_typed("n = f(a", "\n").unwrap();
        assert_eq!((served.rest.as_str(), served.partial), (", b)", false), "the whole one");
    }
}
