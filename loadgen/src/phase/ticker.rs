//! Wakes an open-loop dispatcher on time. tokio's timer turns on a 1 ms wheel and rounds a
//! deadline up to the next millisecond, so an arrival sent from `sleep_until` leaves up to a
//! millisecond late before the wake-up itself: as late as what makes a window harness-bound
//! ([`crate::measure::latency::HARNESS_LATE_AFTER`]). A thread of its own, asleep on the
//! kernel's high-resolution timer, wakes within tens of µs and hands each due instant to the
//! dispatcher over a channel.
//!
//! Where it may (root, or `CAP_SYS_NICE`), that thread runs in the real-time FIFO class at its
//! lowest priority. In the normal class a thread woken while both of a 2-core VM's cores run
//! other work waits for one of them: with two threads keeping the cores half busy, a thread
//! asleep until an instant woke over 1 ms late for 15.7% of 10,000 instants, and for 0.04% in
//! the FIFO class. The thread does nothing but sleep and send, so it takes no time from the
//! store; hurried (past saturation, sending without sleeping) it goes back to the normal class.
//! Latency is still measured from each arrival's intended start.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

/// One due instant, handed over: when it was due and when the ticker's thread woke for it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tick {
    pub due: Instant,
    pub woke: Instant,
}

/// The due instants of a schedule, each handed over when it comes.
pub(super) struct Ticker {
    rx: mpsc::UnboundedReceiver<Tick>,
    hurry: Arc<AtomicBool>,
    /// [`UNKNOWN`], then whether the thread runs in the real-time class ([`REALTIME`], [`NORMAL`]).
    class: Arc<AtomicU8>,
}

const UNKNOWN: u8 = 0;
const REALTIME: u8 = 1;
const NORMAL: u8 = 2;

/// Moves the calling thread into the real-time FIFO class at its lowest priority, above every
/// normal thread; false where that is not allowed.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn realtime() -> bool {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: pid 0 is the calling thread; `param` outlives the call, which only reads it.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn realtime() -> bool {
    false
}

/// Moves the calling thread back into the normal class; false where that failed.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn normal() -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: as in `realtime`.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn normal() -> bool {
    true
}

impl Ticker {
    /// Starts ticking `due`, which must be in time order.
    pub(super) fn start(due: impl Iterator<Item = Instant> + Send + 'static) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let hurry = Arc::new(AtomicBool::new(false));
        let rushed = hurry.clone();
        let class = Arc::new(AtomicU8::new(UNKNOWN));
        let set = class.clone();
        std::thread::Builder::new()
            .name("stroom-ticker".into())
            .spawn(move || {
                let mut rt = realtime();
                if !rt {
                    static ONCE: std::sync::Once = std::sync::Once::new();
                    ONCE.call_once(|| {
                        crate::progress::note(format_args!(
                            "open loop: arrivals are timed by a thread in the normal scheduling class (the real-time class needs root or CAP_SYS_NICE): on a busy host more of them start late"
                        ))
                    });
                }
                set.store(if rt { REALTIME } else { NORMAL }, Ordering::Release);
                for at in due {
                    if !rushed.load(Ordering::Relaxed) {
                        let now = Instant::now();
                        if at > now {
                            std::thread::sleep(at - now);
                        }
                    } else if rt {
                        // Hurried, it sends without sleeping: in the real-time class that
                        // loop would hold a core above every normal thread, the store's too.
                        rt = !normal();
                    }
                    if tx.send(Tick { due: at, woke: Instant::now() }).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning the ticker thread");
        Self { rx, hurry, class }
    }

    /// Whether the ticker's thread runs in the real-time class: `None` before it started.
    pub(super) fn realtime(&self) -> Option<bool> {
        match self.class.load(Ordering::Acquire) {
            UNKNOWN => None,
            c => Some(c == REALTIME),
        }
    }

    /// The next due instant, once it is due; `None` after the last.
    pub(super) async fn next(&mut self) -> Option<Instant> {
        self.rx.recv().await.map(|t| t.due)
    }

    /// [`Self::next`], with when the ticker's thread woke for it.
    pub(super) async fn next_tick(&mut self) -> Option<Tick> {
        self.rx.recv().await
    }

    /// Hands the instants still to come over at once: past saturation they are counted, not sent.
    pub(super) fn hurry(&self) {
        self.hurry.store(true, Ordering::Relaxed);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        // The thread stops at its next send, which fails now; hurrying gets it there.
        self.hurry();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instants_arrive_when_due_and_all_at_once_when_hurried() {
        let t0 = Instant::now() + Duration::from_millis(20);
        let due: Vec<Instant> = (0..200).map(|i| t0 + Duration::from_micros(300 * i)).collect();
        let mut ticker = Ticker::start(due.clone().into_iter());
        let mut late = Vec::new();
        for _ in 0..100 {
            let at = ticker.next().await.unwrap();
            assert!(ticker.realtime().is_some(), "the thread said its class before its first tick");
            assert!(Instant::now() >= at, "handed over early");
            late.push(Instant::now() - at);
        }
        late.sort();
        // Not a timing target: a 10 ms bound only says the ticker sleeps to each instant
        // rather than on a coarse wheel or not at all.
        assert!(late[50] < Duration::from_millis(10), "median lateness {:?}", late[50]);
        ticker.hurry();
        let rest = Instant::now();
        let mut n = 0;
        while ticker.next().await.is_some() {
            n += 1;
        }
        assert_eq!(n, 100);
        assert!(rest.elapsed() < due[199] - due[100], "hurried, the rest still waited");
    }
}
