//! The steps of a stepped A/B run (`stroom ab`, `stroom ab-steps`): short measurements that
//! one arm's process repeats on request, its stores, feeds and projector kept between them.
//!
//! A whole run of a scenario takes half a minute, and on a shared VM the core's speed moves
//! within seconds: two runs of one build half a minute apart differ by 14–28% in their rates.
//! So the runner asks the two arms for the same step back to back, a second apart, and pairs
//! those two figures; many such pairs make the interval. A step goes on from where the arm's
//! last one stopped (the closed loop hands its unstarted appends back to the feed), so no step
//! reloads a store.
//!
//! Steps, each named as the runner asks for it:
//! * `append:<strategy>`: the closed loop at the scenario's first writer count for
//!   [`APPEND_SECONDS`] after a short warm-up: `append.<s>.c<N>.events_per_s`, and the server
//!   CPU per event when the server is local.
//! * `fold`: the fixed fold, at least [`FOLD_SECONDS`]: `replay.fold.events_per_s`.
//! * `fold-slice`: one pass of the fixed fold, ~20 ms: `step.fold_slice.events` and
//!   `step.fold_slice.seconds`, not a figure of its own. The runner interleaves many slices of
//!   both arms, one by one, and makes the fold's figure of their sums: this core's speed moves
//!   by ±10% from one tenth of a second to the next and stays at a level for seconds, so two
//!   0.4 s folds of one build, one after the other, differed by 13–19% (one σ of the log ratio)
//!   in A/A runs here, and 24 slices each taken in turns by 4–6%.
//! * `poll`: a projector on the first partitioned strategy's store (per-school's) reads its
//!   feed from the start, in full batches of [`POLL_BATCH`], for at least [`POLL_SECONDS`]:
//!   `live.<s>.project_poll_ms`, the mean time of one poll (the feed query and the fold of its
//!   batch). It reads from the feed's start, the bulk-loaded morning first; the gate's morning
//!   (22,082 events) is shorter than 0.4 s of polls, so the rest is what the arm appended, and
//!   its work depends on how fast the arm appended. `poll-slice` does not.
//! * `poll-slice`: one timed poll of [`POLL_BATCH`], ~6 ms: `step.poll_slice.polls`,
//!   `step.poll_slice.seconds` and the poll's figure for this one poll. The arm keeps one
//!   projector between slices and starts it again from the feed's start every
//!   [`POLL_SLICE_RESTART`] polls, or as many as the bulk-loaded morning holds (that first
//!   poll untimed: it opens the connection), so both arms, given the same number of slices,
//!   read the same batches of the morning and never what they appended. The poll's
//!   spread per round was 0.11–0.20 (one σ of the log ratio) as two 0.4 s steps back to back,
//!   against the sliced fold's 0.04–0.07.
//!
//! [`SLICED`] lists the steps a runner may take as slices, and how to make their figures.
//!
//! Every figure is named `step.<the run's figure name>`, judged as that figure is.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sqlx::Connection;

use stroom_reference::read_model::Fold;
use stroom_reference::{Appender, Projector, Schema, Store, Strategy, TransactorConfig};

use super::append::{restart, stop};
use super::closed_loop::closed_loop;
use super::feed::Feed;
use super::open_loop::Failures;
use super::{all_schools, cpu_reference};
use crate::error::{Error, Result};
use crate::measure::ServerCpu;
use crate::namespace::fresh_store;
use crate::scenario::Scenario;

/// The measured window of an append step.
pub const APPEND_SECONDS: f64 = 1.0;
/// Its warm-up: the transactors' queues and the connections' caches refill.
const APPEND_WARMUP_S: f64 = 0.25;
/// The fold step's least length.
pub const FOLD_SECONDS: f64 = 0.4;
/// The step that folds once, for a runner that interleaves the arms' folds pass by pass.
pub const FOLD_SLICE: &str = "fold-slice";
/// What a fold slice answers: events folded, and the seconds they took.
pub const SLICE_EVENTS: &str = "step.fold_slice.events";
/// See [`SLICE_EVENTS`].
pub const SLICE_SECONDS: &str = "step.fold_slice.seconds";
/// The step that polls once, for a runner that interleaves the arms' polls one by one.
pub const POLL_SLICE: &str = "poll-slice";
/// Timed polls a poll slice answers, and their seconds.
const POLL_SLICE_POLLS: &str = "step.poll_slice.polls";
/// See [`POLL_SLICE_POLLS`].
const POLL_SLICE_SECONDS: &str = "step.poll_slice.seconds";
/// Polls a poll slice's projector takes from the feed's start before it starts again, at most:
/// 8,000 events (the gate's 20 schools load 22,082 before 10:00). Fewer where the morning
/// holds fewer full batches.
pub const POLL_SLICE_RESTART: u32 = 16;

/// How a sliced step's slices make its figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// Work over seconds: a rate.
    Second,
    /// Milliseconds a unit of work took.
    MsEach,
}

/// A step a runner may take as slices of both arms in turns, when both arms have the slice.
#[derive(Debug, Clone, Copy)]
pub struct Sliced {
    /// The step the slices stand for.
    pub step: &'static str,
    /// The slice's step.
    pub slice: &'static str,
    /// Slices a round takes, both arms together.
    pub slices: usize,
    /// What a slice answers: its work and its seconds.
    pub work: &'static str,
    /// See `work`.
    pub seconds: &'static str,
    /// The figure when the slice does not name it (a slice answers its figure beside its
    /// work and seconds; the first `fold-slice` did not).
    pub figure: &'static str,
    /// How the sums make the figure.
    pub per: Per,
}

/// The steps a runner may take as slices: the fold (48 passes of ~20 ms, about as long as one
/// arm's 0.4 s fold step) and the poll (64 polls of ~6 ms, about as long as one poll step).
pub const SLICED: [Sliced; 2] = [
    Sliced {
        step: "fold",
        slice: FOLD_SLICE,
        slices: 48,
        work: SLICE_EVENTS,
        seconds: SLICE_SECONDS,
        figure: "step.replay.fold.events_per_s",
        per: Per::Second,
    },
    Sliced {
        step: "poll",
        slice: POLL_SLICE,
        slices: 64,
        work: POLL_SLICE_POLLS,
        seconds: POLL_SLICE_SECONDS,
        figure: "",
        per: Per::MsEach,
    },
];

impl Sliced {
    /// The figure from one arm's summed work and seconds.
    pub fn figure_of(&self, work: f64, seconds: f64) -> f64 {
        match self.per {
            Per::Second => work / seconds,
            Per::MsEach => seconds * 1e3 / work,
        }
    }
}
/// Events a poll of the poll step reads.
pub const POLL_BATCH: usize = 500;
/// The poll step's least length.
pub const POLL_SECONDS: f64 = 0.4;

/// What one step measured: figures by name, and wrong outcomes in words.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct StepOutcome {
    /// The step's name, as asked.
    pub step: String,
    /// Figures, each `step.<figure>`.
    pub figures: BTreeMap<String, f64>,
    /// Appends that failed, and the like.
    pub wrong: Vec<String>,
}

/// One strategy's store and the appender and feed that go on between steps.
struct Lane {
    namespace: String,
    strategy: Strategy,
    store: Store,
    running: Option<(Appender, Feed)>,
}

/// One arm's steps, ready to run.
#[allow(missing_debug_implementations)]
pub struct Stepper {
    lanes: Vec<Lane>,
    writers: usize,
    failures: Failures,
    /// The lane whose store the poll step reads.
    poll_lane: Option<usize>,
    /// The poll slices' projector, and the polls it has taken since it started.
    poller: Option<(Projector, u32)>,
    /// Polls the poll slices' projector takes before it starts again: the full batches of the
    /// poll lane's morning, at most [`POLL_SLICE_RESTART`].
    poll_restart: u32,
}

/// The steps `scenario` gives, in the order a round runs them: each stroom strategy of
/// `[append]` (a peer's is not stroom's code), the fold, and the poll when a partitioned
/// strategy is among them. Both arms and the runner derive the same list from the file.
pub fn step_names(scenario: &Scenario) -> Vec<String> {
    let mut names = Vec::new();
    let strategies: Vec<Strategy> = scenario
        .append
        .as_ref()
        .map(|a| a.strategies.iter().copied().filter(|s| !s.is_peer()).collect())
        .unwrap_or_default();
    names.extend(strategies.iter().map(|s| format!("append:{}", s.name())));
    names.push("fold".into());
    names.push(FOLD_SLICE.into());
    if strategies.iter().any(|s| s.layout() == stroom_reference::Layout::Partitioned) {
        names.push("poll".into());
        names.push(POLL_SLICE.into());
    }
    names
}

impl Stepper {
    /// Opens a store of its own per strategy for arm `arm` (namespaces `stroom_ab_<arm>_<s>`)
    /// on `url`, loads the first day up to the start hour, and starts each strategy there.
    pub async fn prepare(url: &str, scenario: &Scenario, arm: &str) -> Result<Self> {
        let plan = scenario
            .append
            .as_ref()
            .ok_or_else(|| Error::Task(format!("{}: a stepped A/B run needs an [append] section", scenario.name)))?;
        if let Ok(mut conn) = sqlx::PgConnection::connect(url).await {
            ServerCpu::watch_local(&mut conn).await;
            conn.close().await.ok();
        }
        let writers = plan.writers.first().copied().unwrap_or(8);
        let schools = all_schools(scenario);
        let mut lanes = Vec::new();
        for strategy in plan.strategies.iter().copied().filter(|s| !s.is_peer()) {
            let schema =
                Schema::new(strategy.layout(), scenario.payload).with_hash_partitions(scenario.hash_partitions);
            let connections = match strategy {
                Strategy::Rill | Strategy::Single | Strategy::MessageDb => {
                    stroom_reference::append::pool_size_for(writers)
                }
                Strategy::Batched | Strategy::PerSchool => 16,
            };
            let name = format!("ab_{arm}_{}", strategy.name());
            let store = fresh_store(url, &name, schema, connections).await?;
            store.add_schools(&schools).await?;
            let config = TransactorConfig {
                writer: plan.row_writer,
                lane_writer: plan.lane_writer,
                commit_lanes: plan.commit_lanes,
                injected_slowdown: if strategy == Strategy::PerSchool {
                    scenario.inject.per_school_slowdown
                } else {
                    0.0
                },
                ..TransactorConfig::default()
            };
            let mut running = None;
            restart(strategy, &store, &config, scenario, plan.start_hour, &mut running).await?;
            lanes.push(Lane { namespace: format!("stroom_{}", name.replace('-', "_")), strategy, store, running });
        }
        let poll_lane = lanes
            .iter()
            .position(|l| l.strategy == Strategy::PerSchool)
            .or_else(|| lanes.iter().position(|l| l.strategy.layout() == stroom_reference::Layout::Partitioned));
        let mut poll_restart = 0;
        if let Some(lane) = poll_lane.map(|i| &lanes[i]) {
            let morning: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(lane.store.pool())
                .await
                .map_err(|source| Error::Database { action: "counting the poll's morning", source })?;
            poll_restart = u32::try_from(morning as usize / POLL_BATCH).unwrap_or(u32::MAX).min(POLL_SLICE_RESTART);
        }
        Ok(Self { lanes, writers, failures: Failures::injecting(0), poll_lane, poller: None, poll_restart })
    }

    /// Runs the step `name` (one of [`step_names`]).
    pub async fn step(&mut self, name: &str) -> Result<StepOutcome> {
        let mut out = StepOutcome { step: name.to_string(), ..StepOutcome::default() };
        if let Some(strategy) = name.strip_prefix("append:") {
            let writers = self.writers;
            let lane = self
                .lanes
                .iter_mut()
                .find(|l| l.strategy.name() == strategy)
                .ok_or_else(|| Error::Task(format!("no strategy {strategy:?} in this scenario's [append]")))?;
            let (appender, feed) = lane.running.as_mut().expect("started in prepare");
            let before = ServerCpu::now();
            let step = closed_loop(appender, feed, writers, APPEND_WARMUP_S, APPEND_SECONDS, &self.failures).await;
            let after = ServerCpu::now();
            let prefix = format!("step.append.{strategy}");
            out.figures.insert(format!("{prefix}.c{writers}.events_per_s"), step.events as f64 / APPEND_SECONDS);
            if let Some(us) = ServerCpu::us_per_event(before, after, step.events_all) {
                out.figures.insert(format!("{prefix}.server_cpu_us_per_event"), us);
            }
            if step.failed > 0 {
                out.wrong.push(format!("append.{strategy}: {} appends failed", step.failed));
            }
        } else if name == "fold" {
            let started = Instant::now();
            let mut events = 0.0;
            while started.elapsed() < Duration::from_secs_f64(FOLD_SECONDS) {
                let t = Instant::now();
                let rate = cpu_reference::once()?;
                events += rate * t.elapsed().as_secs_f64();
            }
            out.figures.insert("step.replay.fold.events_per_s".into(), events / started.elapsed().as_secs_f64());
        } else if name == FOLD_SLICE {
            let (events, seconds) = cpu_reference::slice()?;
            out.figures.insert(SLICE_EVENTS.into(), events);
            out.figures.insert(SLICE_SECONDS.into(), seconds);
        } else if name == "poll" || name == POLL_SLICE {
            let Some(lane) = self.poll_lane.map(|i| &self.lanes[i]) else {
                return Err(Error::Task("the poll step needs a partitioned strategy in [append]".into()));
            };
            let figure = format!("step.live.{}.project_poll_ms", lane.strategy.name());
            if name == POLL_SLICE {
                let seconds = self.poll_slice(lane.store.clone()).await?;
                out.figures.insert(POLL_SLICE_POLLS.into(), 1.0);
                out.figures.insert(POLL_SLICE_SECONDS.into(), seconds);
                out.figures.insert(figure, seconds * 1e3);
                return Ok(out);
            }
            let mut projector = Projector::from_start(lane.store.clone(), Fold::default()).with_batch(POLL_BATCH);
            let (mut polls, mut took) = (0u32, Duration::ZERO);
            while took < Duration::from_secs_f64(POLL_SECONDS) {
                let began = Instant::now();
                let n = projector.step_observed(|_| {}).await?;
                if n < POLL_BATCH {
                    break; // the whole feed read: a short batch is not timed
                }
                polls += 1;
                took += began.elapsed();
            }
            if polls > 0 {
                out.figures.insert(figure, took.as_secs_f64() * 1e3 / f64::from(polls));
            }
        } else {
            return Err(Error::Task(format!(
                "{name:?} is not a step (append:<strategy>, fold, fold-slice, poll, poll-slice)"
            )));
        }
        Ok(out)
    }

    /// One timed poll of the kept projector (started again from the feed's start every
    /// `poll_restart` polls, its first poll untimed): the seconds it took.
    async fn poll_slice(&mut self, store: Store) -> Result<f64> {
        if self.poll_restart < 2 {
            return Err(Error::Task(format!(
                "a poll slice needs a morning of at least two polls ({} events); this scenario loads {} full polls",
                2 * POLL_BATCH,
                self.poll_restart
            )));
        }
        if self.poller.as_ref().is_none_or(|(_, polls)| *polls >= self.poll_restart) {
            let mut projector = Projector::from_start(store, Fold::default()).with_batch(POLL_BATCH);
            projector.step_observed(|_| {}).await?;
            self.poller = Some((projector, 1));
        }
        let (projector, polls) = self.poller.as_mut().expect("set above");
        let began = Instant::now();
        let n = projector.step_observed(|_| {}).await?;
        let seconds = began.elapsed().as_secs_f64();
        *polls += 1;
        if n < POLL_BATCH {
            return Err(Error::Task(format!(
                "a poll slice read {n} events, not {POLL_BATCH}, inside the morning's {} full polls",
                self.poll_restart
            )));
        }
        Ok(seconds)
    }

    /// Stops the appenders and drops the stores.
    pub async fn close(mut self) {
        for lane in &mut self.lanes {
            stop(lane.running.take()).await;
            let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", lane.namespace);
            let _ = sqlx::query(&drop).execute(lane.store.pool()).await;
            lane.store.pool().close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_make_a_rate_or_a_time_each() {
        let fold = SLICED.iter().find(|s| s.step == "fold").unwrap();
        assert!((fold.figure_of(2.0e6, 0.5) - 4.0e6).abs() < 1e-6);
        let poll = SLICED.iter().find(|s| s.step == "poll").unwrap();
        assert!((poll.figure_of(64.0, 0.384) - 6.0).abs() < 1e-9, "64 polls in 0.384 s: 6 ms each");
    }
}
