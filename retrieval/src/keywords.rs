//! Words that carry no retrieval signal: the query leaves them out. Each language's own keywords
//! and builtins are in its table entry ([`crate::language`]); here are the words left out of
//! every query (Python's keywords, `print` and common keywords of many languages, [`OTHER`]),
//! to which a file's own language adds its keywords.

use crate::language::Language;

/// Keywords of common languages (C family, Rust, Go, JS/TS, Java, Ruby), lowercase: also what
/// a typed word in a file of no table language must not begin (the gate).
pub const OTHER: &[&str] = &[
    "fn",
    "let",
    "mut",
    "pub",
    "use",
    "mod",
    "impl",
    "struct",
    "enum",
    "const",
    "static",
    "var",
    "function",
    "this",
    "new",
    "null",
    "nil",
    "void",
    "int",
    "char",
    "bool",
    "string",
    "str",
    "func",
    "package",
    "public",
    "private",
    "protected",
    "final",
    "switch",
    "default",
    "do",
    "goto",
    "typeof",
    "instanceof",
    "export",
    "extends",
    "implements",
    "interface",
    "type",
    "where",
    "crate",
    "super",
    "loop",
    "ref",
    "move",
    "unsafe",
    "include",
    "define",
    "ifdef",
    "endif",
    "ifndef",
    "require",
    "module",
    "end",
    "then",
    "begin",
    "undefined",
];

/// Whether the lowercased word `word` is a keyword of Python or of [`OTHER`], or `print`: words
/// in every file, useless as query terms.
pub fn is_stopword(word: &str) -> bool {
    word == "print" || is_keyword_of(Language::Python, word) || OTHER.contains(&word)
}

/// Whether the lowercased word `word` is a stopword ([`is_stopword`]) or, in a file in
/// `language`, one of that language's keywords.
pub fn is_stopword_in(language: Option<Language>, word: &str) -> bool {
    is_stopword(word) || language.is_some_and(|language| is_keyword_of(language, word))
}

/// Whether the lowercased `word` is a keyword of `language`, in any case.
fn is_keyword_of(language: Language, word: &str) -> bool {
    language.spec().keywords.iter().flat_map(|list| list.iter()).any(|k| k.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_keywords_of_every_file_and_of_its_language() {
        assert!(is_stopword("none") && is_stopword("fn") && is_stopword("print"));
        assert!(!is_stopword("chan"));
        assert!(is_stopword_in(Some(Language::Go), "chan"));
        assert!(!is_stopword_in(Some(Language::Python), "chan"));
        assert!(!is_stopword_in(Some(Language::Rust), "parse"));
    }
}
