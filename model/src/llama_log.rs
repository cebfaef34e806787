//! llama.cpp's log, routed into `tracing` and never onto stdout (the LSP channel).
//!
//! llama.cpp reports the reason of a failed load only in its log ("unknown model architecture:
//! 'foo'"), so this module also remembers the recent error lines; the loader turns them into a
//! [`ModelError`](crate::ModelError) in the user's words.

use std::ffi::{c_char, c_void, CStr};
use std::sync::{Mutex, Once};

static INSTALL: Once = Once::new();
/// Recent error lines, oldest first, at most [`KEPT_ERRORS`].
static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());
const KEPT_ERRORS: usize = 8;

/// Installs the callback once per process. Cheap after the first call.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: `forward` is a plain `extern "C"` function with the signature llama.cpp
        // expects, it never unwinds, and it ignores `user_data`, so a null pointer is fine.
        unsafe { llama_cpp_sys_2::llama_log_set(Some(forward), std::ptr::null_mut()) };
    });
}

/// Takes (and clears) the error lines llama.cpp logged since the last call, joined by "; ".
/// The log is process-wide: with several models loading at once, lines may mix.
pub(crate) fn take_errors() -> Option<String> {
    let mut errors = ERRORS.lock().unwrap_or_else(|poison| poison.into_inner());
    if errors.is_empty() {
        None
    } else {
        Some(std::mem::take(&mut *errors).join("; "))
    }
}

/// Forgets earlier error lines, so that [`take_errors`] reports only what follows.
pub(crate) fn clear_errors() {
    let _ = take_errors();
}

unsafe extern "C" fn forward(level: llama_cpp_sys_2::ggml_log_level, text: *const c_char, _: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a valid NUL-terminated string that lives for this call.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    let line = text.trim_end();
    if line.is_empty() {
        return;
    }
    match level {
        llama_cpp_sys_2::GGML_LOG_LEVEL_ERROR => {
            tracing::error!(target: "llama_cpp", "{line}");
            if let Ok(mut errors) = ERRORS.lock() {
                if errors.len() == KEPT_ERRORS {
                    errors.remove(0);
                }
                errors.push(line.to_owned());
            }
        }
        llama_cpp_sys_2::GGML_LOG_LEVEL_WARN => tracing::warn!(target: "llama_cpp", "{line}"),
        llama_cpp_sys_2::GGML_LOG_LEVEL_INFO => tracing::debug!(target: "llama_cpp", "{line}"),
        _ => tracing::trace!(target: "llama_cpp", "{line}"),
    }
}
