//! The state of the last few documents used, by key, most recent first: what the gate keeps of
//! each document's syntax, and what the index keeps of each changed document's tree.

use std::borrow::Borrow;
use std::sync::{Arc, Mutex, PoisonError};

/// Up to `KEPT` states, each shared (`Arc<Mutex<T>>`) so one can be worked on without holding
/// the others; using a key makes it the most recent, and a key beyond `KEPT` is dropped.
pub(crate) struct Recent<K, T, const KEPT: usize> {
    kept: Mutex<Vec<(K, Arc<Mutex<T>>)>>,
}

impl<K, T, const KEPT: usize> Default for Recent<K, T, KEPT> {
    fn default() -> Self {
        Self { kept: Mutex::new(Vec::new()) }
    }
}

impl<K: std::fmt::Debug, T, const KEPT: usize> std::fmt::Debug for Recent<K, T, KEPT> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_list().entries(kept.iter().map(|(key, _)| key)).finish()
    }
}

impl<K: Clone, T: Default, const KEPT: usize> Recent<K, T, KEPT> {
    /// `key`'s state, made the most recent; a fresh state for a key not kept.
    pub fn state_of<Q>(&self, key: &Q) -> Arc<Mutex<T>>
    where
        K: Borrow<Q>,
        Q: PartialEq + ToOwned<Owned = K> + ?Sized,
    {
        self.state_of_or(key, T::default)
    }

    /// `key`'s state, made the most recent; for a key not kept, the state `make` returns (it
    /// runs while the keys are locked: it must not use this `Recent`).
    pub fn state_of_or<Q>(&self, key: &Q, make: impl FnOnce() -> T) -> Arc<Mutex<T>>
    where
        K: Borrow<Q>,
        Q: PartialEq + ToOwned<Owned = K> + ?Sized,
    {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let (key, state) = match kept.iter().position(|(k, _)| k.borrow() == key) {
            Some(i) => kept.remove(i),
            None => (key.to_owned(), Arc::new(Mutex::new(make()))),
        };
        kept.insert(0, (key, Arc::clone(&state)));
        kept.truncate(KEPT);
        state
    }

    /// Drops the states whose keys `gone` accepts.
    pub fn forget(&self, gone: impl Fn(&K) -> bool) {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).retain(|(key, _)| !gone(key));
    }

    /// The keys kept, most recent first.
    #[cfg(test)]
    pub fn keys(&self) -> Vec<K> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(key, _)| key.clone()).collect()
    }
}
