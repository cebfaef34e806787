//! `splice complete FILE --line L --col C`: one completion without an editor.

use crate::cli::CompleteArgs;
use crate::completion;
use crate::config::Settings;
use crate::report;
use anyhow::{bail, Context};
use serde_json::json;
use splice_model::{Completion, Engine, ModelInfo};
use splice_retrieval::RetrievalDecision;

/// Runs `splice complete`: loads the model, completes at the position, prints the suggestion
/// (or JSON with timings). An empty suggestion prints nothing (JSON: `"suggestion": null`).
pub fn complete(args: CompleteArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", args.file.display()))?;
    let cursor = cursor_offset(&text, args.line, args.col)?;
    let settings = Settings::resolve(args.options);
    let engine = Engine::start(settings.engine.clone())?;
    let document = args.file.to_string_lossy();
    let at = completion::At { document: &document, text: &text, cursor, path: Some(&args.file) };
    let (prepared, result, suggestion) = completion::complete_blocking(&engine, &settings, at)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report(engine.info(), &prepared, &result, suggestion.as_deref()))?
        );
    } else if let Some(suggestion) = suggestion {
        println!("{suggestion}");
    }
    Ok(())
}

/// Byte offset of 1-based `line` and 1-based `col` (in characters); errors name the valid range.
pub fn cursor_offset(text: &str, line: u32, col: u32) -> anyhow::Result<usize> {
    if line == 0 || col == 0 {
        bail!("--line and --col are 1-based");
    }
    let mut line_start = 0;
    let mut lines = 1;
    for (i, _) in text.match_indices('\n') {
        if lines == line {
            break;
        }
        line_start = i + 1;
        lines += 1;
    }
    if lines != line {
        bail!("line {line} is past the end of the file ({lines} lines)");
    }
    let line_text = text[line_start..].split('\n').next().unwrap_or_default().trim_end_matches('\r');
    let chars = line_text.chars().count() as u32;
    if col > chars + 1 {
        bail!("column {col} is past the end of line {line} ({chars} characters; the last column is {})", chars + 1);
    }
    let within: usize = line_text.chars().take(col as usize - 1).map(char::len_utf8).sum();
    Ok(line_start + within)
}

fn report(
    info: &ModelInfo,
    prepared: &completion::Prepared,
    result: &Completion,
    suggestion: Option<&str>,
) -> serde_json::Value {
    json!({
        "suggestion": suggestion,
        "raw": result.text,
        "stop": format!("{:?}", result.stop),
        "shape": format!("{:?}", prepared.request.shape),
        "retrieval": match &prepared.retrieval {
            RetrievalDecision::Skip { reason } => json!({ "retrieved": false, "reason": reason }),
            RetrievalDecision::Retrieve(snippets) => json!({ "retrieved": true, "snippets": snippets.len() }),
        },
        "model": report::model_json(info),
        "timings": report::stats_json(&result.stats),
    })
}

#[cfg(test)]
mod tests {
    use super::cursor_offset;

    #[test]
    fn columns_count_characters_and_lines_start_at_one() {
        let text = "ab\n😀x\n";
        assert_eq!(cursor_offset(text, 1, 1).unwrap(), 0);
        assert_eq!(cursor_offset(text, 2, 2).unwrap(), 7);
        assert_eq!(cursor_offset(text, 3, 1).unwrap(), 9);
        assert!(cursor_offset(text, 2, 4).unwrap_err().to_string().contains("past the end of line 2"));
        assert!(cursor_offset(text, 4, 1).unwrap_err().to_string().contains("past the end of the file (3 lines)"));
    }
}
