//! The lexical gate: are there names near the cursor whose definitions live in other files?
//!
//! Retrieval can only help when the code being written uses something defined elsewhere
//! (Repoformer: it helps in under 20% of cases and hurts in about as many). The cheapest signal
//! is lexical: an identifier near the cursor that is imported (`from .utils import
//! parse_config`), an attribute of an imported or unknown name (`helpers.` with the cursor right
//! after the dot), or a name neither defined in the file nor a builtin. This mirrors how
//! CrossCodeEval builds its cross-file cases. Python gets a line-based analysis of definitions
//! and imports (here); the table's other languages ([`crate::language`]) an analysis of their
//! syntax tree with their own imports, bindings, keywords and builtins ([`scope`]); other files a
//! keyword-free heuristic: names from import-like lines, or names used near the cursor that
//! appear nowhere else in the file.
//!
//! Strings and comments never count, so words in docstrings do not. Like the query, the gate
//! ignores the word being typed, so its answer does not flicker per keystroke.

mod imports;
mod items;
mod nested;
pub(crate) mod reparse;
mod scope;
mod scope_memo;
mod text_diff;
mod word_typed;

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use crate::chunk::window::scan_symbols;
use crate::keywords;
use crate::language::Language;
use crate::query::{context_region, floor_char_boundary};
use crate::tokenize::{identifiers, is_ident_char};

/// Above this size only the prompt window is analysed for definitions (keeps each keystroke cheap).
pub const MAX_ANALYSED_BYTES: usize = 1024 * 1024;

/// The language the gate reads a file as: its table language by extension, Python for an
/// unsaved buffer or a file without an extension (scripts), `None` (keyword-free heuristics)
/// for any other file.
pub fn gate_language(path: Option<&Path>) -> Option<Language> {
    match path.and_then(|p| p.extension()) {
        None => Some(Language::Python),
        Some(extension) => extension.to_str().and_then(Language::from_extension),
    }
}

/// How the line-based analysis reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// Python rules.
    Python,
    /// Keyword-free heuristics.
    Other,
}

/// Names near the cursor whose definitions are elsewhere, in order of appearance, as written
/// (`parse_config`, `helpers.load`, `strings.Split`, `Bar::new`), for a file in `language`
/// (`None`: not a language of the table).
pub fn foreign_names(language: Option<Language>, text: &str, cursor: usize, window: &Range<usize>) -> Vec<String> {
    foreign_names_again(&mut GateSyntax::whole_text(), language, text, cursor, window, Surrounding::WHOLE)
}

/// What the gate keeps of one document between its requests: the last syntax tree of the
/// cursor's top-level construct (the next one is parsed incrementally from it; where unfinished
/// code would run on through a long construct, of the cursor's item and of the construct's rest
/// apart, see `nested.rs`), what each large subtree of it defined and imported (only subtrees
/// whose text changed are read again), what the whole items around that construct define and
/// import (by their text, for the whole document once it was opened), and the last answer
/// (given again while a word is typed). Used for the table's languages but Python.
pub struct GateSyntax {
    /// The cursor's construct.
    head: scope::ConstructReading,
    /// The cursor's item inside a long construct, when unfinished code would make that
    /// construct parse badly ([`nested`]).
    item: scope::ConstructReading,
    /// The rest of that construct, without the cursor's item.
    rest: scope::ConstructReading,
    items: items::ItemMemo,
    last: word_typed::LastAnswer,
    /// Whether the items around the cursor's construct are read apart from it (the default);
    /// off, the whole text is one tree, as a reading from scratch has it.
    by_items: bool,
}

impl Default for GateSyntax {
    /// A document not seen yet, read item by item.
    fn default() -> Self {
        Self {
            head: Default::default(),
            item: Default::default(),
            rest: Default::default(),
            items: Default::default(),
            last: Default::default(),
            by_items: true,
        }
    }
}

impl GateSyntax {
    /// A state that reads the whole text as one tree (no items apart): the reading from
    /// scratch that the kept state's answers are checked and measured against.
    pub fn whole_text() -> Self {
        Self { by_items: false, ..Self::default() }
    }

    /// A fresh state that knows what this one knows of the document's items (by their text,
    /// so right for any text of the document): a second reader of the same document, which
    /// parses its first construct as cheaply as this one would, and never moves this one's
    /// trees.
    pub fn seeded(&self) -> GateSyntax {
        GateSyntax { items: self.items.copy(), ..GateSyntax::default() }
    }

    /// Takes in what `opened` (a state that read the document when it was opened) knows of
    /// the document's items.
    pub fn absorb(&mut self, opened: GateSyntax) {
        self.items.absorb(opened.items);
    }

    /// How many subtrees' scopes are remembered, and how many of them the last request read.
    #[cfg(test)]
    pub(crate) fn memo_counts(&self) -> (usize, usize) {
        self.head.memo.counts()
    }

    /// How many texts the cursor's constructs (whole, or read apart) were parsed as so far.
    #[cfg(test)]
    pub(crate) fn construct_parses(&self) -> usize {
        self.head.reparser.parses + self.item.reparser.parses + self.rest.reparser.parses
    }

    /// How many items around the cursor's construct were parsed so far, and how many are
    /// remembered.
    #[cfg(test)]
    pub(crate) fn item_counts(&self) -> (usize, usize) {
        (self.items.parsed, self.items.len())
    }

    /// How many of the items parsed were parsed from the tree of an item read when the
    /// document was opened.
    #[cfg(test)]
    pub(crate) fn items_parsed_from_kept(&self) -> usize {
        self.items.parsed_from_kept
    }
}

impl std::fmt::Debug for GateSyntax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateSyntax").finish_non_exhaustive()
    }
}

/// What the gate knows of the document around the text it is asked about.
#[derive(Debug, Clone, Copy)]
pub struct Surrounding<'a> {
    /// The text is a prompt window that begins below the document's first line: its syntax is
    /// read from its first top-level line ([`top_level_start`]).
    pub mid_file: bool,
    /// The document's text above the window, as much as the caller has (possibly none).
    pub above: &'a str,
    /// The document's text below the window, as much as the caller has (possibly none).
    pub below: &'a str,
}

impl Surrounding<'_> {
    /// The text is the whole document.
    pub const WHOLE: Surrounding<'static> = Surrounding { mid_file: false, above: "", below: "" };
}

/// [`foreign_names`] for a document the gate has seen before: the same answer, at the cost of
/// what changed since `state` last saw it (any earlier text of any document is fine, only
/// slower). `around`: where `text` lies in its document. The gate reads whole top-level
/// constructs: when the window cuts the cursor's construct at its top (a long function, class
/// or module begins above it), that construct is read from its first line
/// ([`construct_above`]), and when it cuts an item below the cursor's construct, that item is
/// read to its end ([`item_below`]), both from the document's text around the window.
pub fn foreign_names_again(
    state: &mut GateSyntax,
    language: Option<Language>,
    text: &str,
    cursor: usize,
    window: &Range<usize>,
    around: Surrounding<'_>,
) -> Vec<String> {
    let starts_mid_file = around.mid_file;
    let cursor = floor_char_boundary(text, cursor);
    let joined;
    let (text, cursor, window) = match language {
        Some(language) if language != Language::Python => {
            let above = construct_above(around.above, text, cursor).unwrap_or_default();
            let below = item_below(around.below, text, cursor, above.len()).unwrap_or_default();
            if above.is_empty() && below.is_empty() {
                (text, cursor, window.clone())
            } else {
                joined = [above, text, below].concat();
                let shift = |at: usize| at + above.len();
                (joined.as_str(), shift(cursor), shift(window.start)..shift(window.end))
            }
        }
        _ => (text, cursor, window.clone()),
    };
    let window = &window;
    let analysed = if text.len() <= MAX_ANALYSED_BYTES {
        0..text.len()
    } else {
        let start = floor_char_boundary(text, window.start.min(cursor));
        start..floor_char_boundary(text, window.end.max(cursor))
    };
    match language {
        Some(Language::Python) => by_lines(Dialect::Python, text, cursor, analysed),
        Some(language) => {
            let whole = text.len() <= MAX_PARSED_BYTES;
            if whole {
                if let Some(names) = state.last.again(language, text, cursor, starts_mid_file) {
                    return names;
                }
            }
            let names = if names_near(text, cursor) {
                let mut parsed = parsed_range(text, cursor, window);
                if starts_mid_file {
                    parsed.start = top_level_start(text, parsed.start, cursor);
                }
                scope::foreign_names(language, text, cursor, parsed, state)
                    .unwrap_or_else(|| by_lines(Dialect::Other, text, cursor, analysed))
            } else {
                Vec::new()
            };
            match whole {
                true => state.last.remember(language, text, cursor, starts_mid_file, &names),
                false => state.last.forget(),
            }
            names
        }
        None => by_lines(Dialect::Other, text, cursor, analysed),
    }
}

/// Reads a document the editor has just opened into `state`, so that a request anywhere in it
/// parses only the cursor's construct and what the keys typed since changed: what every item of
/// the text (up to [`MAX_PARSED_BYTES`], cut at a line start) defines and imports is read now.
/// Nothing for Python (its gate reads lines, not a tree) or for files of no table language.
/// Costs one parse of the file (tree-sitter reads 2–10 MB/s): run it off the request path.
pub fn read_opened_document(state: &mut GateSyntax, language: Option<Language>, text: &str) {
    let Some(language) = language.filter(|l| *l != Language::Python) else { return };
    let mut end = floor_char_boundary(text, text.len().min(MAX_PARSED_BYTES));
    if end < text.len() {
        end = text[..end].rfind('\n').map_or(end, |i| i + 1);
    }
    scope::read_ahead(language, &text[..end], state);
}

/// Whether the cursor's context holds anything that could be a name besides the word being
/// typed (words in strings and comments count too, so this errs towards yes). When it does
/// not (a row of a lookup table, numbers and punctuation), the answer is known without a
/// parse: the parse of such text is tree-sitter's slowest (error recovery over all of it).
fn names_near(text: &str, cursor: usize) -> bool {
    let region = context_region(text, cursor);
    let near = &text[region.clone()];
    near.contains('$')
        || identifiers(near).any(|(start, word)| {
            let start = region.start + start;
            let typed = start <= cursor && cursor <= start + word.len();
            !typed && !word.starts_with(|c: char| c.is_ascii_digit())
        })
}

/// Where the syntax analysis of a text that begins mid-file (a prompt window) should start: the
/// first line from byte `from` (a line start) and before the cursor's context that can begin a
/// top-level item (at column 0: a name, `#`, `@`, `$` or a comment), else `from`. A window cut
/// inside a construct (the middle of a function or of a 4,000-entry lookup table) sends
/// tree-sitter into error recovery over the whole window, which costs several times a clean
/// parse and gives a worse tree; the lines skipped belong to a construct that ends before the
/// cursor's context.
fn top_level_start(text: &str, from: usize, cursor: usize) -> usize {
    first_top_level_line(text, from, cursor).unwrap_or(from)
}

/// The first line from byte `from` (a line start) and before the cursor's context that can
/// begin a top-level item (at column 0: a name, `#`, `@`, `$` or a comment).
fn first_top_level_line(text: &str, from: usize, cursor: usize) -> Option<usize> {
    let context = context_region(text, floor_char_boundary(text, cursor)).start;
    let mut line = from;
    while line < context {
        let rest = &text.as_bytes()[line..];
        let top_level = match rest.first() {
            Some(c) if c.is_ascii_alphabetic() || matches!(c, b'_' | b'#' | b'@' | b'$') => true,
            Some(b'/') => matches!(rest.get(1), Some(b'/' | b'*')),
            _ => false,
        };
        if top_level {
            return Some(line);
        }
        line += text[line..context].find('\n')? + 1;
    }
    None
}

/// The part of the document above a prompt window `text` that belongs to the cursor's
/// top-level construct, when the window cuts that construct: no line of the window above the
/// cursor's context begins an item at column 0 (the window starts inside a long function,
/// class, `impl` or module). It runs from the construct's first line (after the last line of
/// `above` that closes a bracket at column 0, where the items read when the document was
/// opened also end) to the window. Read from there, the construct parses as it is written,
/// with its header, parameters and imports, instead of from a cut that sends tree-sitter into
/// error recovery over the whole window; and its tree from when the document was opened is at
/// hand. `None` when the window does not cut the construct, or would exceed
/// [`MAX_PARSED_BYTES`] with it.
fn construct_above<'a>(above: &'a str, text: &str, cursor: usize) -> Option<&'a str> {
    if above.is_empty() || first_top_level_line(text, 0, cursor).is_some() {
        return None;
    }
    // A construct that starts before `floor` would not fit: the scan back stops there.
    let room = MAX_PARSED_BYTES.checked_sub(text.len())?;
    let too_far = floor_char_boundary(above, above.len().saturating_sub(room + 1));
    let floor = above[..too_far].rfind('\n').map_or(0, |newline| newline + 1);
    let start = items::start_of_construct(above, above.len(), floor);
    let cut = &above[start..];
    (!cut.is_empty() && (start > floor || floor == 0) && cut.len() <= room).then_some(cut)
}

/// The part of the document below a prompt window `text` that completes the window's last
/// item, when the window's end cuts an item below the cursor's construct (the window ends
/// inside a function further down): up to the end of the first line of `below` that closes a
/// bracket at column 0 (where the items read when the document was opened end). Read whole,
/// that item is one the gate has read before, instead of a cut that sends tree-sitter into
/// error recovery. `None` when the window's end cuts the cursor's own construct (a key typed
/// there re-reads the text after it, which the window's end bounds), when the window ends where
/// an item ends, or when the window, `above` more bytes and the part would exceed
/// [`MAX_PARSED_BYTES`].
fn item_below<'a>(below: &'a str, text: &str, cursor: usize, above: usize) -> Option<&'a str> {
    let construct_end = items::end_of_construct(text, context_region(text, cursor).end);
    if below.is_empty() || construct_end >= text.len() {
        return None;
    }
    // The window's last item begins after the last line at or below the construct's end that
    // closes a bracket at column 0, else at the construct's end: where a document's item does,
    // or where the construct ended before a column-0 line that begins no item (C++'s
    // `public:`), whose rest is then the end of an item read when the document was opened
    // (`ItemMemo::end_of_kept`). Nothing to complete when it ends with the window.
    let last_item = items::closing_line_ends(text, construct_end).last().unwrap_or(construct_end);
    if last_item >= text.len() {
        return None;
    }
    // `below` starts mid-line unless the window ends with a line break. The item must fit: the
    // scan stops at the last line start that leaves room for it.
    let first_line = if text.ends_with('\n') { 0 } else { below.find('\n')? + 1 };
    let room = MAX_PARSED_BYTES.checked_sub(above + text.len())?;
    let reach = match below.len() <= room {
        true => below.len(),
        false => below[..floor_char_boundary(below, room)].rfind('\n').map_or(0, |newline| newline + 1),
    };
    let end = items::closing_line_ends(&below[..reach], first_line.min(reach)).next();
    end.or((reach == below.len()).then_some(below.len())).map(|end| &below[..end])
}

/// Above this size a file in a table language is parsed only around the cursor: tree-sitter
/// reads about 10 MB/s, and a keystroke must not parse a megabyte.
pub const MAX_PARSED_BYTES: usize = 256 * 1024;

/// The byte range of `text` the syntax analysis parses: all of it when small, else the prompt
/// window, cut to [`MAX_PARSED_BYTES`] mostly before the cursor, from a line start.
fn parsed_range(text: &str, cursor: usize, window: &Range<usize>) -> Range<usize> {
    if text.len() <= MAX_PARSED_BYTES {
        return 0..text.len();
    }
    let start = window.start.min(cursor).max(cursor.saturating_sub(MAX_PARSED_BYTES * 3 / 4));
    let end = window.end.max(cursor).min(start + MAX_PARSED_BYTES);
    let start = floor_char_boundary(text, start);
    let start = match text[start..cursor].find('\n') {
        Some(newline) if start > 0 => start + newline + 1,
        _ => start,
    };
    start..floor_char_boundary(text, end)
}

/// The line-based analysis: Python's, or the heuristics for files of no table language.
fn by_lines(dialect: Dialect, text: &str, cursor: usize, analysed: Range<usize>) -> Vec<String> {
    let masked = mask_strings_and_comments(text, dialect == Dialect::Python);
    let scope = Scope::of(dialect, &masked[analysed], &masked, cursor);
    let region = context_region(&masked, cursor);
    let mut out: Vec<String> = Vec::new();
    let bytes = masked.as_bytes();
    let mut chain_base_foreign = false;
    for (start, ident) in identifiers(&masked[region.clone()]) {
        let start = region.start + start;
        let after_dot = start > 0 && (bytes[start - 1] == b'.' || (start > 1 && &bytes[start - 2..start] == b"::"));
        if start <= cursor && cursor <= start + ident.len() {
            continue; // the word being typed
        }
        if dialect == Dialect::Python
            && (on_import_line(&masked, start) || is_keyword_argument(&masked, start + ident.len()))
        {
            continue;
        }
        if after_dot {
            if chain_base_foreign {
                if let Some(last) = out.last_mut() {
                    last.push('.');
                    last.push_str(ident);
                }
            }
            continue;
        }
        chain_base_foreign = scope.is_foreign(ident);
        if chain_base_foreign {
            out.push(ident.to_owned());
        }
    }
    // `helpers.` with the cursor right after the dot: the base is what matters.
    let mut seen = HashSet::new();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// Whether the line holding byte `at` is a Python import (its names are not uses).
fn on_import_line(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].trim_start();
    line.starts_with("import ") || line.starts_with("from ")
}

/// Whether an identifier ending at byte `end` is followed by `=` but not `==` (a keyword
/// argument or an assignment target, not a use).
fn is_keyword_argument(text: &str, end: usize) -> bool {
    let rest = text[end..].trim_start_matches([' ', '\t']);
    rest.starts_with('=') && !rest.starts_with("==")
}

/// What the file defines and imports.
struct Scope {
    dialect: Dialect,
    defined: HashSet<String>,
    imported: HashSet<String>,
    /// For other languages: identifiers occurring outside the cursor's context.
    elsewhere: HashSet<String>,
}

impl Scope {
    fn of(dialect: Dialect, analysed: &str, masked: &str, cursor: usize) -> Self {
        let mut scope = Scope { dialect, defined: HashSet::new(), imported: HashSet::new(), elsewhere: HashSet::new() };
        match dialect {
            Dialect::Python => scope.python(analysed),
            Dialect::Other => scope.other(analysed, masked, cursor),
        }
        scope
    }

    fn is_foreign(&self, name: &str) -> bool {
        if self.imported.contains(name) {
            return true;
        }
        if self.defined.contains(name) || name.chars().count() < 2 || name.starts_with(|c: char| c.is_numeric()) {
            return false;
        }
        match self.dialect {
            Dialect::Python => !Language::Python.knows(name),
            Dialect::Other => {
                name.chars().count() >= 3
                    && !keywords::is_stopword(&name.to_lowercase())
                    && !self.elsewhere.contains(name)
            }
        }
    }

    fn python(&mut self, text: &str) {
        let mut in_import_parens = false;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if in_import_parens {
                self.import_names(trimmed.trim_end_matches(')'));
                in_import_parens = !line.contains(')');
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix("from ") {
                if let Some((_, names)) = rest.split_once(" import ") {
                    in_import_parens = names.contains('(') && !names.contains(')');
                    self.import_names(names);
                }
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix("import ") {
                for part in rest.split(',') {
                    let part = part.trim();
                    let name = match part.split_once(" as ") {
                        Some((_, alias)) => alias.trim(),
                        None => part.split('.').next().unwrap_or_default().trim(),
                    };
                    self.imported.insert(name.to_owned());
                }
                continue;
            }
            self.python_definitions(trimmed);
        }
    }

    fn import_names(&mut self, names: &str) {
        for part in names.split(',') {
            let part = part.trim().trim_matches(|c| c == '(' || c == ')').trim();
            let name = part.split_once(" as ").map_or(part, |(_, alias)| alias.trim());
            if !name.is_empty() && name != "*" && name.chars().all(is_ident_char) {
                self.imported.insert(name.to_owned());
            }
        }
    }

    fn python_definitions(&mut self, line: &str) {
        let words: Vec<(usize, &str)> = identifiers(line).collect();
        let first = words.first().map(|w| w.1);
        if matches!(first, Some("def" | "class" | "async" | "lambda")) {
            // The name and every parameter (annotations too: imported ones stay foreign).
            self.defined.extend(words.iter().map(|w| w.1.to_owned()));
            return;
        }
        if let Some(eq) = assignment_position(line) {
            let targets = &line[..eq];
            let targets = targets.split(':').next().unwrap_or(targets);
            for (start, name) in identifiers(targets) {
                if start == 0 || !matches!(targets.as_bytes()[start - 1], b'.' | b'[') {
                    self.defined.insert(name.to_owned());
                }
            }
        }
        // `for a, b in`, comprehensions, `with … as x`, `except E as x`, `global x`, walrus.
        for (i, &(_, word)) in words.iter().enumerate() {
            match word {
                "for" => {
                    for &(_, target) in words[i + 1..].iter().take_while(|w| w.1 != "in") {
                        self.defined.insert(target.to_owned());
                    }
                }
                "as" | "global" | "nonlocal" => {
                    if let Some(&(_, name)) = words.get(i + 1) {
                        self.defined.insert(name.to_owned());
                    }
                }
                _ => {}
            }
        }
        for (pos, _) in line.match_indices(":=") {
            if let Some((_, name)) = identifiers(&line[..pos]).last() {
                self.defined.insert(name.to_owned());
            }
        }
    }

    fn other(&mut self, text: &str, masked: &str, cursor: usize) {
        const IMPORT_PREFIXES: &[&str] = &["use ", "import ", "#include", "from ", "require", "using "];
        for line in text.lines() {
            let trimmed = line.trim_start().trim_start_matches("pub ");
            if IMPORT_PREFIXES.iter().any(|p| trimmed.starts_with(p)) || trimmed.contains("require(") {
                for (_, name) in identifiers(trimmed).skip(1) {
                    if !keywords::is_stopword(&name.to_lowercase()) {
                        self.imported.insert(name.to_owned());
                    }
                }
            }
        }
        self.defined.extend(scan_symbols(text));
        let region = context_region(masked, cursor);
        for (start, name) in identifiers(masked) {
            if !region.contains(&start) {
                self.elsewhere.insert(name.to_owned());
            }
        }
    }
}

/// Byte position of a Python assignment's `=` (not `==`, `<=`, `>=`, `!=`, `:=`, `=>`), outside
/// brackets; `None` if the line is not an assignment.
fn assignment_position(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut depth = 0i32;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'=' if depth == 0 => {
                let prev = if i > 0 { bytes[i - 1] } else { b' ' };
                let next = bytes.get(i + 1).copied().unwrap_or(b' ');
                if next != b'=' && !matches!(prev, b'=' | b'<' | b'>' | b'!' | b':') {
                    return Some(i);
                }
                if next == b'=' {
                    return None;
                }
            }
            _ => {}
        }
    }
    None
}

/// `text` with the contents of strings and comments replaced by spaces (byte offsets and
/// newlines kept). Python strings may be triple-quoted; other files get `//` and `#` comments
/// and single-line strings.
fn mask_strings_and_comments(text: &str, python: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, range: Range<usize>| {
        for b in &mut out[range] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    while i < bytes.len() {
        let b = bytes[i];
        let comment = b == b'#' || (!python && b == b'/' && bytes.get(i + 1) == Some(&b'/'));
        if comment {
            let end = bytes[i..].iter().position(|&c| c == b'\n').map_or(bytes.len(), |p| i + p);
            blank(&mut out, i..end);
            i = end;
        } else if b == b'"' || b == b'\'' {
            let triple = python && bytes[i..].starts_with(&[b, b, b]);
            let open = if triple { 3 } else { 1 };
            let mut j = i + open;
            while j < bytes.len() {
                if bytes[j] == b'\\' {
                    j += 2;
                    continue;
                }
                if !triple && bytes[j] == b'\n' {
                    break;
                }
                if bytes[j..].starts_with(&bytes[i..i + open]) {
                    j += open;
                    break;
                }
                j += 1;
            }
            let end = j.min(bytes.len());
            blank(&mut out, (i + 1).min(end)..end);
            i = end;
        } else {
            i += 1;
        }
    }
    // Only ASCII bytes were replaced, each whole character at a time, so this is valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_cut_inside_a_construct_is_read_from_its_first_top_level_line() {
        let table = "    0x3c00, 0x3c01,\n    0x3c02,\n};\n\n";
        let function = "static int f(int x) {\n    return helper(x);\n}\n";
        let text = format!("{table}{function}{}int g(void) {{\n    return f(1", "\n".repeat(12));
        assert_eq!(top_level_start(&text, 0, text.len()), table.len());
        // No such line before the cursor's context: from the start.
        let short = format!("{table}int g(void) {{\n    return f(1");
        assert_eq!(top_level_start(&short, 0, short.len()), 0);
        let comment = format!("  tail of a comment */\n// note\n{}x = 1", "\n".repeat(12));
        assert_eq!(top_level_start(&comment, 0, comment.len()), "  tail of a comment */\n".len());
    }

    #[test]
    fn a_row_of_numbers_has_no_names_to_look_up() {
        let rows = "    0x3c00, 0x3c01,\n    0x3c02, 0x3c0";
        assert!(!names_near(rows, rows.len()));
        assert!(foreign_names(Some(Language::C), rows, rows.len(), &(0..rows.len())).is_empty());
        assert!(!names_near("    retu", 8), "the word being typed does not count");
        assert!(names_near("    x = 0x3c00, 0x3c0", 21));
        assert!(names_near("    $(0x3c00)", 13), "`$` is a name in JavaScript");
    }

    fn foreign(text_with_cursor: &str) -> Vec<String> {
        let cursor = text_with_cursor.find('┃').expect("cursor marker");
        let text = text_with_cursor.replace('┃', "");
        foreign_names(Some(Language::Python), &text, cursor, &(0..text.len()))
    }

    #[test]
    fn local_code_has_no_foreign_names() {
        assert!(foreign("def area(w, h):\n    total = w * h\n    return total┃\n").is_empty());
        assert!(foreign("items = [1, 2]\nfor i, x in enumerate(items):\n    print(len(┃").is_empty());
    }

    #[test]
    fn imported_names_are_foreign_even_though_the_file_names_them() {
        let names =
            foreign("from .utils import parse_config, Session\n\ncfg = parse_config(\"app.toml\")\ns = Session(┃");
        assert_eq!(names, ["parse_config", "Session"]);
    }

    #[test]
    fn attribute_access_on_an_imported_module_is_foreign() {
        assert_eq!(foreign("import helpers\n\nx = helpers.┃"), ["helpers"]);
        assert_eq!(foreign("import utils as u\nvalue = u.load_config(┃"), ["u.load_config"]);
    }

    #[test]
    fn unknown_names_are_foreign_but_builtins_and_locals_are_not() {
        let names = foreign("def f(data):\n    rows = normalize_rows(data)\n    return sorted(rows, key=len)┃");
        assert_eq!(names, ["normalize_rows"]);
    }

    #[test]
    fn words_in_strings_and_comments_do_not_count() {
        assert!(foreign(
            "x = 1\n# call remote_helper here\ny = \"remote_helper\"\n\"\"\"\nother_thing\n\"\"\"\nz = x┃"
        )
        .is_empty());
    }

    #[test]
    fn the_word_being_typed_is_ignored() {
        assert!(foreign("x = 1\ny = unknown_wo┃").is_empty());
    }

    #[test]
    fn a_huge_text_with_an_odd_window_never_panics() {
        let text = "x = 1\n".repeat(MAX_ANALYSED_BYTES / 6 + 10) + "y = helper(x)\n";
        for window in [text.len()..0, text.len() + 9..text.len() + 99] {
            for language in [Some(Language::Python), Some(Language::Rust), None] {
                let _ = foreign_names(language, &text, text.len() - 3, &window);
            }
        }
    }

    #[test]
    fn other_languages_use_imports_and_names_used_only_near_the_cursor() {
        let text = "use crate::config::load_settings;\n\nfn main() {\n    let s = load_settings();\n    ";
        let names = foreign_names(None, text, text.len(), &(0..text.len()));
        assert_eq!(names, ["load_settings"]);
        let local = "fn helper() {}\nfn main() {\n    helper();\n    ";
        assert!(foreign_names(None, local, local.len(), &(0..local.len())).is_empty());
    }
}
