//! The transport fuzzer's parts: what it sends ([`script`]), how it picks it ([`strategies`]),
//! and the in-process session that checks the server's answers ([`harness`]).

pub mod harness;
pub mod script;
pub mod strategies;
