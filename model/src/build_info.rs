//! What the linked llama.cpp was compiled for, as llama.cpp itself reports it.
//!
//! Splice builds llama.cpp for the CPU at hand but without Intel AMX (`.cargo/config.toml`):
//! ggml's AMX kernels crash at the first model run on CPUs that have it. This is where that
//! shows, in the log at start-up and in a test that fails if AMX comes back.

use std::ffi::CStr;
use std::sync::Mutex;

/// llama.cpp's own answer to `llama_print_system_info` can be read by one caller at a time.
static SYSTEM_INFO: Mutex<()> = Mutex::new(());

/// llama.cpp's system-information line: each backend and the CPU features it was compiled
/// with (`CPU : SSE3 = 1 | AVX2 = 1 | … | REPACK = 1 |`).
pub fn llama_system_info() -> String {
    let _one_at_a_time = SYSTEM_INFO.lock().unwrap_or_else(|poison| poison.into_inner());
    // SAFETY: llama.cpp returns a pointer into a static string that it rewrites on every call;
    // the lock keeps other callers out while it is copied, and it is never null.
    let info = unsafe { CStr::from_ptr(llama_cpp_sys_2::llama_print_system_info()) };
    info.to_string_lossy().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_cpp_is_built_for_the_cpu_without_amx() {
        let info = llama_system_info();
        assert!(info.contains("CPU :"), "{info}");
        assert!(!info.contains("AMX"), "ggml's AMX kernels crash on CPUs with AMX: {info}");
    }
}
