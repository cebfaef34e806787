//! The text around the cursor's construct, read item by item and remembered by each item's text.
//!
//! A prompt window holds, besides the top-level construct being edited, whole top-level items
//! above and below it: functions, classes, `impl` blocks, runs of imports. What an item defines
//! and imports depends only on its text, and an item that ends at a closing bracket in column 0
//! parses the same on its own as after the items before it (each starts at the top level). So
//! the gate parses only the cursor's construct on every request and takes what the items around
//! it define from a memo keyed by their text: filled for the whole document when it is opened,
//! so that even a request at a new spot parses only its own construct and any item its window
//! cut, and a keystroke never parses the items around its construct again.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use tree_sitter::{Parser, Tree};

use super::reparse::edited_for;
use super::scope_memo::{text_key, Part, ScopeMemo};
use super::text_diff::unchanged_bytes;
use crate::language::Language;

/// Whether the line starting at byte `line` of `bytes` closes a top-level construct: it begins
/// at column 0 with a closing bracket (`}`, `)`, `]`).
pub(super) fn closes_at_top_level(bytes: &[u8], line: usize) -> bool {
    matches!(bytes.get(line), Some(b'}' | b')' | b']'))
}

/// Where the top-level construct that holds byte `from` (the end of the cursor's line) ends:
/// after the first later line that begins at column 0 with a closing bracket (the `}` of a
/// function or a class, the `)]` of an attribute), or before the first later line that begins
/// at column 0 with anything else (the next item), else at the text's end. What follows is then
/// a sequence of whole top-level items, which parses cleanly on its own.
pub(super) fn end_of_construct(text: &str, from: usize) -> usize {
    item_end(text, from, "", text.len())
}

/// Where the item at indentation `indent` (empty: the top level) that holds the line ending at
/// byte `from` ends, at `limit` at the latest: after the first later line at that indentation
/// that begins with a closing bracket, or before the first later line at it (or less indented)
/// that begins with anything else.
pub(super) fn item_end(text: &str, from: usize, indent: &str, limit: usize) -> usize {
    if text.get(from..).is_none() {
        return limit;
    }
    let (_, mut end) = line_at(text, from);
    while end < limit {
        let (content, next) = line_at(text, end);
        match level(content, indent) {
            Level::Closes => return next.min(limit),
            Level::At | Level::Outside => break,
            Level::Blank | Level::Deeper => end = next,
        }
    }
    end.min(limit)
}

/// How a line lies against an indentation: a construct's body's, or the top level's (none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    /// Only whitespace.
    Blank,
    /// Less indented than the body: the construct's own lines (its header, its closing
    /// bracket), or a column-0 line inside it (a C `#ifdef`).
    Outside,
    /// At the body's indentation, beginning with a closing bracket: the end of an item.
    Closes,
    /// At the body's indentation, beginning with anything else: an item, or a line of one.
    At,
    /// More indented: inside an item.
    Deeper,
}

/// The line of `text` from byte `start` (a line start), without its line break, and where the
/// next line starts.
pub(super) fn line_at(text: &str, start: usize) -> (&str, usize) {
    match text[start..].find('\n') {
        Some(newline) => (&text[start..start + newline], start + newline + 1),
        None => (&text[start..], text.len()),
    }
}

/// The start of the line before the one starting at `line` (a line start after the first).
pub(super) fn line_before(text: &str, line: usize) -> usize {
    text[..line - 1].rfind('\n').map_or(0, |newline| newline + 1)
}

/// How `line` lies against the indentation `indent` (empty: the top level).
pub(super) fn level(line: &str, indent: &str) -> Level {
    let code = line.trim_start_matches([' ', '\t', '\r']);
    if code.trim_end().is_empty() {
        return Level::Blank;
    }
    let own = &line[..line.len() - code.len()];
    if own.len() < indent.len() && indent.starts_with(own) {
        return Level::Outside;
    }
    if own != indent {
        return Level::Deeper;
    }
    match code.as_bytes()[0] {
        b'}' | b')' | b']' => Level::Closes,
        _ => Level::At,
    }
}

/// Where the top-level construct that holds byte `from` (the start of the cursor's context)
/// starts: after the last line above `from`'s line that begins at column 0 with a closing
/// bracket (the end of the item before), else at `floor`. What lies between `floor` and that
/// point is then a run of whole items, each ending at such a line.
pub(super) fn start_of_construct(text: &str, from: usize, floor: usize) -> usize {
    let line = text.get(..from).and_then(|before| before.rfind('\n')).map_or(0, |newline| newline + 1);
    let mut end = line;
    while end > floor {
        // `end` is the start of a line; the line above it is `text[above..end]`.
        let above = line_before(text, end);
        if above < floor {
            break;
        }
        if closes_at_top_level(text.as_bytes(), above) {
            return end;
        }
        end = above;
    }
    floor
}

/// Where each line of `text` from byte `from` (a line start) that begins at column 0 with a
/// closing bracket ends (after its line break): where the items of `text` end.
pub(super) fn closing_line_ends(text: &str, from: usize) -> impl Iterator<Item = usize> + '_ {
    let mut line = from;
    std::iter::from_fn(move || {
        while line < text.len() {
            let start = line;
            line = text[start..].find('\n').map_or(text.len(), |newline| start + newline + 1);
            if closes_at_top_level(text.as_bytes(), start) {
                return Some(line);
            }
        }
        None
    })
}

/// The items of `text`: each ends after a line that begins at column 0 with a closing bracket
/// (`}`, `)`, `]`), the last at the text's end.
pub(super) fn items(text: &str) -> Vec<Range<usize>> {
    let mut start = 0;
    let mut out: Vec<Range<usize>> = closing_line_ends(text, 0)
        .map(|end| {
            let item = start..end;
            start = end;
            item
        })
        .collect();
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

/// How many items' scopes a document keeps before the ones not used lately are forgotten.
const KEPT: usize = 4096;

/// Items used within this many requests survive a clean-up.
const RECENT_REQUESTS: u64 = 64;

/// What each item seen lately defines and imports, by its language and text, and a parser for
/// the items that are new.
#[derive(Default)]
pub(super) struct ItemMemo {
    parser: Option<(Language, Parser)>,
    parts: HashMap<u64, Remembered>,
    /// Requests so far: each entry remembers the last one that used it.
    clock: u64,
    /// How many items were parsed (the others were remembered).
    #[cfg(test)]
    pub(super) parsed: usize,
    /// How many of those were parsed from a kept tree ([`ItemMemo::parse_from_kept`]).
    #[cfg(test)]
    pub(super) parsed_from_kept: usize,
}

#[derive(Clone)]
struct Remembered {
    part: Arc<Part>,
    used: u64,
    /// The item's tree, for an item of at least [`TREE_BYTES`] read when the document was
    /// opened: a request whose cursor's construct is that item, or begins like it (edited
    /// since, or cut by the prompt window's end), starts its parse from it.
    tree: Option<KeptTree>,
}

impl Remembered {
    /// The item's kept tree, when it has one in `language`.
    fn kept(&self, language: Language) -> Option<&KeptTree> {
        self.tree.as_ref().filter(|kept| kept.language == language)
    }
}

/// A large item's text and tree, in its language.
#[derive(Clone)]
struct KeptTree {
    language: Language,
    text: String,
    tree: Tree,
}

/// A kept item's tree, found for a request's construct ([`ItemMemo::tree_for`]).
pub(super) struct OpenedTree<'a> {
    /// The item's text when the document was opened.
    pub text: &'a str,
    /// Its tree.
    pub tree: &'a Tree,
    /// What it defines and imports, subtree by subtree.
    pub part: &'a Part,
    /// How many bytes of the construct the edits from the item's text leave unchanged.
    pub unchanged: usize,
}

/// A text's first item from this length on is looked for at the end of the kept items
/// ([`ItemMemo::end_of_kept`]).
const PIECE_BYTES: usize = 512;

/// Items read when the document is opened keep their tree from this length on (a shorter one
/// parses in well under a millisecond).
const TREE_BYTES: usize = 2048;

/// How far into a kept item its construct's first line may lie (after blank lines, comments
/// and attributes) for a request's construct that begins with that line to start from its
/// tree.
const HEADER_REACH: usize = 1024;

/// How the gate reads the tree of one item into a part (its scope reader), from a byte on (0:
/// all of it).
pub(super) type ReadItem<'r> = &'r dyn Fn(&Tree, &str, usize, &mut ScopeMemo) -> Arc<Part>;

impl ItemMemo {
    /// What each item of `text` (a run of whole items in `language`) defines and imports:
    /// remembered by its text, else parsed and read with `read`. Items that would not parse
    /// are left out.
    pub fn read(&mut self, language: Language, text: &str, read: ReadItem<'_>) -> Vec<Arc<Part>> {
        self.read_items(language, text, read, false)
    }

    fn read_items(&mut self, language: Language, text: &str, read: ReadItem<'_>, keep_trees: bool) -> Vec<Arc<Part>> {
        self.clock += 1;
        let mut parts = Vec::new();
        for range in items(text) {
            let first = range.start == 0;
            let item = &text[range];
            let key = key_of(language, item);
            if let Some(remembered) = self.parts.get_mut(&key) {
                remembered.used = self.clock;
                parts.push(Arc::clone(&remembered.part));
            } else if let Some(part) = (first && !keep_trees).then(|| self.end_of_kept(language, item, read)).flatten()
            {
                self.parts.insert(key, Remembered { part: Arc::clone(&part), used: self.clock, tree: None });
                parts.push(part);
            } else if let Some((part, tree)) = (!keep_trees)
                .then(|| self.parse_from_kept(language, item, read))
                .flatten()
                .or_else(|| self.parse(language, item, read))
            {
                let tree = Some(tree).filter(|_| keep_trees && item.len() >= TREE_BYTES).map(|tree| KeptTree {
                    language,
                    text: item.to_owned(),
                    tree,
                });
                self.parts.insert(key, Remembered { part: Arc::clone(&part), used: self.clock, tree });
                parts.push(part);
            }
        }
        self.forget_old();
        parts
    }

    /// What `piece`, the first item of a text that may begin inside an item read when the
    /// document was opened, defines and imports, read from the tree of a kept item that ends
    /// with it: the nodes that begin where `piece` does or later. The cursor's construct ends
    /// before a column-0 line that begins no item (C++'s `public:`, a TypeScript class's
    /// `> extends Base<`), and a prompt window may begin inside an item: what follows is the
    /// end of an item the file's opening saw whole, not a text to parse through error recovery.
    /// `None` when `piece` is short (it parses in well under a millisecond) or no kept item ends
    /// with it.
    fn end_of_kept(&self, language: Language, piece: &str, read: ReadItem<'_>) -> Option<Arc<Part>> {
        if piece.len() < PIECE_BYTES {
            return None;
        }
        let (kept, part) =
            self.kept_trees(language).find(|(kept, _)| kept.text.len() > piece.len() && kept.text.ends_with(piece))?;
        let mut memo = ScopeMemo::default();
        memo.seed(part);
        Some(read(&kept.tree, &kept.text, kept.text.len() - piece.len(), &mut memo))
    }

    /// The kept trees in `language`, each with what its item defines.
    fn kept_trees(&self, language: Language) -> impl Iterator<Item = (&KeptTree, &Arc<Part>)> {
        self.parts.values().filter_map(move |remembered| remembered.kept(language).map(|tree| (tree, &remembered.part)))
    }

    /// Reads every item of `text` (a whole document just opened) into the memo.
    /// Large items keep their trees ([`ItemMemo::tree_of`]).
    pub fn read_ahead(&mut self, language: Language, text: &str, read: ReadItem<'_>) {
        let _ = self.read_items(language, text, read, true);
    }

    /// The tree of `item` when it was read with its tree when the document was opened.
    #[cfg(test)]
    pub fn tree_of(&self, language: Language, item: &str) -> Option<&Tree> {
        self.parts.get(&key_of(language, item))?.tree.as_ref().map(|kept| &kept.tree)
    }

    /// The kept tree (of an item read when the document was opened) to parse `source`, the
    /// cursor's construct, from, with that item's text and what it defines: `source`'s own,
    /// else that of an item that holds `source`'s header line ([`header_line`]) near its start
    /// (the same construct, edited since or cut by the prompt window's end) and leaves the most
    /// of `source` unchanged, at least half of it.
    pub fn tree_for(&self, language: Language, source: &str) -> Option<OpenedTree<'_>> {
        if let Some(exact) = self.parts.get(&key_of(language, source)) {
            if let Some(tree) = exact.kept(language) {
                return Some(OpenedTree {
                    text: &tree.text,
                    tree: &tree.tree,
                    part: &exact.part,
                    unchanged: source.len(),
                });
            }
        }
        let first_line = header_line(source)?;
        self.kept_trees(language)
            .filter(|(tree, _)| {
                let near_start = crate::query::floor_char_boundary(&tree.text, HEADER_REACH + first_line.len());
                tree.text[..near_start].contains(first_line)
            })
            .map(|(tree, part)| (unchanged_bytes(&tree.text, source), tree, part))
            .filter(|&(unchanged, _, _)| unchanged * 2 >= source.len())
            .max_by_key(|&(unchanged, _, _)| unchanged)
            .map(|(unchanged, tree, part)| OpenedTree { text: &tree.text, tree: &tree.tree, part, unchanged })
    }

    /// A memo that remembers what this one does (the trees are shared, not copied), with a
    /// parser of its own: for another reader of the same document ([`GateSyntax::seeded`]).
    pub fn copy(&self) -> ItemMemo {
        ItemMemo { parts: self.parts.clone(), clock: self.clock, ..ItemMemo::default() }
    }

    /// Takes in what `other` remembers (of the same document, opened again), as used now. Only
    /// the latest opening's items keep their trees, so a document opened again and again holds
    /// one file's worth of trees.
    pub fn absorb(&mut self, other: ItemMemo) {
        #[cfg(test)]
        {
            self.parsed += other.parsed;
            self.parsed_from_kept += other.parsed_from_kept;
        }
        self.parts.values_mut().for_each(|remembered| remembered.tree = None);
        let now = self.clock;
        self.parts
            .extend(other.parts.into_iter().map(|(key, remembered)| (key, Remembered { used: now, ..remembered })));
        self.forget_old();
    }

    /// What `item`, new to the memo, defines and imports, read from the kept tree of an item it
    /// is an edit of (the same header near its start and at least half of it unchanged, as
    /// [`ItemMemo::tree_for`] finds one for a construct): an item the person edited as the
    /// cursor's construct and then left, now seen whole around another one. Parsed
    /// incrementally from that tree and read with its subtrees' parts, it costs what the edits
    /// touch instead of a fresh parse (0.4–0.75 ms for the 2.6–5.3 KB `impl` blocks of
    /// `splice bench retrieval --lang rust`). The same tree and the same part as a fresh parse,
    /// by construction. `None` for a short item, or when no kept item is like it.
    fn parse_from_kept(&mut self, language: Language, item: &str, read: ReadItem<'_>) -> Option<(Arc<Part>, Tree)> {
        if item.len() < TREE_BYTES {
            return None;
        }
        let (old_tree, mut memo) = {
            let kept = self.tree_for(language, item)?;
            let old_tree = edited_for(kept.tree, kept.text, item)?;
            let mut memo = ScopeMemo::default();
            memo.seed(kept.part);
            (old_tree, memo)
        };
        let tree = parser_for(&mut self.parser, language)?.parse(item, Some(&old_tree))?;
        #[cfg(test)]
        {
            self.parsed += 1;
            self.parsed_from_kept += 1;
        }
        let part = read(&tree, item, 0, &mut memo);
        Some((part, tree))
    }

    fn parse(&mut self, language: Language, item: &str, read: ReadItem<'_>) -> Option<(Arc<Part>, Tree)> {
        let tree = parser_for(&mut self.parser, language)?.parse(item, None)?;
        #[cfg(test)]
        {
            self.parsed += 1;
        }
        let part = read(&tree, item, 0, &mut ScopeMemo::default());
        Some((part, tree))
    }

    /// Above [`KEPT`] items, forgets those no request used lately (an edited item leaves its
    /// old text behind).
    fn forget_old(&mut self) {
        if self.parts.len() <= KEPT {
            return;
        }
        let recent = self.clock.saturating_sub(RECENT_REQUESTS);
        self.parts.retain(|_, remembered| remembered.used >= recent);
        if self.parts.len() > KEPT {
            let now = self.clock;
            self.parts.retain(|_, remembered| remembered.used == now);
        }
    }

    /// How many items are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.parts.len()
    }
}

/// `slot`'s parser, made for `language` if it holds none or another language's.
fn parser_for(slot: &mut Option<(Language, Parser)>, language: Language) -> Option<&mut Parser> {
    if slot.as_ref().is_none_or(|(parsed, _)| *parsed != language) {
        *slot = Some((language, language.parser()?));
    }
    slot.as_mut().map(|(_, parser)| parser)
}

/// The line that names a construct, to find other versions of it by: the first of its first
/// lines that holds code, not only an attribute or a comment (`#[derive(Debug)]` and `/**`
/// begin many items; `impl Walker {` one).
fn header_line(source: &str) -> Option<&str> {
    let lines = source.lines().take(HEADER_LINES).filter(|line| line.trim().len() >= 2);
    let mut lines = lines.peekable();
    let first = *lines.peek()?;
    let is_code = |line: &&str| {
        let line = line.trim_start();
        !["#[", "#![", "//", "/*", "*", "@"].iter().any(|prefix| line.starts_with(prefix))
    };
    Some(lines.find(is_code).unwrap_or(first))
}

/// How many of a construct's first lines [`header_line`] looks at.
const HEADER_LINES: usize = 24;

/// An item's identity: its language and text.
fn key_of(language: Language, item: &str) -> u64 {
    text_key(language, item.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text_with_cursor: &str) -> (String, String) {
        let text = text_with_cursor.replace('┃', "");
        let cursor = text_with_cursor.find('┃').unwrap();
        let line_end = text[cursor..].find('\n').map_or(text.len(), |i| cursor + i);
        let at = end_of_construct(&text, line_end);
        (text[..at].to_owned(), text[at..].to_owned())
    }

    #[test]
    fn the_construct_ends_at_its_closing_bracket_or_before_the_next_item() {
        let (head, below) = split("fn a() {\n    let x┃ = 1;\n\n    x\n}\n\nfn b() {}\n");
        assert_eq!(head, "fn a() {\n    let x = 1;\n\n    x\n}\n");
        assert_eq!(below, "\nfn b() {}\n");
        // A multi-line attribute is closed by `)]` at column 0.
        let (head, below) = split("#![allow(\n    clippy::a,┃\n    clippy::b,\n)]\n\nuse std::fmt;\n");
        assert!(head.ends_with(")]\n"), "{head}");
        assert_eq!(below, "\nuse std::fmt;\n");
        // Code at the top level: the next item starts below.
        let (head, below) = split("const A: u32 = 1;┃\nconst B: u32 = 2;\n");
        assert_eq!((head.as_str(), below.as_str()), ("const A: u32 = 1;\n", "const B: u32 = 2;\n"));
        // Nothing closes it: everything is the cursor's construct.
        let (head, below) = split("class A {\n    m() {┃\n        return 1;\n    }\n");
        assert_eq!(below, "");
        assert!(head.ends_with("    }\n"));
        // The last line, without a newline.
        assert_eq!(split("fn a() {}┃").1, "");
    }

    #[test]
    fn items_end_at_closing_brackets_in_column_zero() {
        let text = "use a::b;\nuse c::d;\n\nfn f() {\n    if x {\n    }\n}\n\n#[test]\nfn g() {}\nconst X: u8 = 1;\n";
        let parts: Vec<&str> = items(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(
            parts,
            ["use a::b;\nuse c::d;\n\nfn f() {\n    if x {\n    }\n}\n", "\n#[test]\nfn g() {}\nconst X: u8 = 1;\n"]
        );
        assert!(items("").is_empty());
        assert_eq!(items("}").len(), 1);
    }

    #[test]
    fn the_construct_starts_after_the_item_above_it() {
        let text = "fn a() {\n}\n\n#[test]\nfn b() {\n    let x = 1;\n}\n";
        let cursor = text.find("let x").unwrap();
        assert_eq!(&text[start_of_construct(text, cursor, 0)..], "\n#[test]\nfn b() {\n    let x = 1;\n}\n");
        // A closing line where the cursor's context starts belongs to the construct it closes.
        let closing = text.find("}\n\n#").unwrap();
        assert_eq!(start_of_construct(text, closing, 0), 0);
        // Nothing closes above: from the floor.
        assert_eq!(start_of_construct(text, 5, 0), 0);
        assert_eq!(start_of_construct(text, cursor, 12), 12);
        assert_eq!(start_of_construct(text, text.len() + 1, 0), 0);
    }

    #[test]
    fn a_construct_is_found_by_its_header_not_its_attributes() {
        assert_eq!(header_line("\n#[derive(Debug)]\n/// Docs.\npub struct Walk {\n"), Some("pub struct Walk {"));
        assert_eq!(
            header_line("/**\n * A class.\n */\n@Injectable()\nexport class Cache {\n"),
            Some("export class Cache {")
        );
        assert_eq!(header_line("#include \"a.h\"\n"), Some("#include \"a.h\""));
        assert_eq!(header_line("// only a comment\n"), Some("// only a comment"));
        assert_eq!(header_line("\n\n"), None);
    }

    #[test]
    fn an_edited_or_cut_construct_finds_the_tree_it_had_when_opened() {
        let read: ReadItem<'_> = &|_, _, _, _| Arc::new(Part::default());
        let item = |name: &str| {
            let methods: String = (0..200).map(|i| format!("    fn f{i}() {{}}\n")).collect();
            format!("#[derive(Debug)]\nimpl {name} {{\n{methods}}}\n")
        };
        let mut memo = ItemMemo::default();
        memo.read_ahead(Language::Rust, &format!("{}{}", item("A"), item("B")), read);
        let b = item("B");
        // Edited, and cut by a window's end: B's tree, not A's (which begins with the same
        // attribute line).
        let edited = format!("{}    fn g() {{}}\n{}", &b[..100], &b[100..b.len() / 2]);
        assert_eq!(memo.tree_for(Language::Rust, &edited).unwrap().text, b);
        // Another language, or a construct that shares too little, finds none.
        assert!(memo.tree_for(Language::C, &edited).is_none());
        assert!(memo.tree_for(Language::Rust, &format!("impl B {{\n{}", "    fn h(x: u8) {}\n".repeat(100))).is_none());
    }

    #[test]
    fn items_no_request_used_lately_are_forgotten() {
        let mut memo = ItemMemo::default();
        let read: ReadItem<'_> = &|_, _, _, _| Arc::new(Part::default());
        let many: String = (0..KEPT + 100).map(|i| format!("fn f{i}() {{\n}}\n")).collect();
        memo.read_ahead(Language::Rust, &many, read);
        // All of them were just used: kept until requests stop using them.
        assert_eq!(memo.len(), KEPT + 100);
        for _ in 0..=RECENT_REQUESTS {
            memo.read(Language::Rust, "fn kept() {\n}\n", read);
        }
        assert_eq!(memo.len(), 1);
        // The same text in another language is another item.
        memo.read(Language::C, "fn kept() {\n}\n", read);
        assert_eq!(memo.len(), 2);
    }

    #[test]
    fn only_long_items_of_the_latest_opening_keep_their_trees() {
        let read: ReadItem<'_> = &|_, _, _, _| Arc::new(Part::default());
        let item = |name: &str| format!("fn {name}() {{\n{}}}\n", "    let x = 1;\n".repeat(200));
        let mut memo = ItemMemo::default();
        let mut opened = ItemMemo::default();
        opened.read_ahead(Language::Rust, &format!("{}fn short() {{\n}}\n", item("a")), read);
        memo.absorb(opened);
        assert!(memo.tree_of(Language::Rust, &item("a")).is_some());
        assert!(memo.tree_of(Language::Rust, "fn short() {\n}\n").is_none(), "parses in no time");
        // Opened again with other text: the trees of the first opening are let go.
        let mut opened = ItemMemo::default();
        opened.read_ahead(Language::Rust, &item("b"), read);
        memo.absorb(opened);
        assert!(memo.tree_of(Language::Rust, &item("a")).is_none());
        assert!(memo.tree_of(Language::Rust, &item("b")).is_some());
        // An item first seen by a request keeps none.
        memo.read(Language::Rust, &item("c"), read);
        assert!(memo.tree_of(Language::Rust, &item("c")).is_none());
        assert_eq!(memo.len(), 4);
    }
}
