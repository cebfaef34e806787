//! The workspace index on real files and a real tantivy index, in temporary directories.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use splice_retrieval::store::FORMAT_FILE;
use splice_retrieval::{
    DocumentSyntax, GateConfig, RetrievalDecision, RetrievalMode, RetrievalQuery, Retriever, SearchLimits,
    SelectiveRetriever,
};
use support::{found, write, Fixture};

const UTILS: &str = "\
def parse_config(path):
    with open(path) as handle:
        return dict(line.split('=') for line in handle)


class Session:
    def __init__(self, url):
        self.url = url
";

#[test]
fn a_synced_workspace_finds_definitions_by_name_parts() {
    let fx = Fixture::new(&[("pkg/utils.py", UTILS), ("pkg/other.py", "def unrelated():\n    return 42\n")]);
    let (index, report) = fx.synced();
    assert_eq!(report.files_indexed, 2);
    assert_eq!(found(&index, "cfg = parseConfig(\"x\")\n"), ["pkg/utils.py"]);
    let status = index.status();
    assert_eq!(status.files, 2);
    assert!(status.chunks >= 3, "{status:?}");
}

#[test]
fn excluded_files_never_appear() {
    let secret = "def leaked_secret_token():\n    return 'x'\n";
    let fx = Fixture::new(&[
        (".gitignore", "build/\n"),
        ("build/gen.py", secret),
        (".hidden.py", secret),
        (".env", secret),
        ("id_rsa", secret),
        ("server.pem", secret),
        ("tls.key", secret),
        (".git/config.py", secret),
        ("binary.py", "def leaked_secret_token():\0\n"),
        ("latin1.py", ""),
        ("ok.py", "def visible():\n    pass\n"),
    ]);
    fs::write(fx.root.join("latin1.py"), b"def leaked_secret_token():\n    return '\xe9'\n").expect("latin1");
    write(&fx.root.join("huge.py"), &format!("def leaked_secret_token():\n{}", "    x = 1\n".repeat(200_000)));
    let (index, report) = fx.synced();
    assert!(found(&index, "leaked_secret_token()\n").is_empty(), "{report:?}");
    assert_eq!(found(&index, "visible()\n"), ["ok.py"]);
    assert_eq!(report.files_skipped, 3, "binary, not UTF-8, huge: {report:?}");
    // The editor's buffers obey the same rules.
    index.update_text(&fx.root.join("build/gen.py"), secret).expect("update");
    index.update_text(&fx.root.join(".env"), secret).expect("update");
    assert!(found(&index, "leaked_secret_token()\n").is_empty());
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_root_are_not_followed() {
    let fx = Fixture::new(&[("inside.py", "def inside():\n    pass\n")]);
    let outside = fx.tmp.path().join("outside");
    write(&outside.join("far.py"), "def far_away_function():\n    pass\n");
    std::os::unix::fs::symlink(&outside, fx.root.join("linked_dir")).expect("symlink");
    std::os::unix::fs::symlink(outside.join("far.py"), fx.root.join("linked.py")).expect("symlink");
    let (index, _) = fx.synced();
    assert!(found(&index, "far_away_function()\n").is_empty());
    index.refresh_from_disk(&fx.root.join("linked.py")).expect("refresh");
    index.update_text(&fx.root.join("linked.py"), "def far_away_function():\n    pass\n").expect("update");
    assert!(found(&index, "far_away_function()\n").is_empty());
}

#[test]
fn updates_from_the_editor_and_the_disk_are_searchable() {
    let fx = Fixture::new(&[("a.py", "def first():\n    pass\n"), ("b.py", "def second():\n    pass\n")]);
    let (index, _) = fx.synced();
    assert!(found(&index, "compute_checksum()\n").is_empty());
    index
        .update_text(&fx.root.join("a.py"), "def first():\n    pass\n\ndef compute_checksum(data):\n    return 0\n")
        .expect("update");
    assert_eq!(found(&index, "compute_checksum()\n"), ["a.py"]);

    index.remove(&fx.root.join("b.py")).expect("remove");
    assert!(found(&index, "second()\n").is_empty());

    write(&fx.root.join("b.py"), "def second_version():\n    pass\n");
    let report = index.sync(&mut |_| {}).expect("sync");
    assert_eq!(found(&index, "second_version()\n"), ["b.py"]);
    assert_eq!(report.files_indexed, 1, "{report:?}");
}

#[test]
fn a_second_sync_rechunks_only_changed_files_and_drops_deleted_ones() {
    let fx = Fixture::new(&[("a.py", "def alpha():\n    pass\n"), ("b.py", "def beta():\n    pass\n"), ("c.py", "")]);
    let (index, first) = fx.synced();
    assert_eq!(first.files_indexed, 3);
    drop(index);
    write(&fx.root.join("a.py"), "def alpha_changed_size():\n    pass\n");
    fs::remove_file(fx.root.join("c.py")).expect("rm");
    let (index, second) = fx.synced(); // reopened from the cache
    assert_eq!((second.files_indexed, second.files_unchanged, second.files_removed), (1, 1, 1), "{second:?}");
    assert_eq!(found(&index, "alpha_changed_size()\n"), ["a.py"]);
    let third = index.sync(&mut |_| {}).expect("sync");
    assert_eq!((third.files_indexed, third.files_unchanged), (0, 2), "{third:?}");
}

#[test]
fn progress_counts_up_to_the_total() {
    let files: Vec<(String, String)> =
        (0..40).map(|i| (format!("m{i}.py"), format!("def f{i}():\n    pass\n"))).collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let fx = Fixture::new(&refs);
    let index = fx.open();
    let mut seen = Vec::new();
    index.sync(&mut |p| seen.push((p.done, p.total))).expect("sync");
    assert_eq!(seen.first(), Some(&(0, 40)));
    assert_eq!(seen.last(), Some(&(40, 40)));
}

#[test]
fn a_second_process_on_the_same_workspace_reads_without_wiping_the_index() {
    let fx = Fixture::new(&[("a.py", "def survivor():\n    pass\n")]);
    let (first, _) = fx.synced();
    let second = fx.open(); // the writer lock is taken: read-only, never a rebuild
    assert_eq!(found(&second, "survivor()\n"), ["a.py"]);
    assert_eq!(found(&first, "survivor()\n"), ["a.py"]);
}

#[test]
fn a_corrupt_index_is_rebuilt() {
    let fx = Fixture::new(&[("a.py", "def survivor():\n    pass\n")]);
    drop(fx.synced());
    for entry in fs::read_dir(fx.index_dir()).expect("index dir") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n != FORMAT_FILE) {
            fs::write(&path, b"garbage \x00\x01\x02").expect("corrupt");
        }
    }
    let (index, report) = fx.synced();
    assert_eq!(report.files_indexed, 1);
    assert_eq!(found(&index, "survivor()\n"), ["a.py"]);
}

#[test]
fn an_old_format_index_is_rebuilt() {
    let fx = Fixture::new(&[("a.py", "def survivor():\n    pass\n")]);
    drop(fx.synced());
    fs::write(fx.index_dir().join(FORMAT_FILE), "splice-index 0").expect("old marker");
    let (index, report) = fx.synced();
    assert_eq!(report.files_indexed, 1, "rebuilt from scratch: {report:?}");
    assert_eq!(found(&index, "survivor()\n"), ["a.py"]);
}

#[test]
fn text_files_are_indexed_as_windows() {
    let kotlin: String =
        (0..30).map(|i| format!("// filler {i}\n")).collect::<String>() + "fun frobnicate_widget() {}\n";
    let fx = Fixture::new(&[("src/Lib.kt", &kotlin), ("notes.md", "# Frobnicate\n")]);
    let (index, _) = fx.synced();
    let query = RetrievalQuery { window: 0..0, ..RetrievalQuery::at_end(None, "frobnicate_widget()\n") };
    let hits = index.search(&query, &SearchLimits::default()).hits;
    assert_eq!(hits[0].path, PathBuf::from("src/Lib.kt"));
    assert!(hits[0].lines.start >= 10 && hits[0].lines.end <= 31, "{:?}", hits[0].lines);
}

#[test]
fn files_in_the_table_languages_are_indexed_by_syntax() {
    let filler: String = (0..30).map(|i| format!("const FILLER_{i}: u32 = {i};\n")).collect();
    let rust = format!("{filler}\n/// Frobnicates.\npub fn frobnicate_widget() -> u32 {{\n    1\n}}\n");
    let go = "package widgets\n\nfunc FrobnicateGadget(n int) int {\n\treturn n\n}\n";
    let fx = Fixture::new(&[("src/lib.rs", &rust), ("widgets/gadget.go", go)]);
    let (index, _) = fx.synced();
    let search = |text: &str| {
        let query = RetrievalQuery { window: 0..0, ..RetrievalQuery::at_end(None, text) };
        index.search(&query, &SearchLimits::default()).hits
    };
    let hits = search("frobnicate_widget()\nx");
    assert_eq!((hits[0].path.as_path(), hits[0].lines.clone()), (Path::new("src/lib.rs"), 31..35));
    assert!(hits[0].text.starts_with("/// Frobnicates.\npub fn frobnicate_widget"), "{}", hits[0].text);
    let hits = search("FrobnicateGadget(3)\nx");
    assert_eq!((hits[0].path.as_path(), hits[0].lines.clone()), (Path::new("widgets/gadget.go"), 2..5));
}

// ---- the gate ----

const MAIN: &str = "from .utils import parse_config\n\n\ndef main():\n    cfg = parse_config(\"app.toml\")\n    ";

fn retriever(fx: &Fixture, mode: RetrievalMode, config: GateConfig) -> SelectiveRetriever {
    let (index, _) = fx.synced();
    SelectiveRetriever::new(Arc::new(index), mode, config)
}

fn decide(retriever: &SelectiveRetriever, path: &Path, text: &str) -> RetrievalDecision {
    let query = RetrievalQuery::at_end(Some(path), text);
    retriever.retrieve(&query)
}

#[test]
fn auto_retrieves_the_definition_of_an_imported_name_and_asks_the_model() {
    let fx = Fixture::new(&[("pkg/utils.py", UTILS), ("pkg/main.py", MAIN)]);
    let r = retriever(&fx, RetrievalMode::Auto, GateConfig::default());
    match decide(&r, &fx.root.join("pkg/main.py"), MAIN) {
        RetrievalDecision::Retrieve { snippets, reason, check_model } => {
            eprintln!("decision: {reason}");
            assert!(check_model);
            assert_eq!(snippets[0].path, PathBuf::from("pkg/utils.py"));
            assert!(snippets[0].text.contains("def parse_config"));
            assert!(reason.contains("parse_config") && reason.contains("/term ≥"), "{reason}");
            assert!(snippets.iter().all(|s| s.path != Path::new("pkg/main.py")), "the window is excluded");
        }
        other => panic!("expected Retrieve, got {other:?}"),
    }
}

#[test]
fn auto_finds_imported_names_in_other_languages() {
    let util = "export function parseConfig(path: string): Record<string, string> {\n  return {};\n}\n";
    let main = "import { parseConfig } from \"./util\";\n\nexport function main() {\n  const cfg = parseConfig(\"app.toml\");\n  ";
    let local = "export function area(width: number, height: number): number {\n  const total = width * height;\n  ";
    let fx = Fixture::new(&[("src/util.ts", util), ("src/main.ts", main), ("src/geo.ts", local)]);
    let r = retriever(&fx, RetrievalMode::Auto, GateConfig::default());
    match decide(&r, &fx.root.join("src/main.ts"), main) {
        RetrievalDecision::Retrieve { snippets, reason, check_model } => {
            assert!(check_model);
            assert!(reason.starts_with("foreign names: parseConfig;"), "{reason}");
            assert_eq!(snippets[0].path, PathBuf::from("src/util.ts"));
        }
        other => panic!("expected Retrieve, got {other:?}"),
    }
    match decide(&r, &fx.root.join("src/geo.ts"), local) {
        RetrievalDecision::Skip { reason } => assert_eq!(reason, "no names from other files near the cursor"),
        other => panic!("expected Skip, got {other:?}"),
    }
}

#[test]
fn the_gate_decides_the_same_while_typing_whether_it_keeps_the_syntax_or_not() {
    let util = "pub fn parse_config(path: &str) -> Config {\n    Config::read(path)\n}\n";
    let main = "use crate::util::parse_config;\n\nfn unrelated() {\n    let a = 1;\n}\n\nfn main() {\n    let total = 3;\n    ";
    let fx = Fixture::new(&[("src/util.rs", util), ("src/main.rs", main)]);
    let (index, _) = fx.synced();
    let index = Arc::new(index);
    let path = fx.root.join("src/main.rs");
    let kept = SelectiveRetriever::new(Arc::clone(&index), RetrievalMode::Auto, GateConfig::default());
    // The same, with the file read when the editor opened it.
    let syntax = Arc::new(DocumentSyntax::default());
    syntax.document_opened(&path, main);
    let opened =
        SelectiveRetriever::new(Arc::clone(&index), RetrievalMode::Auto, GateConfig::default()).with_syntax(syntax);
    let scratch = GateConfig { keep_syntax: false, ..GateConfig::default() };
    let scratch = SelectiveRetriever::new(index, RetrievalMode::Auto, scratch);
    let mut text = main.to_owned();
    let mut decisions = Vec::new();
    for c in "let cfg = parse_config(\"app.toml\");\n    total + cfg.len()".chars() {
        text.push(c);
        // Some requests as the whole file, some as a window that begins mid-file: after an
        // item, and inside the cursor's function (whose first line is then read from above).
        let inside = text.find("    let total").unwrap();
        for (first_line, from, above) in
            [(0, 0, ""), (2, text.find("\n}\n").unwrap() + 1, ""), (7, inside, &text[..inside])]
        {
            let window = &text[from..];
            let query = RetrievalQuery {
                path: Some(&path),
                text: window,
                cursor: window.len(),
                window: 0..window.len(),
                first_line,
                above,
                below: "",
                ahead: false,
            };
            let (a, b) = (kept.retrieve(&query), scratch.retrieve(&query));
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "after {text:?}");
            assert_eq!(format!("{:?}", opened.retrieve(&query)), format!("{b:?}"), "after {text:?}");
            decisions.push(a);
        }
    }
    let reasons: Vec<String> = decisions
        .iter()
        .map(|d| match d {
            RetrievalDecision::Skip { reason } | RetrievalDecision::Retrieve { reason, .. } => reason.clone(),
        })
        .collect();
    assert!(reasons.iter().any(|r| r.starts_with("foreign names: parse_config")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r == "no names from other files near the cursor"), "{reasons:?}");
}

#[test]
fn auto_skips_code_that_uses_only_local_names() {
    let local = "def area(width, height):\n    total = width * height\n    return total\n";
    let fx = Fixture::new(&[("pkg/utils.py", UTILS), ("pkg/geo.py", local)]);
    let r = retriever(&fx, RetrievalMode::Auto, GateConfig::default());
    match decide(&r, &fx.root.join("pkg/geo.py"), local) {
        RetrievalDecision::Skip { reason } => assert_eq!(reason, "no names from other files near the cursor"),
        other => panic!("expected Skip, got {other:?}"),
    }
}

#[test]
fn a_typed_word_that_begins_a_name_defined_elsewhere_retrieves_that_definition_first() {
    let typing = "from . import utils\n\n\ndef main():\n    cfg = utils.pars";
    let fx = Fixture::new(&[("pkg/utils.py", UTILS), ("pkg/main.py", typing)]);
    let r = retriever(&fx, RetrievalMode::Auto, GateConfig { score_threshold: 1000.0, ..GateConfig::default() });
    match decide(&r, &fx.root.join("pkg/main.py"), typing) {
        RetrievalDecision::Retrieve { snippets, reason, check_model } => {
            assert!(!check_model, "the model cannot know the name: no point asking it");
            assert!(reason.starts_with("`pars` begins a name defined in pkg/utils.py"), "{reason}");
            assert!(snippets[0].text.contains("def parse_config"), "{snippets:?}");
        }
        other => panic!("expected Retrieve, got {other:?}"),
    }
    // A word the current file already completes, or a keyword being typed, is not evidence.
    for text in ["parse_config = None\nx = pars", "def main():\n    retu"] {
        let decision = decide(&r, &fx.root.join("pkg/main.py"), text);
        assert!(matches!(&decision, RetrievalDecision::Skip { .. }), "{text:?}: {decision:?}");
    }
}

#[test]
fn auto_skips_a_weak_best_score_and_says_by_how_much() {
    let fx = Fixture::new(&[("pkg/utils.py", UTILS), ("pkg/main.py", MAIN)]);
    let strict = GateConfig { score_threshold: 1000.0, ..GateConfig::default() };
    let r = retriever(&fx, RetrievalMode::Auto, strict);
    match decide(&r, &fx.root.join("pkg/main.py"), MAIN) {
        RetrievalDecision::Skip { reason } => assert!(reason.contains("/term < 1000.00"), "{reason}"),
        other => panic!("expected Skip, got {other:?}"),
    }
}

#[test]
fn never_and_always_modes() {
    let local = "def area(width, height):\n    total = width * height\n    return total\n";
    let fx = Fixture::new(&[("pkg/utils.py", UTILS), ("pkg/geo.py", local)]);
    let (index, _) = fx.synced();
    let index = Arc::new(index);
    let never = SelectiveRetriever::new(Arc::clone(&index), RetrievalMode::Never, GateConfig::default());
    assert_eq!(
        decide(&never, &fx.root.join("pkg/geo.py"), MAIN),
        RetrievalDecision::Skip { reason: "retrieval is off (--retrieval never)".to_owned() }
    );
    let always = SelectiveRetriever::new(index, RetrievalMode::Always, GateConfig::default());
    match decide(&always, &fx.root.join("pkg/geo.py"), "x = parse_config(1)\n") {
        RetrievalDecision::Retrieve { check_model, .. } => assert!(!check_model),
        other => panic!("expected Retrieve, got {other:?}"),
    }
    match decide(&always, &fx.root.join("pkg/geo.py"), "zzz_nothing_like_this = 1\n") {
        RetrievalDecision::Skip { reason } => assert!(reason.contains("nothing matched"), "{reason}"),
        other => panic!("expected Skip, got {other:?}"),
    }
}

#[test]
fn chunks_of_the_current_file_in_the_window_are_excluded_but_others_are_not() {
    let mut text: String = (0..60).map(|i| format!("VALUE_{i} = {i}\n")).collect();
    text.push_str("\ndef shared_helper_far_below():\n    pass\n");
    let fx = Fixture::new(&[("big.py", &text)]);
    let (index, _) = fx.synced();
    let cursor_text = format!("{text}shared_helper_far_below()\n");
    let path = fx.root.join("big.py");
    let query = |window| RetrievalQuery { window, ..RetrievalQuery::at_end(Some(&path), &cursor_text) };
    let limits = SearchLimits::default();
    let whole = index.search(&query(0..cursor_text.len()), &limits);
    assert!(whole.hits.is_empty(), "{:?}", whole.hits);
    let top_only = index.search(&query(0..100), &limits);
    assert!(top_only.hits.iter().any(|s| s.text.contains("def shared_helper_far_below")));
}

#[test]
fn per_file_cap_and_budget_hold() {
    let many: String =
        (0..10).map(|i| format!("def token_parser_{i}(token_stream):\n    return token_stream\n\n\n")).collect();
    let fx = Fixture::new(&[("a.py", &many), ("b.py", &many.replace("token_parser", "token_reader"))]);
    let (index, _) = fx.synced();
    let text = "x = token_parser(token_stream)\n";
    let query = RetrievalQuery { window: 0..0, ..RetrievalQuery::at_end(None, text) };
    let limits = SearchLimits { max_snippets: 10, per_file: 2, budget_bytes: 10_000 };
    let hits = index.search(&query, &limits).hits;
    assert_eq!(hits.len(), 4, "{hits:?}");
    let tight = SearchLimits { max_snippets: 10, per_file: 2, budget_bytes: 120 };
    let hits = index.search(&query, &tight).hits;
    assert!(hits.iter().map(|s| s.text.len()).sum::<usize>() <= 120);
}

#[test]
fn hits_do_not_change_while_a_word_is_typed() {
    let fx = Fixture::new(&[("pkg/utils.py", UTILS), ("pkg/main.py", MAIN)]);
    let (index, _) = fx.synced();
    let base = format!("{MAIN}x = ");
    let search = |text: &str| {
        let query = RetrievalQuery::at_end(None, text);
        index.search(&query, &SearchLimits::default())
    };
    let expected = search(&base);
    assert!(!expected.hits.is_empty());
    let word = "Session";
    for n in 1..=word.len() {
        let text = format!("{base}{}", &word[..n]);
        assert_eq!(search(&text), expected, "after typing {:?}", &word[..n]);
    }
}

#[test]
fn auto_retrieves_a_sibling_file_that_repeats_the_lines_before_the_cursor_without_asking_the_model() {
    let option = "class Option {\n  constructor(flags, description) {\n    this.flags = flags;\n    this.description = description || '';\n    this.required = flags.includes('<');\n  }\n}\n";
    let unrelated = "function area(width, height) {\n  const total = width * height;\n  return total;\n}\n";
    let copying = "class Argument {\n  constructor(flags, description) {\n    this.flags = flags;\n    this.description = description || '';\n    ";
    let elsewhere = "class Argument {\n  constructor(flags, description) {\n    this.description = description || '';\n    this.flags = flags;\n    ";
    let fx = Fixture::new(&[
        ("lib/option.js", option),
        ("lib/area.js", unrelated),
        ("lib/argument.js", copying),
        ("lib/other.js", elsewhere),
    ]);
    let r = retriever(&fx, RetrievalMode::Auto, GateConfig::default());
    match decide(&r, &fx.root.join("lib/argument.js"), copying) {
        RetrievalDecision::Retrieve { snippets, reason, check_model } => {
            assert!(!check_model, "a near copy is not the model's to judge: {reason}");
            assert_eq!(snippets[0].path, PathBuf::from("lib/option.js"), "{reason}");
            assert!(reason.starts_with("the 2 lines before the cursor repeat in lib/option.js"), "{reason}");
        }
        other => panic!("expected Retrieve, got {other:?}"),
    }
    // The same lines in another order: no copy goes on from them, and no name is foreign.
    match decide(&r, &fx.root.join("lib/other.js"), elsewhere) {
        RetrievalDecision::Skip { reason } => assert_eq!(reason, "no names from other files near the cursor"),
        other => panic!("expected Skip, got {other:?}"),
    }
}
