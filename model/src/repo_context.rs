//! Repository context in the prompt: snippets of other files, written before the current file in
//! the model family's own repository format.
//!
//! Code models trained on repositories know a file-separator token: Qwen2.5-Coder writes
//! `<|repo_name|>name\n<|file_sep|>path\ncode…`, StarCoder2 (and SmolLM, trained on its tokenizer)
//! `<repo_name>name<file_sep>path\ncode…`. A model without such tokens gets comment headers
//! (`# path: utils.py`). Either way the block goes first, before the current file's own prompt,
//! and is rendered only from the request's [`RepoContext`], so the same snippets always give the
//! same tokens and their cells stay cached across keystrokes.

use crate::template::{FimFamily, PromptTemplate};
use llama_cpp_2::token::LlamaToken;

/// One retrieved snippet as the prompt shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// Path relative to the workspace root, `/`-separated.
    pub path: String,
    /// The snippet's text (whole lines).
    pub text: String,
}

/// The repository context of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoContext {
    /// The repository's name (the workspace folder's name), for formats that have a header.
    pub repo_name: Option<String>,
    /// Snippets, best first; the ones that do not fit the budget are dropped from the end.
    pub files: Vec<ContextFile>,
    /// The current file's path relative to the workspace root, written after the snippets.
    pub current_path: Option<String>,
    /// The current language's line-comment marker (`#`, `//`), for comment headers.
    pub comment: String,
    /// Largest number of prompt tokens the block may take (it never takes more than a third of
    /// the prompt budget either).
    pub max_tokens: usize,
    /// When to use it.
    pub usage: ContextUse,
}

/// When a request's repository context is used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ContextUse {
    /// Always: the user asked for snippets on every request (`--retrieval always`).
    Always,
    /// The retrieval gate found them needed without asking the model (the word being typed
    /// begins a name defined in another file, or the lines at the cursor repeat in one). Used
    /// as [`ContextUse::Always`] is, except by a remote engine that holds the document warm
    /// without them: it cannot insert snippets before the document, so under a latency budget
    /// they are left out where they would make it encode more than the budget allows.
    Decided,
    /// Only when the model is unsure without it: the most likely first token's probability,
    /// computed from the prompt without context, is below `min_probability`, or (active
    /// retrieval, as FLARE, arXiv 2305.06983) one of the first line's next tokens is, as the
    /// model writes that line without the context (at most `watch_tokens`): then
    /// what it wrote is thrown away and the line is written again with the context. When the
    /// document's cached prompt already starts with this very block (the previous request used
    /// it), it is kept without asking, so typing does not toggle it in and out of the cache.
    IfUncertain {
        /// Confidence at or above which the context is not needed.
        min_probability: f32,
        /// How many of the first line's tokens are watched, the first included ([`FIRST_LINE_WATCH_TOKENS`]
        /// by default); 0 or 1: the first token's probability alone decides.
        watch_tokens: usize,
    },
}

/// How the loaded model marks the files of a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoFormat {
    /// A file-separator token, with an optional repository-name token before the first file.
    Tokens {
        /// `<|repo_name|>` / `<repo_name>`.
        repo_name: Option<LlamaToken>,
        /// `<|file_sep|>` / `<file_sep>`.
        file_sep: LlamaToken,
        /// Qwen writes a newline after the repository name; StarCoder2 does not.
        newline_after_name: bool,
    },
    /// No such tokens: a comment line with the path before each snippet.
    Comments,
}

impl RepoFormat {
    /// Picks the format for a model: the FIM family's repo tokens when it has them, else the
    /// StarCoder2-style tokens found in the vocabulary (`repo_name`, `file_sep` looked up by
    /// `lookup`), else comment headers.
    pub fn detect(template: &PromptTemplate, lookup: impl Fn(&str) -> Option<LlamaToken>) -> RepoFormat {
        if let PromptTemplate::Fim(fim) = template {
            if let Some(file_sep) = fim.file_sep {
                return RepoFormat::Tokens {
                    repo_name: fim.repo_name,
                    file_sep,
                    newline_after_name: fim.family == FimFamily::Qwen,
                };
            }
        }
        for (repo_name, file_sep, newline_after_name) in
            [("<|repo_name|>", "<|file_sep|>", true), ("<repo_name>", "<file_sep>", false)]
        {
            if let Some(file_sep) = lookup(file_sep) {
                return RepoFormat::Tokens { repo_name: lookup(repo_name), file_sep, newline_after_name };
            }
        }
        RepoFormat::Comments
    }

    /// The token texts [`RepoFormat::detect`] may look up.
    pub fn token_texts() -> [&'static str; 4] {
        ["<|repo_name|>", "<|file_sep|>", "<repo_name>", "<file_sep>"]
    }

    /// Tokens that should end generation: a model that starts another file is done.
    pub fn stop_tokens(&self) -> Vec<LlamaToken> {
        match *self {
            RepoFormat::Tokens { repo_name, file_sep, .. } => {
                [Some(file_sep), repo_name].into_iter().flatten().collect()
            }
            RepoFormat::Comments => Vec::new(),
        }
    }

    /// A short name for logs and `--json` output.
    pub fn describe(&self) -> &'static str {
        match self {
            RepoFormat::Tokens { .. } => "file-separator tokens",
            RepoFormat::Comments => "comment headers",
        }
    }
}

/// The rendered block and how many snippets it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderedContext {
    /// The block's tokens (empty when no snippet fits).
    pub tokens: Vec<LlamaToken>,
    /// Snippets kept, from the start of [`RepoContext::files`].
    pub files: usize,
}

/// Renders `context` in `format` within `budget` tokens. Snippets are kept in order while they
/// fit; when none fits, the block is empty (a header alone would only cost tokens).
/// `tokenize` turns text into tokens without parsing special tokens.
pub fn render(
    format: RepoFormat,
    context: &RepoContext,
    budget: usize,
    tokenize: impl Fn(&str) -> Vec<LlamaToken>,
) -> RenderedContext {
    let mut header = Vec::new();
    let mut trailer = Vec::new();
    let file = |path: &str, text: &str| -> Vec<LlamaToken> {
        let newline = if text.ends_with('\n') { "" } else { "\n" };
        match format {
            RepoFormat::Tokens { file_sep, .. } => {
                let mut tokens = vec![file_sep];
                tokens.extend(tokenize(&format!("{path}\n{text}{newline}")));
                tokens
            }
            RepoFormat::Comments => tokenize(&format!("{} path: {path}\n{text}{newline}\n", context.comment)),
        }
    };
    match format {
        RepoFormat::Tokens { repo_name, file_sep, newline_after_name } => {
            if let (Some(token), Some(name)) = (repo_name, &context.repo_name) {
                header.push(token);
                header.extend(tokenize(&format!("{name}{}", if newline_after_name { "\n" } else { "" })));
            }
            if let Some(path) = &context.current_path {
                trailer.push(file_sep);
                trailer.extend(tokenize(&format!("{path}\n")));
            }
        }
        RepoFormat::Comments => {
            if let Some(path) = &context.current_path {
                trailer.extend(tokenize(&format!("{} path: {path}\n", context.comment)));
            }
        }
    }
    let mut tokens = header;
    let mut files = 0;
    for snippet in &context.files {
        let rendered = file(&snippet.path, &snippet.text);
        if tokens.len() + rendered.len() + trailer.len() > budget {
            break;
        }
        tokens.extend(rendered);
        files += 1;
    }
    if files == 0 {
        return RenderedContext::default();
    }
    tokens.extend(trailer);
    RenderedContext { tokens, files }
}

/// The probability of the most likely next token under `logits` (a softmax maximum).
pub fn top_probability(logits: &[f32]) -> f32 {
    top_probability_among(logits, |_| true)
}

/// [`top_probability`] over the tokens `allowed` admits only (renormalized among them): how sure
/// the model is while token healing restricts its choice to what spells the typed text.
pub(crate) fn top_probability_among(logits: &[f32], allowed: impl Fn(usize) -> bool) -> f32 {
    let max =
        logits.iter().enumerate().filter(|&(id, _)| allowed(id)).map(|(_, &l)| l).fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return 0.0;
    }
    let sum: f64 =
        logits.iter().enumerate().filter(|&(id, _)| allowed(id)).map(|(_, &l)| f64::from(l - max).exp()).sum();
    (1.0 / sum) as f32
}

/// By default, how many of the first line's generated tokens the model's confidence is watched
/// for ([`ContextUse::IfUncertain`]): past the first token, a line's uncertain word is usually
/// within its first few tokens (`Op::` then `Less`), and each watched token is decoding work
/// thrown away when the context goes in after all.
pub const FIRST_LINE_WATCH_TOKENS: usize = 12;

#[cfg(test)]
mod tests {
    use super::*;

    /// One token per character, ids = char codes; special tokens are negative.
    fn chars(text: &str) -> Vec<LlamaToken> {
        text.chars().map(|c| LlamaToken(c as i32)).collect()
    }

    fn text_of(tokens: &[LlamaToken]) -> String {
        tokens
            .iter()
            .map(|t| match t.0 {
                -1 => "<R>".to_owned(),
                -2 => "<S>".to_owned(),
                c => char::from_u32(c as u32).unwrap().to_string(),
            })
            .collect()
    }

    fn context(files: &[(&str, &str)]) -> RepoContext {
        RepoContext {
            repo_name: Some("demo".to_owned()),
            files: files.iter().map(|(p, t)| ContextFile { path: (*p).to_owned(), text: (*t).to_owned() }).collect(),
            current_path: Some("app.py".to_owned()),
            comment: "#".to_owned(),
            max_tokens: 512,
            usage: ContextUse::Always,
        }
    }

    const QWEN: RepoFormat =
        RepoFormat::Tokens { repo_name: Some(LlamaToken(-1)), file_sep: LlamaToken(-2), newline_after_name: true };

    #[test]
    fn qwen_layout_names_the_repo_then_each_file_then_the_current_one() {
        let rendered = render(QWEN, &context(&[("util.py", "def f():\n    pass")]), 1000, chars);
        assert_eq!(text_of(&rendered.tokens), "<R>demo\n<S>util.py\ndef f():\n    pass\n<S>app.py\n");
        assert_eq!(rendered.files, 1);
    }

    #[test]
    fn comment_headers_without_repo_tokens() {
        let rendered = render(RepoFormat::Comments, &context(&[("a.py", "x = 1\n"), ("b.py", "y = 2\n")]), 1000, chars);
        assert_eq!(text_of(&rendered.tokens), "# path: a.py\nx = 1\n\n# path: b.py\ny = 2\n\n# path: app.py\n");
    }

    #[test]
    fn snippets_that_do_not_fit_are_dropped_whole_from_the_end() {
        let ctx = context(&[("a.py", "x = 1\n"), ("b.py", &"y = 2\n".repeat(50))]);
        let rendered = render(RepoFormat::Comments, &ctx, 60, chars);
        assert_eq!(rendered.files, 1);
        assert!(rendered.tokens.len() <= 60);
        assert!(!text_of(&rendered.tokens).contains("b.py"));
        assert_eq!(render(RepoFormat::Comments, &ctx, 10, chars), RenderedContext::default(), "nothing fits");
    }

    #[test]
    fn the_format_follows_the_vocabulary() {
        let smol = |text: &str| match text {
            "<repo_name>" => Some(LlamaToken(3)),
            "<file_sep>" => Some(LlamaToken(5)),
            _ => None,
        };
        assert_eq!(
            RepoFormat::detect(&PromptTemplate::PrefixOnly, smol),
            RepoFormat::Tokens { repo_name: Some(LlamaToken(3)), file_sep: LlamaToken(5), newline_after_name: false }
        );
        assert_eq!(RepoFormat::detect(&PromptTemplate::PrefixOnly, |_| None), RepoFormat::Comments);
    }

    #[test]
    fn top_probability_is_a_softmax_maximum() {
        assert!((top_probability(&[0.0, 0.0]) - 0.5).abs() < 1e-6);
        assert!(top_probability(&[10.0, 0.0, 0.0]) > 0.99);
        assert_eq!(top_probability(&[]), 0.0);
    }

    #[test]
    fn top_probability_among_renormalizes_over_the_allowed_tokens() {
        // Token 0 dominates, but only tokens 1 and 2 are allowed: an even choice between them.
        let logits = [10.0, 1.0, 1.0, 0.0];
        assert!((top_probability_among(&logits, |id| id == 1 || id == 2) - 0.5).abs() < 1e-6);
        assert!((top_probability_among(&logits, |id| id == 3) - 1.0).abs() < 1e-6);
        assert_eq!(top_probability_among(&logits, |_| false), 0.0);
    }
}
