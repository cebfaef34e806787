//! Which prompt layout a model understands, detected from its vocabulary.
//!
//! Code models are trained with fill-in-the-middle (FIM) sentinel tokens whose spelling differs per
//! family. Using the wrong ones (or none) is the most common reason peers give bad completions, so
//! Splice never asks the user: it looks the sentinels up in the model's own vocabulary. Models
//! without them (both of Splice's test models) get [`PromptTemplate::PrefixOnly`]: the text before
//! the cursor is the prompt, and the text after it is still used by postprocessing.

use llama_cpp_2::token::LlamaToken;

/// A model family with its own FIM sentinel spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FimFamily {
    /// Qwen2.5-Coder / Qwen3-Coder: `<|fim_prefix|>`, plus `<|repo_name|>` and `<|file_sep|>`.
    Qwen,
    /// StarCoder, StarCoder2 (and models trained on their tokenizer): `<fim_prefix>`.
    StarCoder,
    /// SantaCoder: `<fim-prefix>` (hyphens).
    SantaCoder,
    /// DeepSeek-Coder: `<｜fim▁begin｜>`, `<｜fim▁hole｜>`, `<｜fim▁end｜>`.
    DeepSeek,
    /// CodeLlama: `▁<PRE>`, `▁<SUF>`, `▁<MID>`, `▁<EOT>`.
    CodeLlama,
    /// Codestral: `[SUFFIX]` then `[PREFIX]` (suffix first, no middle token).
    Codestral,
    /// FIM tokens named by the GGUF metadata but spelled in a way Splice does not know.
    Generic,
}

/// Where the suffix goes relative to the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FimLayout {
    /// `[PRE] prefix [SUF] suffix [MID]`: the document stays in document order.
    PrefixSuffixMiddle,
    /// `[SUF] suffix [PRE] prefix`: typing at the cursor is an append (Codestral's only layout).
    SuffixPrefix,
    /// `[PRE] [SUF] suffix [MID] prefix` (SPM): typing at the cursor is an append, so the cache
    /// needs no shift per keystroke. For families trained with it (StarCoder, CodeLlama).
    SuffixPrefixMiddle,
}

/// A model family's FIM sentinels, as token ids of the loaded vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FimTemplate {
    /// The family the sentinels were recognised as.
    pub family: FimFamily,
    /// How prefix and suffix are ordered.
    pub layout: FimLayout,
    /// Token that opens the prefix.
    pub prefix: LlamaToken,
    /// Token that opens the suffix.
    pub suffix: LlamaToken,
    /// Token after which the middle is generated (absent for Codestral).
    pub middle: Option<LlamaToken>,
    /// Token that starts a repository-name header (Qwen `<|repo_name|>`, StarCoder2 `<repo_name>`).
    pub repo_name: Option<LlamaToken>,
    /// Token that separates files in a repository-level prompt (`<|file_sep|>`, `<file_sep>`).
    pub file_sep: Option<LlamaToken>,
    /// Extra tokens that end generation besides the vocabulary's end-of-generation tokens: the
    /// sentinels themselves, padding and file separators.
    pub stop: Vec<LlamaToken>,
}

/// How prompts are laid out for the loaded model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptTemplate {
    /// The model has FIM sentinels.
    Fim(FimTemplate),
    /// No FIM sentinels: the prompt is the text before the cursor.
    PrefixOnly,
}

impl PromptTemplate {
    /// A short human-readable name for logs and `--json` output.
    pub fn describe(&self) -> String {
        match self {
            PromptTemplate::Fim(fim) => format!("fim:{:?}", fim.family).to_lowercase(),
            PromptTemplate::PrefixOnly => "prefix-only".to_owned(),
        }
    }

    /// Tokens that end generation in addition to the vocabulary's end-of-generation tokens.
    pub fn stop_tokens(&self) -> &[LlamaToken] {
        match self {
            PromptTemplate::Fim(fim) => &fim.stop,
            PromptTemplate::PrefixOnly => &[],
        }
    }
}

/// The FIM tokens llama.cpp itself found through GGUF metadata (`tokenizer.ggml.fim_*_token_id`),
/// used when no known spelling matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetadataFimTokens {
    /// `fim_pre`, if any.
    pub prefix: Option<LlamaToken>,
    /// `fim_suf`, if any.
    pub suffix: Option<LlamaToken>,
    /// `fim_mid`, if any.
    pub middle: Option<LlamaToken>,
    /// `fim_pad`, if any.
    pub pad: Option<LlamaToken>,
    /// `fim_rep`, if any.
    pub repo: Option<LlamaToken>,
    /// `fim_sep`, if any.
    pub sep: Option<LlamaToken>,
}

/// One family's spelling of its sentinels.
struct Spelling {
    family: FimFamily,
    layout: FimLayout,
    prefix: &'static str,
    suffix: &'static str,
    middle: Option<&'static str>,
    repo_name: Option<&'static str>,
    file_sep: Option<&'static str>,
    /// Other tokens that end generation when present.
    stops: &'static [&'static str],
}

/// Known spellings, most specific first.
const SPELLINGS: &[Spelling] = &[
    Spelling {
        family: FimFamily::Qwen,
        layout: FimLayout::PrefixSuffixMiddle,
        prefix: "<|fim_prefix|>",
        suffix: "<|fim_suffix|>",
        middle: Some("<|fim_middle|>"),
        repo_name: Some("<|repo_name|>"),
        file_sep: Some("<|file_sep|>"),
        stops: &["<|fim_pad|>", "<|endoftext|>"],
    },
    Spelling {
        family: FimFamily::StarCoder,
        layout: FimLayout::SuffixPrefixMiddle,
        prefix: "<fim_prefix>",
        suffix: "<fim_suffix>",
        middle: Some("<fim_middle>"),
        repo_name: Some("<repo_name>"),
        file_sep: Some("<file_sep>"),
        stops: &["<fim_pad>", "<|endoftext|>", "<filename>"],
    },
    Spelling {
        family: FimFamily::SantaCoder,
        layout: FimLayout::PrefixSuffixMiddle,
        prefix: "<fim-prefix>",
        suffix: "<fim-suffix>",
        middle: Some("<fim-middle>"),
        repo_name: None,
        file_sep: None,
        stops: &["<fim-pad>", "<|endoftext|>"],
    },
    Spelling {
        family: FimFamily::DeepSeek,
        layout: FimLayout::PrefixSuffixMiddle,
        prefix: "<｜fim▁begin｜>",
        suffix: "<｜fim▁hole｜>",
        middle: Some("<｜fim▁end｜>"),
        repo_name: None,
        file_sep: None,
        stops: &["<|EOT|>", "<｜end▁of▁sentence｜>"],
    },
    Spelling {
        family: FimFamily::CodeLlama,
        layout: FimLayout::SuffixPrefixMiddle,
        prefix: "▁<PRE>",
        suffix: "▁<SUF>",
        middle: Some("▁<MID>"),
        repo_name: None,
        file_sep: None,
        stops: &["▁<EOT>"],
    },
    Spelling {
        family: FimFamily::Codestral,
        layout: FimLayout::SuffixPrefix,
        prefix: "[PREFIX]",
        suffix: "[SUFFIX]",
        middle: None,
        repo_name: None,
        file_sep: None,
        stops: &["[MIDDLE]"],
    },
];

/// Every token text any known family uses (sentinels and stop tokens), so that a vocabulary scan
/// can keep only these.
pub fn sentinel_texts() -> impl Iterator<Item = &'static str> {
    SPELLINGS.iter().flat_map(|s| {
        [Some(s.prefix), Some(s.suffix), s.middle, s.repo_name, s.file_sep]
            .into_iter()
            .flatten()
            .chain(s.stops.iter().copied())
    })
}

/// Detects the template from the vocabulary.
///
/// `lookup` maps a token's exact text to its id (the engine builds it once per model load from the
/// whole vocabulary). `metadata` is what llama.cpp found through GGUF metadata; it is the fallback
/// for families Splice does not know by name.
pub fn detect(lookup: impl Fn(&str) -> Option<LlamaToken>, metadata: MetadataFimTokens) -> PromptTemplate {
    for spelling in SPELLINGS {
        if let Some(template) = match_spelling(spelling, &lookup) {
            return PromptTemplate::Fim(template);
        }
    }
    generic_from_metadata(metadata).map_or(PromptTemplate::PrefixOnly, PromptTemplate::Fim)
}

fn match_spelling(spelling: &Spelling, lookup: &impl Fn(&str) -> Option<LlamaToken>) -> Option<FimTemplate> {
    let prefix = lookup(spelling.prefix)?;
    let suffix = lookup(spelling.suffix)?;
    let middle = match spelling.middle {
        Some(text) => Some(lookup(text)?),
        None => None,
    };
    let repo_name = spelling.repo_name.and_then(lookup);
    let file_sep = spelling.file_sep.and_then(lookup);
    let mut stop: Vec<LlamaToken> = spelling.stops.iter().filter_map(|text| lookup(text)).collect();
    stop.extend([Some(prefix), Some(suffix), middle, repo_name, file_sep].into_iter().flatten());
    stop.sort_by_key(|token| token.0);
    stop.dedup();
    Some(FimTemplate {
        family: spelling.family,
        layout: spelling.layout,
        prefix,
        suffix,
        middle,
        repo_name,
        file_sep,
        stop,
    })
}

fn generic_from_metadata(meta: MetadataFimTokens) -> Option<FimTemplate> {
    let (prefix, suffix, middle) = (meta.prefix?, meta.suffix?, meta.middle?);
    let mut stop: Vec<LlamaToken> =
        [Some(prefix), Some(suffix), Some(middle), meta.pad, meta.repo, meta.sep].into_iter().flatten().collect();
    stop.sort_by_key(|token| token.0);
    stop.dedup();
    Some(FimTemplate {
        family: FimFamily::Generic,
        layout: FimLayout::PrefixSuffixMiddle,
        prefix,
        suffix,
        middle: Some(middle),
        repo_name: meta.repo,
        file_sep: meta.sep,
        stop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vocab(texts: &[&str]) -> impl Fn(&str) -> Option<LlamaToken> {
        let map: HashMap<String, LlamaToken> =
            texts.iter().enumerate().map(|(i, t)| ((*t).to_owned(), LlamaToken(i as i32 + 100))).collect();
        move |text| map.get(text).copied()
    }

    #[test]
    fn qwen_is_found_with_its_repo_tokens() {
        let lookup = vocab(&[
            "<|fim_prefix|>",
            "<|fim_suffix|>",
            "<|fim_middle|>",
            "<|fim_pad|>",
            "<|repo_name|>",
            "<|file_sep|>",
        ]);
        let PromptTemplate::Fim(t) = detect(lookup, MetadataFimTokens::default()) else { panic!("not FIM") };
        assert_eq!(t.family, FimFamily::Qwen);
        assert_eq!((t.prefix, t.suffix, t.middle), (LlamaToken(100), LlamaToken(101), Some(LlamaToken(102))));
        assert_eq!((t.repo_name, t.file_sep), (Some(LlamaToken(104)), Some(LlamaToken(105))));
        assert!(t.stop.contains(&LlamaToken(103)), "fim_pad stops generation");
        assert!(t.stop.contains(&LlamaToken(105)), "file_sep stops generation");
    }

    #[test]
    fn families_trained_with_spm_use_it_so_that_typing_appends() {
        let starcoder = vocab(&["<fim_prefix>", "<fim_suffix>", "<fim_middle>"]);
        let PromptTemplate::Fim(t) = detect(starcoder, MetadataFimTokens::default()) else { panic!("not FIM") };
        assert_eq!(t.layout, FimLayout::SuffixPrefixMiddle);
        let qwen = vocab(&["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]);
        let PromptTemplate::Fim(t) = detect(qwen, MetadataFimTokens::default()) else { panic!("not FIM") };
        assert_eq!(t.layout, FimLayout::PrefixSuffixMiddle, "Qwen is trained with PSM only");
    }

    #[test]
    fn codestral_is_suffix_first_without_middle() {
        let lookup = vocab(&["[PREFIX]", "[SUFFIX]"]);
        let PromptTemplate::Fim(t) = detect(lookup, MetadataFimTokens::default()) else { panic!("not FIM") };
        assert_eq!((t.family, t.layout, t.middle), (FimFamily::Codestral, FimLayout::SuffixPrefix, None));
    }

    #[test]
    fn an_incomplete_set_is_not_a_template() {
        let lookup = vocab(&["<fim_prefix>", "<fim_suffix>", "<file_sep>"]);
        assert_eq!(detect(lookup, MetadataFimTokens::default()), PromptTemplate::PrefixOnly);
    }

    #[test]
    fn metadata_tokens_are_the_fallback() {
        let meta = MetadataFimTokens {
            prefix: Some(LlamaToken(7)),
            suffix: Some(LlamaToken(8)),
            middle: Some(LlamaToken(9)),
            ..MetadataFimTokens::default()
        };
        let PromptTemplate::Fim(t) = detect(vocab(&[]), meta) else { panic!("not FIM") };
        assert_eq!(t.family, FimFamily::Generic);
    }
}
