//! A testing aid: slows the fold and the projector's poll by a set share, so that the
//! regression gate's power can be measured against a known slowdown (`STROOM_SLOWDOWN`, read by
//! the stroom binary; the per-school lane commit has its own, `[inject] per_school_slowdown`).
//! Off unless set; never set by a scenario a user runs.
//!
//! A share `s` makes the path take `1 / (1 − s)` of its time, so its rate falls to `1 − s`
//! of what it was: 0.10 is a 10% lower rate where that path is all the work.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Busy-loop iterations added to every event the fold applies.
static FOLD_SPINS: AtomicU32 = AtomicU32::new(0);
/// The poll's share, as f64 bits.
static POLL_SHARE: AtomicU64 = AtomicU64::new(0);

/// Adds `spins` iterations of a busy loop to every fold of one event ([`spin`] calibrates them).
pub fn set_fold_spins(spins: u32) {
    FOLD_SPINS.store(spins, Ordering::Relaxed);
}

/// Holds every projector poll `share / (1 − share)` of its own time longer.
pub fn set_poll_share(share: f64) {
    POLL_SHARE.store(share.to_bits(), Ordering::Relaxed);
}

/// The fold's extra work, if any: called once per event.
#[inline]
pub(crate) fn fold_extra() {
    let n = FOLD_SPINS.load(Ordering::Relaxed);
    if n > 0 {
        spin(n);
    }
}

/// `n` iterations of a loop the compiler cannot remove.
#[inline(never)]
pub fn spin(n: u32) {
    for i in 0..n {
        std::hint::black_box(i);
    }
}

/// After a poll that began at `began`, holds the caller for the poll's share of extra time.
pub(crate) fn after_poll(began: Instant) {
    let share = f64::from_bits(POLL_SHARE.load(Ordering::Relaxed));
    if share > 0.0 {
        hold(began.elapsed(), share);
    }
}

/// Blocks this worker for `share / (1 − share)` of `took`: a thread sleep, not tokio's timer,
/// which rounds up to whole milliseconds, several times a sub-millisecond statement.
/// `block_in_place` hands the worker's other tasks on (outside a multi-thread runtime it
/// sleeps the thread as it is).
pub fn hold(took: Duration, share: f64) {
    let extra = took.mul_f64(share / (1.0 - share));
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| std::thread::sleep(extra));
        }
        _ => std::thread::sleep(extra),
    }
}
