//! What a file defines and imports, read from its syntax tree subtree by subtree and remembered
//! by each subtree's text, so that a keystroke re-reads only the subtrees its edit changed.
//!
//! A subtree's names and import statements depend only on its text and kind, so large subtrees
//! (a function, an `impl` block, a class) are remembered under a hash of both. Reading a new
//! tree takes each remembered subtree as it was and walks only the ones whose text is new: while
//! a person types in one function, the rest of the file costs one hash per large sibling on the
//! way down to the edit. What the last read used is kept; everything else is forgotten.
//!
//! Small subtrees are cheap one at a time but not in the hundreds: a long table, a `match` of
//! many arms or an enum of many variants is a node with hundreds of small children, and walking
//! them all again on every keystroke cost 0.6 ms for a 13 KB table. Consecutive small children
//! are therefore remembered together, as a run, under a key of their kinds, places and texts.
//! Where a run ends is decided by its children's own texts (after one whose key ends in two
//! zero bits, once the run is long enough), not by counting, so an edit that adds or removes a
//! child changes its own run and perhaps the next, never every run after it.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;

use tree_sitter::Node;

/// Subtrees at least this long (bytes) are remembered; smaller ones are walked every time.
const REMEMBERED_BYTES: usize = 256;

/// Remembered subtrees are at most this deep in the tree (bounds the recursion).
const REMEMBERED_DEPTH: usize = 24;

/// A run of small children ends, once it spans [`REMEMBERED_BYTES`], after a child whose key
/// is a multiple of this: about one child in four, chosen by the children's texts.
const RUN_SPLIT: u64 = 4;

/// A run of small children ends once it spans this many bytes, whatever its children.
const RUN_MAX_BYTES: usize = 4096;

/// What one subtree adds to the file's scope; ranges relative to the subtree's start.
#[derive(Debug, Default)]
pub(super) struct Part {
    /// Names its declarations, parameters and patterns bind.
    pub defined: Vec<String>,
    /// Names its import statements bring in.
    pub imported: Vec<String>,
    /// Its import statements' byte ranges.
    pub imports: Vec<Range<usize>>,
    /// Remembered subtrees below it: key, offset from this subtree's start, part.
    children: Vec<(u64, usize, Arc<Part>)>,
}

impl Part {
    /// Calls `visit` with every part of this subtree (itself first) and its offset from `base`.
    pub fn each<'p>(&'p self, base: usize, visit: &mut dyn FnMut(&'p Part, usize)) {
        visit(self, base);
        for (_, offset, child) in &self.children {
            child.each(base + offset, visit);
        }
    }
}

/// How one node adds to a part: the caller's reading of import statements, bindings and error
/// nodes. Returns whether the walk goes on into the node's children.
pub(super) trait ReadNode {
    /// Adds what `node` itself (not its children) contributes to `part`, whose ranges are
    /// relative to byte `base`.
    fn read_node(&self, node: Node, part: &mut Part, base: usize) -> bool;
}

/// Parts remembered from the last read, by subtree.
#[derive(Debug, Default, Clone)]
pub(super) struct ScopeMemo {
    parts: HashMap<u64, Arc<Part>>,
    used: HashMap<u64, Arc<Part>>,
    /// How many parts the last read had to compute (the others were remembered).
    fresh: usize,
}

impl ScopeMemo {
    /// What the nodes under `root` (the text `src`) that begin at byte `from` or later define
    /// and import (all of `root` when `from` is its start), reusing the parts of unchanged
    /// subtrees: a node that holds `from` is not read itself, only walked into. Ranges relative
    /// to `root`'s start.
    pub fn read_from(&mut self, reader: &dyn ReadNode, root: Node, src: &[u8], from: usize) -> Arc<Part> {
        self.fresh = 0;
        let part = if from <= root.start_byte() {
            self.remembered(reader, root, src, 0).1
        } else {
            let mut part = Part::default();
            self.after(reader, root, src, from, &mut part);
            Arc::new(part)
        };
        self.parts = std::mem::take(&mut self.used);
        part
    }

    /// Remembers the parts below `part` (an item read on its own, when its document was
    /// opened) for the next read: a tree started from that item's tree reads only the
    /// subtrees its edits changed.
    pub fn seed(&mut self, part: &Part) {
        for (key, _, child) in &part.children {
            self.parts.insert(*key, Arc::clone(child));
            self.seed(child);
        }
    }

    /// How many parts are remembered, and how many of them the last read computed.
    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        (self.parts.len(), self.fresh)
    }

    /// `node`'s key and part: remembered, or read (its large children in turn).
    fn remembered(&mut self, reader: &dyn ReadNode, node: Node, src: &[u8], depth: usize) -> (u64, Arc<Part>) {
        let key = key_of(node, src);
        let part = self.remembered_or(key, |memo| {
            let start = node.start_byte();
            let mut part = Part::default();
            if reader.read_node(node, &mut part, start) {
                let mut cursor = node.walk();
                if cursor.goto_first_child() {
                    let mut run = SmallRun::at(start);
                    loop {
                        memo.add_child(reader, cursor.node(), src, &mut part, depth, &mut run);
                        if !cursor.goto_next_sibling() {
                            break;
                        }
                    }
                    memo.end_run(reader, &mut run, &mut part);
                }
            }
            part
        });
        (key, part)
    }

    /// The part remembered under `key`, kept for the next read; else the one `read` makes,
    /// remembered.
    fn remembered_or(&mut self, key: u64, read: impl FnOnce(&mut Self) -> Part) -> Arc<Part> {
        if let Some(part) = self.parts.get(&key).cloned() {
            self.keep(key, &part);
            return part;
        }
        let part = Arc::new(read(self));
        self.fresh += 1;
        self.used.insert(key, Arc::clone(&part));
        part
    }

    /// Adds what `child` (of a node at `depth`) defines and imports to `part` (ranges relative
    /// to the run's base): a large child as a part of its own, remembered; a small one to
    /// `run`, the small children just before it, which is added to `part` when it ends.
    fn add_child<'t>(
        &mut self,
        reader: &dyn ReadNode,
        child: Node<'t>,
        src: &[u8],
        part: &mut Part,
        depth: usize,
        run: &mut SmallRun<'t>,
    ) {
        if child.byte_range().len() >= REMEMBERED_BYTES && depth < REMEMBERED_DEPTH {
            self.end_run(reader, run, part);
            let (child_key, child_part) = self.remembered(reader, child, src, depth + 1);
            part.children.push((child_key, child.start_byte() - run.base, child_part));
        } else if run.push(child, src) {
            self.end_run(reader, run, part);
        }
    }

    /// Adds the children of `run` to `part` (ranges relative to the run's base) and empties
    /// it: as a part of their own, remembered, when they span [`REMEMBERED_BYTES`]; else walked.
    fn end_run(&mut self, reader: &dyn ReadNode, run: &mut SmallRun<'_>, part: &mut Part) {
        let base = run.base;
        let run = std::mem::replace(run, SmallRun::at(base));
        let Some(start) = run.children.first().map(Node::start_byte) else { return };
        if run.span() < REMEMBERED_BYTES {
            for &child in &run.children {
                walk(reader, child, part, base);
            }
            return;
        }
        let key = run.key();
        let run_part = self.remembered_or(key, |_| {
            let mut read = Part::default();
            for &child in &run.children {
                walk(reader, child, &mut read, start);
            }
            read
        });
        part.children.push((key, start - base, run_part));
    }

    /// Adds to `part` what the nodes under `root` that begin at `from` or later define and
    /// import (ranges relative to `root`'s start). At each level one child at most holds `from`:
    /// the walk goes down into it, and leaves out the children that end before it.
    fn after(&mut self, reader: &dyn ReadNode, root: Node, src: &[u8], from: usize, part: &mut Part) {
        let base = root.start_byte();
        let mut node = root;
        let mut depth = 0;
        loop {
            let mut holding = None;
            let mut cursor = node.walk();
            if cursor.goto_first_child() {
                let mut run = SmallRun::at(base);
                loop {
                    let child = cursor.node();
                    if child.start_byte() >= from {
                        self.add_child(reader, child, src, part, depth, &mut run);
                    } else if child.end_byte() > from {
                        holding = Some(child);
                    }
                    if !cursor.goto_next_sibling() {
                        break;
                    }
                }
                self.end_run(reader, &mut run, part);
            }
            let Some(child) = holding else { return };
            node = child;
            depth += 1;
        }
    }

    /// Keeps `part` and every remembered part below it for the next read.
    fn keep(&mut self, key: u64, part: &Arc<Part>) {
        self.used.insert(key, Arc::clone(part));
        for (child_key, _, child) in &part.children {
            self.keep(*child_key, child);
        }
    }
}

/// Consecutive small children of one node, gathered to be read as one part, with what their
/// key is made of.
struct SmallRun<'t> {
    /// The byte that the part the run is added to counts its ranges from.
    base: usize,
    children: Vec<Node<'t>>,
    /// Each child's kind, start relative to the run's and text, hashed.
    hasher: DefaultHasher,
}

impl<'t> SmallRun<'t> {
    /// An empty run, to be added to a part whose ranges count from byte `base`.
    fn at(base: usize) -> Self {
        SmallRun { base, children: Vec::new(), hasher: DefaultHasher::new() }
    }

    /// Adds `child` (of the text `src`); whether the run ends after it.
    fn push(&mut self, child: Node<'t>, src: &[u8]) -> bool {
        let start = self.children.first().map_or(child.start_byte(), |first| first.start_byte());
        let child_key = key_of(child, src);
        (child.start_byte() - start, child_key).hash(&mut self.hasher);
        self.children.push(child);
        let span = self.span();
        (span >= REMEMBERED_BYTES && child_key.is_multiple_of(RUN_SPLIT)) || span >= RUN_MAX_BYTES
    }

    /// Bytes from the first child's start to the last one's end.
    fn span(&self) -> usize {
        match (self.children.first(), self.children.last()) {
            (Some(first), Some(last)) => last.end_byte() - first.start_byte(),
            _ => 0,
        }
    }

    /// The key under which what the run defines is remembered: apart from every subtree's, as
    /// a run is no node.
    fn key(&self) -> u64 {
        let mut hasher = self.hasher.clone();
        "a run of small children".hash(&mut hasher);
        hasher.finish()
    }
}

/// A subtree's identity: its kind and text.
fn key_of(node: Node, src: &[u8]) -> u64 {
    text_key(node.kind_id(), src.get(node.byte_range()).unwrap_or_default())
}

/// The key under which what `text` defines is remembered, told apart by `tag` (a node's kind,
/// an item's language).
pub(super) fn text_key(tag: impl Hash, text: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    tag.hash(&mut hasher);
    text.hash(&mut hasher);
    hasher.finish()
}

/// Reads every node of `root`'s subtree into `part` (ranges relative to `base`), one cursor,
/// no recursion: a deeply nested text must not overflow the stack.
fn walk(reader: &dyn ReadNode, root: Node, part: &mut Part, base: usize) {
    let mut cursor = root.walk();
    loop {
        let node = cursor.node();
        if reader.read_node(node, part, base) && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node() == root {
                return;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}
