//! [`both`]: two independent pieces of a request's work, the second offered to a standing
//! helper thread while the caller does the first, and done by the caller itself whenever the
//! helper would make it wait for nothing.
//!
//! Why a standing thread that may be passed over, and not a thread started per request: on a
//! machine whose cores the model's threads hold (a prefetch, or a run the request has just
//! cancelled, still finishing its batch), a new thread waits for a core. The scheduler places
//! a new thread behind the ones running, and measured over LSP a search started that way began
//! 3–90 ms late while the request's own thread had finished its half long before and waited
//! for it. So the caller never waits for work that has not begun: it does it itself.
//!
//! Nor for work the helper began and then lost its core in: the model's threads spin and use
//! their whole time slices, and measured over LSP a search the helper had begun now and then
//! took 30–36 ms while the request's thread, done with its half in 0.5 ms, waited (its own CPU
//! time 0.5 ms in all). When the helper has been off its core for most of the time since it
//! began ([`MIN_ON_CORE`], looked at from [`LOOK_AFTER`] on), the caller runs the work too and
//! takes its own result: the second half must be callable more than once, with no effect but its
//! result (or effects that repeat harmlessly, like remembering a search). A helper on its core
//! is waited for however long it takes: a second run would only compete with it for the
//! cores. Where the helper's CPU time cannot be read (not Linux), the caller runs the work too
//! once the helper has taken [`HEDGE_AFTER`].

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::store::lock;

/// Work handed to the helper thread.
type Job = Box<dyn FnOnce() + Send>;

/// How often a caller waiting for the helper looks at it again.
const LOOK_EVERY: Duration = Duration::from_micros(100);

/// How long the helper works before the caller judges whether it is on a core: sooner, a
/// search that has barely begun has too few CPU ticks to tell.
const LOOK_AFTER: Duration = Duration::from_micros(300);

/// The share of the time since it began that the helper must have spent on a core for the
/// caller to go on waiting for it.
const MIN_ON_CORE: f64 = 0.5;

/// Where the helper's CPU time cannot be read: how long the caller waits for it at most (a
/// search takes 0.2–0.7 ms on a free core, 0.3–3 ms over LSP beside the model's threads).
const HEDGE_AFTER: Duration = Duration::from_millis(2);

/// Runs `first()` here and `second()` beside it on the helper thread when `beside` (else, or
/// when the helper cannot run, one after the other on this thread). The result of `second` is
/// that of one run of it; a panic in the run whose result is taken is passed on as if it had
/// run here.
pub fn both<A, B: Send + 'static>(
    beside: bool,
    first: impl FnOnce() -> A,
    second: impl Fn() -> B + Send + Sync + 'static,
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
                helper_clock::register();
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
    Waiting,
    /// The helper is running it: since when, and its CPU time then (where it can be read).
    Running { since: Instant, cpu: Option<Duration> },
    /// The helper ran it: its value or its panic.
    Done(Result<B, Box<dyn Any + Send>>),
    /// The caller took it (its result, or the work itself).
    Over,
}

/// One piece of work offered to the helper, shared by the helper and the caller.
struct Slot<B> {
    stage: Mutex<Stage<B>>,
    done: Condvar,
    work: Box<dyn Fn() -> B + Send + Sync>,
}

/// The caller's hold on work it offered.
struct Offered<B> {
    slot: Arc<Slot<B>>,
}

impl<B: Send + 'static> Offered<B> {
    /// Offers `work` to the helper behind `queue`; work the queue does not take stays waiting
    /// for the caller.
    fn to(queue: &Mutex<Sender<Job>>, work: impl Fn() -> B + Send + Sync + 'static) -> Self {
        let slot = Arc::new(Slot { stage: Mutex::new(Stage::Waiting), done: Condvar::new(), work: Box::new(work) });
        let shared = slot.clone();
        let job: Job = Box::new(move || shared.run_on_helper());
        let _ = lock(queue).send(job);
        Offered { slot }
    }

    /// The work's result: run here when the helper has not begun it or is stalled in it, else
    /// waited for.
    fn result(self) -> B {
        let slot = &self.slot;
        let mut stage = lock(&slot.stage);
        loop {
            match &*stage {
                Stage::Waiting => break,
                Stage::Running { since, cpu } if stalled(*since, *cpu) => break,
                Stage::Running { .. } => {
                    stage = slot.done.wait_timeout(stage, LOOK_EVERY).map_or_else(|p| p.into_inner().0, |w| w.0);
                }
                Stage::Done(_) => match std::mem::replace(&mut *stage, Stage::Over) {
                    Stage::Done(Ok(value)) => return value,
                    Stage::Done(Err(panic)) => resume_unwind(panic),
                    _ => unreachable!("matched as done"),
                },
                Stage::Over => unreachable!("an offered piece of work's result is taken once"),
            }
        }
        *stage = Stage::Over;
        drop(stage);
        (slot.work)()
    }
}

/// Whether the helper, running the work since `since` with `cpu` of CPU time then, should no
/// longer be waited for: it has been off its core for most of that time (or, where its CPU time
/// cannot be read, it has taken [`HEDGE_AFTER`]).
fn stalled(since: Instant, cpu: Option<Duration>) -> bool {
    let running = since.elapsed();
    if running < LOOK_AFTER {
        return false;
    }
    match (cpu, helper_clock::now()) {
        (Some(then), Some(now)) => now.saturating_sub(then).as_secs_f64() < running.as_secs_f64() * MIN_ON_CORE,
        _ => running >= HEDGE_AFTER,
    }
}

impl<B> Slot<B> {
    /// The helper's turn: runs the work unless the caller took it; its result is kept only if
    /// the caller is still waiting for it.
    fn run_on_helper(&self) {
        {
            let mut stage = lock(&self.stage);
            if !matches!(*stage, Stage::Waiting) {
                return;
            }
            *stage = Stage::Running { since: Instant::now(), cpu: helper_clock::now() };
        }
        let result = catch_unwind(AssertUnwindSafe(|| (self.work)()));
        let mut stage = lock(&self.stage);
        if matches!(*stage, Stage::Running { .. }) {
            *stage = Stage::Done(result);
            self.done.notify_all();
        }
    }
}

/// The helper thread's CPU time, readable from any thread (Linux: its thread CPU clock).
mod helper_clock {
    use std::time::Duration;

    #[cfg(target_os = "linux")]
    static CLOCK: std::sync::OnceLock<libc::clockid_t> = std::sync::OnceLock::new();

    /// Called on the helper thread as it starts.
    pub(super) fn register() {
        #[cfg(target_os = "linux")]
        {
            let mut clock: libc::clockid_t = 0;
            // SAFETY: `pthread_self` is this live thread; `clock` is a valid out-pointer.
            if unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) } == 0 {
                let _ = CLOCK.set(clock);
            }
        }
    }

    /// The helper's CPU time so far; `None` where it cannot be read.
    pub(super) fn now() -> Option<Duration> {
        #[cfg(target_os = "linux")]
        {
            let clock = *CLOCK.get()?;
            let mut time = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: `clock` is the helper's CPU clock (the helper never exits); `time` is a
            // valid out-pointer.
            if unsafe { libc::clock_gettime(clock, &mut time) } != 0 {
                return None;
            }
            Some(Duration::new(time.tv_sec as u64, time.tv_nsec as u32))
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
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
    fn a_helper_stalled_in_the_work_is_not_waited_for() {
        // The second half stalls (off its core: blocked) when it runs on the helper, until
        // released; on the caller's thread it does not.
        let begun = Arc::new(AtomicUsize::new(0));
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let (seen, mark, held) = (begun.clone(), begun.clone(), release.clone());
        let (answer, answered) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let wait_for_helper = || {
                while seen.load(Ordering::SeqCst) == 0 {
                    std::thread::yield_now();
                }
            };
            let (_, ran_on) = both(true, wait_for_helper, move || {
                let here = std::thread::current().id();
                if std::thread::current().name() == Some("splice-beside") {
                    mark.store(1, Ordering::SeqCst);
                    let (open, opened) = &*held;
                    let mut open = lock(open);
                    while !*open {
                        open = opened.wait(open).unwrap();
                    }
                }
                here
            });
            let _ = answer.send((std::thread::current().id(), ran_on));
        });
        // A bound for a broken build only: a stalled helper would hold the caller until release.
        let result = answered.recv_timeout(std::time::Duration::from_secs(120));
        let (open, opened) = &*release;
        *lock(open) = true;
        opened.notify_all();
        let (caller, ran_on) = result.expect("the caller waited for a stalled helper");
        assert_eq!(ran_on, caller, "the caller ran the work itself and took its own result");
        assert_eq!(begun.load(Ordering::SeqCst), 1, "the helper had begun it");
        // The helper's late result was dropped, and it runs later work again.
        let (a, b) = both(true, || 1, || 2);
        assert_eq!((a, b), (1, 2));
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
