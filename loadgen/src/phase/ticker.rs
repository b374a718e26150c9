//! Wakes an open-loop dispatcher on time. tokio's timer turns on a 1 ms wheel and rounds a
//! deadline up to the next millisecond, so an arrival sent from `sleep_until` leaves up to a
//! millisecond late before the wake-up itself: as late as what makes a window harness-bound
//! ([`crate::measure::latency::HARNESS_LATE_AFTER`]). A thread of its own, asleep on the
//! kernel's high-resolution timer, wakes within tens of µs and hands each due instant to the
//! dispatcher over a channel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

/// The due instants of a schedule, each handed over when it comes.
pub(super) struct Ticker {
    rx: mpsc::UnboundedReceiver<Instant>,
    hurry: Arc<AtomicBool>,
}

impl Ticker {
    /// Starts ticking `due`, which must be in time order.
    pub(super) fn start(due: impl Iterator<Item = Instant> + Send + 'static) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let hurry = Arc::new(AtomicBool::new(false));
        let rushed = hurry.clone();
        std::thread::Builder::new()
            .name("stroom-ticker".into())
            .spawn(move || {
                for at in due {
                    if !rushed.load(Ordering::Relaxed) {
                        let now = Instant::now();
                        if at > now {
                            std::thread::sleep(at - now);
                        }
                    }
                    if tx.send(at).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning the ticker thread");
        Self { rx, hurry }
    }

    /// The next due instant, once it is due; `None` after the last.
    pub(super) async fn next(&mut self) -> Option<Instant> {
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
