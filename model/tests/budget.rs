//! The latency budget on a cold document: a prompt whose cache update could not be encoded in
//! time is cut at its start (never below the floor of prefix tokens), idle time gives the window
//! back, and the suggestion then is the one an engine without a budget gives. Independent of
//! speed: a 1 ms budget cuts on any machine.

use splice_e2e::gemma;
use splice_model::shape::SuggestionShape;
use splice_model::{CancelToken, CompletionRequest, Engine, EngineConfig, SamplingConfig};
use std::time::Duration;

/// A real Python file of this repository, long enough to be cut (~1,100 tokens).
const FILE: &str = include_str!("../../bench/peer_llama_server.py");

fn engine(budget: Option<Duration>) -> Engine {
    let mut config = EngineConfig::new(gemma());
    config.context_tokens = Some(4096);
    config.max_tokens = 16;
    config.latency_budget = budget;
    Engine::start(config).unwrap()
}

fn request(prefix: &str) -> CompletionRequest {
    CompletionRequest {
        document: "peer.py".to_owned(),
        prefix: prefix.to_owned(),
        suffix: String::new(),
        shape: SuggestionShape::SingleLine,
        max_tokens: 16,
        sampling: SamplingConfig::default(),
        cancel: CancelToken::new(),
        context: None,
        check: None,
    }
}

/// The file up to the start of its line `n`-th from the end, plus that line's indentation.
fn prefix_at_line_from_end(n: usize) -> String {
    let lines: Vec<&str> = FILE.split_inclusive('\n').collect();
    let i = lines.len() - n;
    let indent = lines[i].len() - lines[i].trim_start().len();
    format!("{}{}", lines[..i].concat(), &lines[i][..indent])
}

#[test]
fn a_cold_prompt_is_cut_to_the_budget_and_widened_back_when_idle() {
    let prefix = prefix_at_line_from_end(12);
    let reference = engine(None).complete_blocking(request(&prefix)).unwrap();
    assert_eq!(reference.stats.budget_cut_tokens, 0, "no budget, no cut");
    assert!(reference.stats.prompt_tokens > 1000, "the file is long: {}", reference.stats.prompt_tokens);

    let budgeted = engine(Some(Duration::from_millis(1)));
    let cold = budgeted.complete_blocking(request(&prefix)).unwrap();
    let stats = &cold.stats;
    assert!(stats.budget_cut_tokens > 700, "the budget cut the cold prompt: {stats:?}");
    assert!(stats.prompt_tokens >= 256, "the floor keeps 256 prefix tokens: {stats:?}");
    assert!(stats.prompt_tokens <= 300, "and not much more: {stats:?}");
    assert_eq!(stats.encoded_tokens, stats.prompt_tokens, "cold: every kept token encoded");

    // Typing on: each request encodes at most its allowance (a 1 ms budget allows the minimum, one
    // widening step of 64 tokens): the typed token, and the window grows by the rest.
    let typed = format!("{prefix}x");
    let warm = budgeted.complete_blocking(request(&typed)).unwrap();
    assert!(warm.stats.encoded_tokens <= 64 + 2, "within the allowance: {:?}", warm.stats);
    assert!(warm.stats.budget_cut_tokens > 0, "still cut: {:?}", warm.stats);
    assert!(warm.stats.prompt_tokens > stats.prompt_tokens, "the window grew: {:?}", warm.stats);

    // Idle time widens the window back and repairs what the insertions staled.
    assert!(budgeted.repair_blocking().unwrap() > 1, "widening and repair had work to do");
    assert!(!budgeted.needs_repair_blocking().unwrap());
    let widened = budgeted.complete_blocking(request(&prefix)).unwrap();
    assert_eq!(widened.stats.budget_cut_tokens, 0, "the full window is cached again: {:?}", widened.stats);
    assert_eq!(widened.stats.prompt_tokens, reference.stats.prompt_tokens);
    assert!(widened.stats.encoded_tokens <= 3, "{:?}", widened.stats);
    assert_eq!(widened.text, reference.text, "after widening and repair the suggestion is the full prompt's");
}
