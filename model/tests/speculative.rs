//! Speculative decoding never changes a greedy suggestion: on real Python files, at spots where
//! a block is suggested, an engine that verifies drafts after every token gives byte-identical
//! text to one that decodes one token at a time, with both real models; and so are the lines
//! branched from a suggestion the check rejects, which decode speculatively too.

use splice_e2e::{gemma, smollm2};
use splice_model::shape::SuggestionShape;
use splice_model::{CancelToken, Completion, CompletionRequest, Engine, EngineConfig, SamplingConfig, SuggestionCheck};
use std::path::Path;

/// Real Python files of this repository: code that repeats itself the way real code does.
const FILES: &[&str] = &[
    include_str!("../../bench/peer_llama_server.py"),
    include_str!("../../tests/fixtures/make_fim_vocabs.py"),
    include_str!("../../tests/fixtures/python/inventory.py"),
];

/// Spots per file: the cursor at the indentation of an indented code line whose code was removed.
const SPOTS_PER_FILE: usize = 2;

fn engine(model: &Path, draft_tokens: u32) -> Engine {
    let mut config = EngineConfig::new(model);
    config.context_tokens = Some(1024);
    config.max_tokens = 40;
    config.draft_tokens = draft_tokens;
    config.draft_always = true;
    Engine::start(config).unwrap()
}

/// (prefix, indentation) for the spots of `text`: evenly spread indented code lines.
fn spots(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let candidates: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let code = lines[i].trim();
            let indent = lines[i].len() - lines[i].trim_start().len();
            indent >= 4 && code.len() >= 10 && !code.starts_with('#') && i >= 8
        })
        .collect();
    let step = (candidates.len() / SPOTS_PER_FILE).max(1);
    candidates
        .iter()
        .step_by(step)
        .take(SPOTS_PER_FILE)
        .map(|&i| {
            let indent = lines[i].len() - lines[i].trim_start().len();
            let before: String = lines[..i].concat();
            (format!("{before}{}", &lines[i][..indent]), indent)
        })
        .collect()
}

/// Each spot is its own document, encoded cold: as one document, every spot would be a PIE edit
/// of the last one, whose stale cells each engine's idle repair mends at its own pace.
fn complete(engine: &Engine, document: &str, prefix: &str, indent: usize) -> Completion {
    complete_checked(engine, document, prefix, indent, None)
}

fn complete_checked(
    engine: &Engine,
    document: &str,
    prefix: &str,
    indent: usize,
    check: Option<SuggestionCheck>,
) -> Completion {
    let request = CompletionRequest {
        document: document.to_owned(),
        prefix: prefix.to_owned(),
        suffix: String::new(),
        shape: SuggestionShape::MultiLine { min_indent: indent, max_lines: 8 },
        max_tokens: 40,
        sampling: SamplingConfig::default(),
        cancel: CancelToken::new(),
        context: None,
        check,
    };
    engine.complete_blocking(request).unwrap()
}

fn identical_with_and_without_drafts(model: &Path) {
    let plain = engine(model, 0);
    let speculative = engine(model, 2);
    let (mut compared, mut accepted, mut steps) = (0, 0, 0);
    for (file, text) in FILES.iter().enumerate() {
        for (spot, (prefix, indent)) in spots(text).into_iter().enumerate() {
            let document = format!("file-{file}-spot-{spot}.py");
            let a = complete(&plain, &document, &prefix, indent);
            let b = complete(&speculative, &document, &prefix, indent);
            assert_eq!(a.stats.verify_steps, 0, "draft tokens 0 never speculates");
            assert_eq!(a.text, b.text, "{}: at {:?}", model.display(), &prefix[prefix.len().saturating_sub(80)..]);
            assert_eq!(a.stop, b.stop);
            assert_eq!(a.stats.generated_tokens, b.stats.generated_tokens);
            compared += 1;
            steps += b.stats.verify_steps;
            accepted += b.stats.accepted_draft_tokens;
        }
    }
    println!("{}: {compared} spots identical; {steps} verify steps, {accepted} drafts accepted", model.display());
    assert!(compared >= FILES.len() * 2, "spots were found");
    assert!(accepted > 0, "drafts were verified and some accepted, so the comparison means something");
}

#[test]
fn gemma_suggestions_are_identical_with_speculative_decoding() {
    identical_with_and_without_drafts(&gemma());
}

#[test]
fn smollm2_suggestions_are_identical_with_speculative_decoding() {
    identical_with_and_without_drafts(&smollm2());
}

/// A check that rejects the greedy suggestion's first line makes each engine branch lines at
/// its least certain tokens; the speculative engine decodes them with drafts.
#[test]
fn lines_branched_from_a_rejected_suggestion_are_identical_with_speculative_decoding() {
    let model = gemma();
    let plain = engine(&model, 0);
    let speculative = engine(&model, 2);
    let (mut compared, mut accepted, mut ms) = (0, 0, [0.0; 2]);
    for (file, text) in FILES.iter().enumerate() {
        for (spot, (prefix, indent)) in spots(text).into_iter().enumerate() {
            // Both engines run the same requests in the same order, so that their caches are laid
            // out alike (where a document's cells sit changes how attention sums them).
            let greedy = format!("greedy-{file}-{spot}.py");
            let greedy = [&plain, &speculative].map(|engine| complete(engine, &greedy, &prefix, indent).text);
            assert_eq!(greedy[0], greedy[1]);
            let rejected = greedy[0].split('\n').next().unwrap_or_default().to_owned();
            let check = SuggestionCheck::new(2, move |text: &str| {
                Some(usize::from(text.split('\n').next().unwrap_or_default() == rejected))
            });
            let document = format!("checked-{file}-{spot}.py");
            let a = complete_checked(&plain, &document, &prefix, indent, Some(check.clone()));
            let b = complete_checked(&speculative, &document, &prefix, indent, Some(check));
            let (a_check, b_check) = (a.stats.check.expect("the check ran"), b.stats.check.expect("the check ran"));
            let texts = |c: &splice_model::CheckStats| c.candidates.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
            assert_eq!(texts(&a_check), texts(&b_check), "at {:?}", &prefix[prefix.len().saturating_sub(80)..]);
            assert_eq!(a.text, b.text);
            assert_eq!(a_check.alternative_tokens, b_check.alternative_tokens);
            assert_eq!(a_check.alternative_accepted_drafts, 0, "draft tokens 0 never speculates");
            compared += usize::from(a_check.alternative_tokens > 0);
            accepted += b_check.alternative_accepted_drafts;
            ms[0] += a_check.alternatives_ms;
            ms[1] += b_check.alternatives_ms;
        }
    }
    println!(
        "{compared} spots with branched lines identical; {accepted} drafts accepted in them; \
         {:.0} ms of branching plain, {:.0} ms speculative (drafts always verified here)",
        ms[0], ms[1]
    );
    assert!(compared >= 2, "lines were branched at some spots");
    assert!(accepted > 0, "drafts were verified and accepted in branched lines, so the comparison means something");
}

#[test]
fn sampling_with_temperature_never_speculates() {
    let speculative = engine(&smollm2(), 2);
    let (prefix, indent) = spots(FILES[0]).remove(0);
    let request = CompletionRequest {
        document: "speculative.py".to_owned(),
        prefix,
        suffix: String::new(),
        shape: SuggestionShape::MultiLine { min_indent: indent, max_lines: 8 },
        max_tokens: 32,
        sampling: SamplingConfig { temperature: 0.8, ..SamplingConfig::default() },
        cancel: CancelToken::new(),
        context: None,
        check: None,
    };
    let done = speculative.complete_blocking(request).unwrap();
    assert!(done.stats.generated_tokens > 0);
    assert_eq!(done.stats.verify_steps, 0, "drafts are verified against greedy choices only");
}
