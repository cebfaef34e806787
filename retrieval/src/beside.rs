//! [`both`]: two independent pieces of a request's work, the second offered to a standing
//! helper thread while the caller does the first, and taken back by the caller when the helper
//! has not begun it by then.
//!
//! Why a standing thread that may be passed over, and not a thread started per request: on a
//! machine whose cores the model's threads hold (a prefetch, or a run the request has just
//! cancelled, still finishing its batch), a new thread waits for a core. The scheduler places
//! a new thread behind the ones running, and measured over LSP a search started that way began
//! 3–90 ms late while the request's own thread had finished its half long before and waited
//! for it. Now the caller never waits for work that has not begun: it does it itself, so a
//! request costs at most both halves one after the other, as on one thread; only a search
//! already under way on the helper is waited for.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crate::store::lock;

/// Work handed to the helper thread.
type Job = Box<dyn FnOnce() + Send>;

/// Runs `first()` here and `second()` beside it on the helper thread when `beside` (else, or
/// when the helper cannot run, one after the other on this thread). `second` runs exactly
/// once, and its panic is passed on as if it had run here.
pub fn both<A, B: Send + 'static>(
    beside: bool,
    first: impl FnOnce() -> A,
    second: impl FnOnce() -> B + Send + 'static,
) -> (A, B) {
    let offered = match beside.then(helper).flatten() {
        Some(helper) => Offered::to(helper, second),
        None => return (first(), second()),
    };
    let a = first();
    (a, offered.result())
}

/// The helper thread's queue, started at the first call; `None` when it could not be started.
fn helper() -> Option<&'static Mutex<Sender<Job>>> {
    static HELPER: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();
    HELPER
        .get_or_init(|| {
            let (sender, jobs) = channel::<Job>();
            let started = std::thread::Builder::new().name("splice-beside".to_owned()).spawn(move || {
                for job in jobs {
                    job();
                }
            });
            started.ok().map(|_| Mutex::new(sender))
        })
        .as_ref()
}

/// Where an offered piece of work stands.
enum Stage<B> {
    /// Nobody has begun it.
    Waiting(Box<dyn FnOnce() -> B + Send>),
    /// The helper is running it.
    Running,
    /// The helper ran it: its value or its panic.
    Done(Result<B, Box<dyn Any + Send>>),
    /// Its result was taken.
    Over,
}

/// One piece of work offered to the helper, shared by the helper and the caller.
struct Slot<B> {
    stage: Mutex<Stage<B>>,
    done: Condvar,
}

/// The caller's hold on work it offered.
struct Offered<B> {
    slot: Arc<Slot<B>>,
}

impl<B: Send + 'static> Offered<B> {
    /// Offers `work` to the helper behind `queue`; work the queue does not take stays waiting
    /// for the caller.
    fn to(queue: &Mutex<Sender<Job>>, work: impl FnOnce() -> B + Send + 'static) -> Self {
        let slot = Arc::new(Slot { stage: Mutex::new(Stage::Waiting(Box::new(work))), done: Condvar::new() });
        let shared = slot.clone();
        let job: Job = Box::new(move || shared.run_on_helper());
        let _ = lock(queue).send(job);
        Offered { slot }
    }

    /// The work's result: run here when the helper has not begun it, else waited for.
    fn result(self) -> B {
        let mut stage = lock(&self.slot.stage);
        loop {
            match std::mem::replace(&mut *stage, Stage::Over) {
                Stage::Waiting(work) => {
                    drop(stage);
                    return work();
                }
                Stage::Running => {
                    *stage = Stage::Running;
                    stage = self.slot.done.wait(stage).unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                Stage::Done(Ok(value)) => return value,
                Stage::Done(Err(panic)) => resume_unwind(panic),
                Stage::Over => unreachable!("an offered piece of work's result is taken once"),
            }
        }
    }
}

impl<B> Slot<B> {
    /// The helper's turn: runs the work unless the caller took it back.
    fn run_on_helper(&self) {
        let work = {
            let mut stage = lock(&self.stage);
            match std::mem::replace(&mut *stage, Stage::Running) {
                Stage::Waiting(work) => work,
                taken => {
                    *stage = taken;
                    return;
                }
            }
        };
        let result = catch_unwind(AssertUnwindSafe(work));
        *lock(&self.stage) = Stage::Done(result);
        self.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_second_runs_beside_the_first_only_when_asked() {
        let thread = || std::thread::current().id();
        let here = thread();
        let (a, b) = both(false, thread, thread);
        assert_eq!((a, b), (here, here));
        // The first waits until the helper has begun the second, so it ran there.
        let begun = Arc::new(AtomicUsize::new(0));
        let seen = begun.clone();
        let (a, b) = both(
            true,
            || {
                while seen.load(Ordering::SeqCst) == 0 {
                    std::thread::yield_now();
                }
                thread()
            },
            move || {
                begun.store(1, Ordering::SeqCst);
                thread()
            },
        );
        assert_eq!(a, here);
        assert_ne!(b, here, "the second ran on the helper");
    }

    #[test]
    fn work_the_helper_has_not_begun_is_taken_back() {
        // Block the helper: a caller whose first half waits until the helper has begun its
        // second half, which waits to be released.
        let begun = Arc::new(AtomicUsize::new(0));
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let (seen, mark, held) = (begun.clone(), begun.clone(), release.clone());
        let blocker = std::thread::spawn(move || {
            let spin = || {
                while seen.load(Ordering::SeqCst) == 0 {
                    std::thread::yield_now();
                }
            };
            both(true, spin, move || {
                mark.store(1, Ordering::SeqCst);
                let (open, opened) = &*held;
                let mut open = lock(open);
                while !*open {
                    open = opened.wait(open).unwrap();
                }
            })
        });
        while begun.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        // The helper is blocked: work offered now is never begun there, and the caller does it
        // instead of waiting for it.
        let here = std::thread::current().id();
        let (_, ran_on) = both(true, || (), || std::thread::current().id());
        assert_eq!(ran_on, here, "taken back and run by the caller");
        let (open, opened) = &*release;
        *lock(open) = true;
        opened.notify_all();
        blocker.join().unwrap();
        // The job left in the helper's queue found its work taken and did nothing; the helper
        // runs later work again (the first half waits until it has begun the second).
        let begun = Arc::new(AtomicUsize::new(0));
        let seen = begun.clone();
        let spin = || {
            while seen.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
        };
        let (_, ran_on) = both(true, spin, move || {
            begun.store(1, Ordering::SeqCst);
            std::thread::current().id()
        });
        assert_ne!(ran_on, here, "the helper ran it");
    }

    #[test]
    fn a_panic_beside_is_passed_on_and_the_helper_goes_on() {
        let panicked = std::panic::catch_unwind(|| {
            both(
                true,
                || std::thread::sleep(std::time::Duration::from_millis(20)),
                || -> u8 { panic!("search failed") },
            )
        });
        assert!(panicked.is_err());
        assert_eq!(both(true, || 1, || vec![2]), (1, vec![2]));
    }
}
