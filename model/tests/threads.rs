//! The engine moves prompt batches between its batch threads and one thread as the machine's
//! load changes (`splice_model`'s `batch_threads` module): that must never change what the
//! model computes, only when it arrives.

use splice_e2e::gemma;
use splice_model::{CompletionRequest, Engine, EngineConfig};

const FILE: &str = include_str!("../../bench/peer_llama_server.py");

fn engine(threads: u32) -> Engine {
    let mut config = EngineConfig::new(gemma());
    config.context_tokens = Some(4096);
    config.max_tokens = 16;
    config.batch_threads = Some(threads);
    Engine::start(config).unwrap()
}

fn request(prefix: &str) -> CompletionRequest {
    CompletionRequest::single_line("peer.py", prefix, 16)
}

#[test]
fn a_prompt_reads_the_same_on_one_thread_and_on_two() {
    let (one, two) = (engine(1), engine(2));
    // Prompts of 100 to 1,000 tokens: batches of one and of several ubatch-sized chunks.
    for cut in [400, 1500, 3500] {
        let prefix = &FILE[..cut];
        let on_one = one.prompt_logits_blocking(request(prefix)).unwrap();
        let on_two = two.prompt_logits_blocking(request(prefix)).unwrap();
        assert!(on_one == on_two, "the logits after {cut} bytes differ with the thread count");
    }
}
