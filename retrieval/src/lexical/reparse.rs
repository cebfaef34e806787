//! One document's syntax tree kept between keystrokes: each new text is parsed incrementally
//! from the last one (tree-sitter reuses every subtree the edit did not touch), so the gate's
//! cost per keystroke follows the edit, not the file.
//!
//! The edits are not taken from the editor: they are found by comparing the previous text with
//! the new one ([`super::text_diff`]), so any sequence of texts is handled, including a prompt
//! window that moved, a prefetch's speculative document between two real ones, or the cursor's
//! construct started from the tree it had when the document was opened.

use tree_sitter::{Parser, Tree};

use super::text_diff::{end_point, shared_ends, text_edits, text_edits_to_cut, unchanged_bytes};

use crate::language::Language;

/// A parser and the last text it parsed, with its tree.
#[derive(Default)]
pub struct Reparser {
    last: Option<Parsed>,
    /// How many texts were parsed from scratch (without an earlier tree).
    #[cfg(test)]
    pub fresh: usize,
    /// How many texts were parsed as the last one cut short.
    #[cfg(test)]
    pub cut_short: usize,
    /// How many texts were parsed.
    #[cfg(test)]
    pub parses: usize,
}

struct Parsed {
    language: Language,
    parser: Parser,
    source: String,
    tree: Tree,
}

impl Reparser {
    /// The tree of `source` in `language`: parsed incrementally from the previous text when it
    /// was in the same language, else from scratch. `None` if the grammar would not load or
    /// tree-sitter gave up (the previous tree is then forgotten).
    pub fn parse(&mut self, language: Language, source: &str) -> Option<&Tree> {
        let previous = self.last.take().filter(|last| last.language == language);
        let (mut parser, old_tree, cut_short, mut buffer) = match previous {
            Some(Parsed { parser, source: old, mut tree, .. }) => {
                // A text cut short (a construct that the prompt window ends inside, after a
                // tree of all of it) is parsed only up to its end: removing the old tail through
                // an edit would walk (and copy) every node of it, which costs about as much as
                // parsing a window afresh.
                let (mut edits, cut_short) = text_edits_to_cut(&old, source);
                if cut_short {
                    edits.pop();
                }
                if reuse_pays(&edits, source.len()) {
                    for edit in &edits {
                        tree.edit(edit);
                    }
                    (parser, Some(tree), cut_short, old)
                } else {
                    (parser, None, false, old)
                }
            }
            None => (language.parser()?, None, false, String::new()),
        };
        #[cfg(test)]
        {
            self.fresh += usize::from(old_tree.is_none());
            self.cut_short += usize::from(cut_short);
            self.parses += 1;
        }
        if cut_short {
            parser.set_included_ranges(&[whole_range(source)]).ok()?;
        }
        let tree = parser.parse(source, old_tree.as_ref());
        if cut_short {
            parser.set_included_ranges(&[]).ok()?;
        }
        let tree = tree?;
        buffer.clear();
        buffer.push_str(source);
        Some(&self.last.insert(Parsed { language, parser, source: buffer, tree }).tree)
    }

    /// The last tree parsed, when its text was `source` in `language`.
    pub fn last_tree(&self, language: Language, source: &str) -> Option<&Tree> {
        self.last.as_ref().filter(|last| last.language == language && last.source == source).map(|last| &last.tree)
    }

    /// Whether the last text parsed, in `language`, differs from `next` by edits that span at
    /// most `bytes` bytes in all (a key typed, the prompt window moved by a few lines): the next
    /// parse is then cheap from the last tree, and no other start is worth looking for.
    pub fn is_near(&self, language: Language, next: &str, bytes: usize) -> bool {
        self.last.as_ref().is_some_and(|last| {
            last.language == language && shared_ends(&last.source, next) + bytes >= last.source.len().max(next.len())
        })
    }

    /// Takes `tree` (of `source`, in `language`) as the last text parsed when the edits from
    /// `source` leave more of `next` (the text to parse next) unchanged, `unchanged` bytes, than
    /// the edits from the last text parsed do: the next parse then starts from the closer tree.
    /// Whether it did.
    pub fn start_from(&mut self, language: Language, source: &str, tree: &Tree, next: &str, unchanged: usize) -> bool {
        let last_is_closer = self.last.as_ref().is_some_and(|last| {
            last.language == language && (last.source == next || unchanged_bytes(&last.source, next) >= unchanged)
        });
        if last_is_closer {
            return false;
        }
        let parser = match self.last.take() {
            Some(last) if last.language == language => Some(last.parser),
            _ => language.parser(),
        };
        let Some(parser) = parser else { return false };
        self.last = Some(Parsed { language, parser, source: source.to_owned(), tree: tree.clone() });
        true
    }
}

/// `tree`, the tree of `old`, edited into the old tree for an incremental parse of `new`;
/// `None` when the edits would cost more than a fresh parse ([`reuse_pays`]).
pub(super) fn edited_for(tree: &Tree, old: &str, new: &str) -> Option<Tree> {
    let edits = text_edits(old, new);
    if !reuse_pays(&edits, new.len()) {
        return None;
    }
    let mut tree = tree.clone();
    for edit in &edits {
        tree.edit(edit);
    }
    Some(tree)
}

/// The range that covers all of `source`, as tree-sitter takes included ranges.
fn whole_range(source: &str) -> tree_sitter::Range {
    tree_sitter::Range {
        start_byte: 0,
        end_byte: source.len(),
        start_point: tree_sitter::Point::new(0, 0),
        end_point: end_point(source),
    }
}

/// Whether parsing incrementally through `edits` is expected to cost less than parsing the
/// `new_len` bytes of the new text from scratch. Inserted bytes are parsed anew; removed ones
/// cost tree-sitter a walk over their nodes, about a quarter of parsing them (measured on a
/// 123 KB C file: a window read from the whole file's tree took up to 2.4 times a fresh parse
/// of it, and two windows that did not overlap 1.4 times). Above three fifths of a fresh parse,
/// the old tree is dropped.
fn reuse_pays(edits: &[tree_sitter::InputEdit], new_len: usize) -> bool {
    let inserted: usize = edits.iter().map(|e| e.new_end_byte - e.start_byte).sum();
    let removed: usize = edits.iter().map(|e| e.old_end_byte - e.start_byte).sum();
    (inserted + removed / 4) * 5 <= new_len * 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sexp(language: Language, source: &str) -> String {
        language.parser().unwrap().parse(source, None).unwrap().root_node().to_sexp()
    }

    #[test]
    fn trees_after_several_edits_at_once_equal_fresh_parses() {
        let document: String = (0..120)
            .map(|i| {
                format!("/// Item {i}.\npub fn item_{i}(x: u32) -> u32 {{\n    let y = x + {i};\n    y * 2\n}}\n\n")
            })
            .collect();
        let at = |needle: &str| document.find(needle).unwrap();
        let window = |from: usize, to: usize| {
            document[at(&format!("/// Item {from}."))..at(&format!("/// Item {to}."))].to_owned()
        };
        let mut two_spots = window(20, 90);
        two_spots = two_spots.replace("x + 30;", "x + 30 +").replace("let y = x + 80;", "");
        // The whole file as opened, a window of it with a key typed, the window moved down,
        // then two spots far apart, then back to the whole file.
        let texts = [
            document.clone(),
            window(30, 70).replace("x + 50;", "x + 50 *"),
            window(45, 85),
            two_spots,
            document.clone(),
        ];
        let mut reparser = Reparser::default();
        for (step, text) in texts.iter().enumerate() {
            let tree = reparser.parse(Language::Rust, text).unwrap();
            assert_eq!(tree.root_node().to_sexp(), sexp(Language::Rust, text), "step {step}");
        }
    }

    #[test]
    fn a_text_cut_short_parses_as_it_would_from_scratch() {
        let class: String = (0..80)
            .map(|i| {
                format!("  method{i}(a, b) {{\n    const x = `t${{a}}` + b;\n    return this.run(x, {i});\n  }}\n\n")
            })
            .collect();
        let module: String = (0..80)
            .map(|i| format!("    #[test]\n    fn case_{i}() {{\n        let v = vec![{i}, 2];\n        assert_eq!(v.len(), 2);\n    }}\n\n"))
            .collect();
        let cases = [
            (Language::JavaScript, format!("class Command extends Base {{\n{class}}}\n")),
            (Language::TypeScript, format!("export class Command {{\n{class}}}\n")),
            (Language::Rust, format!("#[cfg(test)]\nmod tests {{\n    use super::*;\n\n{module}}}\n")),
            (Language::Cpp, format!("namespace g {{\nclass C {{\n{}}};\n}}\n", class.replace("const", "int"))),
        ];
        for (language, text) in cases {
            // The whole construct, then cuts of it at line ends, mid-line and mid-word, each
            // after an edit above the cut (as a first request after keys typed elsewhere). The
            // last cut removes three bytes, whose edit is placed before the common `}\n`.
            for cut in [text.len() / 3, text.len() / 2 + 7, text.len() * 3 / 4 + 1, text.len() - 3] {
                let mut reparser = Reparser::default();
                reparser.parse(language, &text).unwrap();
                let cut = crate::query::floor_char_boundary(&text, cut);
                let mut short = text[..cut].to_owned();
                let third_line = text.match_indices('\n').nth(2).unwrap().0 + 1;
                short.insert_str(third_line, "  x = 1;\n");
                let tree = reparser.parse(language, &short).unwrap();
                assert_eq!(tree.root_node().to_sexp(), sexp(language, &short), "{language:?} cut at {cut}");
                if cut < text.len() - 3 {
                    assert_eq!(
                        (reparser.fresh, reparser.cut_short),
                        (1, 1),
                        "{language:?} cut at {cut}: parsed as the whole text cut short"
                    );
                }
                // The next key typed (the tree cut short is the old one now) parses as well.
                short.push('a');
                let tree = reparser.parse(language, &short).unwrap();
                assert_eq!(tree.root_node().to_sexp(), sexp(language, &short), "{language:?} then a key");
                // And the whole text again.
                let tree = reparser.parse(language, &text).unwrap();
                assert_eq!(tree.root_node().to_sexp(), sexp(language, &text), "{language:?} whole again");
            }
        }
    }

    #[test]
    fn a_tree_is_kept_only_when_the_edits_cost_less_than_a_fresh_parse() {
        let edit = |start: usize, removed: usize, inserted: usize| tree_sitter::InputEdit {
            start_byte: start,
            old_end_byte: start + removed,
            new_end_byte: start + inserted,
            start_position: tree_sitter::Point::new(0, 0),
            old_end_position: tree_sitter::Point::new(0, 0),
            new_end_position: tree_sitter::Point::new(0, 0),
        };
        // A key typed; a window that moved by a third; a window cut out of a file five times
        // its size; two windows that share nothing.
        assert!(reuse_pays(&[edit(100, 0, 1)], 20_000));
        assert!(reuse_pays(&[edit(0, 6_000, 0), edit(14_000, 0, 6_000)], 20_000));
        assert!(!reuse_pays(&[edit(0, 40_000, 0), edit(20_000, 40_000, 0)], 20_000));
        assert!(!reuse_pays(&[edit(0, 20_000, 20_000)], 20_000));
    }

    #[test]
    fn every_incremental_tree_equals_a_fresh_parse() {
        let mut text = String::from("fn main() {\n    let x = 1;\n}\n\nstruct S { a: u32 }\n");
        let mut reparser = Reparser::default();
        let steps: &[(usize, usize, &str)] = &[
            (26, 26, "\n    let y = x + 2;"),
            (44, 45, "3"),
            (0, 0, "use crate::é::T;\n"),
            (20, 40, ""),
            (5, 5, "{{{ unbalanced"),
            (5, 19, ""),
        ];
        for &(from, to, insert) in steps {
            let (from, to) = (from.min(text.len()), to.min(text.len()));
            let (from, to) =
                (crate::query::floor_char_boundary(&text, from), crate::query::floor_char_boundary(&text, to));
            text.replace_range(from..to, insert);
            let tree = reparser.parse(Language::Rust, &text).unwrap();
            assert_eq!(tree.root_node().to_sexp(), sexp(Language::Rust, &text), "after {insert:?}: {text}");
        }
        // Another language starts over.
        let tree = reparser.parse(Language::Go, "package p\n").unwrap();
        assert_eq!(tree.root_node().to_sexp(), sexp(Language::Go, "package p\n"));
    }
}
