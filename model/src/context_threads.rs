//! Changing the batch threads of a llama.cpp context after it was made.
//!
//! llama.cpp has `llama_set_n_threads` for that, but llama-cpp-2 0.1.160 neither wraps it nor
//! gives out the context's pointer. It does print the pointer in its `Debug` output
//! (`LlamaContext { context: 0x… }`), so [`ContextThreads::of`] reads it from there and checks
//! it against the context's own sizes (read through the safe API) before using it; when any of
//! that fails (another llama-cpp-2 version), batches stay on the threads the context was made
//! with, as before. The workspace pins llama-cpp-2 to one version, and a unit test fails if the
//! pointer can no longer be found.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_sys_2 as sys;
use std::ptr::NonNull;

/// A context's thread counts, changeable.
#[derive(Debug)]
pub(crate) struct ContextThreads {
    raw: NonNull<sys::llama_context>,
    /// Threads of single-token decodes (never changed).
    decode: i32,
    /// Threads of batches now.
    batch: i32,
}

// SAFETY: the pointer is the one `LlamaContext` owns; `ContextThreads` lives beside that
// context in `Llama` and is used only by the thread that owns it, as the context is.
unsafe impl Send for ContextThreads {}

impl ContextThreads {
    /// The thread counts of `ctx`, or `None` when its pointer cannot be found (see the module
    /// docs). The result must not outlive `ctx`.
    pub(crate) fn of(ctx: &LlamaContext<'_>) -> Option<Self> {
        let printed = format!("{ctx:?}");
        let hex = printed.strip_prefix("LlamaContext { context: 0x")?.strip_suffix(" }")?;
        let address = usize::from_str_radix(hex, 16).ok()?;
        let raw = NonNull::new(address as *mut sys::llama_context)?;
        // SAFETY: `raw` is the address `ctx` printed as its context pointer, alive while `ctx`
        // is; these only read its parameters.
        let (n_ctx, n_batch, n_ubatch) = unsafe {
            (sys::llama_n_ctx(raw.as_ptr()), sys::llama_n_batch(raw.as_ptr()), sys::llama_n_ubatch(raw.as_ptr()))
        };
        if (n_ctx, n_batch, n_ubatch) != (ctx.n_ctx(), ctx.n_batch(), ctx.n_ubatch()) {
            return None;
        }
        // SAFETY: as above.
        let (decode, batch) = unsafe { (sys::llama_n_threads(raw.as_ptr()), sys::llama_n_threads_batch(raw.as_ptr())) };
        Some(Self { raw, decode, batch })
    }

    /// The threads batches run on now.
    pub(crate) fn batch(&self) -> u32 {
        self.batch.max(1) as u32
    }

    /// The batch threads llama.cpp itself reports for the context.
    #[cfg(test)]
    pub(crate) fn reported_by_llama(&self) -> i32 {
        // SAFETY: the context is alive (see [`Self::of`]); a read of its parameters.
        unsafe { sys::llama_n_threads_batch(self.raw.as_ptr()) }
    }

    /// Runs the next batches on `threads` threads.
    pub(crate) fn set_batch(&mut self, threads: u32) {
        let threads = threads.max(1) as i32;
        if threads != self.batch {
            // SAFETY: the context is alive (see [`Self::of`]) and not in use: the owning thread
            // calls this between decodes.
            unsafe { sys::llama_set_n_threads(self.raw.as_ptr(), self.decode, threads) };
            self.batch = threads;
        }
    }
}
