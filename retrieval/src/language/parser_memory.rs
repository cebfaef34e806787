//! Where tree-sitter's parsers and trees take their memory from.
//!
//! A parse is allocation-heavy: every token and node is a small block, and much of it is freed
//! again before the parse ends. The C library's `malloc` spends about a tenth of a parse in its
//! own bookkeeping (measured on a 5,000-line Rust file: `_int_malloc`, `malloc_consolidate`,
//! `_int_free`), so tree-sitter is pointed at mimalloc instead, the allocator the `splice`
//! binary also uses for its own memory.
//!
//! tree-sitter's allocator is one setting for the whole process, and a block must be freed by
//! the allocator that made it. So it is set once, before the first parser exists: every parser
//! is made by [`crate::language::Language::parser`], which calls [`use_mimalloc`] first, and
//! `clippy.toml` forbids calling `tree_sitter::Parser::new` anywhere else.

use std::sync::Once;

/// Points tree-sitter at mimalloc; only the first call does anything.
pub(super) fn use_mimalloc() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        let allocator = tree_sitter::Allocator {
            malloc: libmimalloc_sys::mi_malloc,
            calloc: libmimalloc_sys::mi_calloc,
            realloc: libmimalloc_sys::mi_realloc,
            free: libmimalloc_sys::mi_free,
        };
        // SAFETY: no tree-sitter object exists yet: parsers (and so trees, cursors and the
        // rest) are only made by `Language::parser`, after this call has returned.
        unsafe { tree_sitter::set_allocator(Some(allocator)) };
    });
}
