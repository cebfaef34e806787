//! The person `splice bench typing` simulates: where they type, which keys they press, when, and
//! when they accept a suggestion. Pure; the replays (`bench_typing_lsp.rs`, the peer) drive it.
//!
//! **Where.** A block of lines inside a function body of a real file is removed and the person
//! types it again: the file is opened with an empty line in its place, already indented like the
//! block's first line (the editor auto-indented after Enter), the cursor at its end.
//!
//! **Keys.** Every key inserts text at the cursor, and the keys spell the removed block exactly:
//! one character at a time, except that Enter inserts the line break together with the next
//! line's indentation (the editor's auto-indent, assumed right), and leading whitespace left on a
//! line (after a partial accept) is one key (Tab). A person accepts with Tab: one insertion of the
//! accepted text. Whatever was accepted, [`next_key`] continues from where the text stands, so
//! the finished document is always the original file.
//!
//! **When.** Seeded gaps of 80–150 ms between keys, a pause of 0.3–1.2 s after 30 % of line
//! breaks and of 0.4–2 s before 4 % of other keys ([`gap`]). The person never waits for the
//! editor.
//!
//! **Accepting.** See [`accepted_part`]: Tab takes the part of the suggestion's first line that
//! matches what the person is about to type, cut back to a word boundary unless the whole line
//! matches, if that is at least [`MIN_ACCEPT_CHARS`] characters and the suggestion has been on the
//! screen for [`READ_MS`].

use crate::bench_rng::SplitMix;
use crate::document::TextPosition;
use std::path::PathBuf;
use std::time::Duration;

/// Fewer accepted characters than this are typed instead: Tab would save no key.
pub const MIN_ACCEPT_CHARS: usize = 2;

/// A suggestion must have been shown this long (continuously, typed-along parts included)
/// before the person can have read it and press Tab.
pub const READ_MS: u64 = 200;

/// Blocks longer than this many characters are not chosen (one huge line would dominate).
const MAX_BLOCK_CHARS: usize = 600;

/// A removed block: the document as opened, the cursor in it, and the text to type there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The file with the block replaced by one line holding the block's first indentation.
    pub opened: String,
    /// Byte offset of the cursor in `opened`: the end of that indentation.
    pub cursor: usize,
    /// What the person types at the cursor: the block without its first indentation and final
    /// line break.
    pub target: String,
}

/// One place the person types at: a file of the workspace and the block cut from it.
#[derive(Debug, Clone)]
pub struct Spot {
    /// The file (in the workspace the server indexes; it holds `cut.opened`).
    pub path: PathBuf,
    /// The block's first line, 0-based.
    pub line: usize,
    /// The document as opened and the text to type.
    pub cut: Cut,
}

/// The document as the person's editor holds it, with the cursor and the cursor's LSP position
/// (UTF-16 units), kept up to date as keys insert text at the cursor.
#[derive(Debug, Clone)]
pub struct Buffer {
    /// The whole text.
    pub text: String,
    /// Byte offset of the cursor.
    pub cursor: usize,
    /// The cursor as LSP counts it.
    pub position: TextPosition,
}

impl Buffer {
    /// `text` with the cursor at byte offset `cursor` (a char boundary). Costs O(cursor).
    pub fn new(text: String, cursor: usize) -> Buffer {
        let position = TextPosition { line: 0, character: 0 };
        let mut buffer = Buffer { text: String::new(), cursor: 0, position };
        buffer.advance(&text[..cursor]);
        buffer.text = text;
        buffer.cursor = cursor;
        buffer
    }

    /// Inserts `inserted` at the cursor and moves the cursor after it.
    pub fn insert(&mut self, inserted: &str) {
        self.text.insert_str(self.cursor, inserted);
        self.cursor += inserted.len();
        self.advance(inserted);
    }

    fn advance(&mut self, passed: &str) {
        match passed.rfind('\n') {
            Some(last) => {
                self.position.line += passed.matches('\n').count() as u32;
                self.position.character = utf16_len(&passed[last + 1..]);
            }
            None => self.position.character += utf16_len(passed),
        }
    }
}

fn utf16_len(text: &str) -> u32 {
    text.chars().map(char::len_utf16).sum::<usize>() as u32
}

/// The first lines (0-based) of the `lines`-line blocks of `text` worth retyping: inside a
/// function body (every non-blank line indented deeper than the enclosing `def`), starting on
/// a code line (not blank, not a comment, not inside a docstring), not containing the start or
/// the end of a docstring only, at most 600 characters, after the first 10 lines and followed by
/// at least one line.
pub fn block_starts(text: &str, lines: usize) -> Vec<usize> {
    if text.contains('\r') || lines == 0 {
        return Vec::new();
    }
    let all: Vec<&str> = text.split('\n').collect();
    let in_docstring = docstring_lines(&all);
    (10..all.len().saturating_sub(lines + 1))
        .filter(|&first| {
            let block = &all[first..first + lines];
            let head = block[0].trim_start();
            let Some(def_indent) = enclosing_def_indent(&all, first) else { return false };
            !head.is_empty()
                && !head.starts_with('#')
                && !in_docstring[first]
                && !in_docstring[first + lines]
                && block.iter().all(|l| l.trim().is_empty() || indent(l) > def_indent)
                && block.iter().map(|l| l.len() + 1).sum::<usize>() <= MAX_BLOCK_CHARS
        })
        .collect()
}

/// Removes lines `first..first + lines` of `text` (see [`Cut`]); `None` if they are not all
/// there with a line after them.
pub fn cut(text: &str, first: usize, lines: usize) -> Option<Cut> {
    let starts: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let block_start = *starts.get(first)?;
    let block_end = *starts.get(first + lines)?;
    if lines == 0 || block_end >= text.len() {
        return None;
    }
    let block = &text[block_start..block_end - 1];
    let indent_len = block.len() - block.trim_start_matches([' ', '\t']).len();
    let mut opened = String::with_capacity(text.len());
    opened.push_str(&text[..block_start + indent_len]);
    opened.push_str(&text[block_end - 1..]);
    Some(Cut { opened, cursor: block_start + indent_len, target: block[indent_len..].to_owned() })
}

/// The next key when `target[..pos]` is typed: a line break with the next line's indentation,
/// the rest of a line's leading whitespace, or one character. Empty at the end.
pub fn next_key(target: &str, pos: usize) -> &str {
    let rest = &target[pos..];
    let whitespace_run = |s: &str| s.len() - s.trim_start_matches([' ', '\t']).len();
    if let Some(after) = rest.strip_prefix('\n') {
        return &rest[..1 + whitespace_run(after)];
    }
    let line_start = target[..pos].rfind('\n').map(|i| i + 1);
    let in_leading_whitespace = line_start.is_some_and(|s| target[s..pos].trim_start_matches([' ', '\t']).is_empty());
    if in_leading_whitespace && whitespace_run(rest) > 0 {
        return &rest[..whitespace_run(rest)];
    }
    rest.chars().next().map_or("", |c| &rest[..c.len_utf8()])
}

/// What Tab accepts of `suggestion` when the person is about to type `rest`, or `None` when the
/// person types on instead.
///
/// The suggestion's first line (a leading line break and indentation included, so a suggestion
/// of the next line counts) is compared with `rest`. If all of it matches, all of it is
/// accepted; otherwise the matching part is cut back to its last word boundary (where a word,
/// a run of spaces and a run of other characters meet: VS Code's and llama.vim's accept-word).
/// Less than [`MIN_ACCEPT_CHARS`] characters is no accept.
pub fn accepted_part<'a>(suggestion: &'a str, rest: &str) -> Option<&'a str> {
    let line = first_line(suggestion);
    let matching: usize = line.chars().zip(rest.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a.len_utf8()).sum();
    let end = if matching == line.len() {
        matching
    } else {
        (1..=matching).rev().find(|&i| line.is_char_boundary(i) && is_boundary(line, i))?
    };
    (line[..end].chars().count() >= MIN_ACCEPT_CHARS).then_some(&line[..end])
}

/// The seeded time between the previous key and `key`: 80–150 ms, plus a pause of 0.3–1.2 s
/// before 30 % of line breaks (the person reads the line they finished) or of 0.4–2 s before
/// 4 % of other keys (they think).
pub fn gap(rng: &mut SplitMix, key: &str) -> Duration {
    let mut ms = 80 + rng.below(71) as u64;
    if key.starts_with('\n') {
        if rng.percent(30) {
            ms += 300 + rng.below(901) as u64;
        }
    } else if rng.percent(4) {
        ms += 400 + rng.below(1601) as u64;
    }
    Duration::from_millis(ms)
}

/// The suggestion up to the first line break that follows a non-whitespace character.
fn first_line(suggestion: &str) -> &str {
    let mut seen_text = false;
    for (i, c) in suggestion.char_indices() {
        match c {
            '\n' | '\r' if seen_text => return &suggestion[..i],
            c if !c.is_whitespace() => seen_text = true,
            _ => {}
        }
    }
    suggestion
}

/// Whether byte offset `i` (0 < i < len) of `line` lies between characters of different kinds.
fn is_boundary(line: &str, i: usize) -> bool {
    let kind = |c: char| {
        if c.is_alphanumeric() || c == '_' {
            0
        } else if c.is_whitespace() {
            1
        } else {
            2
        }
    };
    let before = line[..i].chars().next_back();
    let after = line[i..].chars().next();
    matches!((before, after), (Some(b), Some(a)) if kind(b) != kind(a))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// The indentation of the `def` whose body line `line` is in, if any: the nearest less-indented
/// non-blank lines above it, walked out to column 0, include a `def`.
fn enclosing_def_indent(lines: &[&str], line: usize) -> Option<usize> {
    let mut level = indent(lines[line]);
    for above in lines[..line].iter().rev() {
        let trimmed = above.trim_start();
        if trimmed.is_empty() || indent(above) >= level {
            continue;
        }
        level = indent(above);
        if trimmed.starts_with("def ") || trimmed.starts_with("async def ") {
            return Some(level);
        }
        if level == 0 {
            return None;
        }
    }
    None
}

/// For each line, whether it is inside a triple-quoted string (its opening line included).
fn docstring_lines(lines: &[&str]) -> Vec<bool> {
    let mut inside = false;
    lines
        .iter()
        .map(|line| {
            let quotes = line.matches("\"\"\"").count() + line.matches("'''").count();
            let this = inside || quotes > 0;
            if quotes % 2 == 1 {
                inside = !inside;
            }
            this
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "import os\n\n\n\n\n\n\n\n\n\nclass Basket:\n    def total(self, items):\n        \"\"\"Sum the items.\"\"\"\n        result = 0\n        for item in items:\n            result += item.price\n\n        return result\n\n\nx = 1\n";

    /// Types `target` key by key, accepting whatever `accept` returns at each step.
    fn type_all(target: &str, mut accept: impl FnMut(usize) -> Option<String>) -> (String, usize) {
        let (mut typed, mut keys) = (String::new(), 0);
        while typed.len() < target.len() {
            let key = match accept(typed.len()) {
                Some(accepted) => accepted,
                None => next_key(target, typed.len()).to_owned(),
            };
            assert!(!key.is_empty());
            typed.push_str(&key);
            keys += 1;
        }
        (typed, keys)
    }

    #[test]
    fn a_cut_block_typed_back_gives_the_original_file() {
        for first in block_starts(SOURCE, 3) {
            let cut = cut(SOURCE, first, 3).unwrap();
            let (typed, _) = type_all(&cut.target, |_| None);
            let mut done = cut.opened.clone();
            done.insert_str(cut.cursor, &typed);
            assert_eq!(done, SOURCE, "block at line {first}");
        }
    }

    #[test]
    fn blocks_lie_inside_function_bodies_and_start_on_code() {
        let starts = block_starts(SOURCE, 2);
        let lines: Vec<&str> = SOURCE.split('\n').collect();
        let firsts: Vec<&str> = starts.iter().map(|&i| lines[i].trim()).collect();
        assert_eq!(firsts, ["result = 0", "for item in items:", "result += item.price", "return result"]);
        assert!(block_starts(SOURCE, 40).is_empty(), "no block runs past the file");
    }

    #[test]
    fn the_opened_document_keeps_the_first_indentation_at_the_cursor() {
        let cut = cut(SOURCE, 13, 2).unwrap();
        assert_eq!(cut.target, "result = 0\n        for item in items:");
        assert!(cut.opened[..cut.cursor].ends_with("\"\"\"Sum the items.\"\"\"\n        "));
        assert!(cut.opened[cut.cursor..].starts_with("\n            result += item.price"));
    }

    #[test]
    fn enter_brings_the_next_indentation_and_other_keys_are_characters() {
        let target = "a = 1\n    b(é)\n\n    c";
        let keys: Vec<&str> = {
            let mut pos = 0;
            std::iter::from_fn(|| {
                let key = next_key(target, pos);
                pos += key.len();
                (!key.is_empty()).then_some(key)
            })
            .collect()
        };
        assert_eq!(keys, ["a", " ", "=", " ", "1", "\n    ", "b", "(", "é", ")", "\n", "\n    ", "c"]);
        assert_eq!(next_key("x\n    y", 4), "  ", "the rest of a line's indentation is one key");
    }

    #[test]
    fn accepting_anywhere_still_reproduces_the_text() {
        let target = "result = compute(items, factor)\n        return result";
        // Accept three characters at every fifth position, as a suggestion that matched would.
        let (typed, keys) = type_all(target, |pos| {
            (pos % 5 == 0).then(|| target[pos..].chars().take(3).collect::<String>()).filter(|s| !s.is_empty())
        });
        assert_eq!(typed, target);
        assert!(keys < target.chars().count());
    }

    #[test]
    fn a_whole_matching_first_line_is_accepted() {
        assert_eq!(accepted_part("compute(x)\n    more()", "compute(x)\n    other"), Some("compute(x)"));
        assert_eq!(accepted_part("\n    return x\n", "\n    return x\n"), Some("\n    return x"));
    }

    #[test]
    fn a_partial_match_is_cut_back_to_a_word_boundary() {
        assert_eq!(accepted_part("return self.foo(x)", "return self.fob(y)\n"), Some("return self."));
        assert_eq!(accepted_part("foo(x)", "foo(y)"), Some("foo("));
        assert_eq!(accepted_part("items_total", "items_count"), None, "no boundary inside one word");
    }

    #[test]
    fn too_little_or_nothing_matching_is_not_accepted() {
        assert_eq!(accepted_part("x", "x = 1"), None);
        assert_eq!(accepted_part("abc", "xyz"), None);
        assert_eq!(accepted_part("", "abc"), None);
        assert_eq!(accepted_part("ab", "ab"), Some("ab"));
    }

    #[test]
    fn the_buffer_counts_positions_in_utf16() {
        let mut buffer = Buffer::new("é😀\nab".to_owned(), 8);
        assert_eq!(buffer.position, TextPosition { line: 1, character: 1 });
        buffer.insert("😀x");
        assert_eq!(buffer.position, TextPosition { line: 1, character: 4 });
        buffer.insert("\n  ");
        assert_eq!(buffer.position, TextPosition { line: 2, character: 2 });
        assert_eq!(buffer.text, "é😀\na😀x\n  b");
        assert_eq!(&buffer.text[buffer.cursor..], "b");
    }

    #[test]
    fn gaps_are_human_and_seeded() {
        let mut a = SplitMix(5);
        let mut b = SplitMix(5);
        for _ in 0..500 {
            let gap = super::gap(&mut a, "x");
            assert_eq!(gap, super::gap(&mut b, "x"));
            assert!((80..=2150).contains(&gap.as_millis()), "{gap:?}");
        }
        let mut rng = SplitMix(1);
        let plain: Vec<u128> = (0..200).map(|_| super::gap(&mut rng, "x").as_millis()).collect();
        assert!(plain.iter().filter(|&&ms| ms <= 150).count() > 150, "most gaps are typing, not pauses");
    }
}
