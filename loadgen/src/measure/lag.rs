//! Read-side lag: how long after an append was acknowledged its event was folded into a live
//! projector's model.
//!
//! A [`LagWatch`] runs a [`Projector`] beside the appenders for one open-loop window. It goes
//! live at the feed's snapshot when the window starts, with an empty model: the lag of a model
//! that already held the history differs only by the cost of the hash lookups its handlers
//! make, which a larger map makes slightly dearer. The appenders report each acknowledgement
//! ([`LagMeter::acked`]), the projector each event it folded; whichever comes second records
//! the lag. An event folded before its acknowledgement reached the writer counts 0.
//!
//! After the window the projector drains for up to [`DRAIN`]; acknowledged events still not
//! folded then count as `unseen` and their lag as the time waited, a lower bound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use stroom_reference::read_model::{Fold, ReadModel};
use stroom_reference::{Projector, Store};
use uuid::Uuid;

use crate::figures::{Figure, Figures};
use crate::progress::note;

/// How long the projector may take to fold what was acknowledged once the window ends.
pub const DRAIN: Duration = Duration::from_secs(30);
/// Once caught up, the projector starts a poll at most this often; behind by a full batch, it
/// reads on at once. A poll while no transaction has ended is one cheap statement, but one after
/// any commit merges every partition's feed index (6–7.5 ms on 250 partitions). With appends
/// committing all the time, a projector that polled again as soon as a poll returned kept one
/// server backend busy on feed queries, on the same two cores as the appends; this floor bounds
/// that share to about a third of a core, at the price of up to 20 ms of lag (10 on average).
const PERIOD: Duration = Duration::from_millis(20);
/// Acknowledged events waiting longer than this make the projector name what holds the feed.
const STALLED: Duration = Duration::from_secs(1);

#[derive(Debug)]
enum Mark {
    Acked(Instant),
    Folded,
}

#[derive(Debug, Default)]
struct State {
    marks: HashMap<Uuid, Mark>,
    /// Acknowledged and not yet folded.
    waiting: u64,
    /// (acknowledged at, lag in µs) of every event measured.
    lags: Vec<(Instant, u64)>,
}

/// Where acknowledgements and folds meet. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct LagMeter(Arc<Mutex<State>>);

impl LagMeter {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer got the acknowledgement of the append that wrote event `id`.
    pub fn acked(&self, id: Uuid) {
        let now = Instant::now();
        let mut s = self.state();
        match s.marks.remove(&id) {
            Some(Mark::Folded) => s.lags.push((now, 1)),
            _ => {
                s.marks.insert(id, Mark::Acked(now));
                s.waiting += 1;
            }
        }
    }

    /// The projector folded event `id`.
    pub fn folded(&self, id: Uuid) {
        let now = Instant::now();
        let mut s = self.state();
        match s.marks.remove(&id) {
            Some(Mark::Acked(at)) => {
                s.waiting -= 1;
                let us = now.duration_since(at).as_micros().max(1) as u64;
                s.lags.push((at, us));
            }
            _ => {
                s.marks.insert(id, Mark::Folded);
            }
        }
    }

    /// Acknowledged events not yet folded.
    fn waiting(&self) -> u64 {
        self.state().waiting
    }

    /// How long the oldest acknowledged event not yet folded has waited (a scan of every
    /// mark: only asked when the projector may have to say what holds it back).
    fn oldest_wait(&self) -> Duration {
        let s = self.state();
        s.marks
            .values()
            .filter_map(|m| match m {
                Mark::Acked(at) => Some(at.elapsed()),
                Mark::Folded => None,
            })
            .max()
            .unwrap_or_default()
    }

    /// Counts what is still waiting as unseen, with the time waited as its lag.
    fn give_up(&self) -> u64 {
        let mut s = self.state();
        let waited: Vec<(Instant, u64)> = s
            .marks
            .values()
            .filter_map(|m| match m {
                Mark::Acked(at) => Some((*at, at.elapsed().as_micros().max(1) as u64)),
                Mark::Folded => None,
            })
            .collect();
        let n = waited.len() as u64;
        s.lags.extend(waited);
        n
    }
}

/// What one window's projector saw.
#[derive(Debug, Clone)]
pub struct Lag {
    /// (acknowledged at, µs from acknowledgement to folded) per event.
    pub lags: Vec<(Instant, u64)>,
    /// Events the projector folded.
    pub events: u64,
    /// Seconds it ran.
    pub seconds: f64,
    /// Acknowledged events it had not folded when it gave up draining.
    pub unseen: u64,
    /// Mean time of a poll that passed events (the feed's statements and the fold of what
    /// they brought), ms; NaN when none did.
    pub poll_ms: f64,
}

impl Lag {
    /// The lags of the events acknowledged where `keep` holds, µs.
    pub fn histogram(&self, keep: impl Fn(Instant) -> bool) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds");
        for &(at, us) in &self.lags {
            if keep(at) {
                h.saturating_record(us);
            }
        }
        h
    }

    /// The window's figures under `prefix`: `lag_p50_ms`, `lag_p99_ms`, `lag_max_ms`,
    /// `project_events_per_s`, `lag_unseen`; over the events acknowledged where `keep` holds.
    pub fn record_where(&self, figures: &mut Figures, prefix: &str, keep: impl Fn(Instant) -> bool) {
        let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
        let h = self.histogram(keep);
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        figures.insert(format!("{prefix}.lag_p50_ms"), one("ms", ms(0.5)));
        figures.insert(format!("{prefix}.lag_p99_ms"), one("ms", ms(0.99)));
        figures.insert(format!("{prefix}.lag_max_ms"), one("ms", h.max() as f64 / 1000.0));
        figures.insert(
            format!("{prefix}.project_events_per_s"),
            one("events/s", self.events as f64 / self.seconds.max(1e-9)),
        );
        figures.insert(format!("{prefix}.lag_unseen"), one("count", self.unseen as f64));
        if self.poll_ms.is_finite() {
            figures.insert(format!("{prefix}.project_poll_ms"), one("ms", self.poll_ms));
        }
    }

    /// [`Self::record_where`] over every event.
    pub fn record(&self, figures: &mut Figures, prefix: &str) {
        self.record_where(figures, prefix, |_| true);
    }

    /// [`Self::record`], and the run's worst so far under `project.` (the headline is the
    /// worst schedule's, as for latency; throughput is the most folded per second).
    pub fn record_schedule(&self, figures: &mut Figures, prefix: &str, keep: impl Fn(Instant) -> bool) {
        self.record_where(figures, prefix, keep);
        for (name, headline) in [
            ("lag_p50_ms", "lag_p50_ms"),
            ("lag_p99_ms", "lag_p99_ms"),
            ("lag_max_ms", "lag_max_ms"),
            ("lag_unseen", "lag_unseen"),
            ("project_events_per_s", "events_per_s"),
        ] {
            let Some(this) = figures.get(&format!("{prefix}.{name}")).cloned() else { continue };
            let key = format!("project.{headline}");
            if figures.get(&key).is_none_or(|f| f.value < this.value) {
                figures.insert(key, this);
            }
        }
    }
}

/// A projector folding the feed beside one open-loop window.
#[derive(Debug)]
pub struct LagWatch {
    meter: LagMeter,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<stroom_reference::Result<(u64, f64, f64)>>,
}

impl LagWatch {
    /// Goes live at the feed's present bound with an empty model folded by `fold`.
    pub async fn start(store: &Store, fold: Fold) -> stroom_reference::Result<Self> {
        let snapshot = stroom_reference::store::FeedSnapshot::take(store).await?;
        let mut projector = Projector::resume_after(store.clone(), fold, ReadModel::default(), snapshot);
        let (meter, stop) = (LagMeter::default(), Arc::new(AtomicBool::new(false)));
        let (m, halt, store) = (meter.clone(), stop.clone(), store.clone());
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut said = Instant::now() - STALLED * 5;
            let mut drain_until = None;
            let (mut polls, mut polling) = (0u32, Duration::ZERO);
            loop {
                let began = Instant::now();
                let n = projector.step_observed(|e| m.folded(e.id)).await?;
                if n > 0 {
                    polls += 1;
                    polling += began.elapsed();
                }
                if !projector.caught_up() {
                    continue; // a full batch: more is waiting
                }
                if n > 0 {
                    tokio::time::sleep_until((began + PERIOD).into()).await;
                    continue;
                }
                let waiting = m.waiting();
                if halt.load(Ordering::Acquire) {
                    let until = *drain_until.get_or_insert_with(|| Instant::now() + DRAIN);
                    if waiting == 0 || Instant::now() >= until {
                        break;
                    }
                }
                if waiting > 0 && said.elapsed() > STALLED * 5 && m.oldest_wait() > STALLED {
                    said = Instant::now();
                    if let Some(b) = store.feed_blocker().await? {
                        note(format_args!("project: {waiting} acknowledged events not yet visible; {b}"));
                    }
                }
                tokio::time::sleep_until((began + PERIOD).into()).await;
            }
            let poll_ms = if polls > 0 { polling.as_secs_f64() * 1e3 / f64::from(polls) } else { f64::NAN };
            Ok((projector.model().events, started.elapsed().as_secs_f64(), poll_ms))
        });
        Ok(Self { meter, stop, task })
    }

    /// What the appenders report their acknowledgements to.
    pub fn meter(&self) -> LagMeter {
        self.meter.clone()
    }

    /// Lets the projector drain what was acknowledged, then stops it.
    pub async fn stop(self) -> stroom_reference::Result<Lag> {
        self.stop.store(true, Ordering::Release);
        let (events, seconds, poll_ms) = self.task.await.map_err(|e| stroom_reference::Error::BatchFailed {
            reason: format!("the projector task failed: {e}"),
        })??;
        let unseen = self.meter.give_up();
        if unseen > 0 {
            note(format_args!(
                "project: {unseen} acknowledged events were not visible {} s after the window",
                DRAIN.as_secs()
            ));
        }
        let lags = std::mem::take(&mut self.meter.state().lags);
        Ok(Lag { lags, events, seconds, unseen, poll_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_recorded_by_whichever_comes_second() {
        let m = LagMeter::default();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        m.acked(a);
        std::thread::sleep(Duration::from_millis(20));
        m.folded(a);
        m.folded(b); // folded before the writer heard back: 0
        m.acked(b);
        let s = m.state();
        let lags: Vec<u64> = s.lags.iter().map(|l| l.1).collect();
        assert_eq!(lags.len(), 2);
        assert!(lags[0] >= 20_000, "{lags:?}");
        assert_eq!(lags[1], 1);
        assert_eq!(s.waiting, 0);
        assert!(s.marks.is_empty());
    }

    #[test]
    fn what_was_never_folded_counts_as_unseen_with_its_wait() {
        let m = LagMeter::default();
        m.acked(Uuid::from_u128(7));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(m.waiting(), 1);
        assert!(m.oldest_wait() >= Duration::from_millis(5));
        assert_eq!(m.give_up(), 1);
        assert!(m.state().lags[0].1 >= 5_000);
    }
}
