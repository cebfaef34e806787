//! Where a multi-line suggestion ends, by the document's language: the one place a language of
//! the table becomes a [`BlockSyntax`] for the suggestion shape (the model crate knows no
//! language). Python's blocks end by indentation; every other language of the table ends its
//! blocks at a closing bracket, with its own strings, characters and comments ([`Literals`]);
//! a language without a table entry keeps indentation, what every language had before brace
//! blocks.

use splice_model::shape::{Apostrophe, Backticks, BlockSyntax, Literals};
use splice_retrieval::language::Language;

/// The block syntax of `language` (`None`: a language Splice has no table entry for).
pub fn block_syntax(language: Option<Language>) -> BlockSyntax {
    let Some(language) = language else { return BlockSyntax::Indentation };
    // `"…"`, `'…'`, `//` and `/* */`: C, C++; the others add to these.
    let c = Literals::default();
    let literals = match language {
        Language::Python => return BlockSyntax::Indentation,
        Language::C | Language::Cpp => c,
        Language::Rust => Literals {
            apostrophe: Apostrophe::CharOrLifetime,
            multi_line_strings: true,
            raw_strings: true,
            nested_comments: true,
            ..c
        },
        Language::JavaScript | Language::TypeScript | Language::Tsx => Literals { backticks: Backticks::Template, ..c },
        Language::Go => Literals { backticks: Backticks::Raw, ..c },
        Language::Java => Literals { text_blocks: true, ..c },
    };
    BlockSyntax::Braces(literals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use splice_retrieval::language::LANGUAGES;

    #[test]
    fn python_and_unknown_languages_keep_indentation_every_other_language_has_braces() {
        assert_eq!(block_syntax(None), BlockSyntax::Indentation);
        for spec in LANGUAGES {
            let syntax = block_syntax(Some(spec.language));
            match spec.language {
                Language::Python => assert_eq!(syntax, BlockSyntax::Indentation),
                _ => assert!(matches!(syntax, BlockSyntax::Braces(_)), "{}: {syntax:?}", spec.name),
            }
        }
    }

    #[test]
    fn each_language_hides_brackets_in_its_own_literals() {
        let literals = |language| match block_syntax(Some(language)) {
            BlockSyntax::Braces(literals) => literals,
            BlockSyntax::Indentation => panic!("{language:?} has braces"),
        };
        assert_eq!(literals(Language::Rust).apostrophe, Apostrophe::CharOrLifetime);
        assert!(literals(Language::Rust).raw_strings && literals(Language::Rust).nested_comments);
        for ecma in [Language::JavaScript, Language::TypeScript, Language::Tsx] {
            assert_eq!(literals(ecma).backticks, Backticks::Template);
        }
        assert_eq!(literals(Language::Go).backticks, Backticks::Raw);
        assert!(literals(Language::Java).text_blocks);
        assert_eq!(literals(Language::C), Literals::default());
        assert_eq!(literals(Language::Cpp), Literals::default());
    }
}
