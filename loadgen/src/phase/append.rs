//! The append phase: every strategy in a store of its own, fed the same generated events.
//! Every measured step starts on an empty store loaded with the first day up to
//! `[append] start_hour` (10:00, the busiest hour, by default), with the generator there.
//!
//! * Closed loop: up to C appends in flight, a new one as soon as one is acknowledged
//!   (`closed_loop.rs`). The best step is the strategy's *ceiling*, "at any latency", and is
//!   reported with that step's p99 and measured concurrency.
//! * Open loop: arrivals on a schedule whatever the system does (`open_loop.rs`); latency from
//!   each command's intended start, failures included. Headline latencies are the worst over
//!   the schedules.
//! * SLO search: the highest constant offered rate whose p99 stays within the SLO, with no
//!   error and no saturation, found by stepped search over long windows (`append_slo.rs`, `slo_search.rs`).
//!   That is the figure a user could run at.
//! * Lag (`[append.open] project = true`): in every open-loop window and SLO step a live
//!   projector folds the feed beside the appenders, and the window reports how long after
//!   each acknowledgement its event was in the model (`measure/lag.rs`).
//! * pgbench: for the one-by-one strategies, the same statements through pgbench at the same
//!   C, on the same store (`pgbench.rs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use stroom_reference::read_model::Fold;
use stroom_reference::{Appender, NewEvent, Schema, Store, Strategy, TransactorConfig};

use super::closed_loop::closed_loop;
use super::feed::Feed;
use super::open_loop::{open_loop, record_lateness, record_open, slo_held_to, worst_of, Failures, Window};
use super::{all_schools, generator_config, peer, pgbench, settle};
use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::generator::Generator;
use crate::measure::latency::Recorded;
use crate::measure::{ActivityWatch, ClientCpu, HostCpu, LagWatch, ServerCpu, Steal, TcpSegments, WalPosition};
use crate::namespace::fresh_store;
use crate::progress::{note, Progress};
use crate::scenario::{AppendPlan, Arrival, Scenario};

/// What the phase measured, for plots and the capacity plan.
#[derive(Debug, Clone, Default)]
pub struct AppendOutcome {
    /// Closed loop: (writers, events/s) per strategy.
    pub throughput: BTreeMap<String, Vec<(f64, f64)>>,
    /// Open loop: (schedule, latency) per strategy.
    pub open: BTreeMap<String, Vec<(Arrival, Recorded)>>,
    /// Interval logs written, relative to the result directory.
    pub logs: Vec<(String, Vec<u8>)>,
}

pub(super) fn one(unit: &str, v: f64) -> Figure {
    Figure::from_repetitions(unit, vec![v])
}

/// Runs the phase; figures go into `figures`.
pub async fn run(url: &str, scenario: &Scenario, plan: &AppendPlan, figures: &mut Figures) -> Result<AppendOutcome> {
    let mut outcome = AppendOutcome::default();
    let schools = all_schools(scenario);
    for &strategy in &plan.strategies {
        let name = strategy.name();
        let sweep = plan.writers_for(strategy);
        let max_writers = sweep.iter().copied().max().unwrap_or(1).max(plan.open_users);
        let schema = Schema::new(strategy.layout(), scenario.payload).with_hash_partitions(scenario.hash_partitions);
        // rill and single hold a connection per writer; transactors share a few, since every
        // extra backend warms its own caches of partitions and shared buffers.
        let connections = match strategy {
            Strategy::Rill | Strategy::Single | Strategy::MessageDb => {
                stroom_reference::append::pool_size_for(max_writers)
            }
            Strategy::Batched | Strategy::PerSchool => 16,
        };
        // A peer writes its own database; stroom's store beside it only lends the run's shape.
        let message_db = match strategy {
            Strategy::MessageDb => Some(super::peer::message_db(url, connections).await?),
            _ => None,
        };
        let connections = if message_db.is_some() { 4 } else { connections };
        let namespace = format!("append_{name}");
        let store = fresh_store(url, &namespace, schema, connections).await?;
        store.add_schools(&schools).await?;
        let mut s = StrategyRun {
            strategy,
            store,
            config: TransactorConfig {
                writer: plan.row_writer,
                lane_writer: plan.lane_writer,
                commit_lanes: plan.commit_lanes,
                injected_slowdown: if strategy == Strategy::PerSchool {
                    scenario.inject.per_school_slowdown
                } else {
                    0.0
                },
                ..TransactorConfig::default()
            },
            scenario,
            running: None,
            failures: Failures::injecting(scenario.inject.errors),
            errors: 0,
            message_db,
        };
        closed_sweep(&mut s, plan, url, &format!("stroom_{}", namespace.replace('-', "_")), figures, &mut outcome)
            .await?;
        if plan.open_strategies.contains(&strategy) {
            open_schedules(&mut s, plan, figures, &mut outcome).await?;
        }
        if let Some(search) = plan.slo_search.as_ref().filter(|p| p.strategies.contains(&strategy)) {
            super::append_slo::search(&mut s, plan, search, figures).await?;
        }
        s.failures.report(name);
        figures.insert(format!("append.{name}.errors"), one("count", s.errors as f64));
        stop(s.running.take()).await;
        s.store.pool().close().await;
        if let Some(m) = s.message_db.take() {
            m.close().await;
        }
    }
    Ok(outcome)
}

/// One strategy's store and what runs on it.
pub(super) struct StrategyRun<'a> {
    pub(super) strategy: Strategy,
    pub(super) store: Store,
    config: TransactorConfig,
    pub(super) scenario: &'a Scenario,
    running: Option<(Appender, Feed)>,
    pub(super) failures: Failures,
    pub(super) errors: u64,
    /// The peer's database, for `message-db`.
    message_db: Option<stroom_reference::append::message_db::MessageDb>,
}

impl StrategyRun<'_> {
    /// Whether a live projector runs beside this strategy's open-loop windows: stroom's own
    /// stores only, a peer's log is not stroom's feed.
    pub(super) fn projects(&self, plan: &AppendPlan) -> bool {
        plan.project && !self.strategy.is_peer()
    }

    pub(super) async fn restart(&mut self, from_hour: f64) -> Result<&mut (Appender, Feed)> {
        if let Some(mdb) = &self.message_db {
            return super::peer::restart(mdb, self.scenario, from_hour, &mut self.running).await;
        }
        restart(self.strategy, &self.store, &self.config, self.scenario, from_hour, &mut self.running).await
    }
}

async fn closed_sweep(
    s: &mut StrategyRun<'_>,
    plan: &AppendPlan,
    url: &str,
    namespace: &str,
    figures: &mut Figures,
    outcome: &mut AppendOutcome,
) -> Result<()> {
    let name = s.strategy.name();
    let pgbench_script = pgbench::script(s.strategy, s.scenario.payload, s.scenario.population.schools as usize)
        .filter(|_| plan.pgbench);
    let pgbench_bin =
        stroom_cluster::Binaries::discover().ok().map(|b| b.program("pgbench")).filter(|p| pgbench::available(p));
    if pgbench_script.is_some() && pgbench_bin.is_none() {
        note(format_args!(
            "calibrate pgbench {name}: not run: no pgbench found (it ships with the PostgreSQL server package)"
        ));
    }
    let sample = sample_event(s.scenario);
    // pgbench writes where the strategy does: Message DB's own database and schema.
    let (pgbench_url, search_path) = match s.message_db {
        Some(_) => (peer::database_url(url, peer::MESSAGE_DB_DATABASE)?, peer::SEARCH_PATH),
        None => (url.to_string(), namespace),
    };
    let mut best: Option<(usize, Figure)> = None;
    let mut vs_pgbench: Vec<f64> = Vec::new();
    for &writers in plan.writers_for(s.strategy) {
        let (mut rates, mut p50, mut p99, mut concurrency, mut cpu, mut wal) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut pgbench_runs, mut pgbench_cpu) = (Vec::new(), Vec::new());
        // Where a gap to pgbench goes: the load generator's CPU and the round trips (TCP
        // segments) per event, stroom's and pgbench's alike.
        let (mut client_cpu, mut segments, mut pgbench_client_cpu, mut pgbench_segments) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut steal = Steal::default();
        for rep in 1..=plan.repetitions {
            let failures = s.failures.clone();
            let pool = s.store.pool().clone();
            let (appender, feed) = s.restart(plan.start_hour).await?;
            let progress = Progress::phase(&format!(
                "append {name}: closed loop, {writers} writers, repetition {rep}/{}",
                plan.repetitions
            ));
            let before = ServerCpu::now();
            let wal_before = WalPosition::now(&pool).await;
            let host = HostCpu::now();
            let (client_before, segments_before) = (ClientCpu::now(), TcpSegments::now());
            let step = closed_loop(appender, feed, writers, plan.warmup_s, plan.duration_s, &failures).await;
            let (client_after, segments_after) = (ClientCpu::now(), TcpSegments::now());
            let after = ServerCpu::now();
            let wal_after = WalPosition::now(&pool).await;
            client_cpu.extend(ClientCpu::own_us_per_event(client_before, client_after, step.events_all));
            segments.extend(TcpSegments::per_event(segments_before, segments_after, step.events_all));
            steal.add(host);
            progress.done(step.events, plan.duration_s);
            rates.push(step.events as f64 / plan.duration_s);
            p50.push(step.latency_ms(0.5));
            p99.push(step.latency_ms(0.99));
            concurrency.push(step.concurrency(plan.duration_s));
            // The CPU of the whole step, warm-up and drain included, over the events it wrote.
            if let Some(us) = ServerCpu::us_per_event(before, after, step.events_all) {
                cpu.push(us);
            }
            // Likewise the WAL: the whole cluster's, so Message DB's database counts alike.
            if let Some(bytes) = WalPosition::bytes_per_event(wal_before, wal_after, step.events_all) {
                wal.push(bytes);
            }
            s.errors += step.failed;
            // The same statements through pgbench, right after, on the same store from the
            // same start: neighbours in time, so the machine's drift hits both alike.
            if let (Some(script), Some(bin)) = (&pgbench_script, &pgbench_bin) {
                if writers > pgbench::MAX_CLIENTS {
                    if rep == 1 {
                        note(format_args!(
                            "calibrate pgbench {name}: not run at {writers} clients (at most {})",
                            pgbench::MAX_CLIENTS
                        ));
                    }
                    continue;
                }
                // The store as the step began: emptied and loaded up to the start hour.
                s.restart(plan.start_hour).await?;
                stop(s.running.take()).await;
                let progress = Progress::phase(&format!(
                    "calibrate: pgbench with {name}'s statements, {writers} clients, repetition {rep}/{}",
                    plan.repetitions
                ));
                let seconds = plan.warmup_s + plan.duration_s;
                let before = ServerCpu::now();
                let (client_before, segments_before) = (ClientCpu::now(), TcpSegments::now());
                let tps = pgbench::run(bin, &pgbench_url, search_path, script, &sample, (writers, seconds))?;
                let (client_after, segments_after) = (ClientCpu::now(), TcpSegments::now());
                let after = ServerCpu::now();
                progress.done((tps * seconds) as u64, seconds);
                pgbench_runs.push(tps);
                let events = (tps * seconds) as u64;
                pgbench_client_cpu.extend(ClientCpu::children_us_per_event(client_before, client_after, events));
                pgbench_segments.extend(TcpSegments::per_event(segments_before, segments_after, events));
                // What pgbench's events cost the server, beside what the strategy's cost: the
                // harness's share of a gap is on the client, the workload's on the server.
                if let Some(us) = ServerCpu::us_per_event(before, after, (tps * seconds) as u64) {
                    pgbench_cpu.push(us);
                }
            }
        }
        let prefix = format!("append.{name}.c{writers}");
        figures.insert(format!("{prefix}.p50_ms"), Figure::from_repetitions("ms", p50));
        figures.insert(format!("{prefix}.p99_ms"), Figure::from_repetitions("ms", p99));
        figures.insert(format!("{prefix}.concurrency"), Figure::from_repetitions("appends", concurrency));
        steal.record(figures, &format!("{prefix}.host_steal_share"));
        if !cpu.is_empty() {
            figures.insert(format!("{prefix}.server_cpu_us_per_event"), Figure::from_repetitions("µs", cpu));
        }
        if !wal.is_empty() {
            figures.insert(format!("{prefix}.wal_bytes_per_event"), Figure::from_repetitions("bytes", wal));
        }
        let pgbench_prefix = format!("calibrate.pgbench.{name}.c{writers}");
        for (figure, unit, values) in [
            (format!("{prefix}.client_cpu_us_per_event"), "µs", client_cpu),
            (format!("{prefix}.tcp_segments_per_event"), "segments", segments),
            (format!("{pgbench_prefix}.client_cpu_us_per_event"), "µs", pgbench_client_cpu),
            (format!("{pgbench_prefix}.tcp_segments_per_event"), "segments", pgbench_segments),
        ] {
            if !values.is_empty() {
                figures.insert(figure, Figure::from_repetitions(unit, values));
            }
        }
        let figure = Figure::from_repetitions("events/s", rates);
        outcome.throughput.entry(name.to_string()).or_default().push((writers as f64, figure.value));
        if best.as_ref().is_none_or(|(_, b)| figure.value > b.value) {
            best = Some((writers, figure.clone()));
        }
        figures.insert(format!("{prefix}.events_per_s"), figure.clone());

        if !pgbench_runs.is_empty() {
            let tps = Figure::from_repetitions("events/s", pgbench_runs);
            let ratio = figure.value / tps.value;
            figures.insert(format!("calibrate.pgbench.{name}.c{writers}.events_per_s"), tps);
            if !pgbench_cpu.is_empty() {
                figures.insert(
                    format!("calibrate.pgbench.{name}.c{writers}.server_cpu_us_per_event"),
                    Figure::from_repetitions("µs", pgbench_cpu),
                );
            }
            figures.insert(format!("{prefix}.vs_pgbench"), one("ratio", ratio));
            vs_pgbench.push(ratio);
        }
    }
    if let Some((writers, best)) = best {
        // The best writer count's repetitions, so its spread travels with the headline.
        let prefix = format!("append.{name}");
        figures.insert(format!("{prefix}.ceiling_events_per_s"), best);
        figures.insert(format!("{prefix}.ceiling_writers"), one("writers", writers as f64));
        for (from, to) in [
            ("p99_ms", "ceiling_p99_ms"),
            ("concurrency", "ceiling_concurrency"),
            ("server_cpu_us_per_event", "server_cpu_us_per_event"),
            ("wal_bytes_per_event", "wal_bytes_per_event"),
            ("host_steal_share", "ceiling_host_steal_share"),
        ] {
            if let Some(f) = figures.get(&format!("{prefix}.c{writers}.{from}")).cloned() {
                figures.insert(format!("{prefix}.{to}"), f);
            }
        }
    }
    if let Some(min) = vs_pgbench.into_iter().min_by(f64::total_cmp) {
        figures.insert(format!("append.{name}.vs_pgbench_min"), one("ratio", min));
    }
    Ok(())
}

async fn open_schedules(
    s: &mut StrategyRun<'_>,
    plan: &AppendPlan,
    figures: &mut Figures,
    outcome: &mut AppendOutcome,
) -> Result<()> {
    let name = s.strategy.name();
    let mut labels = Vec::new();
    for (i, &rate) in plan.open_rates.iter().enumerate() {
        let label = rate.label();
        let failures = s.failures.clone();
        let seed = s.scenario.seed.wrapping_add(i as u64);
        let store = s.store.clone();
        let project = s.projects(plan);
        let (appender, feed) = s.restart(plan.open_start_hour).await?;
        let lag = match project {
            true => Some(LagWatch::start(&store, Fold::default()).await?),
            false => None,
        };
        let progress = Progress::phase(&format!("append {name}: open loop, {rate}"));
        let started = SystemTime::now();
        // Checkpoints and autovacuum runs, to mark on the schedule's seconds.
        let watch = ActivityWatch::start(store.pool().clone());
        let watched_from = Instant::now();
        let Window { mut recorded, saturated, host, lateness } = open_loop(
            appender,
            feed,
            (rate, plan.arrivals, seed),
            plan.open_users,
            (plan.warmup_s, plan.open_duration_s),
            &failures,
            lag.as_ref().map(LagWatch::meter).as_ref(),
        )
        .await;
        progress.done(recorded.served, plan.open_duration_s);
        let activity = watch.stop().await;
        let seen = activity.checkpoints_at.iter().map(|t| ("checkpoint", t));
        for (what, t) in seen.chain(activity.autovacuums_at.iter().map(|t| ("autovacuum", t))) {
            recorded.mark(what, watched_from + Duration::from_secs_f64(*t));
        }
        let lag = match lag {
            Some(w) => Some(w.stop().await?),
            None => None,
        };
        if saturated {
            note(format_args!(
                "append {name}: {rate} saturated: dispatch stopped, {} arrivals due in the window were not sent",
                recorded.unsent
            ));
        }
        s.errors += recorded.errors;
        let prefix = format!("append.{name}.{label}");
        record_open(figures, &prefix, &recorded, saturated, host);
        record_lateness(figures, &prefix, &lateness);
        if let Some(lag) = &lag {
            lag.record_schedule(figures, &prefix, |_| true);
        }
        if let Arrival::Ramp { .. } = rate {
            let held = slo_held_to(&recorded, rate, plan.open_duration_s, s.scenario.slo_p99_ms);
            figures.insert(format!("{prefix}.slo_held_to_events_per_s"), one("events/s", held));
        }
        let mut log = Vec::new();
        let path = std::env::temp_dir().join(format!("stroom-{}-{name}-{label}.hlog", std::process::id()));
        if recorded.write_interval_log(&path, started).is_ok() {
            log = std::fs::read(&path).unwrap_or_default();
            let _ = std::fs::remove_file(&path);
        }
        outcome.logs.push((format!("hdr/{name}-{label}.hlog"), log));
        outcome.open.entry(name.to_string()).or_default().push((rate, recorded));
        labels.push(label);
    }
    worst_of(figures, &format!("append.{name}"), &labels);
    Ok(())
}

/// A typical append's event (an answer, with its real payload), for pgbench.
fn sample_event(scenario: &Scenario) -> NewEvent {
    let mut g = Generator::new(generator_config(scenario, 1));
    let day = g.next_day();
    let mut events: Vec<NewEvent> =
        day.schools.iter().flat_map(|(_, e)| e.iter()).take(10_000).map(|e| e.to_append().events.remove(0)).collect();
    events.sort_by_key(|e| e.payload.len());
    events.swap_remove(events.len() / 2)
}

/// Stops what `running` holds, empties the store, bulk-loads the first day up to `from_hour`
/// and starts the strategy and the generator there. Every measured step so begins where the
/// COPY reference does and is fed the same events: a step's figure does not depend on which
/// steps ran before it. (Before, the per-school store grew by millions of events over the
/// sweep, and its best step ran on deeper indexes than the COPY reference: 63.8k events/s
/// there, against 76–84k for the same step alone.)
pub(super) async fn restart<'a>(
    strategy: Strategy,
    store: &Store,
    config: &TransactorConfig,
    scenario: &Scenario,
    from_hour: f64,
    running: &'a mut Option<(Appender, Feed)>,
) -> Result<&'a mut (Appender, Feed)> {
    stop(running.take()).await;
    // The first day generates while the store empties and settles.
    let mut feed = Feed::start_at(generator_config(scenario, 1), from_hour);
    load_until(strategy, store, &mut feed, from_hour).await?;
    let appender = Appender::start(strategy, store, config.clone()).await?;
    feed.ready().await;
    Ok(running.insert((appender, feed)))
}

/// Empties the store, bulk-loads the first day's events before `from_hour` from `feed`, and
/// settles it: where every measured step starts.
pub(super) async fn load_until(strategy: Strategy, store: &Store, feed: &mut Feed, from_hour: f64) -> Result<()> {
    store.truncate().await?;
    let earlier = feed.earlier().await;
    if !earlier.is_empty() {
        note(format_args!(
            "append {}: loading the {} events before {from_hour:02}:00 …",
            strategy.name(),
            earlier.len()
        ));
        crate::load::bulk_load(store, &earlier).await?;
    }
    settle(store).await
}

/// Stops what `running` holds: the feed first, so its thread stops making appends.
pub(super) async fn stop(running: Option<(Appender, Feed)>) {
    if let Some((appender, feed)) = running {
        drop(feed);
        appender.stop().await;
    }
}
