//! A running average for costs and rates the engine measures as it runs.

/// Weight of a new sample.
const ALPHA: f64 = 0.2;

/// An exponentially weighted running average that starts from a prior; the first sample
/// replaces the prior.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Average {
    /// The current average (the prior until a sample came).
    pub value: f64,
    /// Samples added so far.
    pub samples: u32,
}

impl Average {
    /// An average that reads `prior` until its first sample.
    pub(crate) fn new(prior: f64) -> Self {
        Self { value: prior, samples: 0 }
    }

    /// Adds a sample.
    pub(crate) fn add(&mut self, sample: f64) {
        self.value = if self.samples == 0 { sample } else { self.value + ALPHA * (sample - self.value) };
        self.samples = self.samples.saturating_add(1);
    }
}
