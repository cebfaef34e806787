//! `splice complete FILE --line L --col C`: one completion without an editor.

use crate::cli::CompleteArgs;
use crate::completion;
use crate::config::Settings;
use crate::report;
use crate::workspace::Workspace;
use anyhow::{bail, Context};
use serde_json::json;
use splice_model::{Completion, Engine, ModelInfo};
use std::path::{Path, PathBuf};

/// Runs `splice complete`: loads the model, completes at the position, prints the suggestion
/// (or JSON with timings). An empty suggestion prints nothing (JSON: `"suggestion": null`).
pub fn complete(args: CompleteArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", args.file.display()))?;
    let cursor = cursor_offset(&text, args.line, args.col)?;
    let settings = Settings::resolve(args.options);
    let engine = Engine::start(settings.engine.clone())?;
    let workspace = Workspace::new(workspace_roots(&args.file, args.workspace.as_deref()), settings.retrieval.clone());
    if workspace.wants_index() {
        let report = workspace.open_and_sync(&mut |_| {}).context("cannot index the workspace")?;
        tracing::info!(?report, "workspace indexed");
    }
    let document = args.file.to_string_lossy();
    let at = completion::At::whole(&document, &text, cursor, Some(&args.file));
    let (prepared, result, suggestion) = completion::complete_blocking(&engine, &workspace, &settings, at)?;
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

/// The workspace of `splice complete`: `--workspace`, else the git repository holding the file,
/// else none (no retrieval).
fn workspace_roots(file: &Path, given: Option<&Path>) -> Vec<PathBuf> {
    if let Some(given) = given {
        return vec![given.to_path_buf()];
    }
    let file = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    file.ancestors().skip(1).find(|dir| dir.join(".git").exists()).map(Path::to_path_buf).into_iter().collect()
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
        "retrieval": report::retrieval_json(&prepared.retrieval, &result.stats),
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
