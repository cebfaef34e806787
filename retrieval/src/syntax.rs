//! Syntax errors in a file, counted with tree-sitter: whether putting a line of code into a file
//! makes its syntax worse. The server drops or ranks down a candidate suggestion that adds
//! errors; `splice bench exec` reports how many suggestions do not parse.
//!
//! tree-sitter always produces a tree, marking what it cannot parse with error nodes and what it
//! had to assume with missing nodes; both count. Only the languages of the table
//! ([`crate::language`]: Python, Rust, JavaScript, TypeScript, TSX, Go, Java, C, C++) can be
//! checked; for the others the caller finds no [`SyntaxLanguage`] and does not judge. Python's
//! grammar accepts an unexpected indent, so indentation is not judged here (the suggestion
//! shape keeps it right).

use tree_sitter::{Node, Parser};

/// A language whose syntax can be checked: every language of the table
/// ([`crate::language::Language`]), with `from_language_id` and `from_path` to find it.
pub use crate::language::Language as SyntaxLanguage;

/// A parser for one language, kept to check several texts.
pub struct SyntaxChecker {
    parser: Parser,
}

impl SyntaxChecker {
    /// A checker for `language`; `None` if tree-sitter rejects the grammar (a version mismatch).
    pub fn new(language: SyntaxLanguage) -> Option<SyntaxChecker> {
        Some(SyntaxChecker { parser: language.parser()? })
    }

    /// Error and missing nodes in `source` (0: it parses); `None` if tree-sitter gave up.
    pub fn error_count(&mut self, source: &str) -> Option<usize> {
        let tree = self.parser.parse(source, None)?;
        Some(count_errors(tree.root_node()))
    }
}

/// Error and missing nodes under `root`, skipping subtrees without any. Iterative: a deeply
/// nested text must not overflow the stack.
fn count_errors(root: Node) -> usize {
    let mut count = 0;
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if !node.has_error() {
            continue;
        }
        if node.is_error() || node.is_missing() {
            // An error node's children are what it could not place; it counts once.
            count += 1;
            continue;
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::Path;

    fn errors(source: &str) -> usize {
        errors_in(SyntaxLanguage::Python, source)
    }

    fn errors_in(language: SyntaxLanguage, source: &str) -> usize {
        SyntaxChecker::new(language).unwrap().error_count(source).unwrap()
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
        assert_eq!(SyntaxLanguage::from_path(Path::new("a/b.rs")), Some(SyntaxLanguage::Rust));
        assert_eq!(SyntaxLanguage::from_path(Path::new("a/b.txt")), None);
        assert_eq!(SyntaxLanguage::from_language_id("markdown"), None);
    }

    /// Valid code and the same code with one broken line, per language.
    const CASES: &[(SyntaxLanguage, &str, &str)] = &[
        (
            SyntaxLanguage::Rust,
            "fn f(a: u32) -> u32 {\n    let b = a + 1;\n    b\n}\n",
            "fn f(a: u32) -> u32 {\n    let b = (a + 1;\n    b\n}\n",
        ),
        (
            SyntaxLanguage::JavaScript,
            "function f(a) {\n  const b = a + 1;\n  return b;\n}\n",
            "function f(a) {\n  const b = a + ;\n  return b;\n}\n",
        ),
        (
            SyntaxLanguage::TypeScript,
            "function f(a: number): number {\n  const b = <number>a;\n  return b;\n}\n",
            "function f(a: number): number {\n  const b: = a;\n  return b;\n}\n",
        ),
        (
            SyntaxLanguage::Tsx,
            "const App = () => <div className=\"x\">{1}</div>;\n",
            "const App = () => <div className=\"x\">{1}</span;\n",
        ),
        (
            SyntaxLanguage::Go,
            "package main\n\nfunc f(a int) int {\n\tb := a + 1\n\treturn b\n}\n",
            "package main\n\nfunc f(a int) int {\n\tb := a + ) 1\n\treturn b\n}\n",
        ),
        (
            SyntaxLanguage::Java,
            "class A {\n  int f(int a) {\n    int b = a + 1;\n    return b;\n  }\n}\n",
            "class A {\n  int f(int a) {\n    int b = a + 1\n    return b;\n  }\n}\n",
        ),
        (
            SyntaxLanguage::C,
            "int f(int a) {\n    int b = a + 1;\n    return b;\n}\n",
            "int f(int a) {\n    int b = a + 1);\n    return b;\n}\n",
        ),
        (
            SyntaxLanguage::Cpp,
            "namespace n {\nint f(int a) {\n    auto b = a + 1;\n    return b;\n}\n}\n",
            "namespace n {\nint f(int a) {\n    auto b = a + 1;\n    return b;\n}\n",
        ),
    ];

    #[test]
    fn valid_code_has_no_errors_and_a_broken_line_adds_some_in_every_language() {
        for (language, valid, broken) in CASES {
            assert_eq!(errors_in(*language, valid), 0, "{language:?}: {valid}");
            assert!(errors_in(*language, broken) > 0, "{language:?}: {broken}");
        }
    }

    #[test]
    fn odd_input_never_panics() {
        let deep = "(".repeat(20_000);
        let inputs = ["", "\0\u{feff}", "}}}}{{{{", "/*", "\"unterminated", deep.as_str(), "é\u{10ffff}\r\r\n"];
        for spec in crate::language::LANGUAGES {
            let mut checker = SyntaxChecker::new(spec.language).unwrap();
            for input in inputs {
                let _ = checker.error_count(input);
            }
        }
    }
}
