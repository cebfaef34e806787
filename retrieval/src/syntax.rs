//! Syntax errors in a file, counted with tree-sitter: whether putting a line of code into a file
//! makes its syntax worse. The server drops or ranks down a candidate suggestion that adds
//! errors; `splice bench exec` reports how many suggestions do not parse.
//!
//! tree-sitter always produces a tree, marking what it cannot parse with error nodes and what it
//! had to assume with missing nodes; both count. Only languages with a grammar here can be
//! checked; for the others every answer is `None` and the caller does not judge. Python's
//! grammar accepts an unexpected indent, so indentation is not judged here (the suggestion
//! shape keeps it right).

use std::path::Path;

use tree_sitter::{Node, Parser};

/// A language whose syntax can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxLanguage {
    /// Python (tree-sitter-python).
    Python,
}

impl SyntaxLanguage {
    /// The language of an LSP `languageId`, if it has a grammar here.
    pub fn from_language_id(id: &str) -> Option<SyntaxLanguage> {
        match id {
            "python" => Some(SyntaxLanguage::Python),
            _ => None,
        }
    }

    /// The language of a file, by its extension.
    pub fn from_path(path: &Path) -> Option<SyntaxLanguage> {
        match path.extension()?.to_str()? {
            "py" | "pyi" => Some(SyntaxLanguage::Python),
            _ => None,
        }
    }

    fn grammar(self) -> tree_sitter::Language {
        match self {
            SyntaxLanguage::Python => tree_sitter_python::LANGUAGE.into(),
        }
    }
}

/// A parser for one language, kept to check several texts.
pub struct SyntaxChecker {
    parser: Parser,
}

impl SyntaxChecker {
    /// A checker for `language`; `None` if tree-sitter rejects the grammar (a version mismatch).
    pub fn new(language: SyntaxLanguage) -> Option<SyntaxChecker> {
        let mut parser = Parser::new();
        parser.set_language(&language.grammar()).ok()?;
        Some(SyntaxChecker { parser })
    }

    /// Error and missing nodes in `source` (0: it parses); `None` if tree-sitter gave up.
    pub fn error_count(&mut self, source: &str) -> Option<usize> {
        let tree = self.parser.parse(source, None)?;
        Some(count_errors(tree.root_node()))
    }
}

/// Error and missing nodes under `node`, skipping subtrees without any.
fn count_errors(node: Node) -> usize {
    if !node.has_error() {
        return 0;
    }
    if node.is_error() || node.is_missing() {
        // An error node's children are what it could not place; it counts once.
        return 1;
    }
    let mut cursor = node.walk();
    node.children(&mut cursor).map(count_errors).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(source: &str) -> usize {
        SyntaxChecker::new(SyntaxLanguage::Python).unwrap().error_count(source).unwrap()
    }

    #[test]
    fn valid_python_has_no_errors() {
        assert_eq!(errors("def f(a):\n    if a == 0:\n        return 1\n    return a\n"), 0);
    }

    #[test]
    fn a_broken_line_adds_errors() {
        assert!(errors("def f(a):\n    if i == ')'):\n        return 1\n    return a\n") > 0);
        assert!(errors("def f(a):\n    x = g(a\n    return a\n") > 0);
        // tree-sitter-python accepts an unexpected indent: indentation is the shape's to keep.
        assert_eq!(errors("def f(a):\n    a = 1\n        b = 2\n    return a\n"), 0);
    }

    #[test]
    fn languages_are_found_by_id_and_extension() {
        assert_eq!(SyntaxLanguage::from_language_id("python"), Some(SyntaxLanguage::Python));
        assert_eq!(SyntaxLanguage::from_path(Path::new("a/b.py")), Some(SyntaxLanguage::Python));
        assert_eq!(SyntaxLanguage::from_path(Path::new("a/b.rs")), None);
    }
}
