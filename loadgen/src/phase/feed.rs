//! Feeds generated events to the append phase as one-event appends, in time order across
//! schools, from a generator thread.
//!
//! The first day's appends are made before a measured step starts ([`Feed::ready`]), up to
//! [`AHEAD`] of them, so a step does not pay for generating and serializing what it appends:
//! the raw COPY it is compared with copies rows made beforehand too. A later day is generated
//! only once the appends left ahead run low.
//!
//! A feed may start later in its first day ([`Feed::start_at`]): the day's earlier events
//! then come back as stored rows for the caller to bulk-load, so the appends that follow find
//! their streams where they expect them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use stroom_reference::{Append, StoredEvent};
use tokio::sync::{mpsc, oneshot};

use crate::generator::{Generator, GeneratorConfig, START_UNIX_SECS};

/// Appends handed over at a time.
const CHUNK: usize = 1024;
/// Appends made ahead at most: about a baseline day (1.2M events), some 600 MB.
const AHEAD: usize = 1 << 21;
/// A new day is generated once no more than this many chunks are left ahead: late enough that
/// a short step never shares its cores with the generator.
const LOW_WATER: usize = 8;
/// The same for a long window (a soak), which will run through many days: early enough that
/// the next day is made before the appends left ahead run out (a day takes a second or two to
/// make; 256 chunks last 17 s at 15000 appends/s), else arrivals would wait for the generator.
pub const LOW_WATER_LONG: usize = 256;

/// A source of appends whose stream versions follow on from each other.
#[derive(Debug)]
pub struct Feed {
    rx: mpsc::Receiver<Vec<Append>>,
    thread: Option<JoinHandle<()>>,
    /// Set once the first day is handed over in full.
    first_day: Arc<AtomicBool>,
    /// The chunk being taken from.
    chunk: VecDeque<Append>,
    /// The first day's events before the start, once made.
    earlier: Option<oneshot::Receiver<Vec<StoredEvent>>>,
}

impl Feed {
    /// Starts generating with `config` (history begins at day 0, versions at 1), the appends
    /// at `hour` of the first day (0: midnight); the events before it are handed over by
    /// [`Self::earlier`].
    pub fn start_at(config: GeneratorConfig, hour: f64) -> Self {
        Self::start_with(config, hour, LOW_WATER)
    }

    /// [`Self::start_at`], generating the next day once `low_water` chunks or fewer are left.
    pub fn start_with(config: GeneratorConfig, hour: f64, low_water: usize) -> Self {
        let cut_us = START_UNIX_SECS * 1_000_000 + (hour * 3600.0 * 1e6) as i64;
        let (earlier_tx, earlier) = oneshot::channel();
        let mut earlier_tx = Some(earlier_tx);
        let (tx, rx) = mpsc::channel::<Vec<Append>>(AHEAD / CHUNK);
        let first_day = Arc::new(AtomicBool::new(false));
        let done = first_day.clone();
        let thread = std::thread::Builder::new()
            .name("stroom-feed".into())
            .spawn(move || {
                let mut generator = Generator::new(config);
                loop {
                    if done.load(Ordering::Acquire) {
                        // Only when the step is about to run out: not on the cores it measures.
                        while tx.max_capacity() - tx.capacity() > low_water {
                            if tx.is_closed() {
                                return;
                            }
                            // 10 ms: a hundred wake-ups a second on the measured cores, while
                            // the low water lasts half a second at 15000 appends/s.
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                    let day = generator.next_day();
                    let mut events: Vec<_> = day.schools.into_iter().flat_map(|(_, e)| e).collect();
                    events.sort_by_key(|e| e.recorded_at_us);
                    if let Some(earlier) = earlier_tx.take() {
                        let from = events.partition_point(|e| e.recorded_at_us < cut_us);
                        let _ = earlier.send(events.drain(..from).map(|e| e.to_stored()).collect());
                    }
                    for part in events.chunks(CHUNK) {
                        if tx.blocking_send(part.iter().map(|e| e.to_append()).collect()).is_err() {
                            return;
                        }
                    }
                    done.store(true, Ordering::Release);
                }
            })
            .expect("spawn the feed thread");
        Self { rx, thread: Some(thread), first_day, chunk: VecDeque::new(), earlier: Some(earlier) }
    }

    /// This feed, moved out for a step that runs as a task of its own; what is left behind
    /// yields nothing and is replaced when the step gives the feed back.
    pub(crate) fn take(&mut self) -> Self {
        let (_, rx) = mpsc::channel(1);
        let spent = Self {
            rx,
            thread: None,
            first_day: Arc::new(AtomicBool::new(true)),
            chunk: VecDeque::new(),
            earlier: None,
        };
        std::mem::replace(self, spent)
    }

    /// The first day's events before the start hour, in time order (empty from midnight, and
    /// on every call after the first).
    pub async fn earlier(&mut self) -> Vec<StoredEvent> {
        match self.earlier.take() {
            Some(rx) => rx.await.unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Waits until the first day's appends are made (or [`AHEAD`] of them), so a measured step
    /// neither waits for them nor shares its cores with making them.
    pub async fn ready(&mut self) {
        while !self.first_day.load(Ordering::Acquire) && self.rx.len() < self.rx.max_capacity() {
            if self.rx.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Puts appends taken but never started back in front, in their order: the next
    /// [`Self::next`] returns the first of them. A feed that goes on after a step (an A/B
    /// run's steps, [`crate::stepper`]) so keeps every stream's versions in sequence.
    pub fn give_back(&mut self, appends: Vec<Append>) {
        for a in appends.into_iter().rev() {
            self.chunk.push_front(a);
        }
    }

    /// The next append.
    pub async fn next(&mut self) -> Append {
        loop {
            if let Some(a) = self.chunk.pop_front() {
                return a;
            }
            let chunk = self.rx.recv().await.expect("the feed thread runs until the feed is dropped");
            self.chunk = chunk.into();
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
