//! Repository context in the prompt, on the real models: the block is written in the model's
//! own format, used or not as the request says, and stays cached across keystrokes.

use splice_e2e::{gemma, smollm2};
use splice_model::{
    CompletionRequest, ContextFile, ContextUse, Engine, EngineConfig, RepoContext, RepoFormat, FIRST_LINE_WATCH_TOKENS,
};

const HELPERS: &str = "def frobnicate_invoice_totals(invoice, rate):\n    return sum(line.amount * (1 + rate) for line in invoice.lines)\n";
/// The user has typed the name's first letters; without the context the model goes elsewhere.
const MAIN: &str = "import helpers\n\n\ndef checkout(invoice):\n    total = helpers.frob";

fn context(usage: ContextUse) -> RepoContext {
    RepoContext {
        repo_name: Some("shop".to_owned()),
        files: vec![ContextFile { path: "helpers.py".to_owned(), text: HELPERS.to_owned() }],
        current_path: Some("main.py".to_owned()),
        comment: "#".to_owned(),
        max_tokens: 256,
        usage,
    }
}

fn request(prefix: &str, context: Option<RepoContext>) -> CompletionRequest {
    CompletionRequest { context, ..CompletionRequest::single_line("main.py", prefix, 12) }
}

#[test]
fn the_repository_format_follows_the_vocabulary() {
    let gemma = Engine::start(EngineConfig::new(gemma())).unwrap();
    assert_eq!(gemma.info().repo_format, RepoFormat::Comments, "Gemma has no file-separator token");
    let smol = Engine::start(EngineConfig::new(smollm2())).unwrap();
    assert!(
        matches!(smol.info().repo_format, RepoFormat::Tokens { repo_name: Some(_), newline_after_name: false, .. }),
        "SmolLM2 has StarCoder2's <repo_name> and <file_sep>: {:?}",
        smol.info().repo_format
    );
    // The file separator ends generation: the completion never runs into another file.
    let done = smol.complete_blocking(request(MAIN, Some(context(ContextUse::Always)))).unwrap();
    assert!(done.stats.context_tokens > 0);
    assert!(!done.text.contains("<file_sep>"), "{:?}", done.text);
}

#[test]
fn a_name_from_another_file_reaches_the_suggestion_through_the_context() {
    let engine = Engine::start(EngineConfig::new(gemma())).unwrap();
    let without = engine.complete_blocking(request(MAIN, None)).unwrap();
    assert!(!without.text.starts_with("nicate_invoice_totals"), "the model cannot guess the name: {:?}", without.text);
    assert_eq!(without.stats.context_tokens, 0);
    assert!(without.stats.context.is_none());

    let with = engine.complete_blocking(request(MAIN, Some(context(ContextUse::Always)))).unwrap();
    assert!(with.text.starts_with("nicate_invoice_totals"), "{:?}", with.text);
    // A document new to the cache is encoded once, block and all: nothing is encoded twice.
    let fresh =
        CompletionRequest { document: "fresh.py".to_owned(), ..request(MAIN, Some(context(ContextUse::Always))) };
    let fresh = engine.complete_blocking(fresh).unwrap();
    assert!(fresh.stats.context_tokens > 20, "{:?}", fresh.stats);
    assert!(fresh.stats.encoded_tokens <= fresh.stats.prompt_tokens, "{:?}", fresh.stats);
    assert!(with.stats.context_tokens > 20, "{:?}", with.stats);
    assert_eq!(with.stats.context_files, 1);
    assert!(with.stats.context.as_ref().unwrap().used);
}

#[test]
fn if_uncertain_asks_the_model_first_and_then_keeps_the_block_cached() {
    let engine = Engine::start(EngineConfig::new(gemma())).unwrap();
    // A threshold no probability reaches: the model is always "unsure", so the context is used,
    // and the probe's probability is reported.
    let unsure = ContextUse::IfUncertain { min_probability: 1.01, watch_tokens: FIRST_LINE_WATCH_TOKENS };
    let first = engine.complete_blocking(request(MAIN, Some(context(unsure)))).unwrap();
    let verdict = first.stats.context.clone().unwrap();
    assert!(verdict.used, "{verdict:?}");
    let p = verdict.first_token_probability.expect("the probe's probability is reported");
    assert!((0.0..=1.0).contains(&p), "{p}");
    assert!(first.text.starts_with("nicate_invoice_totals"), "{:?}", first.text);

    // The next keystroke with the same snippets keeps the block without asking again, and the
    // block's cells are reused: only the typed character is encoded.
    let typed = format!("{MAIN}n");
    let second = engine.complete_blocking(request(&typed, Some(context(unsure)))).unwrap();
    let verdict = second.stats.context.clone().unwrap();
    assert!(verdict.used && verdict.first_token_probability.is_none(), "{verdict:?}");
    assert!(second.stats.encoded_tokens <= 3, "typing re-encoded {} tokens", second.stats.encoded_tokens);

    // A threshold every probability reaches, on a document whose cache holds no block: the model
    // is "sure", so the block is left out.
    let sure = ContextUse::IfUncertain { min_probability: 0.0, watch_tokens: FIRST_LINE_WATCH_TOKENS };
    let other = CompletionRequest { document: "other.py".to_owned(), ..request(&typed, Some(context(sure))) };
    let third = engine.complete_blocking(other).unwrap();
    let verdict = third.stats.context.clone().unwrap();
    assert!(!verdict.used && verdict.first_token_probability.is_some(), "{verdict:?}");
    assert_eq!(third.stats.context_tokens, 0);
}

#[test]
fn a_request_without_context_keeps_the_block_the_cache_begins_with() {
    let engine = Engine::start(EngineConfig::new(gemma())).unwrap();
    let first = engine.complete_blocking(request(MAIN, Some(context(ContextUse::Always)))).unwrap();
    assert!(first.stats.context_tokens > 20, "{:?}", first.stats);

    // The next keystroke comes without context (the retrieval gate changed its mind with the
    // line): the block stays, nothing shifts, only the typed character is encoded.
    let typed = format!("{MAIN}n");
    let second = engine.complete_blocking(request(&typed, None)).unwrap();
    let verdict = second.stats.context.clone().expect("a verdict on the kept block");
    assert!(verdict.used && verdict.reason.contains("kept"), "{verdict:?}");
    assert_eq!(second.stats.context_tokens, first.stats.context_tokens);
    assert_eq!(second.stats.shifted_tokens, 0, "{:?}", second.stats);
    assert!(second.stats.encoded_tokens <= 3, "typing re-encoded {} tokens", second.stats.encoded_tokens);

    // A document whose cache holds no block gets none.
    let other = CompletionRequest { document: "other.py".to_owned(), ..request(&typed, None) };
    let third = engine.complete_blocking(other).unwrap();
    assert!(third.stats.context.is_none(), "{:?}", third.stats.context);
    assert_eq!(third.stats.context_tokens, 0);
}

/// After `return ` in the function's body: the first token is easy enough (the default model
/// gives it p 0.57), what is returned is not. (An empty line's typed indentation is no such spot
/// since the indentation stays in the prompt: the statement's first word is itself unsure.)
const AT_THE_BODY: &str = "import helpers\n\n\ndef checkout(invoice, rate):\n    return ";

/// An empty line of the function, its indentation typed.
const AT_AN_EMPTY_LINE: &str = "import helpers\n\n\ndef checkout(invoice):\n    ";

#[test]
fn a_model_sure_of_the_first_token_but_unsure_later_in_the_line_gets_the_context() {
    let engine = Engine::start(EngineConfig::new(gemma())).unwrap();
    let on = |document: &str, usage: Option<ContextUse>| CompletionRequest {
        document: document.to_owned(),
        ..request(AT_THE_BODY, usage.map(context))
    };
    let without = engine.complete_blocking(on("without.py", None)).unwrap();
    // What only the context holds: the helper's name, or its body (the model may inline it).
    let from_the_context = |text: &str| text.contains("frobnicate_invoice_totals") || text.contains("line.amount");
    assert!(!from_the_context(&without.text), "the model cannot know the helper: {:?}", without.text);

    // Sure of `return`, unsure of what follows: what it wrote goes, the context comes in.
    let usage = ContextUse::IfUncertain { min_probability: 0.5, watch_tokens: FIRST_LINE_WATCH_TOKENS };
    let watched = engine.complete_blocking(on("watched.py", Some(usage))).unwrap();
    let verdict = watched.stats.context.clone().unwrap();
    let first = verdict.first_token_probability.expect("the first token's probability");
    let line = verdict.line_probability.expect("the first line's least probability");
    assert!(first >= 0.5 && line < 0.5, "{verdict:?}");
    assert!(verdict.used && verdict.reason.contains("of the first line"), "{verdict:?}");
    assert!(watched.stats.discarded_tokens >= 1, "{:?}", watched.stats);
    assert!(watched.stats.context_tokens > 20, "{:?}", watched.stats);
    assert!(from_the_context(&watched.text), "{:?}", watched.text);

    // The same line under a threshold of 0, which every token passes (the line's probability
    // above is the first one under 0.5, not the least: a later token may be rated lower still):
    // written once, without the context.
    let usage = ContextUse::IfUncertain { min_probability: 0.0, watch_tokens: FIRST_LINE_WATCH_TOKENS };
    let sure = engine.complete_blocking(on("sure.py", Some(usage))).unwrap();
    let verdict = sure.stats.context.clone().unwrap();
    assert!(!verdict.used && verdict.line_probability.is_some(), "{verdict:?}");
    assert_eq!((sure.stats.context_tokens, sure.stats.discarded_tokens), (0, 0), "{:?}", sure.stats);
    assert_eq!(sure.text, without.text);

    // Watching the first token alone (`--retrieval-watch-tokens 1`): the line is not watched.
    let usage = ContextUse::IfUncertain { min_probability: 0.5, watch_tokens: 1 };
    let first_only = engine.complete_blocking(on("first-only.py", Some(usage))).unwrap();
    let verdict = first_only.stats.context.clone().unwrap();
    assert!(!verdict.used && verdict.line_probability.is_none(), "{verdict:?}");
    assert_eq!(first_only.text, without.text);
}

#[test]
fn a_block_that_leaves_the_prompt_leaves_no_trace_at_the_cursor() {
    let engine = Engine::start(EngineConfig::new(gemma())).unwrap();
    let on = |document: &str, usage: ContextUse| CompletionRequest {
        document: document.to_owned(),
        ..request(AT_AN_EMPTY_LINE, Some(context(usage)))
    };
    // The model is "sure" at any threshold 0: the block is left out, the first token judged.
    let sure = ContextUse::IfUncertain { min_probability: 0.0, watch_tokens: 1 };
    let fresh = engine.complete_blocking(on("fresh.py", sure)).unwrap();
    let fresh_p = fresh.stats.context.unwrap().first_token_probability.unwrap();

    // The same text whose cache began with the block: PIE slides the cells back over it, and
    // the ones at the cursor are encoded again, so the model judges from what a fresh prompt holds.
    // (Other snippets than the next request's: a block the cache already begins with is kept.)
    let mut other = context(ContextUse::Always);
    other.files[0] = ContextFile { path: "tax.py".to_owned(), text: "VAT = 0.2\n".to_owned() };
    let with = CompletionRequest { document: "edited.py".to_owned(), ..request(AT_AN_EMPTY_LINE, Some(other)) };
    let with = engine.complete_blocking(with).unwrap();
    assert!(with.stats.context_tokens > 10, "{:?}", with.stats);
    let without = engine.complete_blocking(on("edited.py", sure)).unwrap();
    assert_eq!(without.stats.context_tokens, 0, "{:?}", without.stats);
    let p = without.stats.context.unwrap().first_token_probability.unwrap();
    assert!((p - fresh_p).abs() < 1e-3, "after the block left: p={p}, a fresh prompt: p={fresh_p}");
    assert_eq!(without.text, fresh.text);
}
