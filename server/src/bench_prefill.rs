//! `splice bench prefill`: how fast Splice's engine encodes a cold prompt, against llama.cpp's
//! `llama-server` encoding the same text on the same model with the same settings, in one run.
//!
//! Each variant changes one setting that the prefill speed could depend on (batch size, flash
//! attention, batch threads); for each, a fresh Splice engine and a fresh `llama-server` with
//! that setting take turns on the same text (which goes first alternates), `--rounds` times.
//! Splice's time is its engine's `prompt_ms` for a cold document (tokenizing, planning and
//! decoding the prompt); the peer's is its own `timings.prompt_ms` with `cache_prompt: false`
//! (decoding only: it excludes its HTTP and tokenizing time, so the comparison favours it a
//! little). The build of each matters as much as the settings: Splice's llama.cpp is built by
//! `llama-cpp-sys-2` (see `.cargo/config.toml`), the peer by `bench/build_llama_server.sh`.

use crate::bench_busy::BusyCore;
use crate::bench_stats::quantile;
use crate::bench_typing_peer::{LlamaServer, PeerSettings};
use crate::cli::{BenchPrefillArgs, PrefillVariant};
use crate::config::{cache_dir, Settings};
use crate::report::round;
use anyhow::{bail, Context};
use serde_json::json;
use splice_model::shape::SuggestionShape;
use splice_model::{CancelToken, CompletionRequest, Engine, FlashAttention, SamplingConfig};
use std::time::Duration;

/// The default text: the start of click's `core.py` (`make corpus`).
const DEFAULT_FILE: &str = "corpus/click-8.1.7/src/click/core.py";

/// How long one peer request may take.
const PEER_GUARD: Duration = Duration::from_secs(300);

/// One variant's settings.
#[derive(Debug, Clone, Copy)]
struct Setup {
    batch: u32,
    flash: FlashAttention,
    batch_threads: Option<u32>,
}

impl PrefillVariant {
    fn setup(self, batch: u32) -> Setup {
        let default = Setup { batch, flash: FlashAttention::Auto, batch_threads: None };
        match self {
            PrefillVariant::Default => default,
            PrefillVariant::FlashOn => Setup { flash: FlashAttention::On, ..default },
            PrefillVariant::FlashOff => Setup { flash: FlashAttention::Off, ..default },
            PrefillVariant::Batch256 => Setup { batch: 256, ..default },
            PrefillVariant::Batch1024 => Setup { batch: 1024, ..default },
            PrefillVariant::OneThread => Setup { batch_threads: Some(1), ..default },
        }
    }

    fn describe(self) -> &'static str {
        match self {
            PrefillVariant::Default => "defaults (batch 512, flash auto)",
            PrefillVariant::FlashOn => "flash attention on",
            PrefillVariant::FlashOff => "flash attention off",
            PrefillVariant::Batch256 => "batch and ubatch 256",
            PrefillVariant::Batch1024 => "batch and ubatch 1024",
            PrefillVariant::OneThread => "one batch thread",
        }
    }
}

fn flash_flag(flash: FlashAttention) -> &'static str {
    match flash {
        FlashAttention::Auto => "auto",
        FlashAttention::On => "on",
        FlashAttention::Off => "off",
    }
}

/// One measured encode: tokens and milliseconds.
#[derive(Debug, Clone, Copy)]
struct Encode {
    tokens: usize,
    ms: f64,
}

impl Encode {
    fn per_second(self) -> f64 {
        self.tokens as f64 * 1000.0 / self.ms.max(1e-9)
    }
}

/// Runs `splice bench prefill`.
pub fn run(args: BenchPrefillArgs) -> anyhow::Result<()> {
    let path = args.file.clone().unwrap_or_else(|| cache_dir().join(DEFAULT_FILE));
    let full = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (run `make corpus`)", path.display()))?;
    let text = cut_at_line(&full, args.chars);
    let settings = Settings::resolve(args.options.clone());
    let _busy = args.busy.then(BusyCore::start);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    println!(
        "splice bench prefill: {} ({} characters), {} round(s) per variant{}{}",
        path.display(),
        text.len(),
        args.rounds,
        if args.busy { ", one core kept busy" } else { "" },
        if args.peer.is_none() { ", no peer (give --peer)" } else { "" }
    );
    println!("{:<34} {:>7} {:>12} {:>12} {:>8}", "variant", "tokens", "splice t/s", "peer t/s", "ratio");
    let mut rows = Vec::new();
    for variant in &args.variants {
        let setup = variant.setup(settings.engine.batch_tokens);
        let mut config = settings.engine.clone();
        config.batch_tokens = setup.batch;
        config.flash_attention = setup.flash;
        config.batch_threads = setup.batch_threads.or(config.batch_threads);
        // The whole text, however long it takes: the latency budget would cut a cold prompt.
        config.latency_budget = None;
        let threads = (config.batch_threads.unwrap_or(cores), config.decode_threads.unwrap_or(1));
        let engine = Engine::start(config.clone())?;
        let peer = match &args.peer {
            Some(binary) => {
                let peer_settings = PeerSettings {
                    model: config.model_path.clone(),
                    ctx: engine.info().context_tokens,
                    threads,
                    max_tokens: 1,
                    max_lines: 1,
                    batch: setup.batch,
                    flash_attention: flash_flag(setup.flash),
                };
                let log = std::env::temp_dir().join(format!("splice-bench-prefill-{}.log", std::process::id()));
                Some(LlamaServer::start(binary, &peer_settings, &log)?)
            }
            None => None,
        };
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..args.rounds {
            let run_peer = |theirs: &mut Vec<Encode>| -> anyhow::Result<()> {
                if let Some(server) = &peer {
                    theirs.push(peer_encode(server, text)?);
                }
                Ok(())
            };
            if round % 2 == 1 {
                run_peer(&mut theirs)?;
            }
            ours.push(splice_encode(&engine, text, round)?);
            if round % 2 == 0 {
                run_peer(&mut theirs)?;
            }
        }
        drop(peer);
        drop(engine);
        let median = |runs: &[Encode]| quantile(&runs.iter().map(|e| e.per_second()).collect::<Vec<_>>(), 0.5);
        let (splice_tps, peer_tps) = (median(&ours), median(&theirs));
        let tokens = ours.first().map_or(0, |e| e.tokens);
        if let Some(peer_tokens) = theirs.first().map(|e| e.tokens) {
            if peer_tokens.abs_diff(tokens) > tokens / 100 + 1 {
                println!("  (the peer encoded {peer_tokens} tokens, Splice {tokens}: not the same prompt)");
            }
        }
        let ratio = splice_tps.zip(peer_tps).map(|(s, p)| s / p);
        println!(
            "{:<34} {:>7} {:>12} {:>12} {:>8}",
            variant.describe(),
            tokens,
            fmt(splice_tps),
            fmt(peer_tps),
            ratio.map_or("-".to_owned(), |r| format!("{r:.2}×"))
        );
        rows.push(json!({
            "variant": variant.describe(),
            "batch": setup.batch,
            "flashAttention": flash_flag(setup.flash),
            "threads": { "batch": threads.0, "decode": threads.1 },
            "tokens": tokens,
            "spliceTokensPerSecond": ours.iter().map(|e| round(e.per_second())).collect::<Vec<_>>(),
            "peerTokensPerSecond": theirs.iter().map(|e| round(e.per_second())).collect::<Vec<_>>(),
            "medianRatio": ratio.map(|r| (r * 100.0).round() / 100.0),
        }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({ "file": path, "busy": args.busy, "variants": rows }))?);
    }
    Ok(())
}

/// The text up to the last line break before `chars` bytes (all of it if shorter).
fn cut_at_line(text: &str, chars: usize) -> &str {
    if text.len() <= chars {
        return text;
    }
    let mut end = chars;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..text[..end].rfind('\n').map_or(end, |i| i + 1)]
}

/// Splice's engine encoding `text` as a cold document's prefix, generating one token.
fn splice_encode(engine: &Engine, text: &str, round: usize) -> anyhow::Result<Encode> {
    let document = format!("bench-prefill-{round}.py");
    let request = CompletionRequest {
        document: document.clone(),
        prefix: text.to_owned(),
        suffix: String::new(),
        shape: SuggestionShape::SingleLine,
        max_tokens: 1,
        sampling: SamplingConfig::default(),
        cancel: CancelToken::new(),
        context: None,
        check: None,
    };
    let completion = engine.complete_blocking(request)?;
    engine.close_document(&document);
    let stats = completion.stats;
    if stats.encoded_tokens + 1 < stats.prompt_tokens {
        bail!("the engine reused {} cached tokens of a cold prompt", stats.prompt_tokens - stats.encoded_tokens);
    }
    Ok(Encode { tokens: stats.encoded_tokens, ms: stats.prompt_ms })
}

/// `llama-server` encoding `text` without its prompt cache, generating one token.
fn peer_encode(server: &LlamaServer, text: &str) -> anyhow::Result<Encode> {
    let body = json!({
        "prompt": text,
        "n_predict": 1,
        "cache_prompt": false,
        "temperature": 0.0,
    });
    let answer = crate::bench_http::post_json(server.addr(), "/completion", &body, PEER_GUARD)
        .context("llama-server /completion")?;
    let timings = &answer["timings"];
    let tokens = timings["prompt_n"].as_u64().context("no timings.prompt_n in llama-server's answer")? as usize;
    let ms = timings["prompt_ms"].as_f64().context("no timings.prompt_ms in llama-server's answer")?;
    Ok(Encode { tokens, ms })
}

fn fmt(x: Option<f64>) -> String {
    x.map_or("-".to_owned(), |x| format!("{x:.1}"))
}

#[cfg(test)]
mod tests {
    use super::cut_at_line;

    #[test]
    fn cuts_after_the_last_whole_line() {
        assert_eq!(cut_at_line("ab\ncd\nef", 7), "ab\ncd\n");
        assert_eq!(cut_at_line("ab\ncd\nef", 100), "ab\ncd\nef");
        assert_eq!(cut_at_line("abcdef", 3), "abc");
        assert_eq!(cut_at_line("é\né", 2), "é");
    }
}
