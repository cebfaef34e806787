//! The headless command line: `splice complete`, `splice --version`, and their errors.

use serde_json::Value;
use splice_e2e::{fixture, gemma, splice_bin, temp_dir};
use std::process::{Command, Output};

fn splice(args: &[&str]) -> Output {
    // A latency budget would cut a suggestion where the machine's speed happens to be.
    let budget: &[&str] = if args.first() == Some(&"complete") { &["--latency-budget", "0"] } else { &[] };
    Command::new(splice_bin()).args(args).args(budget).output().expect("splice runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The inventory fixture with line 13 cut after `self.`; (path, line, col) of the cursor, 1-based.
fn cut_fixture(test: &str) -> (std::path::PathBuf, u32, u32) {
    let dir = temp_dir(test);
    let text = std::fs::read_to_string(fixture("python/inventory.py")).unwrap();
    let cut = text.replacen("return self.price * self.quantity", "return self.price * self.", 1);
    let path = dir.join("inventory.py");
    std::fs::write(&path, cut).unwrap();
    (path, 13, 34)
}

#[test]
fn complete_prints_the_suggestion() {
    let (path, line, col) = cut_fixture("cli-plain");
    let output = splice(&["complete", path.to_str().unwrap(), "--line", &line.to_string(), "--col", &col.to_string()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim_end(), "quantity");
}

#[test]
fn complete_json_reports_the_model_and_timings() {
    let (path, line, col) = cut_fixture("cli-json");
    let json = complete_json(&path, line, col, &["--model", gemma().to_str().unwrap()]);
    assert_eq!(json["suggestion"], "quantity");
    assert_eq!(json["model"]["architecture"], "gemma3");
    assert_eq!(json["model"]["template"], "prefix-only");
    let timings = &json["timings"];
    let prompt = timings["promptTokens"].as_u64().unwrap();
    assert!(prompt > 50, "the whole prefix is the prompt: {timings}");
    assert_eq!(timings["encodedTokens"].as_u64().unwrap(), prompt, "a cold cache encodes every prompt token");
    for key in ["firstTokenMs", "totalMs", "promptMs"] {
        assert!(timings[key].as_f64().unwrap() > 0.0, "{key}: {timings}");
    }
}

#[test]
fn gpu_layers_report_what_was_offloaded_and_the_devices() {
    let (path, line, col) = cut_fixture("cli-gpu");
    let json = complete_json(&path, line, col, &["--gpu-layers", "999"]);
    assert_eq!(json["suggestion"], "quantity", "every layer asked for, on whatever device there is");
    let model = &json["model"];
    let devices: Vec<&str> = model["devices"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert!(devices.iter().any(|d| d.starts_with("CPU")), "{model}");
    let layers = model["gpuLayers"].as_u64().unwrap();
    if model["gpuOffloadSupported"] == false {
        assert_eq!(layers, 0, "nothing is offloaded without a GPU backend: {model}");
    } else {
        assert!(layers > 0 && layers < 999, "the model's own layer count: {model}");
    }
}

#[test]
fn version_names_the_backend() {
    let output = splice(&["--version"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.starts_with(&format!("splice {}", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(text.contains("llama.cpp"), "{text}");
}

#[test]
fn bad_positions_and_missing_files_fail_with_a_clear_message() {
    let (path, _, _) = cut_fixture("cli-errors");
    let path = path.to_str().unwrap();
    let past_line = splice(&["complete", path, "--line", "13", "--col", "99"]);
    assert!(!past_line.status.success());
    assert!(stderr(&past_line).contains("column 99 is past the end of line 13"), "{}", stderr(&past_line));

    let past_file = splice(&["complete", path, "--line", "999", "--col", "1"]);
    assert!(stderr(&past_file).contains("line 999 is past the end of the file"), "{}", stderr(&past_file));

    let missing = splice(&["complete", "/nonexistent/file.py", "--line", "1", "--col", "1"]);
    assert!(stderr(&missing).contains("cannot read /nonexistent/file.py"), "{}", stderr(&missing));

    let no_model = splice(&["complete", path, "--line", "1", "--col", "1", "--model", "/nonexistent/m.gguf"]);
    assert!(!no_model.status.success());
    assert!(stderr(&no_model).contains("model file not found: /nonexistent/m.gguf"), "{}", stderr(&no_model));
}

#[test]
fn a_binary_file_is_refused() {
    let dir = temp_dir("cli-binary");
    let path = dir.join("blob.bin");
    std::fs::write(&path, [0x7f, b'E', b'L', b'F', 0xff, 0xfe, 0, 0]).unwrap();
    let output = splice(&["complete", path.to_str().unwrap(), "--line", "1", "--col", "1"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("is not UTF-8 text"), "{}", stderr(&output));
}

#[test]
fn complete_json_explains_every_retrieval_decision() {
    let root = temp_dir("cli-retrieval").join("shop");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("helpers.py"),
        "def frobnicate_invoice_totals(invoice, rate):\n    return sum(l.amount * (1 + rate) for l in invoice.lines)\n",
    )
    .unwrap();
    let main = root.join("main.py");
    let index_dir = root.parent().unwrap().join("index");
    let complete = |text: &str, retrieval: &str| -> Value {
        std::fs::write(&main, text).unwrap();
        let line = text.lines().count().to_string();
        let col = (text.lines().last().unwrap().chars().count() + 1).to_string();
        let output = splice(&[
            "complete",
            main.to_str().unwrap(),
            "--line",
            &line,
            "--col",
            &col,
            "--json",
            "--workspace",
            root.to_str().unwrap(),
            "--index-dir",
            index_dir.to_str().unwrap(),
            "--retrieval",
            retrieval,
            "--model",
            gemma().to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_str::<Value>(&stdout(&output)).expect("JSON")["retrieval"].clone()
    };

    // Only local names near the cursor: auto skips, and says so.
    let local = complete("def area(width, height):\n    result = width * height\n    return ", "auto");
    assert_eq!(local["retrieved"], false, "{local}");
    assert!(local["gate"].as_str().unwrap().contains("no names from other files"), "{local}");

    // An imported module's attribute: the lexical and score gates pass, the model decides, and
    // its first-token probability is reported either way.
    let foreign = complete("import helpers\n\n\ndef checkout(invoice):\n    total = helpers.", "auto");
    assert!(foreign["gate"].as_str().unwrap().contains("foreign names: helpers"), "{foreign}");
    assert_eq!(foreign["checkModel"], true, "{foreign}");
    let p = foreign["firstTokenProbability"].as_f64().expect("the probe's probability");
    assert!((0.0..=1.0).contains(&p), "{foreign}");
    assert!(foreign["model"].as_str().unwrap().contains("p="), "{foreign}");
    assert_eq!(foreign["snippets"][0]["path"], "helpers.py", "{foreign}");

    // The typed word begins a name only helpers.py defines: retrieved without asking the model.
    let typed = complete("import helpers\n\n\ndef checkout(invoice):\n    total = helpers.frob", "auto");
    assert!(typed["gate"].as_str().unwrap().starts_with("`frob` begins a name defined in helpers.py"), "{typed}");
    assert_eq!(typed["retrieved"], true, "{typed}");
    assert_eq!(typed["checkModel"], false, "{typed}");

    // always: retrieved, with the snippets' paths, lines and scores.
    let always = complete("import helpers\n\n\ndef checkout(invoice):\n    total = helpers.frob", "always");
    assert_eq!(always["retrieved"], true, "{always}");
    assert_eq!(always["snippets"][0]["lines"], serde_json::json!([1, 2]), "{always}");
    assert!(always["contextTokens"].as_u64().unwrap() > 0, "{always}");

    let never = complete("import helpers\n\n\ndef checkout(invoice):\n    total = helpers.frob", "never");
    assert_eq!(never["retrieved"], false, "{never}");
    assert!(never["gate"].as_str().unwrap().contains("--retrieval never"), "{never}");
}

#[test]
fn an_out_of_range_number_on_the_command_line_is_refused_before_anything_runs() {
    for args in [
        &["serve", "--max-tokens", "4294967295"][..],
        &["complete", "x.py", "--line", "1", "--col", "1", "--ctx", "9"][..],
        &["serve", "--temperature", "NaN"][..],
        &["serve", "--max-documents", "100000"][..],
    ] {
        let output = splice(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("is out of range"), "{args:?}: {}", stderr(&output));
    }
}

/// `splice complete --json` at `line`:`col` of `path` with `extra` flags; its JSON.
fn complete_json(path: &std::path::Path, line: u32, col: u32, extra: &[&str]) -> Value {
    let (line, col) = (line.to_string(), col.to_string());
    let mut args = vec!["complete", path.to_str().unwrap(), "--line", &line, "--col", &col, "--json"];
    args.extend_from_slice(extra);
    let output = splice(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

/// `fixture` with the code of its line `line` (1-based) removed, its indentation kept, written
/// to a temporary file; (path, line, column after the indentation).
fn indented_empty_line(test: &str, fixture_path: &str, line: usize) -> (std::path::PathBuf, u32, u32) {
    let text = std::fs::read_to_string(fixture(fixture_path)).unwrap();
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let indent = lines[line - 1].len() - lines[line - 1].trim_start().len();
    lines[line - 1].truncate(indent);
    let path = temp_dir(test).join("cut.py");
    std::fs::write(&path, lines.join("\n")).unwrap();
    (path, line as u32, indent as u32 + 1)
}

#[test]
fn a_suggestion_never_doubles_the_indentation_the_editor_typed() {
    // Two spots where the default model used to start with four more spaces: continuation lines
    // of a call's arguments, the cursor after the line's indentation.
    for (name, file, line) in [
        ("cli-indent-args", "python/indentation/call_arguments.py", 52),
        ("cli-indent-kwargs", "python/indentation/keyword_arguments.py", 15),
    ] {
        let (path, line, col) = indented_empty_line(name, file, line);
        let args =
            ["complete", path.to_str().unwrap(), "--line", &line.to_string(), "--col", &col.to_string(), "--json"];
        let output = splice(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
        let suggestion = json["suggestion"].as_str().expect("a suggestion");
        let raw = json["raw"].as_str().unwrap();
        assert!(!suggestion.starts_with([' ', '\t']), "{file}: {suggestion:?}");
        assert!(!raw.starts_with([' ', '\t']), "{file}: healing re-spelled the indentation wider: {raw:?}");
    }
}

#[test]
fn the_syntax_check_of_a_suggestion_shows_in_the_json_and_can_be_switched_off() {
    let (path, line, col) = indented_empty_line("cli-check", "python/inventory.py", 33);
    let ask = |extra: &[&str]| complete_json(&path, line, col, extra);
    let json = ask(&[]);
    let check = &json["timings"]["check"];
    let candidates = check["candidates"].as_array().expect("a Python file's suggestion is checked");
    assert_eq!(candidates[0]["source"], "greedy", "{check}");
    for candidate in candidates {
        assert!(candidate["errorsAdded"].is_u64(), "Python has a grammar, every candidate is judged: {check}");
    }
    let chosen = check["chosen"].as_u64().unwrap() as usize;
    assert!(chosen < candidates.len(), "{check}");
    assert_eq!(json["raw"], candidates[chosen]["text"], "the chosen candidate is the one shown: {check}");
    assert!(check["judgeMs"].as_f64().unwrap() >= 0.0);
    let off = ask(&["--syntax-check", "off"]);
    assert!(off["timings"]["check"].is_null(), "{}", off["timings"]);
    // A file without a grammar is not judged.
    let text = std::fs::read_to_string(&path).unwrap();
    let plain = path.with_extension("txt");
    std::fs::write(&plain, text).unwrap();
    let args = ["complete", plain.to_str().unwrap(), "--line", &line.to_string(), "--col", &col.to_string(), "--json"];
    let output = splice(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(json["timings"]["check"].is_null(), "{}", json["timings"]);
}

#[test]
fn where_the_model_is_unsure_the_code_below_scores_the_candidate_lines() {
    // `if not line or line.startswith("#"):` removed: the default model hesitates in the first
    // line there, and `continue` below says what the line must do.
    let (path, line, col) = indented_empty_line("cli-below", "python/config_reader.py", 10);
    let ask = |extra: &[&str]| complete_json(&path, line, col, &[&["--retrieval", "never"], extra].concat());
    let json = ask(&[]);
    let check = &json["timings"]["check"];
    let candidates = check["candidates"].as_array().expect("a Python file's suggestion is checked");
    assert!(candidates.len() >= 2, "unsure: branched lines were generated and scored: {check}");
    let scores: Vec<f64> = candidates.iter().map(|c| c["belowLogprob"].as_f64().expect("scored")).collect();
    assert!(scores.iter().all(|&p| p < 0.0), "log-probabilities: {check}");
    let best = (0..scores.len()).max_by(|&a, &b| scores[a].total_cmp(&scores[b])).unwrap();
    assert_eq!(check["chosen"].as_u64(), Some(best as u64), "the most probable with the code below: {check}");
    assert_eq!(json["raw"], candidates[best]["text"], "{check}");
    assert!(check["belowScoredTokens"].as_u64().unwrap() > 0, "{check}");
    // Switched off: the accepted greedy line is shown unscored, with no alternative generated.
    let off = ask(&["--below-tokens", "0"]);
    let check = &off["timings"]["check"];
    let candidates = check["candidates"].as_array().expect("still checked for syntax");
    assert_eq!(candidates.len(), 1, "{check}");
    assert!(candidates[0]["belowLogprob"].is_null(), "{check}");
    assert_eq!((check["belowScoredTokens"].as_u64(), check["alternativeTokens"].as_u64()), (Some(0), Some(0)));
}

#[test]
fn indentation_is_kept_as_the_tokenizer_spelled_it_and_a_partial_word_is_healed() {
    // Gemma writes indentation as a token of its own before a word: nothing is left out of the
    // prompt, only a wider blank is refused (`healedText` ""); a partial word is re-spelled.
    let (path, line, col) = indented_empty_line("cli-healing", "python/inventory.py", 33);
    let ask = |line: u32, col: u32| complete_json(&path, line, col, &[]);
    let indented = ask(line, col);
    assert_eq!(indented["timings"]["healedText"], "", "{}", indented["timings"]);
    assert!(!indented["raw"].as_str().unwrap().starts_with([' ', '\t']), "{}", indented["raw"]);
    // Line 36 is `        item = self.find(name)`: the cursor after `item = self.fi`.
    let word = ask(36, 23);
    let healed = word["timings"]["healedText"].as_str().expect("a partial word is healed");
    assert!(!healed.is_empty() && "self.fi".ends_with(healed), "{healed:?}");
}
