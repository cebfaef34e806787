//! How the next token is chosen: greedy by default, because a completion should be the model's
//! single most likely continuation and the same keystrokes should give the same suggestion.

use llama_cpp_2::sampling::LlamaSampler;

/// Sampling settings of a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingConfig {
    /// 0 means greedy (argmax); above 0, softmax temperature.
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = off). Used only when `temperature > 0`.
    pub top_k: i32,
    /// Nucleus sampling threshold in (0, 1] (1 = off). Used only when `temperature > 0`.
    pub top_p: f32,
    /// Random seed for non-greedy sampling.
    pub seed: u32,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self { temperature: 0.0, top_k: 40, top_p: 0.95, seed: 0 }
    }
}

impl SamplingConfig {
    /// Whether the next token is always the most likely one.
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }

    /// Builds the llama.cpp sampler chain. Cheap (a few allocations); one per request.
    pub(crate) fn sampler(&self) -> LlamaSampler {
        if self.is_greedy() {
            return LlamaSampler::greedy();
        }
        let mut chain = Vec::with_capacity(4);
        if self.top_k > 0 {
            chain.push(LlamaSampler::top_k(self.top_k));
        }
        if self.top_p < 1.0 {
            chain.push(LlamaSampler::top_p(self.top_p, 1));
        }
        chain.push(LlamaSampler::temp(self.temperature));
        chain.push(LlamaSampler::dist(self.seed));
        LlamaSampler::chain_simple(chain)
    }
}
