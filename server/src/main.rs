//! The `splice` binary; everything lives in the `splice_server` library.

fn main() -> std::process::ExitCode {
    splice_server::run_from_args()
}
