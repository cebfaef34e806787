//! Repository retrieval end to end: the real binary indexes a workspace folder named in
//! `initialize`, and a completion uses a name defined only in another file of it.

use serde_json::{json, Value};
use splice_e2e::{gemma, temp_dir, LspClient};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The only place the helper's name is spelled: a model cannot guess it.
const HELPERS: &str = "\
\"\"\"Invoice helpers.\"\"\"


def frobnicate_invoice_totals(invoice, rate):
    \"\"\"Applies the tax rate to every line of the invoice.\"\"\"
    return sum(line.amount * (1 + rate) for line in invoice.lines)
";

/// The user has typed the name's first letters; without the helper the model goes elsewhere.
const MAIN: &str = "\
import helpers


def checkout(invoice):
    total = helpers.frob";

/// A workspace with the helper module, a secret and a git-ignored file that mentions the name.
fn workspace(name: &str) -> PathBuf {
    let root = temp_dir(name).join("shop");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("helpers.py"), HELPERS).unwrap();
    std::fs::write(root.join("main.py"), MAIN).unwrap();
    std::fs::write(root.join(".gitignore"), "generated.py\n").unwrap();
    std::fs::write(root.join("generated.py"), "def frobnicate_generated_copy(x):\n    return x\n").unwrap();
    std::fs::write(root.join(".env"), "FROBNICATE_SECRET=hunter2\n").unwrap();
    root
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn start(root: &Path, retrieval: &str) -> LspClient {
    let index_dir = root.parent().unwrap().join(format!("index-{retrieval}"));
    let mut client = LspClient::start(
        &["--model", gemma().to_str().unwrap(), "--retrieval", retrieval, "--index-dir", index_dir.to_str().unwrap()],
        &root.parent().unwrap().join(format!("splice-{retrieval}.log")),
    );
    client.call_ok(
        "initialize",
        json!({
            "processId": null,
            "capabilities": { "window": { "workDoneProgress": true } },
            "workspaceFolders": [{ "uri": uri(root), "name": "shop" }],
        }),
    );
    client.notify("initialized", json!({}));
    client
}

/// Polls `splice/status` until the model is loaded and the index is ready.
fn wait_until_indexed(client: &mut LspClient) -> Value {
    client.poll("not indexed", Duration::from_millis(100), |client| {
        let status = client.call_ok("splice/status", json!({}));
        assert_ne!(status["index"]["state"], "error", "{status}");
        (status["state"] == "ready" && status["index"]["state"] == "ready").then_some(status)
    })
}

fn suggestion(client: &mut LspClient, file: &Path, text: &str) -> String {
    client.open(&uri(file), "python", text);
    let line = text.lines().count() as u32 - 1;
    let character = text.lines().last().unwrap().chars().count() as u32;
    let response = client.inline_completion(&uri(file), line, character);
    assert!(response.get("error").is_none(), "{response}");
    response["result"]["items"][0]["insertText"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_completion_uses_a_name_defined_only_in_another_workspace_file() {
    let root = workspace("retrieval-always");
    let mut client = start(&root, "always");
    // The server creates a progress token and reports indexing through `$/progress`.
    let create = client.wait_for("a progress token request", |m| m["method"] == "window/workDoneProgress/create");
    client.send(&json!({ "jsonrpc": "2.0", "id": create["id"], "result": null }));
    let token = create["params"]["token"].clone();
    client.wait_for("the progress begin", |m| m["method"] == "$/progress" && m["params"]["value"]["kind"] == "begin");
    let end = client.wait_for("the progress end", |m| {
        m["method"] == "$/progress" && m["params"]["token"] == token && m["params"]["value"]["kind"] == "end"
    });
    assert!(end["params"]["value"]["message"].as_str().unwrap().contains("files"), "{end}");
    let status = wait_until_indexed(&mut client);
    assert!(status["index"]["files"].as_u64().unwrap() >= 2, "{status}");

    let text = suggestion(&mut client, &root.join("main.py"), MAIN);
    // (The tiny default model may misspell the first letters; the rest of the name can only
    // come from helpers.py.)
    assert!(text.contains("icate_invoice_totals"), "the helper's name comes from helpers.py: {text:?}");
    let status = client.call_ok("splice/status", json!({}));
    assert!(status["last"]["contextTokens"].as_u64().unwrap() > 0, "{status}");
    assert!(client.shutdown().success());
}

#[test]
fn without_retrieval_the_model_cannot_know_the_name() {
    let root = workspace("retrieval-never");
    let mut client = start(&root, "never");
    let status = client.wait_until_loaded();
    assert_eq!(status["index"]["state"], "disabled", "--retrieval never indexes nothing: {status}");
    let text = suggestion(&mut client, &root.join("main.py"), MAIN);
    assert!(!text.contains("invoice_totals"), "{text:?}");
    assert!(client.shutdown().success());
}

/// A function the user adds to helpers.py in the editor; nothing else spells its name.
const ADDED: &str = "\n\ndef tally_zephyr_credits(refund):\n    return refund.ledger.total()\n";

/// Code typing the added function's first letters.
const REFUND: &str = "import helpers\n\n\ndef refund(order):\n    ledger = helpers.tally_";

/// Opens helpers.py and adds [`ADDED`] at its end; the file on disk is not touched.
fn add_function_in_the_editor(client: &mut LspClient, helpers: &Path) {
    client.open(&uri(helpers), "python", HELPERS);
    let end = json!({ "line": HELPERS.lines().count(), "character": 0 });
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri(helpers), "version": 2 },
            "contentChanges": [{ "range": { "start": end, "end": end }, "text": ADDED }]
        }),
    );
}

/// Asks for completions of [`REFUND`] until one satisfies `accept` (the index is updated in the
/// background: each answer reflects what it held then).
fn wait_for_refund_suggestion(client: &mut LspClient, root: &Path, what: &str, accept: impl Fn(&str) -> bool) {
    // Bounded by tries, not time: every try is a completion, so the server is never idle and a
    // progress-based wait would not end.
    let mut last = String::new();
    for _ in 0..200 {
        last = suggestion(client, &root.join("main.py"), REFUND);
        if accept(&last) {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("{what}: the last of 200 suggestions was {last:?}");
}

#[test]
fn a_function_added_in_the_editor_is_found_by_the_next_completion() {
    let root = workspace("retrieval-incremental");
    let mut client = start(&root, "always");
    wait_until_indexed(&mut client);
    let helpers = root.join("helpers.py");
    add_function_in_the_editor(&mut client, &helpers);
    client.notify("textDocument/didSave", json!({ "textDocument": { "uri": uri(&helpers) } }));
    wait_for_refund_suggestion(&mut client, &root, "the added function never reached the index", |text| {
        text.starts_with("zephyr_credits")
    });
    assert!(client.shutdown().success());
}

/// Issue 10, item 5: the editor's unsaved text was stamped like the file on disk, so the refresh
/// on `didClose` kept it.
#[test]
fn unsaved_text_leaves_the_index_when_its_document_closes() {
    let root = workspace("retrieval-unsaved-close");
    let mut client = start(&root, "always");
    wait_until_indexed(&mut client);
    let helpers = root.join("helpers.py");
    add_function_in_the_editor(&mut client, &helpers);
    wait_for_refund_suggestion(&mut client, &root, "the unsaved function never reached the index", |text| {
        text.starts_with("zephyr_credits")
    });
    client.notify("textDocument/didClose", json!({ "textDocument": { "uri": uri(&helpers) } }));
    wait_for_refund_suggestion(&mut client, &root, "the closed document's unsaved text is still indexed", |text| {
        !text.contains("zephyr")
    });
    assert!(client.shutdown().success());
}

/// Issue 10, item 5: the next session's sync compared the same stamps and kept the text too.
#[test]
fn unsaved_text_does_not_outlive_its_session() {
    let root = workspace("retrieval-unsaved-restart");
    let mut client = start(&root, "always");
    wait_until_indexed(&mut client);
    add_function_in_the_editor(&mut client, &root.join("helpers.py"));
    wait_for_refund_suggestion(&mut client, &root, "the unsaved function never reached the index", |text| {
        text.starts_with("zephyr_credits")
    });
    assert!(client.shutdown().success(), "the editor quits without saving or closing helpers.py");

    let mut client = start(&root, "always"); // the same index folder
    wait_until_indexed(&mut client);
    let text = suggestion(&mut client, &root.join("main.py"), REFUND);
    assert!(!text.contains("zephyr"), "the last session's unsaved text is still indexed: {text:?}");
    assert!(client.shutdown().success());
}

/// A package in nested folders, as most Python projects are; returns the root and its file count.
fn nested_workspace(name: &str) -> (PathBuf, u64) {
    let root = temp_dir(name).join("nested");
    let mut count = 0;
    for folder in ["core", "io", "io/codecs", "web/handlers", "web/templates"] {
        for i in 0..8 {
            let name = folder.replace('/', "_");
            write(&root.join(format!("src/pkg/{folder}/mod{i}.py")), &format!("def {name}_helper_{i}():\n    pass\n"));
            count += 1;
        }
    }
    write(&root.join("setup.py"), "def setup_package():\n    pass\n");
    (root, count + 1)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Lists every folder and reads every file, as an editor's file tree or a `grep -r` does, and
/// touches every folder.
fn browse_and_touch(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            browse_and_touch(&path);
        } else {
            std::fs::read(&path).unwrap();
        }
    }
    std::fs::File::open(dir).and_then(|d| d.set_modified(std::time::SystemTime::now())).unwrap();
}

/// Polls `splice/status` until the index counts `expected` files. Files are only added here, so
/// the count must never fall below `floor` on the way.
fn wait_for_file_count(client: &mut LspClient, expected: u64, floor: u64) {
    client.poll(&format!("the index never counted {expected} files"), Duration::from_millis(100), |client| {
        let status = client.call_ok("splice/status", json!({}));
        let files = status["index"]["files"].as_u64().unwrap();
        assert!(files >= floor, "the index lost files: {files} < {floor}: {status}");
        (files == expected).then_some(())
    })
}

/// Issue 10, item 4: the watcher took every event for a folder (even its being listed) for the
/// removal of everything under it, and the index emptied itself seconds after indexing.
#[test]
fn the_index_keeps_every_file_of_nested_folders_while_the_watcher_runs() {
    let (root, all) = nested_workspace("retrieval-nested");
    let mut client = start(&root, "auto");
    let status = wait_until_indexed(&mut client);
    assert_eq!(status["index"]["files"], all, "{status}");

    // Once the watcher runs, a file written in a subfolder is counted.
    write(&root.join("src/pkg/web/handlers/added.py"), "def added_on_disk():\n    pass\n");
    wait_for_file_count(&mut client, all + 1, all);
    // Browsing the tree and touching its folders changes nothing; a second file is counted too.
    browse_and_touch(&root);
    write(&root.join("src/pkg/io/codecs/second.py"), "def added_second():\n    pass\n");
    wait_for_file_count(&mut client, all + 2, all + 1);
    for _ in 0..10 {
        let status = client.call_ok("splice/status", json!({}));
        assert_eq!(status["index"]["files"], all + 2, "{status}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(client.shutdown().success());
}

#[test]
fn auto_retrieves_while_a_name_from_another_file_is_typed_and_not_for_local_code() {
    let root = workspace("retrieval-auto");
    let mut client = start(&root, "auto");
    wait_until_indexed(&mut client);
    // `frob` begins a name only helpers.py defines: retrieved, the name completed.
    let text = suggestion(&mut client, &root.join("main.py"), MAIN);
    assert!(text.contains("icate_invoice_totals"), "{text:?}");
    let status = client.call_ok("splice/status", json!({}));
    assert!(status["last"]["contextTokens"].as_u64().unwrap() > 0, "{status}");
    // The decision (syntax read and index search) is timed apart, as a part of the preparation.
    let (decision, prepare) =
        (status["last"]["decisionMs"].as_f64().unwrap(), status["last"]["prepareMs"].as_f64().unwrap());
    assert!(decision > 0.0 && decision <= prepare, "{status}");
    // Code that uses only its own names: no snippets in the prompt.
    let local = "def area(width, height):\n    result = width * height\n    return res";
    suggestion(&mut client, &root.join("geometry.py"), local);
    let status = client.call_ok("splice/status", json!({}));
    assert_eq!(status["last"]["contextTokens"], 0, "{status}");
    assert!(client.shutdown().success());
}
