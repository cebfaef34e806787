//! How the document's language delimits blocks, as far as the suggestion shape needs to know it.
//!
//! A description, not a list of languages: the model crate knows no grammar, so the caller (the
//! server, which knows the file's language) says whether blocks end by indentation or by
//! brackets, and which strings, characters and comments hide brackets. The shape counts brackets
//! with a small lexer (`shape/lexer.rs`) that follows this description.

/// How blocks end in the document's language, which decides where a multi-line suggestion ends
/// (see [`super::SuggestionShape::for_cursor`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BlockSyntax {
    /// A block ends at the first line indented less than it (Python). Also the choice for a
    /// language Splice does not know: it is what every language got before brace blocks.
    #[default]
    Indentation,
    /// A block ends at the bracket that closes it (the C family, Rust, Go, Java, JavaScript,
    /// TypeScript). Brackets inside the literals and comments that [`Literals`] describes do not
    /// count.
    Braces(Literals),
}

/// The strings, characters and comments of a brace language: the text in which `{`, `}`, `(`,
/// `)`, `[` and `]` are not brackets.
///
/// Every brace language has `"…"` strings with backslash escapes, `//` line comments and
/// `/* … */` block comments; the fields say what else it has. The default is exactly those
/// (with `'…'` literals), which fits C, C++ and JavaScript without template strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Literals {
    /// What an apostrophe starts.
    pub apostrophe: Apostrophe,
    /// What a backtick starts.
    pub backticks: Backticks,
    /// `"…"` may span lines (Rust). Otherwise a string left open ends at its line's end, as a
    /// compiler's error recovery would have it, so that one stray quote hides one line at most.
    pub multi_line_strings: bool,
    /// `r"…"`, `r#"…"#` (any number of `#`), `br"…"` and `cr"…"`: raw strings without escapes
    /// that may span lines (Rust).
    pub raw_strings: bool,
    /// `"""…"""` text blocks that span lines (Java).
    pub text_blocks: bool,
    /// `/* /* … */ */` nests: a block comment ends when every `/*` in it is closed (Rust).
    pub nested_comments: bool,
}

impl Literals {
    /// C's literals (the default): `"…"` and `'…'` with escapes on one line, `//` and `/* */`.
    pub const C: Literals = Literals {
        apostrophe: Apostrophe::Quote,
        backticks: Backticks::Plain,
        multi_line_strings: false,
        raw_strings: false,
        text_blocks: false,
        nested_comments: false,
    };
}

/// What an apostrophe starts in a brace language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Apostrophe {
    /// Always a quoted literal with backslash escapes, ending at its line's end at the latest
    /// (C and C++ characters, Go runes, Java characters, JavaScript strings).
    #[default]
    Quote,
    /// A character when it encloses one character (`'{'`) or starts an escape (`'\u{7d}'`);
    /// otherwise a lifetime or a label (`'a`, `'outer: loop {`), which hides nothing (Rust).
    CharOrLifetime,
}

/// What a backtick starts in a brace language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backticks {
    /// Nothing: a backtick is an ordinary character (C, C++, Java, Rust).
    #[default]
    Plain,
    /// A raw string that may span lines and has no escapes (Go).
    Raw,
    /// A template string that may span lines, with backslash escapes (JavaScript, TypeScript).
    /// Its `${…}` substitutions are read as part of the string: their brackets are balanced in
    /// code that compiles, so they need not be counted.
    Template,
}
