//! What `splice bench typing` prints: the setting, one column per run (each Splice
//! configuration, then llama-server), and the ratios the targets are stated in.

use crate::bench_stats::Censored;
use crate::bench_typing_record::{Along, KeyKind, Run, Source};
use crate::bench_typing_script::Spot;
use crate::cli::BenchTypingArgs;

/// The run's setting, printed first and repeated in the report.
pub struct Header {
    line: String,
    spots: Vec<String>,
    busy: bool,
    /// Splice's latency budget in milliseconds; `None` without one.
    budget_ms: Option<u64>,
}

impl Header {
    /// Describes `args` and the chosen spots; reads the load average now.
    pub fn new(args: &BenchTypingArgs, spots: &[Spot]) -> Header {
        let typed: usize = spots.iter().map(|s| s.cut.target.chars().count()).sum();
        let line = format!(
            "splice bench typing: {} spots of {} lines ({} characters), seed {}, {}, load average {}",
            spots.len(),
            args.lines_per_spot,
            typed,
            args.seed,
            if args.busy { "one core kept busy" } else { "no busy core" },
            load_average()
        );
        let spots = spots
            .iter()
            .map(|s| {
                let name = s.path.components().rev().take(2).collect::<Vec<_>>();
                let name: Vec<String> =
                    name.iter().rev().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                format!("{}:{}", name.join("/"), s.line + 1)
            })
            .collect();
        let budget_ms = args.options.latency_budget.unwrap_or(crate::config::DEFAULT_LATENCY_BUDGET_MS);
        Header { line, spots, busy: args.busy, budget_ms: (budget_ms > 0).then_some(budget_ms) }
    }

    /// Prints the setting and the spots.
    pub fn print_start(&self) {
        println!("{}", self.line);
        println!("spots: {}", self.spots.join(", "));
    }
}

/// Prints the table and the ratios.
pub fn print_report(header: &Header, runs: &[Run]) {
    println!();
    println!(
        "| {} |",
        std::iter::once("".to_owned()).chain(runs.iter().map(|r| r.name.clone())).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|{}", "---|".repeat(runs.len()));
    for (label, cell) in rows() {
        let cells: Vec<String> = runs.iter().map(cell).collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
    println!();
    print_ratios(runs);
    println!(
        "keystroke p90 over all keystrokes is the one to hold against the latency budget ({}).",
        if header.busy { "measured with one core busy" } else { "measured without a busy core" }
    );
    if let Some(budget) = header.budget_ms {
        for run in runs {
            let p90 = run.stop_quantiles()[1];
            let (shown, within) = match p90 {
                Censored::Ms(ms) => (format!("{ms:.1} ms"), ms <= budget as f64),
                other => (other.to_string(), false),
            };
            println!(
                "where the person stopped, {}: keystroke p90 {shown} against the latency budget's {budget} ms: {}",
                run.name,
                if within { "within" } else { "over" }
            );
        }
    }
    println!("load average at the end: {}", load_average());
}

type Cell = fn(&Run) -> String;

fn rows() -> Vec<(&'static str, Cell)> {
    vec![
        ("keystrokes: typed + Tab", |r| {
            let tabs = r.keys.iter().filter(|k| k.kind == KeyKind::Tab).count();
            format!("{} + {}", r.keys.len() - tabs, tabs)
        }),
        ("answered before the next key / late", |r| format!("{} / {}", r.keys.len() - r.late(), r.late())),
        ("latency p50 / p90 / p99 ms, answered keystrokes", |r| ms3(r.answered_quantiles(|_| true))),
        ("latency p50 / p90 / p99 ms, all keystrokes (late ranked last)", |r| {
            r.all_quantiles().map(|c| c.to_string()).join(" / ")
        }),
        ("where the person stopped (paused, or ended the spot): keystrokes, p50 / p90 / p99 ms (late last)", |r| {
            let stops = r.keys.iter().filter(|k| k.stopped).count();
            format!("{stops}, {}", r.stop_quantiles().map(|c| c.to_string()).join(" / "))
        }),
        (
            "answered without the model: server's cached + prefetched / received (peer: client cache / keys)",
            |r| match r.counters {
                Some(c) => format!(
                    "{} + {} / {} = {}",
                    c.cached,
                    c.prefetched.map_or("-".to_owned(), |p| p.to_string()),
                    c.received,
                    percent(c.without_model() as usize, c.received as usize)
                ),
                None => {
                    let cached = r.keys.iter().filter(|k| k.source == Source::Cache).count();
                    format!("{cached} / {} = {}", r.keys.len(), percent(cached, r.keys.len()))
                }
            },
        ),
        ("answers by source: cache / prefetch (waited for) / part of a line still being written / model (client's view)", |r| {
            let count = |s: Source| r.keys.iter().filter(|k| k.latency_ms.is_some() && k.source == s).count();
            let (finished, waited) = (count(Source::Prefetch), count(Source::PrefetchWaited));
            let (cache, partial, model) = (count(Source::Cache), count(Source::Partial), count(Source::Model));
            format!("{cache} / {} ({waited}) / {partial} / {model}", finished + waited)
        }),
        ("typing along a shown suggestion (some of it left): keystrokes, answered ≤ 5 ms", |r| {
            let (n, fast) = r.within(|k| k.along == Along::Rest, 5.0);
            format!("{n}, {}", percent(fast, n))
        }),
        ("typing out a shown suggestion (its last characters): keystrokes, p50 ms, answered ≤ 30 ms, from a prefetch", |r| {
            let out = |k: &crate::bench_typing_record::KeyOutcome| k.along == Along::Out;
            let (n, fast) = r.within(out, 30.0);
            let prefetched = r.keys.iter().filter(|k| out(k) && k.latency_ms.is_some() && k.source.is_prefetch());
            let prefetched = if r.counters.is_none_or(|c| c.prefetched.is_none()) { "-".to_owned() } else { prefetched.count().to_string() };
            format!("{n}, {}, {}, {prefetched}", ms(r.answered_quantiles(out)[0]), percent(fast, n))
        }),
        ("after Tab: keystrokes, p50 / p90 ms, answered ≤ 30 ms", |r| {
            let tab = |k: &crate::bench_typing_record::KeyOutcome| k.kind == KeyKind::Tab;
            let (n, fast) = r.within(tab, 30.0);
            let q = r.answered_quantiles(tab);
            format!("{n}, {} / {}, {}", ms(q[0]), ms(q[1]), percent(fast, n))
        }),
        ("after Tab, answered from a finished prefetch: keystrokes, p90 ms, ≤ 30 ms", |r| {
            let prefetched =
                |k: &crate::bench_typing_record::KeyOutcome| k.kind == KeyKind::Tab && k.source == Source::Prefetch;
            if r.counters.is_none_or(|c| c.prefetched.is_none()) {
                return "-".to_owned();
            }
            let (n, fast) = r.within(prefetched, 30.0);
            format!("{n}, {}, {}", ms(r.answered_quantiles(prefetched)[1]), percent(fast, n))
        }),
        ("after Tab, answered from a prefetch still running (waited for): keystrokes, p50 / p90 ms", |r| {
            let waited =
                |k: &crate::bench_typing_record::KeyOutcome| k.kind == KeyKind::Tab && k.source == Source::PrefetchWaited;
            if r.counters.is_none_or(|c| c.prefetched_waited.is_none()) {
                return "-".to_owned();
            }
            let q = r.answered_quantiles(waited);
            format!("{}, {} / {}", r.within(waited, 30.0).0, ms(q[0]), ms(q[1]))
        }),
        ("characters accepted by Tab / model calls (received − cached − prefetched)", |r| match r.model_calls() {
            Some(calls) => format!(
                "{} / {calls} = {}",
                r.accepted_chars,
                if calls == 0 { "-".to_owned() } else { format!("{:.2}", r.accepted_chars as f64 / calls as f64) }
            ),
            // The peer replays Splice's keys: its Tabs accepted Splice's suggestions.
            None => "-".to_owned(),
        }),
        ("requests sent (the peer's speculative ones included)", |r| r.requests_sent.to_string()),
        ("decode tokens/s (tokens after the first / their time)", |r| opt(r.decode_tps(), 1)),
        ("server's measured decode tokens/s (rates)", |r| opt(r.server_decode_tps, 1)),
        ("speculation: accepted / drafted tokens, verify steps, mean accepted per step", |r| match r.speculation {
            Some(s) => format!(
                "{} / {}, {}, {}",
                s.accepted_draft_tokens,
                s.draft_tokens,
                s.verify_steps,
                if s.verify_steps == 0 {
                    "-".to_owned()
                } else {
                    format!("{:.2}", s.accepted_draft_tokens as f64 / s.verify_steps as f64)
                }
            ),
            None => "-".to_owned(),
        }),
        ("prompt tokens, mean (finished model runs seen)", |r| {
            let n = r.prompt_tokens.len();
            if n == 0 {
                "-".to_owned()
            } else {
                format!("{:.0}", r.prompt_tokens.iter().sum::<u64>() as f64 / n as f64)
            }
        }),
        ("each spot's first request (cold prompt), mean ms", |r| {
            let n = r.warmup_ms.len();
            if n == 0 {
                "-".to_owned()
            } else {
                format!("{:.0}", r.warmup_ms.iter().sum::<f64>() / n as f64)
            }
        }),
        ("errors / hangs", |r| {
            let errors: u64 = r.errors.values().sum();
            let kinds: Vec<String> = r.errors.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
            if kinds.is_empty() {
                format!("{errors} / {}", r.hangs)
            } else {
                format!("{errors} / {} ({})", r.hangs, kinds.join("; "))
            }
        }),
    ]
}

fn print_ratios(runs: &[Run]) {
    let find = |name: &str| runs.iter().find(|r| r.name == name);
    if let (Some(plain), Some(speculative)) = (find("plain"), find("speculative")) {
        let ratio = match (speculative.decode_tps(), plain.decode_tps()) {
            (Some(s), Some(p)) if p > 0.0 => format!("{:.2}", s / p),
            _ => "-".to_owned(),
        };
        println!("decode tokens/s, speculative / plain: {ratio} (target ≥ 1.5)");
    }
    let Some(peer) = find("llama-server") else { return };
    let peer_answered = peer.answered_quantiles(|_| true)[1];
    let peer_all = peer.all_quantiles()[1];
    for run in runs.iter().filter(|r| r.name != "llama-server") {
        println!(
            "keystroke p90, {} / llama-server: answered {} / {} = {}; all keystrokes {} / {} = {} (target ≤ 0.33)",
            run.name,
            ms(run.answered_quantiles(|_| true)[1]),
            ms(peer_answered),
            ratio(run.answered_quantiles(|_| true)[1].map(Censored::Ms), peer_answered.map(Censored::Ms)),
            run.all_quantiles()[1],
            peer_all,
            ratio(Some(run.all_quantiles()[1]), Some(peer_all)),
        );
    }
}

/// `ours / theirs`, where a late p90 is longer than any measured one.
fn ratio(ours: Option<Censored>, theirs: Option<Censored>) -> String {
    match (ours, theirs) {
        (Some(Censored::Ms(a)), Some(Censored::Ms(b))) if b > 0.0 => format!("{:.2}", a / b),
        (Some(Censored::Ms(_)), Some(Censored::NotInTime)) => "0 (llama-server's p90 keystroke was late)".to_owned(),
        (Some(Censored::NotInTime), Some(Censored::Ms(_))) => "∞ (our p90 keystroke was late)".to_owned(),
        _ => "-".to_owned(),
    }
}

fn ms(value: Option<f64>) -> String {
    opt(value, 1)
}

fn ms3(values: [Option<f64>; 3]) -> String {
    values.map(ms).join(" / ")
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.0} %", part as f64 * 100.0 / whole as f64)
    }
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), or `-`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "-".to_owned())
}
