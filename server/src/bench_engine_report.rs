//! What `splice bench engine` prints: the setting, one table row per K and mode, the targets as
//! ratios, and (`--json`) every row's numbers. Never fails on them.

use crate::bench_engine_record::{censored_ratio, Measurement, Row, SlotChoices};
use crate::bench_stats::Censored;
use crate::bench_typing_script::Spot;
use crate::cli::{AloneEditors, BenchEngineArgs};
use serde_json::{json, Value};

/// The run's setting, printed first and repeated in the report.
pub struct Header {
    line: String,
}

impl Header {
    /// Describes `args` and each editor's spots; reads the load average now.
    pub fn new(args: &BenchEngineArgs, spots: &[&[Spot]]) -> Header {
        let characters: Vec<String> =
            spots.iter().map(|s| s.iter().map(|s| s.cut.target.chars().count()).sum::<usize>().to_string()).collect();
        let line = format!(
            "splice bench engine: K = {:?}, editor i types {} lines in spots of {} (seed {} + i; characters per \
             editor: {}), K = 1: {}, engine batch {}, {} cores, load average {}",
            args.k,
            args.lines,
            args.lines_per_spot,
            args.seed,
            characters.join(", "),
            match args.alone {
                AloneEditors::Every => format!("each of the {} editors alone, one after another, pooled", spots.len()),
                AloneEditors::First => "editor 0 alone".to_owned(),
            },
            args.engine_batch,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_average()
        );
        Header { line }
    }

    /// Prints the setting.
    pub fn print_start(&self) {
        println!("{}", self.line);
    }
}

/// One line on stderr as each configuration ends.
pub fn print_progress(measurement: &Measurement) {
    let row = Row::new(measurement);
    eprintln!(
        "{} K={}: {} keystrokes, p90 {} ms (answered {}), hit rate {}, load average {}",
        row.mode,
        row.k,
        row.keystrokes,
        row.all[1],
        ms(row.answered[1]),
        percent(row.hit_rate()),
        load_average()
    );
}

/// Prints the table, the target ratios and, with `json`, the rows as JSON.
pub fn print_report(measurements: &[Measurement], json: bool) {
    let rows: Vec<Row> = measurements.iter().map(Row::new).collect();
    println!();
    println!(
        "| mode | K | keystrokes (late) | latency p50 / p90 ms, answered | p50 / p90, all (late last) | p50 / p90 where \
         the person stopped (keys) | model runs seen | prompt tokens from cache (per request) | engine's /metrics hit rate | engine's slot choice: asked for / \
         similar prompt / least recently used | tokens/s, all editors | decode \
         tokens/s per request | engine ms p50 / p90 | remote overhead p50 / p90 ms (runs) | keystroke − engine ms \
         p50 / p90 (keys) | errors / hangs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} ({}) | {} / {} | {} / {} | {} / {} ({}) | {} | {} | {} | {} | {} | {} | {} / {} | {} / {} ({}) | {} / {} ({}) | {} / {} |",
            row.mode,
            row.k,
            row.keystrokes,
            row.late,
            ms(row.answered[0]),
            ms(row.answered[1]),
            row.all[0],
            row.all[1],
            row.stopped.0[0],
            row.stopped.0[1],
            row.stopped.1,
            row.model_runs,
            percent(row.hit_rate()),
            percent(row.engine_hit_rate),
            slot_choices(row.slot_choices.as_ref()),
            opt(row.tokens_per_second(), 1),
            opt(row.decode_tps, 1),
            ms(row.engine_ms[0]),
            ms(row.engine_ms[1]),
            ms(row.overhead.0[0]),
            ms(row.overhead.0[1]),
            row.overhead.1,
            ms(row.key_overhead.0[0]),
            ms(row.key_overhead.0[1]),
            row.key_overhead.1,
            row.errors,
            row.hangs,
        );
    }
    println!();
    print_targets(&rows);
    println!("load average at the end: {}", load_average());
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Array(rows.iter().map(row_json).collect())).unwrap_or_default()
        );
    }
}

fn print_targets(rows: &[Row]) {
    let find = |mode: &str, k: usize| rows.iter().find(|r| r.mode == mode && r.k == k);
    if let Some(one) = find("remote", 1) {
        println!(
            "K = 1, remote overhead (Splice's totalMs − the engine's prompt_ms + predicted_ms): p50 {} / p90 {} ms over \
             {} runs (target ≤ 15); the whole keystroke less the engine's time: p50 {} / p90 {} ms",
            ms(one.overhead.0[0]),
            ms(one.overhead.0[1]),
            one.overhead.1,
            ms(one.key_overhead.0[0]),
            ms(one.key_overhead.0[1]),
        );
    }
    let one = find("remote", 1);
    for row in rows.iter().filter(|r| r.mode == "remote" && r.k > 1) {
        let Some(one) = one else { break };
        println!(
            "remote p90, K = {} / K = 1: answered {} / {} = {}; all keystrokes {} / {} = {}; where the person stopped \
             {} / {} = {} (target at K = 8: ≤ 3)",
            row.k,
            ms(row.answered[1]),
            ms(one.answered[1]),
            ratio(row.answered[1].map(Censored::Ms), one.answered[1].map(Censored::Ms)),
            row.all[1],
            one.all[1],
            ratio(Some(row.all[1]), Some(one.all[1])),
            row.stopped.0[1],
            one.stopped.0[1],
            ratio(Some(row.stopped.0[1]), Some(one.stopped.0[1])),
        );
    }
    for row in rows.iter().filter(|r| r.mode == "remote") {
        println!(
            "remote K = {}: prompt tokens from the engine's prefix cache while typing: {} per request, {} by /metrics \
             (cold and superseded requests included) (target ≥ 90 %)",
            row.k,
            percent(row.hit_rate()),
            percent(row.engine_hit_rate),
        );
    }
    for row in rows.iter().filter(|r| r.mode == "remote") {
        let Some(local) = find("local", row.k) else { continue };
        println!(
            "K = {}: p90 all keystrokes, remote / local: {} / {} = {}",
            row.k,
            row.all[1],
            local.all[1],
            ratio(Some(row.all[1]), Some(local.all[1])),
        );
    }
}

fn row_json(row: &Row) -> Value {
    let censored = |c: Censored| match c {
        Censored::Ms(ms) => json!(ms),
        Censored::NotInTime => json!("late"),
        Censored::NoData => Value::Null,
    };
    json!({
        "mode": row.mode,
        "k": row.k,
        "keystrokes": row.keystrokes,
        "late": row.late,
        "answeredMs": { "p50": row.answered[0], "p90": row.answered[1] },
        "allMs": { "p50": censored(row.all[0]), "p90": censored(row.all[1]) },
        "stoppedMs": { "p50": censored(row.stopped.0[0]), "p90": censored(row.stopped.0[1]), "keys": row.stopped.1 },
        "modelRuns": row.model_runs,
        "promptTokens": row.prompt_tokens,
        "reusedTokens": row.reused_tokens,
        "hitRate": row.hit_rate(),
        "engineHitRate": row.engine_hit_rate,
        "slotChoices": row.slot_choices.map(|c| json!({
            "byId": c.by_id, "bySimilarity": c.by_similarity, "byLeastRecentlyUsed": c.by_lru,
        })),
        "generatedTokens": row.generated_tokens,
        "engineGeneratedTokens": row.engine_generated_tokens,
        "wallSeconds": row.wall_s,
        "tokensPerSecond": row.tokens_per_second(),
        "decodeTokensPerSecond": row.decode_tps,
        "engineMs": { "p50": row.engine_ms[0], "p90": row.engine_ms[1] },
        "remoteOverheadMs": { "p50": row.overhead.0[0], "p90": row.overhead.0[1], "runs": row.overhead.1 },
        "keystrokeOverheadMs": { "p50": row.key_overhead.0[0], "p90": row.key_overhead.0[1], "keys": row.key_overhead.1 },
        "errors": row.errors,
        "hangs": row.hangs,
    })
}

/// The engine's slot choices as `by id / by similarity / by LRU`, `-` without an engine.
fn slot_choices(choices: Option<&SlotChoices>) -> String {
    choices.map_or("-".to_owned(), |c| format!("{} / {} / {}", c.by_id, c.by_similarity, c.by_lru))
}

/// `a / b` of two p90s, in words when one was late.
fn ratio(a: Option<Censored>, b: Option<Censored>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => match censored_ratio(a, b) {
            Some(r) if r.is_infinite() => "∞ (its p90 keystroke was late)".to_owned(),
            Some(r) => format!("{r:.2}"),
            None => "-".to_owned(),
        },
        _ => "-".to_owned(),
    }
}

fn ms(value: Option<f64>) -> String {
    opt(value, 1)
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn percent(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{:.1} %", v * 100.0))
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), or `-`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "-".to_owned())
}
