//! One closed-loop step: up to C appends in flight, a new one starting as soon as one is
//! acknowledged, each stream's appends in order.
//!
//! One task runs the whole loop. Appends in flight are futures in one `FuturesUnordered`;
//! an append whose stream already has one in flight waits behind it, and any other waits for
//! a free slot. So memory and work grow with the appends outstanding, not with C: before,
//! each of C writers was a task with a channel of its own (about 1.8 GB at 262144 writers),
//! and every append cost a channel hand-off, a semaphore permit and a task wake-up in the
//! load generator, on the cores the system under test runs on.
//!
//! Strategies that make their own round trips inside an append (rill, single) get a task per
//! append instead: polled from the loop's thread, every reply would have to wake that thread,
//! and rill at one writer measured 784–846 events/s that way against 1016–1099 as tasks.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use futures::future::Either;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use hdrhistogram::Histogram;
use stroom_reference::{Append, Appender};
use uuid::Uuid;

use super::feed::Feed;
use super::open_loop::Failures;
use crate::measure::latency::histogram;

/// What one closed-loop step measured.
pub(crate) struct ClosedStep {
    /// Events acknowledged in the measured window.
    pub events: u64,
    /// Events acknowledged over the whole step, warm-up and drain included.
    pub events_all: u64,
    /// Appends that failed.
    pub failed: u64,
    /// Time in the appender of the appends acknowledged in the window, in µs: at a closed
    /// loop's throughput, what each writer waited for its acknowledgement.
    pub latency: Histogram<u64>,
}

impl ClosedStep {
    /// The latency at `quantile`, in milliseconds.
    pub fn latency_ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// The appends actually in flight on average over the window, by Little's law (appends
    /// acknowledged per second × their mean time in the appender): what C writers reached.
    /// It is below C when the day's active streams, not the writers, bound the appends.
    pub fn concurrency(&self, duration_s: f64) -> f64 {
        self.latency.len() as f64 / duration_s * self.latency.mean() / 1e6
    }
}

/// Appends from `feed` with `writers` appends in flight at most, for a warm-up and then the
/// measured window. When the window closes, those in flight are awaited and appends not yet
/// started go back to `feed`, in each stream's order, for a step that goes on from here.
///
/// The loop is a task on the runtime's workers: an append it starts then runs on the worker
/// that started it, and its reply wakes that worker. Polled from the thread that blocks on
/// the whole run, every append cost two wake-ups across threads.
pub(crate) async fn closed_loop(
    appender: &Appender,
    feed: &mut Feed,
    writers: usize,
    warmup_s: f64,
    duration_s: f64,
    failures: &Failures,
) -> ClosedStep {
    let looped = run(appender.clone(), feed.take(), writers, warmup_s, duration_s, failures.clone());
    let mut task = AbortOnDrop(tokio::spawn(looped));
    let (step, back) = (&mut task.0).await.expect("the closed loop panicked");
    *feed = back;
    step
}

/// A task cancelled when its handle is dropped: an interrupted step stops appending.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run(
    appender: Appender,
    mut feed: Feed,
    writers: usize,
    warmup_s: f64,
    duration_s: f64,
    failures: Failures,
) -> (ClosedStep, Feed) {
    let appender = &appender;
    let start = Instant::now();
    let from = start + Duration::from_secs_f64(warmup_s);
    let until = from + Duration::from_secs_f64(duration_s);
    // Appends taken from the feed and not yet acknowledged: about 8k, or one per writer when
    // there are more, as the C writers' queues had them before. With fewer, appends queued
    // behind a few busy streams would leave slots idle.
    let bound = 8192.max(writers);
    let mut step = ClosedStep { events: 0, events_all: 0, failed: 0, latency: histogram() };
    let mut in_flight = FuturesUnordered::new();
    let mut ready: VecDeque<Append> = VecDeque::new();
    // Streams with an append ready or in flight, and the appends queued behind it.
    let mut busy: HashMap<Uuid, VecDeque<Append>> = HashMap::new();
    let mut waiting = 0usize;
    let timed = |appender: Appender, a: Append| async move {
        let (stream, n) = (a.stream, a.events.len() as u64);
        let started = Instant::now();
        let result = appender.append(a).await;
        (stream, n, started, Instant::now(), result)
    };
    let own_io = matches!(appender, Appender::Rill(..) | Appender::Single(..));
    let start_one = |a: Append| match own_io {
        true => Either::Left(tokio::spawn(timed(appender.clone(), a)).map(|r| r.expect("an append task panicked"))),
        false => Either::Right(timed(appender.clone(), a)),
    };
    loop {
        let open = Instant::now() < until;
        while open && waiting + in_flight.len() < bound {
            let a = feed.next().await;
            waiting += 1;
            match busy.entry(a.stream) {
                Entry::Occupied(mut behind) => behind.get_mut().push_back(a),
                Entry::Vacant(slot) => {
                    slot.insert(VecDeque::new());
                    ready.push_back(a);
                }
            }
        }
        while open && in_flight.len() < writers {
            let Some(a) = ready.pop_front() else { break };
            waiting -= 1;
            in_flight.push(start_one(a));
        }
        let Some((stream, n, started, ended, result)) = in_flight.next().await else { break };
        match &result {
            Err(e) => {
                failures.add(e);
                step.failed += 1;
            }
            Ok(_) if ended >= from && ended < until => {
                step.events_all += n;
                step.events += n;
                step.latency.saturating_record(ended.duration_since(started).as_micros().max(1) as u64);
            }
            Ok(_) => step.events_all += n,
        }
        if let Entry::Occupied(mut behind) = busy.entry(stream) {
            match behind.get_mut().pop_front() {
                Some(next) => ready.push_back(next),
                None => drop(behind.remove()),
            }
        }
    }
    // Each ready append heads its stream; those queued behind follow it.
    let mut back: Vec<Append> = ready.into_iter().collect();
    back.extend(busy.into_values().flatten());
    feed.give_back(back);
    (step, feed)
}
