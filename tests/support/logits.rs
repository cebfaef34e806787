//! Comparing next-token distributions: the fidelity measure of cache reuse against a full
//! re-encode.

/// Softmax in f64.
pub fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exp: Vec<f64> = logits.iter().map(|&l| (l as f64 - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// KL(reference ‖ other) of the two next-token distributions.
pub fn kl(reference: &[f32], other: &[f32]) -> f64 {
    let (p, q) = (softmax(reference), softmax(other));
    p.iter().zip(&q).filter(|(p, _)| **p > 1e-12).map(|(p, q)| p * (p / q.max(1e-30)).ln()).sum()
}

/// The most likely next token.
pub fn argmax(logits: &[f32]) -> usize {
    logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0)
}
