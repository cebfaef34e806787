//! The client side of the peer: the local context and the suggestion cache of llama.vim
//! (ggml-org/llama.vim `autoload/llama.vim`, a1c8e6e), so that llama-server is measured with the
//! client its authors pair it with. Pure; `bench_typing_peer.rs` drives it.
//!
//! - **Local context** ([`LocalContext`]): the 256 lines above the cursor's line (`n_prefix`),
//!   the cursor's line up to the cursor (`middle`), and the rest of the line with the 64 lines
//!   below (`n_suffix`). llama.vim blanks `middle` on a whitespace-only line; here it keeps the
//!   indentation. It keys the cache; the prompt itself is Splice's (see `bench_typing_peer.rs`).
//! - **Cache** ([`VimCache`]): at most 250 keys, least recently used evicted. A suggestion is
//!   stored under the hash of `prefix · middle · 'Î' · suffix` and of the same with the first 1–3
//!   prefix lines dropped (the window slides down a line when Enter is pressed). A lookup tries the
//!   exact key, then looks back over the last 128 characters before the cursor: a suggestion
//!   cached that many characters earlier whose start is exactly what was typed since is shown
//!   with the rest (the longest such rest). Keys are 64-bit FNV-1a hashes, not SHA-256.

use std::collections::{HashMap, VecDeque};

/// Lines above the cursor's line in the local context (llama.vim's `n_prefix`).
pub const N_PREFIX: usize = 256;
/// Lines below the cursor's line in the cache key (llama.vim's `n_suffix`).
pub const N_SUFFIX: usize = 64;
/// Keys the cache holds (llama.vim's `max_cache_keys`).
pub const MAX_KEYS: usize = 250;
/// Characters a lookup looks back over.
pub const LOOK_BACK: usize = 128;

/// The text around a cursor as llama.vim cuts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalContext {
    /// Up to [`N_PREFIX`] lines above the cursor's line, each ending with `\n`.
    pub prefix: String,
    /// The cursor's line up to the cursor.
    pub middle: String,
    /// The rest of the cursor's line, `\n`, up to [`N_SUFFIX`] lines below joined by `\n`, `\n`.
    pub suffix: String,
}

impl LocalContext {
    /// The context at byte offset `cursor` of `text`. Costs O(the lines it keeps) after finding
    /// the cursor's line.
    pub fn at(text: &str, cursor: usize) -> LocalContext {
        let line_start = text[..cursor].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[cursor..].find('\n').map_or(text.len(), |i| cursor + i);
        let mut prefix_start = line_start;
        for _ in 0..N_PREFIX {
            if prefix_start == 0 {
                break;
            }
            prefix_start = text[..prefix_start - 1].rfind('\n').map_or(0, |i| i + 1);
        }
        let below: Vec<&str> =
            if line_end < text.len() { text[line_end + 1..].split('\n').take(N_SUFFIX).collect() } else { Vec::new() };
        LocalContext {
            prefix: text[prefix_start..line_start].to_owned(),
            middle: text[line_start..cursor].to_owned(),
            suffix: format!("{}\n{}\n", &text[cursor..line_end], below.join("\n")),
        }
    }

    /// The keys a suggestion for this context is stored under: the exact one, then with the
    /// first 1–3 prefix lines dropped.
    fn keys(&self) -> Vec<u64> {
        let mut keys = vec![key(&[&self.prefix, &self.middle], &self.suffix)];
        let mut trimmed = self.prefix.as_str();
        for _ in 0..3 {
            match trimmed.find('\n') {
                Some(i) if i + 1 < trimmed.len() => trimmed = &trimmed[i + 1..],
                _ => break,
            }
            keys.push(key(&[trimmed, &self.middle], &self.suffix));
        }
        keys
    }
}

/// The FNV-1a hash of `parts` joined, `'Î'`, `suffix`: the same for any split of the same text.
fn key(parts: &[&str], suffix: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts.iter().chain([&"Î", &suffix]) {
        for &byte in part.as_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// llama.vim's suggestion cache.
#[derive(Debug, Clone, Default)]
pub struct VimCache {
    entries: HashMap<u64, String>,
    /// Least recently used first.
    order: VecDeque<u64>,
}

impl VimCache {
    /// Stores `suggestion` (possibly empty: "nothing to suggest here") for `context`.
    pub fn insert(&mut self, context: &LocalContext, suggestion: &str) {
        for key in context.keys() {
            if !self.entries.contains_key(&key) && self.entries.len() >= MAX_KEYS {
                if let Some(oldest) = self.order.pop_front() {
                    self.entries.remove(&oldest);
                }
            }
            self.entries.insert(key, suggestion.to_owned());
            self.touch(key);
        }
    }

    /// Whether a request for `context` would be answered from the cache by one of its keys
    /// (llama.vim then sends none).
    pub fn covers(&mut self, context: &LocalContext) -> bool {
        context.keys().into_iter().any(|key| self.get(key).is_some())
    }

    /// The suggestion to show at `context`: the exact entry, else the longest rest of an entry
    /// made up to [`LOOK_BACK`] characters earlier whose start was typed since. `None`: nothing.
    pub fn hint(&mut self, context: &LocalContext) -> Option<String> {
        if let Some(exact) = self.get(key(&[&context.prefix, &context.middle], &context.suffix)) {
            return Some(exact);
        }
        let before = format!("{}{}", context.prefix, context.middle);
        let mut best: Option<String> = None;
        for (cut, _) in before.char_indices().rev().take(LOOK_BACK) {
            let Some(cached) = self.get(key(&[&before[..cut]], &context.suffix)) else { continue };
            let Some(rest) = cached.strip_prefix(&before[cut..]) else { continue };
            if !rest.is_empty() && best.as_ref().is_none_or(|b| rest.len() > b.len()) {
                best = Some(rest.to_owned());
            }
        }
        best
    }

    fn get(&mut self, key: u64) -> Option<String> {
        let value = self.entries.get(&key).cloned()?;
        self.touch(key);
        Some(value)
    }

    fn touch(&mut self, key: u64) {
        self.order.retain(|k| *k != key);
        self.order.push_back(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(text: &str) -> LocalContext {
        let cursor = text.find('┃').unwrap();
        LocalContext::at(&text.replace('┃', ""), cursor)
    }

    #[test]
    fn the_context_is_lines_above_the_line_so_far_and_lines_below() {
        let c = context("a\nb\n    x = ┃foo\nc\nd");
        assert_eq!(c.prefix, "a\nb\n");
        assert_eq!(c.middle, "    x = ");
        assert_eq!(c.suffix, "foo\nc\nd\n");
        let long = format!("{}┃\n", "line\n".repeat(300));
        assert_eq!(context(&long).prefix.lines().count(), N_PREFIX);
    }

    #[test]
    fn typing_along_a_cached_suggestion_shows_its_rest() {
        let mut cache = VimCache::default();
        cache.insert(&context("def f():\n    ┃\nx = 1\n"), "return compute(a)");
        assert_eq!(cache.hint(&context("def f():\n    ┃\nx = 1\n")).as_deref(), Some("return compute(a)"));
        assert_eq!(cache.hint(&context("def f():\n    return co┃\nx = 1\n")).as_deref(), Some("mpute(a)"));
        assert_eq!(cache.hint(&context("def f():\n    return cx┃\nx = 1\n")), None, "typed something else");
        assert_eq!(cache.hint(&context("def f():\n    return compute(a)┃\nx = 1\n")), None, "nothing left");
        assert_eq!(cache.hint(&context("def f():\n    return co┃\nx = 2\n")), None, "the text below changed");
    }

    #[test]
    fn a_line_break_typed_along_still_finds_the_suggestion() {
        // In a long file the window slides down a line with Enter: the keys with the first
        // prefix lines dropped find the suggestion made before it.
        let mut cache = VimCache::default();
        let above = "row\n".repeat(300);
        cache.insert(&context(&format!("{above}a = 1┃\n")), "\nb = 2");
        assert_eq!(cache.hint(&context(&format!("{above}a = 1\n┃\n"))).as_deref(), Some("b = 2"));
        assert_eq!(cache.hint(&context(&format!("{above}a = 1\nb┃\n"))).as_deref(), Some(" = 2"));
        let mut cache = VimCache::default();
        cache.insert(&context("a = 1┃\n"), "\nb = 2");
        assert_eq!(cache.hint(&context("a = 1\nb ┃\n")).as_deref(), Some("= 2"));
    }

    #[test]
    fn a_request_is_covered_by_a_key_with_the_first_lines_dropped() {
        let mut cache = VimCache::default();
        cache.insert(&context("one\ntwo\nthree\nx┃\n"), "y");
        assert!(cache.covers(&context("one\ntwo\nthree\nx┃\n")));
        assert!(cache.covers(&context("two\nthree\nx┃\n")), "the first line dropped");
        assert!(!cache.covers(&context("three\nx┃\nz\n")));
    }

    #[test]
    fn the_least_recently_used_keys_go_first() {
        let mut cache = VimCache::default();
        for i in 0..MAX_KEYS {
            cache.insert(&context(&format!("v{i}┃\n")), "1");
        }
        assert!(cache.hint(&context("v0┃\n")).is_some());
        cache.insert(&context("new┃\n"), "2");
        assert!(cache.hint(&context("v0┃\n")).is_some(), "v0 was used last");
        assert!(cache.hint(&context("v1┃\n")).is_none(), "v1 was the oldest");
        assert_eq!(cache.entries.len(), MAX_KEYS);
    }
}
