//! The cursor's item inside a long construct: a test of a long `mod tests`, a method of a long
//! `impl` block or class, a function of a C++ namespace that wraps the whole file.
//!
//! The gate parses the cursor's top-level construct on every request, incrementally from its
//! last tree, which costs what the edit touches. Unfinished code at the cursor that tree-sitter
//! reads through to its closing character costs far more: with `assert!(` typed and its `)` not
//! yet, the rest of the construct is read as the macro's one token tree (1.5 ms for `ignore`'s
//! 28 KB `mod tests`), and the names the construct defines below the cursor are lost from its
//! reading. There ([`runs_on`]), a long construct is read one level down, as items are at the
//! top level: the items at its body's first indentation that hold the cursor's context are
//! parsed inside the construct's header and closing line (so that a method parses as a method
//! of its class), and the rest of the construct, without them, apart: a text that keys typed in
//! that item do not change. Elsewhere the construct is parsed whole: two parts cost more than
//! one incremental parse on a request at a new spot.
//!
//! Like the top level's, the split is by lines and indentation, not by a tree: it must be found
//! before anything is parsed.

use std::ops::Range;

use super::items::{item_end, level, line_at, line_before, Level};
use crate::language::Delimiters;

/// Constructs shorter than this are parsed whole (tree-sitter reads 4 KB in about 0.2 ms).
const NESTED_FROM_BYTES: usize = 4096;

/// How far into the construct its body's opening line may end.
const HEADER_REACH: usize = 1024;

/// The closing line of a construct is at most this long.
const CLOSER_BYTES: usize = 256;

/// A long construct cut around the cursor's item, in the text's byte offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Nested {
    /// The construct's first lines, up to the one that opens its body (`mod tests {`, a
    /// signature over several lines, a class with its decorators).
    pub header: Range<usize>,
    /// The items of the body that hold the cursor's context, whole.
    pub item: Range<usize>,
    /// The construct's closing line (`}`, `};`); empty when the text ends inside the construct.
    pub closer: Range<usize>,
}

impl Nested {
    /// The text the cursor's item is parsed as: the item inside the construct's header and
    /// closing line.
    pub fn source(&self, text: &str) -> String {
        [&text[self.header.clone()], &text[self.item.clone()], &text[self.closer.clone()]].concat()
    }

    /// The rest of the construct `construct`: all of it but the cursor's item.
    pub fn rest(&self, text: &str, construct: &Range<usize>) -> String {
        [&text[construct.start..self.item.start], &text[self.item.end..construct.end]].concat()
    }

    /// Where byte `at` of the text (inside the item) lies in [`Nested::source`].
    pub fn in_source(&self, at: usize) -> usize {
        at.clamp(self.item.start, self.item.end) - self.item.start + self.header.len()
    }
}

/// The construct `construct` of `text` cut around the cursor's context ([`split`]), with the
/// rest of the construct, when the cursor's item runs on ([`runs_on`]) and the rest does not
/// (so that the cut is where items end): the item is then read apart. `None` otherwise: the
/// construct parses well enough whole. A rest for which `read_apart_last` holds (the one read
/// apart on the last such request, checked then) is not scanned again: keys typed in the item
/// leave it as it was.
pub(super) fn split_where_code_runs_on(
    text: &str,
    construct: Range<usize>,
    context: Range<usize>,
    delimiters: &Delimiters,
    line_comment: &str,
    read_apart_last: &dyn Fn(&str) -> bool,
) -> Option<(Nested, String)> {
    let nested = split(text, construct.clone(), context)?;
    if !runs_on(&text[nested.item.clone()], delimiters, line_comment) {
        return None;
    }
    let rest = nested.rest(text, &construct);
    if read_apart_last(&rest) {
        return Some((nested, rest));
    }
    // Below the item, a construct that the text's end cuts (no closing line) may end inside
    // anything: it runs on no further than that end.
    let below = match nested.closer.is_empty() {
        true => "",
        false => &text[nested.item.end..construct.end],
    };
    let rest_runs =
        [&text[construct.start..nested.item.start], below].iter().any(|part| runs_on(part, delimiters, line_comment));
    (!rest_runs).then_some((nested, rest))
}

/// Where the body of the construct that starts at `start` opens: after the first line within
/// [`HEADER_REACH`] bytes, and before `limit`, that ends with `{` and is no comment.
fn header_end(text: &str, start: usize, limit: usize) -> Option<usize> {
    let mut line = start;
    while line < limit && line - start <= HEADER_REACH {
        let (content, next) = line_at(text, line);
        let code = content.trim();
        let comment = ["//", "/*", "*", "#"].iter().any(|prefix| code.starts_with(prefix));
        if !comment && code.ends_with('{') {
            return (next <= limit).then_some(next);
        }
        line = next;
    }
    None
}

/// The construct `construct` of `text` cut around the cursor's context `context` (whole lines
/// inside it), when it is long and the context lies inside the items of its body; `None` when it
/// is short, the context reaches its own lines (its header, its closing bracket, a column-0 line
/// inside it), or what is left without the cursor's item is too short to be worth reading apart.
fn split(text: &str, construct: Range<usize>, context: Range<usize>) -> Option<Nested> {
    if construct.len() < NESTED_FROM_BYTES || construct.end > text.len() {
        return None;
    }
    let context_start = text[..context.start.min(text.len())].rfind('\n').map_or(0, |newline| newline + 1);
    if context_start < construct.start || context.end > construct.end {
        return None;
    }
    let body = header_end(text, construct.start, context_start)?;
    // The body's indentation: its first line's that holds anything.
    let mut line = body;
    let indent = loop {
        if line >= construct.end {
            return None;
        }
        let (content, next) = line_at(text, line);
        let code = content.trim_start_matches([' ', '\t']);
        if !code.trim_end().is_empty() {
            break &content[..content.len() - code.len()];
        }
        line = next;
    };
    if indent.is_empty() {
        return None;
    }
    // The context's own lines lie inside the items.
    let mut line = context_start;
    while line < context.end {
        let (content, next) = line_at(text, line);
        if level(content, indent) == Level::Outside {
            return None;
        }
        line = next;
    }
    // The item starts at the nearest line at the body's indentation that begins something (an
    // item, a statement, their comment) at or above the context's first line, or after the
    // construct's own last line above it. Attributes and comments above it stay in the rest.
    let mut start = context_start;
    loop {
        match level(line_at(text, start).0, indent) {
            Level::At => break,
            Level::Outside => {
                start = line_at(text, start).1;
                break;
            }
            _ if start <= body => break,
            _ => start = line_before(text, start),
        }
    }
    // It ends after the line that closes it, or before the next item or the construct's own
    // next line.
    let end = item_end(text, context.end.min(text.len()), indent, construct.end);
    let closer = closing_line(text, &construct, indent).filter(|closer| closer.start >= end).unwrap_or(end..end);
    let nested = Nested { header: construct.start..body, item: start..end, closer };
    (construct.len() - nested.item.len() >= NESTED_FROM_BYTES / 2).then_some(nested)
}

/// Whether `code` (in a language with `delimiters` and line comments after `line_comment`)
/// leaves open something that tree-sitter reads through to its closing character whatever lies
/// between: a block comment, a string that may span lines (`"abc` in Rust before its `"`), or a
/// macro call's token tree (`assert!(` before its `)`). Parsed as part of its construct, such
/// code runs on into the items after it: the rest of the construct is parsed again as one
/// comment, string or token tree, which costs a parse of all of it and loses what it defines.
/// Other unfinished code (a signature before its `{`, a call before its `)`) stays local to
/// tree-sitter's error recovery. A bracket inside a string of a kind not told apart here (a
/// Rust raw string) errs towards yes, which only sends the item down the path that is right
/// either way.
pub(super) fn runs_on(code: &str, delimiters: &Delimiters, line_comment: &str) -> bool {
    let bytes = code.as_bytes();
    let quotes = delimiters.quotes.as_bytes();
    // The brackets open at each point: the closing one each expects, and whether it is, or is
    // inside, a token tree.
    let mut open: Vec<(u8, bool)> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if quotes.contains(&byte) {
            match string_end(bytes, at) {
                Some(end) => at = end,
                None => return delimiters.multiline_quotes.as_bytes().contains(&byte),
            }
            continue;
        }
        if !line_comment.is_empty() && bytes[at..].starts_with(line_comment.as_bytes()) {
            at = code[at..].find('\n').map_or(bytes.len(), |newline| at + newline + 1);
            continue;
        }
        if bytes[at..].starts_with(b"/*") {
            match code[at + 2..].find("*/") {
                Some(end) => at += end + 4,
                None => return true,
            }
            continue;
        }
        if byte == b'\'' {
            at += char_literal_len(&code[at..]).unwrap_or(1);
            continue;
        }
        let closing = match byte {
            b'(' => Some(b')'),
            b'[' => Some(b']'),
            b'{' => Some(b'}'),
            _ => None,
        };
        if let Some(closing) = closing {
            // Brackets inside a token tree belong to it.
            let in_token_tree = open.last().is_some_and(|&(_, token_tree)| token_tree)
                || (delimiters.macro_token_trees && code[..at].trim_end().ends_with('!'));
            open.push((closing, in_token_tree));
        } else if matches!(byte, b')' | b']' | b'}') {
            // A closing bracket closes the innermost open one of its kind (a stray one closes
            // none), except that an open token tree takes in any other closing bracket.
            match open.last() {
                Some(&(closing, _)) if closing == byte => {
                    open.pop();
                }
                Some(&(_, true)) => {}
                _ => {
                    if let Some(innermost) = open.iter().rposition(|&(closing, _)| closing == byte) {
                        open.truncate(innermost);
                    }
                }
            }
        }
        at += 1;
    }
    open.iter().any(|&(_, token_tree)| token_tree)
}

/// Where the string that opens at byte `at` of `bytes` ends (after its closing quote, the byte
/// at `at` again, not escaped); `None` when the text ends first.
fn string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let quote = bytes[at];
    let mut next = at + 1;
    loop {
        match *bytes.get(next)? {
            b'\\' => next += 2,
            byte if byte == quote => return Some(next + 1),
            _ => next += 1,
        }
    }
}

/// The length of the character literal at the start of `text` (`'x'`, `'é'`, `'\n'`,
/// `'\u{1F600}'`); `None` when the quote begins none (a Rust lifetime `'a`, a label).
fn char_literal_len(text: &str) -> Option<usize> {
    let mut chars = text.char_indices().skip(1);
    let (_, first) = chars.next()?;
    if first == '\\' {
        // The escaped character, then up to `\u{10FFFF}`'s length to the closing quote.
        let close = text.get(3..)?.char_indices().take(10).find(|&(_, c)| c == '\'')?.0;
        return Some(3 + close + 1);
    }
    let (end, second) = chars.next()?;
    (second == '\'').then_some(end + 1)
}

/// The construct's last line when it closes the construct: less indented than its body and
/// beginning with a closing bracket.
fn closing_line(text: &str, construct: &Range<usize>, indent: &str) -> Option<Range<usize>> {
    let body = text[construct.clone()].trim_end();
    let last = construct.start + body.rfind('\n').map_or(0, |newline| newline + 1);
    let (content, _) = line_at(text, last);
    let closes = level(content, indent) == Level::Outside
        && content.trim_start().starts_with(['}', ')', ']'])
        && construct.end - last <= CLOSER_BYTES;
    closes.then_some(last..construct.end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::Language;

    /// A Rust test module of `n` tests, about 110 bytes each.
    fn test_module(n: usize) -> String {
        let tests: String = (0..n)
            .map(|i| format!("    #[test]\n    fn case_{i}() {{\n        let v = vec![{i}, 2];\n        assert_eq!(v.len(), 2);\n    }}\n\n"))
            .collect();
        format!("#[cfg(test)]\nmod tests {{\n    use super::*;\n\n{tests}}}\n")
    }

    /// The split of all of `text` around the cursor's context at the first `needle`.
    fn split_at(text: &str, needle: &str) -> Option<Nested> {
        split_around(text, text.find(needle).unwrap())
    }

    /// The split of all of `text` around the cursor's context at byte `cursor`.
    fn split_around(text: &str, cursor: usize) -> Option<Nested> {
        split(text, 0..text.len(), crate::query::context_region(text, cursor))
    }

    #[test]
    fn a_test_in_a_long_module_is_read_inside_the_modules_header_and_closing_line() {
        let text = test_module(60);
        let nested = split_at(&text, "vec![30, 2]").unwrap();
        assert_eq!(&text[nested.header.clone()], "#[cfg(test)]\nmod tests {\n");
        // The context: the ten lines above the cursor's, from the end of test 28.
        let item = &text[nested.item.clone()];
        assert!(item.starts_with("    fn case_28() {\n"), "{item}");
        assert!(item
            .ends_with("    fn case_30() {\n        let v = vec![30, 2];\n        assert_eq!(v.len(), 2);\n    }\n"));
        assert_eq!(&text[nested.closer.clone()], "}\n");
        let source = nested.source(&text);
        assert!(source.starts_with("#[cfg(test)]\nmod tests {\n    fn case_28()"), "{source}");
        assert_eq!(&source[nested.in_source(text.find("vec![30").unwrap())..][..4], "vec!");
        let rest = nested.rest(&text, &(0..text.len()));
        assert_eq!(rest.len() + nested.item.len(), text.len());
        assert!(!rest.contains("case_29()") && rest.contains("case_27()") && rest.contains("case_31()"));
    }

    #[test]
    fn unfinished_code_at_the_cursor_does_not_move_the_items_end() {
        let text = test_module(60).replace(
            "assert_eq!(v.len(), 2);\n    }\n\n    #[test]\n    fn case_31",
            "assert!(\n    }\n\n    #[test]\n    fn case_31",
        );
        let nested = split_at(&text, "assert!(\n").unwrap();
        assert!(text[nested.item.clone()].ends_with("assert!(\n    }\n"), "{:?}", &text[nested.item.clone()]);
        // A context that spans two tests (ten lines above the cursor's) takes both.
        let nested = split_at(&text, "let v = vec![31").unwrap();
        let item = &text[nested.item.clone()];
        assert!(
            item.starts_with("    fn case_29()")
                && item.ends_with(
                    "fn case_31() {\n        let v = vec![31, 2];\n        assert_eq!(v.len(), 2);\n    }\n"
                ),
            "{item}"
        );
    }

    #[test]
    fn a_signature_over_several_lines_is_the_header_and_its_parameters_no_item() {
        let statements: String = (0..300).map(|i| format!("    let x{i} = input.len() + {i};\n")).collect();
        let text = format!("/// Docs {{\npub fn long(\n    input: &str,\n) -> usize {{\n{statements}    x1\n}}\n");
        let nested = split_at(&text, "let x150 ").unwrap();
        assert_eq!(&text[nested.header.clone()], "/// Docs {\npub fn long(\n    input: &str,\n) -> usize {\n");
        // The statements of the context: the cursor's line and the ten above it.
        let item = &text[nested.item.clone()];
        assert!(item.starts_with("    let x140 ") && item.ends_with("    let x150 = input.len() + 150;\n"), "{item}");
        // The cursor in the parameters: on the construct's own lines.
        assert_eq!(split_at(&text, "input: &str"), None);
    }

    #[test]
    fn code_that_runs_on_is_told_from_code_that_is_finished_or_stays_local() {
        let rust = Language::Rust.spec().delimiters;
        let runs_on = |code: &str| super::runs_on(code, &rust, "//");
        let finished = [
            "fn f() {\n    assert!(v.len() > 2, \"{} (\\\" \", x);\n}\n",
            "fn f<'a>(s: &'a str) -> char {\n    // an open ( in a comment\n    /* and [ here */ '{'\n}\n",
            "fn f() { let c = ['\\'', '\\n', '\\u{1F600}', 'é', ')']; vec![1, 2] }",
        ];
        for code in finished {
            assert!(!runs_on(code), "{code}");
        }
        // Unfinished, but tree-sitter recovers nearby.
        for code in ["fn f() -> Inc\n    x\n}\n", "fn f() {\n    g(x,\n}\n"] {
            assert!(!runs_on(code), "{code}");
        }
        let typing = [
            "fn f() {\n    assert!(\n}\n",
            "fn f() {\n    let v = vec![f(1), g(\n}\n",
            "fn f() {\n    let s = \"abc;\n}\n",
            "fn f() {\n    /* note\n}\n",
        ];
        for code in typing {
            assert!(runs_on(code), "{code}");
        }
        // Template literals run on in TypeScript; a quoted string ends at its line in C.
        let typescript = Language::TypeScript.spec().delimiters;
        assert!(super::runs_on("const s = `a ${b}\n}\n", &typescript, "//"));
        assert!(!super::runs_on("const s = 'a [\";\n", &typescript, "//"));
        assert!(!super::runs_on("int f() {\n  puts(\"abc);\n}\n", &Language::C.spec().delimiters, "//"));
    }

    #[test]
    fn short_constructs_and_contexts_on_their_own_lines_are_not_split() {
        assert_eq!(split_at(&test_module(10), "vec![5, 2]"), None, "short");
        let text = test_module(60);
        // The closing bracket, the header, and a column-0 line inside.
        assert_eq!(split_around(&text, text.len() - 1), None);
        assert_eq!(split_at(&text, "mod tests"), None);
        let text = text.replace("    #[test]\n    fn case_30", "#[cfg(feature)]\n    #[test]\n    fn case_30");
        assert_eq!(split_at(&text, "vec![30, 2]"), None);
        // A window that ends inside the construct: no closing line.
        let cut = &text[..text.find("fn case_50").unwrap()];
        let nested = split_at(cut, "vec![40, 2]").unwrap();
        assert!(nested.closer.is_empty());
        // Tabs.
        let tabs = test_module(60).replace("    ", "\t");
        let nested = split_at(&tabs, "vec![30, 2]").unwrap();
        assert!(tabs[nested.item.clone()].starts_with("\tfn case_28"));
    }
}
