//! Which llama-server slot this editor's requests run on.
//!
//! A slot's cells hold the prompt of the last request it ran, so an editor's next keystroke
//! reuses its own prompt only on its own slot. llama-server otherwise gives a request the idle
//! slot with the longest common prefix, or the least recently used one: with several editors on
//! one engine, a request whose own slot is busy lands in another editor's, and both re-encode
//! their whole prompts. So each request asks for its editor's slot (`id_slot`).
//!
//! llama-server names the slot only in a stream's last event, and Splice closes most streams
//! before it (the suggestion's shape was complete, or the person typed on). So each greedy
//! request carries this editor's *marker* as its sampling seed, which greedy decoding never
//! reads, and after a request whose slot is still unknown, `/slots` (each slot's current or last
//! task, with its seed) says which slot ran it. One lookup, in the background, never in a
//! keystroke's way.

use serde_json::Value;
use std::hash::BuildHasher;

/// llama-server's "pick a random seed" value, which a marker must not be.
const RANDOM_SEED: u32 = u32::MAX;

/// A marker unlikely to be any other editor's: a hash of the process and the time, keyed by the
/// process's random hasher seed.
pub(crate) fn new_marker() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos());
    let hash = std::collections::hash_map::RandomState::new().hash_one((std::process::id(), nanos));
    let marker = (hash ^ (hash >> 32)) as u32;
    if marker == RANDOM_SEED {
        marker - 1
    } else {
        marker
    }
}

/// Whether `/slots` may be asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Lookup {
    /// Not asked now; ask after the next request whose slot is unknown.
    #[default]
    Idle,
    /// A lookup is on its way.
    Running,
    /// The engine has no `/slots` (`--no-slots`, or not llama-server): learn from last events only.
    Unavailable,
}

/// The slot this editor asks for, and the state of learning it.
#[derive(Debug, Default)]
pub(crate) struct EngineSlot {
    slot: Option<u32>,
    lookup: Lookup,
}

impl EngineSlot {
    /// The slot to ask for, once learnt.
    pub(crate) fn get(&self) -> Option<u32> {
        self.slot
    }

    /// The slot a stream's last event named.
    pub(crate) fn learnt(&mut self, slot: u32) {
        self.slot = Some(slot);
    }

    /// Forgets the slot and whether `/slots` answers: a restarted engine may have fewer slots,
    /// or other flags.
    pub(crate) fn forget(&mut self) {
        *self = EngineSlot::default();
    }

    /// Whether a lookup should start now (the slot unknown, `/slots` usable, none running); if
    /// so, it counts as running from now.
    pub(crate) fn start_lookup(&mut self) -> bool {
        let start = self.slot.is_none() && self.lookup == Lookup::Idle;
        if start {
            self.lookup = Lookup::Running;
        }
        start
    }

    /// A lookup's end: `Ok` with `/slots`' answer, `Err(true)` when the engine said it has no
    /// such endpoint, `Err(false)` when it could not be asked now.
    pub(crate) fn lookup_ended(&mut self, answer: Result<&Value, bool>, marker: u32) {
        self.lookup = Lookup::Idle;
        match answer {
            Ok(slots) => {
                if self.slot.is_none() {
                    self.slot = slot_of_marker(slots, marker);
                }
            }
            Err(true) => self.lookup = Lookup::Unavailable,
            Err(false) => {}
        }
    }
}

/// The slot whose current or last task carried `marker` as its seed, the latest task's where
/// several did, from llama-server's `/slots` answer (an array of slots, each with `id`,
/// `id_task` and `params.seed`).
pub(crate) fn slot_of_marker(slots: &Value, marker: u32) -> Option<u32> {
    slots
        .as_array()?
        .iter()
        .filter(|slot| slot.pointer("/params/seed").and_then(Value::as_u64) == Some(u64::from(marker)))
        .filter_map(|slot| {
            let id = u32::try_from(slot.get("id")?.as_u64()?).ok()?;
            let task = slot.get("id_task").and_then(Value::as_i64).unwrap_or(-1);
            Some((task, id))
        })
        .max()
        .map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slots() -> Value {
        json!([
            { "id": 0, "is_processing": false, "id_task": 12, "params": { "seed": 7 } },
            { "id": 1, "is_processing": true, "id_task": 30, "params": { "seed": 99 } },
            { "id": 2, "is_processing": false, "id_task": 21, "params": { "seed": 7 } },
            { "id": 3, "is_processing": false }
        ])
    }

    #[test]
    fn the_slot_is_the_one_whose_latest_task_carried_the_marker() {
        assert_eq!(slot_of_marker(&slots(), 7), Some(2), "task 21 is later than task 12");
        assert_eq!(slot_of_marker(&slots(), 99), Some(1), "a slot still running the task counts");
        assert_eq!(slot_of_marker(&slots(), 5), None, "no slot ran this editor's requests");
        assert_eq!(slot_of_marker(&json!({ "error": "x" }), 7), None, "not the slots array");
    }

    #[test]
    fn a_lookup_runs_once_at_a_time_only_while_the_slot_is_unknown() {
        let mut slot = EngineSlot::default();
        assert!(slot.start_lookup());
        assert!(!slot.start_lookup(), "one lookup at a time");
        slot.lookup_ended(Err(false), 7);
        assert!(slot.start_lookup(), "an engine that could not answer is asked again later");
        slot.lookup_ended(Ok(&slots()), 7);
        assert_eq!(slot.get(), Some(2));
        assert!(!slot.start_lookup(), "the slot is known");
        slot.forget();
        assert_eq!(slot.get(), None);
        assert!(slot.start_lookup());
        slot.lookup_ended(Err(true), 7);
        assert!(!slot.start_lookup(), "an engine without /slots is not asked again");
        slot.learnt(1);
        assert_eq!(slot.get(), Some(1), "a last event still names the slot");
    }

    #[test]
    fn a_lookup_that_ends_after_a_last_event_named_the_slot_keeps_that_one() {
        let mut slot = EngineSlot::default();
        assert!(slot.start_lookup());
        slot.learnt(3);
        slot.lookup_ended(Ok(&slots()), 7);
        assert_eq!(slot.get(), Some(3));
    }

    #[test]
    fn markers_are_never_llama_servers_random_seed() {
        assert!((0..64).map(|_| new_marker()).all(|marker| marker != RANDOM_SEED));
    }
}
