//! Just enough of a brace language's lexer to count brackets: what is code, and what is a
//! string, a character or a comment (whose brackets are not brackets).
//!
//! The lexer reads one line at a time and carries its state across lines (a block comment, a
//! multi-line string). It is *causal*: whether a bracket counts depends only on the text before
//! it and the bracket itself, never on what follows, so the brackets found in a prefix of a
//! streamed suggestion are exactly the first brackets of the whole suggestion. That is what lets
//! the streaming stop verdict decide on a prefix. Rust's apostrophe keeps it so: `'` followed by
//! a character that cannot start a name (`'{`, `'\`) is a character literal whatever comes next;
//! followed by a name character, a lifetime or label unless that one character is closed at once
//! (`'a'`).
//!
//! Not handled (their brackets count as code): JavaScript regular expression literals
//! (`/[{]/`), C++ raw strings `R"x(…)x"` beyond their first `"`, preprocessor lines, a
//! backtick nested in a template string's `${…}`. A C++14 digit separator (`1'000`), and an
//! apostrophe in JSX text (`<p>Don't</p>`), open a literal that ends at the next `'` or the
//! line's end. The cursor is taken to be in code: on an empty line inside a block comment or a
//! multi-line string, the suggestion's text is read as code. All delimiters are ASCII, so
//! the lexer works on bytes and never slices text off a character boundary.

use super::syntax::{Apostrophe, Backticks, Literals};

/// A bracket in code: `{`, `(` or `[` opens, `}`, `)` or `]` closes. Kinds are not told apart:
/// the shape counts depth, and a mismatched pair is the compiler's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bracket {
    /// Byte offset in the scanned line.
    pub offset: usize,
    /// Whether it opens (else it closes).
    pub opens: bool,
}

/// The lexer's state between two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    /// `//` up to the line's end.
    LineComment,
    /// Inside `/* … */`, `depth` comments deep (more than 1 only where comments nest).
    BlockComment {
        depth: u32,
    },
    Literal(Literal),
}

/// A string or character literal being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Literal {
    end: LiteralEnd,
    /// Whether a backslash escapes the byte after it.
    escapes: bool,
    /// Whether it may go on past its line's end (else the line's end ends it).
    spans_lines: bool,
}

/// What ends a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LiteralEnd {
    /// This ASCII byte (`"`, `'` or a backtick).
    Byte(u8),
    /// `"` followed by this many `#` (a Rust raw string).
    RawQuote { hashes: usize },
    /// `"""` (a Java text block).
    TextBlock,
}

/// Counts brackets line by line; see the module documentation.
#[derive(Debug, Clone)]
pub(super) struct BraceLexer {
    literals: Literals,
    state: State,
}

impl BraceLexer {
    /// A lexer at the start of code (the cursor is taken to be in code, not in a comment).
    pub(super) fn new(literals: Literals) -> Self {
        BraceLexer { literals, state: State::Code }
    }

    /// Whether the lexer is in code, outside every comment and literal.
    pub(super) fn in_code(&self) -> bool {
        self.state == State::Code
    }

    /// The brackets in code in `line` (its text without the terminator), in order. Call
    /// [`BraceLexer::end_line`] before the next line.
    pub(super) fn scan_line(&mut self, line: &str) -> Vec<Bracket> {
        let bytes = line.as_bytes();
        let mut brackets = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            i = match self.state {
                State::Code => self.code(line, i, &mut brackets),
                State::LineComment => bytes.len(),
                State::BlockComment { depth } => self.block_comment(bytes, i, depth),
                State::Literal(literal) => self.literal(bytes, i, literal),
            };
        }
        brackets
    }

    /// A line terminator: it ends a line comment and a literal that cannot span lines.
    pub(super) fn end_line(&mut self) {
        match self.state {
            State::LineComment => self.state = State::Code,
            State::Literal(literal) if !literal.spans_lines => self.state = State::Code,
            _ => {}
        }
    }

    /// Reads code at byte `i` of `line`; returns where to go on.
    fn code(&mut self, line: &str, i: usize, brackets: &mut Vec<Bracket>) -> usize {
        let bytes = line.as_bytes();
        let rest = &bytes[i..];
        match bytes[i] {
            b'{' | b'(' | b'[' => brackets.push(Bracket { offset: i, opens: true }),
            b'}' | b')' | b']' => brackets.push(Bracket { offset: i, opens: false }),
            b'/' if rest.starts_with(b"//") => {
                self.state = State::LineComment;
                return bytes.len();
            }
            b'/' if rest.starts_with(b"/*") => {
                self.state = State::BlockComment { depth: 1 };
                return i + 2;
            }
            b'"' if self.literals.text_blocks && rest.starts_with(b"\"\"\"") => {
                self.enter(LiteralEnd::TextBlock, true, true);
                return i + 3;
            }
            b'"' => self.enter(LiteralEnd::Byte(b'"'), true, self.literals.multi_line_strings),
            b'\'' => return self.apostrophe(line, i),
            b'`' => match self.literals.backticks {
                Backticks::Plain => {}
                Backticks::Raw => self.enter(LiteralEnd::Byte(b'`'), false, true),
                Backticks::Template => self.enter(LiteralEnd::Byte(b'`'), true, true),
            },
            byte if is_name_byte(byte) => return self.word(bytes, i),
            _ => {}
        }
        i + 1
    }

    fn enter(&mut self, end: LiteralEnd, escapes: bool, spans_lines: bool) {
        self.state = State::Literal(Literal { end, escapes, spans_lines });
    }

    /// A name or number starting at `i`: skipped whole, so that a raw string's `r` is told
    /// from the end of a name (`for"` is not a raw string).
    fn word(&mut self, bytes: &[u8], i: usize) -> usize {
        let end = i + bytes[i..].iter().take_while(|&&b| is_name_byte(b)).count();
        if self.literals.raw_strings && matches!(&bytes[i..end], b"r" | b"br" | b"cr") {
            let hashes = bytes[end..].iter().take_while(|&&b| b == b'#').count();
            if bytes.get(end + hashes) == Some(&b'"') {
                self.enter(LiteralEnd::RawQuote { hashes }, false, true);
                return end + hashes + 1;
            }
        }
        end
    }

    /// An apostrophe at byte `i` of `line`.
    fn apostrophe(&mut self, line: &str, i: usize) -> usize {
        if self.literals.apostrophe == Apostrophe::Quote {
            self.enter(LiteralEnd::Byte(b'\''), true, false);
            return i + 1;
        }
        // `'` is ASCII, so `i + 1` is a character boundary.
        let Some(next) = line.get(i + 1..).and_then(|rest| rest.chars().next()) else {
            return i + 1;
        };
        let after = i + 1 + next.len_utf8();
        if next == '\\' {
            // `'\n'`, `'\u{7d}'`: read as a literal up to its closing quote.
            self.enter(LiteralEnd::Byte(b'\''), true, false);
            i + 1
        } else if next.is_alphanumeric() || next == '_' {
            // A lifetime or label, unless that one character is closed at once (`'a'`).
            if line.as_bytes().get(after) == Some(&b'\'') {
                after + 1
            } else {
                i + 1
            }
        } else {
            // `'{'`: no name starts with `{`, so it is a character, closed or not yet.
            let closed = line.as_bytes().get(after) == Some(&b'\'');
            after + usize::from(closed)
        }
    }

    fn block_comment(&mut self, bytes: &[u8], i: usize, depth: u32) -> usize {
        let rest = &bytes[i..];
        if rest.starts_with(b"*/") {
            self.state = if depth <= 1 { State::Code } else { State::BlockComment { depth: depth - 1 } };
            i + 2
        } else if self.literals.nested_comments && rest.starts_with(b"/*") {
            self.state = State::BlockComment { depth: depth + 1 };
            i + 2
        } else {
            i + 1
        }
    }

    fn literal(&mut self, bytes: &[u8], i: usize, literal: Literal) -> usize {
        let byte = bytes[i];
        if literal.escapes && byte == b'\\' {
            // The escaped byte may start a multi-byte character: landing on its continuation
            // bytes is harmless, they never equal an ASCII delimiter.
            return i + 2;
        }
        let closed_after = match literal.end {
            LiteralEnd::Byte(end) => (byte == end).then_some(1),
            LiteralEnd::RawQuote { hashes } => {
                let closes =
                    byte == b'"' && bytes[i + 1..].iter().take(hashes).filter(|&&b| b == b'#').count() == hashes;
                closes.then_some(1 + hashes)
            }
            LiteralEnd::TextBlock => bytes[i..].starts_with(b"\"\"\"").then_some(3),
        };
        match closed_after {
            Some(length) => {
                self.state = State::Code;
                i + length
            }
            None => i + 1,
        }
    }
}

/// Whether `byte` may be part of a name or number: ASCII letters, digits, `_`, and every byte
/// of a non-ASCII character.
fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUST: Literals = Literals {
        apostrophe: Apostrophe::CharOrLifetime,
        backticks: Backticks::Plain,
        multi_line_strings: true,
        raw_strings: true,
        text_blocks: false,
        nested_comments: true,
    };
    const C: Literals = Literals::C;
    const JS: Literals = Literals { backticks: Backticks::Template, ..C };
    const GO: Literals = Literals { backticks: Backticks::Raw, ..C };
    const JAVA: Literals = Literals { text_blocks: true, ..C };

    /// The brackets of `text`, line by line (`\n`-separated): (line, bracket).
    fn scan(literals: Literals, text: &str) -> Vec<(usize, Bracket)> {
        let mut lexer = BraceLexer::new(literals);
        let mut found = Vec::new();
        for (n, line) in text.split('\n').enumerate() {
            if n > 0 {
                lexer.end_line();
            }
            found.extend(lexer.scan_line(line).into_iter().map(|bracket| (n, bracket)));
        }
        found
    }

    /// The brackets of `text` as a string of `{` and `}` (openers and closers of any kind).
    fn brackets(literals: Literals, text: &str) -> String {
        scan(literals, text).iter().map(|(_, bracket)| if bracket.opens { '{' } else { '}' }).collect()
    }

    #[test]
    fn brackets_in_code_count_and_kinds_are_not_told_apart() {
        assert_eq!(brackets(C, "int f(int a[2]) {"), "{{}}{");
        assert_eq!(brackets(C, "}"), "}");
    }

    #[test]
    fn strings_and_characters_hide_brackets() {
        assert_eq!(brackets(C, r#"puts("{ \" }"); c = '{'; d = '\''; {"#), "{}{");
        assert_eq!(brackets(JAVA, "s = \"\"\"\n  { (\n\"\"\"; {"), "{");
        assert_eq!(brackets(JAVA, "s = \"\"; {"), "{");
    }

    #[test]
    fn comments_hide_brackets() {
        assert_eq!(brackets(C, "f(); // {\n/* } */ g(/* ( */);"), "{}{}");
        assert_eq!(brackets(C, "/* {\n } */ {"), "{");
        // Nesting only where comments nest: in C the first `*/` ends the comment.
        assert_eq!(brackets(RUST, "/* /* */ { */ {"), "{");
        assert_eq!(brackets(C, "/* /* */ { */ {"), "{{");
    }

    #[test]
    fn a_string_left_open_ends_at_its_line_unless_strings_span_lines() {
        assert_eq!(brackets(C, "puts(\"{\n{"), "{{");
        assert_eq!(brackets(RUST, "let s = \"{\n{\";{"), "{");
    }

    #[test]
    fn rust_characters_lifetimes_and_raw_strings() {
        assert_eq!(brackets(RUST, "if c == '{' { depth += 1; }"), "{}");
        assert_eq!(brackets(RUST, "let c = '\\u{7d}'; {"), "{");
        assert_eq!(brackets(RUST, "fn f<'a>(x: &'a str) -> &'a str {"), "{}{");
        assert_eq!(brackets(RUST, "'outer: loop { break 'outer; }"), "{}");
        assert_eq!(brackets(RUST, "let c = 'x'; let b = b'}'; {"), "{");
        assert_eq!(brackets(RUST, "let s = r#\"}\"# ; {"), "{");
        assert_eq!(brackets(RUST, "let s = r##\"\"#}\"##; {"), "{");
        assert_eq!(brackets(RUST, "let s = br\"{\n}\"; for r in x {"), "{");
        // `for"` ends a name: not a raw string.
        assert_eq!(brackets(RUST, "let r#for = 1; {"), "{");
    }

    #[test]
    fn backticks_are_strings_where_the_language_says_so() {
        assert_eq!(brackets(JS, "const s = `${a} {\n}`; {"), "{");
        assert_eq!(brackets(JS, "const s = `\\` {`; {"), "{");
        assert_eq!(brackets(GO, "s := `\\` {"), "{");
        assert_eq!(brackets(C, "` {"), "{");
    }

    #[test]
    fn a_prefix_of_a_text_has_the_first_brackets_of_the_text() {
        let text = "let c = '{'; s = r#\"}\"#; /* { */ 'a: loop { x('}') } // {\n\"\"\"{\"\"\" `{` é'}'";
        for literals in [RUST, C, JS, GO, JAVA] {
            let whole = scan(literals, text);
            for end in (0..=text.len()).filter(|&end| text.is_char_boundary(end)) {
                let part = scan(literals, &text[..end]);
                assert!(
                    whole.starts_with(&part),
                    "{literals:?}: {:?} gives {part:?}, the whole {whole:?}",
                    &text[..end]
                );
            }
        }
    }
}
