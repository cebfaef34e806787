//! Test support: find the `splice` binary and the models, and speak LSP to a running server.
//!
//! The binary is built by `make test` (`cargo build --release --bin splice`) next to these test
//! executables; `SPLICE_BIN` overrides where it is.

pub mod llama_server;
pub mod logits;
mod lsp_client;

pub use lsp_client::{frame, LspClient, Message};
use std::path::{Path, PathBuf};

/// The `splice` binary under test.
pub fn splice_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SPLICE_BIN") {
        return bin.into();
    }
    // target/<profile>/deps/<test-exe> → target/<profile>/splice
    let exe = std::env::current_exe().expect("the test knows its own path");
    let bin = exe.parent().and_then(Path::parent).expect("tests run from target/<profile>/deps").join("splice");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --release --bin splice` (make test does)",
        bin.display()
    );
    bin
}

/// Splice's models cache: `$SPLICE_MODELS_DIR`, else `$XDG_CACHE_HOME/splice/models`.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SPLICE_MODELS_DIR") {
        return dir.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
    cache.join("splice/models")
}

fn model(name: &str) -> PathBuf {
    let path = models_dir().join(name);
    assert!(path.exists(), "{} is missing: run `make models`", path.display());
    path
}

/// The default model: Gemma 3 270M base, Q4_K_M.
pub fn gemma() -> PathBuf {
    model("gemma-3-270m-q4_k_m.gguf")
}

/// The second test model: SmolLM2-135M-Instruct, Q4_1 (llama architecture, plain RoPE).
pub fn smollm2() -> PathBuf {
    model("SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// A generated vocabulary-only GGUF (`make fixtures`): `$SPLICE_VOCAB_FIXTURES/NAME`, else
/// `target/vocab-fixtures/NAME` in the repository.
pub fn vocab_fixture(name: &str) -> PathBuf {
    let dir = std::env::var_os("SPLICE_VOCAB_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/vocab-fixtures"));
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing: run `make fixtures`", path.display());
    path
}

/// A file under `tests/fixtures`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(relative)
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("splice-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Splits a fixture with one `┃` cursor marker into the text and the cursor's (line, UTF-16 column).
pub fn cursor_fixture(marked: &str) -> (String, u32, u32) {
    let at = marked.find('┃').expect("fixture has a ┃ cursor");
    let before = &marked[..at];
    let line = before.matches('\n').count() as u32;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let character = before[line_start..].encode_utf16().count() as u32;
    (marked.replacen('┃', "", 1), line, character)
}
