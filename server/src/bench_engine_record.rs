//! What one configuration of `splice bench engine` measured (a mode, K editors, their replays and
//! the engine's counters), and the arithmetic the table is made of: pooled keystroke quantiles,
//! the prefix-cache hit rate, the remote overhead, tokens per second. Pure: nothing here talks
//! to a server, so every number's definition is unit-tested.
//!
//! **Prefix-cache hit rate**, two ways. Per request: over the model runs each editor's status
//! probe saw while typing (each spot's cold first request left out), the sum of `reusedTokens`
//! over the sum of `promptTokens` (remote: the engine's `timings.cache_n`; in process: the
//! tokens Splice's own KV cache kept). From the engine: llama-server's `/metrics`
//! `prompt_tokens_cached_total / (prompt_tokens_cached_total + prompt_tokens_total)` over the
//! whole run, cold requests and superseded ones included.
//!
//! **Remote overhead** of a model run: Splice's `totalMs` (from the remote worker taking the
//! request to the checked suggestion) less the engine's own `prompt_ms + predicted_ms`
//! (`engineMs`). **Keystroke overhead**: the editor's latency of a keystroke the model answered
//! less that run's `engineMs`: the whole path, LSP and prompt window included.

use crate::bench_stats::{quantile, Censored};
use crate::bench_typing_record::{late_ranked, Run, Source};
use crate::cli::EngineMode;
use serde_json::Value;

/// llama-server's counters from `/metrics` (Prometheus text), or their change over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EngineMetrics {
    /// `llamacpp:prompt_tokens_total`: prompt tokens evaluated (cached ones excluded).
    pub prompt_tokens: f64,
    /// `llamacpp:prompt_tokens_cached_total`: prompt tokens taken from the prefix cache.
    pub cached_tokens: f64,
    /// `llamacpp:tokens_predicted_total`: tokens generated.
    pub predicted_tokens: f64,
    /// `llamacpp:tokens_predicted_seconds_total`: slot-seconds spent generating.
    pub predicted_seconds: f64,
}

impl EngineMetrics {
    /// Reads the counters from `/metrics` text; a counter missing reads 0.
    pub fn parse(text: &str) -> EngineMetrics {
        let value = |name: &str| {
            text.lines()
                .filter(|line| !line.starts_with('#'))
                .find_map(|line| {
                    let (key, value) = line.split_once(' ')?;
                    (key == name).then(|| value.trim().parse::<f64>().ok()).flatten()
                })
                .unwrap_or(0.0)
        };
        EngineMetrics {
            prompt_tokens: value("llamacpp:prompt_tokens_total"),
            cached_tokens: value("llamacpp:prompt_tokens_cached_total"),
            predicted_tokens: value("llamacpp:tokens_predicted_total"),
            predicted_seconds: value("llamacpp:tokens_predicted_seconds_total"),
        }
    }

    /// `self - earlier`, counter by counter.
    pub fn since(&self, earlier: &EngineMetrics) -> EngineMetrics {
        EngineMetrics {
            prompt_tokens: self.prompt_tokens - earlier.prompt_tokens,
            cached_tokens: self.cached_tokens - earlier.cached_tokens,
            predicted_tokens: self.predicted_tokens - earlier.predicted_tokens,
            predicted_seconds: self.predicted_seconds - earlier.predicted_seconds,
        }
    }

    /// `self + other`, counter by counter: two engines' counts over their runs.
    pub fn plus(&self, other: &EngineMetrics) -> EngineMetrics {
        EngineMetrics {
            prompt_tokens: self.prompt_tokens + other.prompt_tokens,
            cached_tokens: self.cached_tokens + other.cached_tokens,
            predicted_tokens: self.predicted_tokens + other.predicted_tokens,
            predicted_seconds: self.predicted_seconds + other.predicted_seconds,
        }
    }

    /// Cached / (cached + evaluated) prompt tokens; `None` without prompt tokens.
    pub fn hit_rate(&self) -> Option<f64> {
        let all = self.cached_tokens + self.prompt_tokens;
        (all > 0.0).then(|| self.cached_tokens / all)
    }
}

/// How llama-server chose the slot of each request, counted from its log: the slot the request
/// asked for (`id_slot`), the idle slot with the longest common prefix, or the least recently
/// used one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotChoices {
    /// "selected slot by id".
    pub by_id: usize,
    /// "selected slot by LCP similarity".
    pub by_similarity: usize,
    /// "selected slot by LRU".
    pub by_lru: usize,
}

impl SlotChoices {
    /// `self + other`, choice by choice: two engines' counts over their runs.
    pub fn plus(&self, other: &SlotChoices) -> SlotChoices {
        SlotChoices {
            by_id: self.by_id + other.by_id,
            by_similarity: self.by_similarity + other.by_similarity,
            by_lru: self.by_lru + other.by_lru,
        }
    }

    /// Counts the choices in llama-server's log text.
    pub fn parse(log: &str) -> SlotChoices {
        let count = |needle: &str| log.lines().filter(|line| line.contains(needle)).count();
        SlotChoices {
            by_id: count("selected slot by id"),
            by_similarity: count("selected slot by LCP similarity"),
            by_lru: count("selected slot by LRU"),
        }
    }
}

/// One configuration: `k` editors typing at once in `mode`.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Remote engine or in process.
    pub mode: EngineMode,
    /// Editors typing at once.
    pub k: usize,
    /// Each editor's replay, in editor order.
    pub runs: Vec<Run>,
    /// Seconds from the first editor's start of typing to the last one's end.
    pub wall_s: f64,
    /// The engine's counters over the typing (remote only).
    pub engine: Option<EngineMetrics>,
    /// How the engine chose each request's slot, over the whole run (remote only).
    pub slot_choices: Option<SlotChoices>,
}

impl Measurement {
    /// This measurement and `other` (the same mode and K, typed on another engine) as one: their
    /// editors' replays one after the other, their typing times and engine counters added.
    pub fn pooled_with(mut self, other: Measurement) -> Measurement {
        self.runs.extend(other.runs);
        self.wall_s += other.wall_s;
        self.engine = added(self.engine, other.engine, |a, b| a.plus(&b));
        self.slot_choices = added(self.slot_choices, other.slot_choices, |a, b| a.plus(&b));
        self
    }
}

/// `a` and `b` added where both are counted, else whichever is.
fn added<T>(a: Option<T>, b: Option<T>, add: impl FnOnce(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(add(a, b)),
        (a, b) => a.or(b),
    }
}

/// The numbers of one table row, every editor's keystrokes and model runs pooled.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `remote` or `local`.
    pub mode: &'static str,
    /// Editors typing at once.
    pub k: usize,
    /// Keystrokes typed (Tab included).
    pub keystrokes: usize,
    /// Of those, answered after the next key was pressed.
    pub late: usize,
    /// p50 and p90 over the answered keystrokes, milliseconds.
    pub answered: [Option<f64>; 2],
    /// p50 and p90 over all keystrokes, late ones ranked last.
    pub all: [Censored; 2],
    /// p50 and p90 over the keystrokes the person stopped after, late ones ranked last, and
    /// how many there were.
    pub stopped: ([Censored; 2], usize),
    /// Model runs whose stats the probes saw.
    pub model_runs: usize,
    /// Their prompt tokens.
    pub prompt_tokens: u64,
    /// Of those, taken from a cache (the engine's prefix cache, or Splice's KV cache).
    pub reused_tokens: u64,
    /// The engine's own hit rate over the run (`/metrics`), remote only.
    pub engine_hit_rate: Option<f64>,
    /// How the engine chose the requests' slots, remote only.
    pub slot_choices: Option<SlotChoices>,
    /// Tokens those runs generated.
    pub generated_tokens: u64,
    /// Tokens the engine generated, superseded requests included (`/metrics`), remote only.
    pub engine_generated_tokens: Option<f64>,
    /// Seconds of typing.
    pub wall_s: f64,
    /// Decode speed of one request: tokens after the first over their time, pooled.
    pub decode_tps: Option<f64>,
    /// Remote overhead p50 / p90 (ms) and how many runs had the engine's time.
    pub overhead: ([Option<f64>; 2], usize),
    /// Keystroke overhead p50 / p90 (ms) and how many keystrokes it was measured on.
    pub key_overhead: ([Option<f64>; 2], usize),
    /// Engine's own time per run (`engineMs`) p50 / p90 (ms).
    pub engine_ms: [Option<f64>; 2],
    /// Error answers and hangs, over all editors.
    pub errors: u64,
    /// See `errors`.
    pub hangs: u64,
}

impl Row {
    /// Pools `measurement`'s editors into one row.
    pub fn new(measurement: &Measurement) -> Row {
        let runs = &measurement.runs;
        let answered: Vec<f64> = runs.iter().flat_map(|r| r.keys.iter().filter_map(|k| k.latency_ms)).collect();
        let keystrokes: usize = runs.iter().map(|r| r.keys.len()).sum();
        let late = keystrokes - answered.len();
        let keys = || runs.iter().flat_map(|r| &r.keys);
        let stats: Vec<&Value> = runs.iter().flat_map(|r| r.model_runs.iter().map(|(_, s)| s)).collect();
        let sum = |field: &str| stats.iter().map(|s| s[field].as_u64().unwrap_or(0)).sum::<u64>();
        let overheads: Vec<f64> = stats.iter().filter_map(|s| remote_overhead(s)).collect();
        let engine_ms: Vec<f64> = stats.iter().filter_map(|s| s["engineMs"].as_f64()).collect();
        let key_overheads: Vec<f64> = runs.iter().flat_map(keystroke_overheads).collect();
        let (decode_tokens, decode_ms) =
            runs.iter().fold((0, 0.0), |(t, ms), r| (t + r.decode_tokens, ms + r.decode_ms));
        Row {
            mode: mode_name(measurement.mode),
            k: measurement.k,
            keystrokes,
            late,
            answered: [0.5, 0.9].map(|q| quantile(&answered, q)),
            all: late_ranked(keys(), [0.5, 0.9]),
            stopped: (late_ranked(keys().filter(|k| k.stopped), [0.5, 0.9]), keys().filter(|k| k.stopped).count()),
            model_runs: stats.len(),
            prompt_tokens: sum("promptTokens"),
            reused_tokens: sum("reusedTokens"),
            engine_hit_rate: measurement.engine.and_then(|m| m.hit_rate()),
            slot_choices: measurement.slot_choices,
            generated_tokens: sum("generatedTokens"),
            engine_generated_tokens: measurement.engine.map(|m| m.predicted_tokens),
            wall_s: measurement.wall_s,
            decode_tps: (decode_ms > 0.0).then(|| decode_tokens as f64 * 1000.0 / decode_ms),
            overhead: ([0.5, 0.9].map(|q| quantile(&overheads, q)), overheads.len()),
            key_overhead: ([0.5, 0.9].map(|q| quantile(&key_overheads, q)), key_overheads.len()),
            engine_ms: [0.5, 0.9].map(|q| quantile(&engine_ms, q)),
            errors: runs.iter().map(|r| r.errors.values().sum::<u64>()).sum(),
            hangs: runs.iter().map(|r| r.hangs).sum(),
        }
    }

    /// Reused / prompt tokens of the model runs seen; `None` without any.
    pub fn hit_rate(&self) -> Option<f64> {
        (self.prompt_tokens > 0).then(|| self.reused_tokens as f64 / self.prompt_tokens as f64)
    }

    /// Tokens generated per second of typing, all editors together (the engine's count where
    /// there is one: it includes the runs no probe saw).
    pub fn tokens_per_second(&self) -> Option<f64> {
        let tokens = self.engine_generated_tokens.unwrap_or(self.generated_tokens as f64);
        (self.wall_s > 0.0).then(|| tokens / self.wall_s)
    }
}

/// The mode's name in the table.
pub fn mode_name(mode: EngineMode) -> &'static str {
    match mode {
        EngineMode::Remote => "remote",
        EngineMode::Local => "local",
    }
}

/// `totalMs - engineMs` of one model run's stats; `None` without the engine's time.
pub fn remote_overhead(stats: &Value) -> Option<f64> {
    Some(stats["totalMs"].as_f64()? - stats["engineMs"].as_f64()?)
}

/// For each keystroke the model answered whose run's stats were seen with the engine's time:
/// the keystroke's latency less `engineMs`.
pub fn keystroke_overheads(run: &Run) -> Vec<f64> {
    run.model_runs
        .iter()
        .filter_map(|(key, stats)| {
            let key = run.keys.get(*key).filter(|k| k.source == Source::Model)?;
            Some(key.latency_ms? - stats["engineMs"].as_f64()?)
        })
        .collect()
}

/// `a / b` of two p90s where a late p90 is longer than any measured one.
pub fn censored_ratio(a: Censored, b: Censored) -> Option<f64> {
    match (a, b) {
        (Censored::Ms(a), Censored::Ms(b)) if b > 0.0 => Some(a / b),
        (Censored::NotInTime, Censored::Ms(_)) => Some(f64::INFINITY),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_typing_record::{Along, KeyKind, KeyOutcome};
    use serde_json::json;

    fn key(latency_ms: Option<f64>, source: Source) -> KeyOutcome {
        KeyOutcome { kind: KeyKind::Typed, along: Along::No, latency_ms, source, stopped: false }
    }

    const METRICS: &str = "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed\n\
        # TYPE llamacpp:prompt_tokens_total counter\n\
        llamacpp:prompt_tokens_total 120\n\
        llamacpp:prompt_tokens_cached_total 2880\n\
        llamacpp:tokens_predicted_total 400\n\
        llamacpp:tokens_predicted_seconds_total 2.5\n\
        llamacpp:prompt_tokens_seconds 900.5\n";

    #[test]
    fn metrics_are_read_by_exact_name_and_subtracted() {
        let after = EngineMetrics::parse(METRICS);
        assert_eq!(
            after,
            EngineMetrics {
                prompt_tokens: 120.0,
                cached_tokens: 2880.0,
                predicted_tokens: 400.0,
                predicted_seconds: 2.5
            }
        );
        let before = EngineMetrics { prompt_tokens: 20.0, cached_tokens: 880.0, ..EngineMetrics::default() };
        let delta = after.since(&before);
        assert_eq!(delta.hit_rate(), Some(2000.0 / 2100.0));
        assert_eq!(EngineMetrics::parse("").hit_rate(), None);
    }

    #[test]
    fn slot_choices_are_counted_from_the_engines_log() {
        let log = "0.01 I slot get_availabl: id  1 | task -1 | selected slot by LRU, t_last = -1\n\
            0.02 W srv          stop: cancel task, id_task = 0\n\
            0.03 I slot get_availabl: id  1 | task -1 | selected slot by id (1)\n\
            0.04 I slot get_availabl: id  0 | task -1 | selected slot by LCP similarity, f_sim_best = 0.9 (> 0.1 thold)\n\
            0.05 I slot get_availabl: id  1 | task -1 | selected slot by id (1)\n";
        let choices = SlotChoices::parse(log);
        assert_eq!(choices, SlotChoices { by_id: 2, by_similarity: 1, by_lru: 1 });
    }

    #[test]
    fn overhead_is_splice_time_less_the_engine_time_and_needs_both() {
        assert_eq!(remote_overhead(&json!({ "totalMs": 52.5, "engineMs": 40.0 })), Some(12.5));
        assert_eq!(remote_overhead(&json!({ "totalMs": 52.5, "engineMs": null })), None);
    }

    #[test]
    fn keystroke_overhead_counts_model_answers_only() {
        let run = Run {
            keys: vec![key(Some(60.0), Source::Model), key(Some(2.0), Source::Cache), key(None, Source::Model)],
            model_runs: vec![
                (0, json!({ "engineMs": 45.0 })),
                (1, json!({ "engineMs": 1.0 })),
                (2, json!({ "engineMs": 30.0 })),
            ],
            ..Run::default()
        };
        assert_eq!(keystroke_overheads(&run), vec![15.0]);
    }

    #[test]
    fn a_row_pools_every_editor() {
        let editor = |latencies: &[Option<f64>], stats: Value| Run {
            keys: latencies.iter().map(|&l| key(l, Source::Model)).collect(),
            model_runs: vec![(0, stats)],
            decode_tokens: 10,
            decode_ms: 100.0,
            ..Run::default()
        };
        let measurement = Measurement {
            mode: EngineMode::Remote,
            k: 2,
            runs: vec![
                editor(
                    &[Some(10.0), Some(20.0)],
                    json!({ "promptTokens": 1000, "reusedTokens": 950, "generatedTokens": 8, "totalMs": 30.0, "engineMs": 25.0 }),
                ),
                editor(
                    &[Some(30.0), None],
                    json!({ "promptTokens": 1000, "reusedTokens": 850, "generatedTokens": 12, "totalMs": 40.0, "engineMs": 31.0 }),
                ),
            ],
            wall_s: 10.0,
            engine: Some(EngineMetrics {
                prompt_tokens: 300.0,
                cached_tokens: 1700.0,
                predicted_tokens: 50.0,
                ..EngineMetrics::default()
            }),
            slot_choices: Some(SlotChoices { by_id: 3, by_similarity: 1, by_lru: 2 }),
        };
        let mut measurement = measurement;
        measurement.runs[0].keys[1].stopped = true;
        measurement.runs[1].keys[1].stopped = true;
        let row = Row::new(&measurement);
        assert_eq!((row.keystrokes, row.late), (4, 1));
        assert_eq!(row.stopped, ([Censored::Ms(20.0), Censored::NotInTime], 2), "one stop answered, one late");
        assert_eq!(row.answered, [Some(20.0), Some(30.0)]);
        assert_eq!(row.all, [Censored::Ms(20.0), Censored::NotInTime]);
        assert_eq!(row.hit_rate(), Some(0.9));
        assert_eq!(row.engine_hit_rate, Some(0.85));
        assert_eq!(row.overhead, ([Some(5.0), Some(9.0)], 2));
        assert_eq!(row.key_overhead, ([Some(-15.0), Some(-1.0)], 2));
        assert_eq!(row.tokens_per_second(), Some(5.0));
        assert_eq!(row.generated_tokens, 20);
        assert_eq!(row.decode_tps, Some(100.0));
    }

    #[test]
    fn editors_measured_alone_pool_into_one_measurement() {
        let alone = |latency: f64, prompt: f64, by_id: usize| Measurement {
            mode: EngineMode::Remote,
            k: 1,
            runs: vec![Run { keys: vec![key(Some(latency), Source::Model)], ..Run::default() }],
            wall_s: 10.0,
            engine: Some(EngineMetrics { prompt_tokens: prompt, cached_tokens: 900.0, ..EngineMetrics::default() }),
            slot_choices: Some(SlotChoices { by_id, by_similarity: 0, by_lru: 1 }),
        };
        let pooled = alone(10.0, 100.0, 5).pooled_with(alone(30.0, 300.0, 7));
        assert_eq!(pooled.runs.len(), 2);
        assert_eq!(pooled.wall_s, 20.0);
        let engine = pooled.engine.expect("both engines counted");
        assert_eq!((engine.prompt_tokens, engine.cached_tokens), (400.0, 1800.0));
        assert_eq!(pooled.slot_choices, Some(SlotChoices { by_id: 12, by_similarity: 0, by_lru: 2 }));
        let row = Row::new(&pooled);
        assert_eq!((row.k, row.keystrokes), (1, 2));
        assert_eq!(row.answered, [Some(10.0), Some(30.0)], "both editors' keystrokes in the quantiles");
    }

    #[test]
    fn a_late_p90_makes_an_infinite_ratio() {
        assert_eq!(censored_ratio(Censored::Ms(90.0), Censored::Ms(30.0)), Some(3.0));
        assert_eq!(censored_ratio(Censored::NotInTime, Censored::Ms(30.0)), Some(f64::INFINITY));
        assert_eq!(censored_ratio(Censored::Ms(30.0), Censored::NotInTime), None);
    }
}
