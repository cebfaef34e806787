//! llama.cpp's log, routed into `tracing` and never onto stdout (the LSP channel).
//!
//! llama.cpp reports the reason of a failed load only in its log ("unknown model architecture:
//! 'foo'"), so this module also remembers the most recent error line; the loader turns it into a
//! [`ModelError`](crate::ModelError) in the user's words.

use std::ffi::{c_char, c_void, CStr};
use std::sync::{Mutex, Once};

static INSTALL: Once = Once::new();
static LAST_ERROR: Mutex<String> = Mutex::new(String::new());

/// Installs the callback once per process. Cheap after the first call.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: `forward` is a plain `extern "C"` function with the signature llama.cpp
        // expects, it never unwinds, and it ignores `user_data`, so a null pointer is fine.
        unsafe { llama_cpp_sys_2::llama_log_set(Some(forward), std::ptr::null_mut()) };
    });
}

/// Takes (and clears) the last error line llama.cpp logged, if any.
pub(crate) fn take_last_error() -> Option<String> {
    let mut last = LAST_ERROR.lock().unwrap_or_else(|poison| poison.into_inner());
    if last.is_empty() {
        None
    } else {
        Some(std::mem::take(&mut *last))
    }
}

/// Forgets any earlier error line, so that [`take_last_error`] reports only what follows.
pub(crate) fn clear_last_error() {
    let _ = take_last_error();
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
            if let Ok(mut last) = LAST_ERROR.lock() {
                line.clone_into(&mut last);
            }
        }
        llama_cpp_sys_2::GGML_LOG_LEVEL_WARN => tracing::warn!(target: "llama_cpp", "{line}"),
        llama_cpp_sys_2::GGML_LOG_LEVEL_INFO => tracing::debug!(target: "llama_cpp", "{line}"),
        _ => tracing::trace!(target: "llama_cpp", "{line}"),
    }
}
