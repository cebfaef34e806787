//! The `splice` binary; everything lives in the `splice_server` library.

/// The binary's own memory comes from mimalloc, as tree-sitter's does
/// (`splice_retrieval::language`): parsing, indexing and searching allocate many small blocks,
/// which it serves faster than the C library's `malloc`.
#[global_allocator]
static MEMORY: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    splice_server::memory::configure_allocator();
    splice_server::run_from_args()
}
