//! Loading a GGUF file, with every failure turned into a [`ModelError`] the user can act on.
//!
//! llama.cpp answers most load failures with a null pointer and a log line; this module checks
//! what it can before calling llama.cpp (the file exists, starts with the GGUF magic, has readable
//! metadata) and reads llama.cpp's last error line for the rest.

use crate::error::ModelError;
use crate::llama_log;
use llama_cpp_2::gguf::GgufContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

/// The process-wide llama.cpp backend. llama.cpp may be initialised only once per process.
pub(crate) fn backend() -> Result<&'static LlamaBackend, ModelError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    let backend = BACKEND.get_or_init(|| {
        llama_log::install();
        LlamaBackend::init().map_err(|e| e.to_string())
    });
    backend.as_ref().map_err(|reason| ModelError::Llama { action: "initialise its backend", reason: reason.clone() })
}

/// The compute devices the linked llama.cpp found, each as `NAME: DESCRIPTION` (`CUDA0: NVIDIA
/// H200`, `CPU: Intel(R) Xeon(R) …`). Call after [`backend`].
pub(crate) fn devices() -> Vec<String> {
    llama_cpp_2::list_llama_ggml_backend_devices()
        .into_iter()
        .map(|device| format!("{}: {}", device.name, device.description))
        .collect()
}

/// The GGUF file's magic bytes.
const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// Checks that `path` names a readable GGUF file and returns its `general.architecture`.
/// Reads the metadata header only (not the tensors).
pub(crate) fn inspect_file(path: &Path) -> Result<String, ModelError> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ModelError::NotFound(path.to_owned())),
        Err(source) => return Err(ModelError::Unreadable { path: path.to_owned(), source }),
    };
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(ModelError::NotGguf(path.to_owned()));
    }
    let mut magic = [0u8; 4];
    if file.read_exact(&mut magic).is_err() || &magic != GGUF_MAGIC {
        return Err(ModelError::NotGguf(path.to_owned()));
    }
    llama_log::clear_errors();
    let gguf = GgufContext::from_file(path).ok_or_else(|| ModelError::Corrupt {
        path: path.to_owned(),
        reason: llama_log::take_errors().unwrap_or_else(|| "unreadable metadata".to_owned()),
    })?;
    let key = gguf.find_key("general.architecture");
    let architecture = (key >= 0).then(|| gguf.val_str(key)).flatten().map(str::to_owned);
    architecture.ok_or_else(|| ModelError::Corrupt {
        path: path.to_owned(),
        reason: "the metadata has no general.architecture".to_owned(),
    })
}

/// Loads the model (or only its vocabulary) onto `gpu_layers` GPU layers.
pub(crate) fn load_model(path: &Path, gpu_layers: u32, vocab_only: bool) -> Result<(LlamaModel, String), ModelError> {
    let architecture = inspect_file(path)?;
    let backend = backend()?;
    let params = LlamaModelParams::default().with_n_gpu_layers(gpu_layers).with_vocab_only(vocab_only);
    llama_log::clear_errors();
    match LlamaModel::load_from_file(backend, path, &params) {
        Ok(model) => Ok((model, architecture)),
        Err(err) => {
            let reason = llama_log::take_errors().unwrap_or_else(|| err.to_string());
            if reason.contains("unknown model architecture") {
                Err(ModelError::UnsupportedArchitecture { path: path.to_owned(), architecture })
            } else {
                Err(ModelError::Llama { action: "load the model", reason })
            }
        }
    }
}
