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
//!   error and no saturation, found by stepped search over long windows (`slo_search.rs`).
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
use super::open_loop::{open_loop, record_open, slo_held_to, worst_of, Failures, Window};
use super::slo_search::{confirmed, step_down, Bounds, Confirmed, Search, Step};
use super::{all_schools, generator_config, pgbench, settle};
use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::generator::Generator;
use crate::measure::latency::Recorded;
use crate::measure::{Activity, ActivityWatch, HostCpu, Lag, LagWatch, ServerCpu, Steal, WalPosition};
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

fn one(unit: &str, v: f64) -> Figure {
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
            Strategy::Rill | Strategy::Single | Strategy::MessageDb => (max_writers as u32 + 8).clamp(8, 90),
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
            slo_search(&mut s, plan, search, figures).await?;
        }
        s.failures.report(name);
        figures.insert(format!("append.{name}.errors"), one("count", s.errors as f64));
        stop(s.running.take()).await;
        s.store.pool().close().await;
        if let Some(m) = s.message_db.take() {
            m.pool().close().await;
        }
    }
    Ok(outcome)
}

/// One strategy's store and what runs on it.
struct StrategyRun<'a> {
    strategy: Strategy,
    store: Store,
    config: TransactorConfig,
    scenario: &'a Scenario,
    running: Option<(Appender, Feed)>,
    failures: Failures,
    errors: u64,
    /// The peer's database, for `message-db`.
    message_db: Option<stroom_reference::append::message_db::MessageDb>,
}

impl StrategyRun<'_> {
    /// Whether a live projector runs beside this strategy's open-loop windows: stroom's own
    /// stores only, a peer's log is not stroom's feed.
    fn projects(&self, plan: &AppendPlan) -> bool {
        plan.project && !self.strategy.is_peer()
    }

    async fn restart(&mut self, from_hour: f64) -> Result<&mut (Appender, Feed)> {
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
    let mut best: Option<(usize, Figure)> = None;
    let mut vs_pgbench: Vec<f64> = Vec::new();
    for &writers in plan.writers_for(s.strategy) {
        let (mut rates, mut p50, mut p99, mut concurrency, mut cpu, mut wal) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut pgbench_runs, mut pgbench_cpu) = (Vec::new(), Vec::new());
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
            let step = closed_loop(appender, feed, writers, plan.warmup_s, plan.duration_s, &failures).await;
            let after = ServerCpu::now();
            let wal_after = WalPosition::now(&pool).await;
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
                stop(s.running.take()).await;
                let mut feed = Feed::start_at(generator_config(s.scenario, 1), plan.start_hour);
                load_until(s.strategy, &s.store, &mut feed, plan.start_hour).await?;
                drop(feed);
                let progress = Progress::phase(&format!(
                    "calibrate: pgbench with {name}'s statements, {writers} clients, repetition {rep}/{}",
                    plan.repetitions
                ));
                let seconds = plan.warmup_s + plan.duration_s;
                let before = ServerCpu::now();
                let tps = pgbench::run(bin, url, namespace, script, &sample, (writers, seconds))?;
                let after = ServerCpu::now();
                progress.done((tps * seconds) as u64, seconds);
                pgbench_runs.push(tps);
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
        let Window { mut recorded, saturated, host } = open_loop(
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

async fn slo_search(
    s: &mut StrategyRun<'_>,
    plan: &AppendPlan,
    search_plan: &crate::scenario::SloSearch,
    figures: &mut Figures,
) -> Result<()> {
    let name = s.strategy.name();
    let slo = s.scenario.slo_p99_ms;
    let start = figures
        .get(&format!("append.{name}.ceiling_events_per_s"))
        .map(|f| f.value * search_plan.start_share)
        .unwrap_or(1000.0)
        .max(1.0)
        .round();
    let mut search = Search::new(Bounds { start, max_steps: search_plan.max_steps, tolerance: search_plan.tolerance });
    let mut steps: Vec<(Step, Activity, Recorded)> = Vec::new();
    let mut steal = Steal::default();
    while let Some(rate) = search.next_rate() {
        let rate = rate.round();
        let i = steps.len() + 1;
        let seed = s.scenario.seed.wrapping_add(1000 + i as u64);
        let what = format!("SLO search step {i}");
        let (Window { recorded, saturated, host }, activity, lag) =
            slo_window(s, plan, (rate, search_plan.step_s, seed), &what).await?;
        let p99_ms = recorded.latency_ms(0.99);
        let harness_bound = recorded.harness_bound();
        let passed = !harness_bound && !saturated && recorded.errors == 0 && p99_ms <= slo;
        note(format_args!(
            "append {name}: {rate:.0} events/s: p99 {p99_ms:.1} ms, {} errors{}, {} checkpoints and {} autovacuum runs in the window: {}",
            recorded.errors,
            if saturated { ", saturated" } else { "" },
            activity.checkpoints_at.len(),
            activity.autovacuums_at.len(),
            verdict(passed, &recorded)
        ));
        s.errors += recorded.errors;
        if let Some((_, st)) = host {
            steal.push(st);
        }
        let prefix = format!("append.{name}.slo_step{i}");
        record_open(figures, &prefix, &recorded, saturated, host);
        if let Some(lag) = &lag {
            lag.record(figures, &prefix);
        }
        figures.insert(format!("{prefix}.passed"), one("flag", f64::from(u8::from(passed))));
        figures.insert(format!("{prefix}.checkpoints"), one("count", activity.checkpoints_at.len() as f64));
        figures.insert(format!("{prefix}.autovacuums"), one("count", activity.autovacuums_at.len() as f64));
        let step = Step { rate, p99_ms, passed, harness_bound };
        search.record(step.clone());
        steps.push((step, activity, recorded));
    }
    let found = search.found();
    let prefix = format!("append.{name}");
    figures.insert(format!("{prefix}.slo_searched_events_per_s"), one("events/s", found.rate));
    // The most the hypervisor took in any step: one starved step moves the rate found.
    steal.record(figures, &format!("{prefix}.slo_host_steal_share"));
    if let Some(failed) = found.failed_at {
        figures.insert(format!("{prefix}.slo_failed_at_events_per_s"), one("events/s", failed));
    }
    if let Some(limit) = found.harness_bound_at {
        figures.insert(format!("{prefix}.slo_harness_limit_events_per_s"), one("events/s", limit));
        note(format_args!(
            "append {name}: at {limit:.0} events/s the load generator fell behind its schedule: the harness's limit on this machine, not the store's"
        ));
    }
    if let Some((step, activity, _)) = steps.iter().find(|(st, _, _)| st.passed && st.rate == found.rate) {
        figures.insert(format!("{prefix}.slo_rate_p99_ms"), one("ms", step.p99_ms));
        let i = steps.iter().position(|(st, _, _)| st == step).map_or(0, |i| i + 1);
        if let Some(lag) = figures.get(&format!("{prefix}.slo_step{i}.lag_p99_ms")).cloned() {
            figures.insert(format!("{prefix}.slo_rate_lag_p99_ms"), lag);
        }
        figures.insert(format!("{prefix}.slo_rate_checkpoints"), one("count", activity.checkpoints_at.len() as f64));
        figures.insert(format!("{prefix}.slo_rate_autovacuums"), one("count", activity.autovacuums_at.len() as f64));
    }
    figures.insert(format!("{prefix}.slo_steps"), one("count", steps.len() as f64));
    let (rate, upper) = match search_plan.confirm.contains(&s.strategy) && found.rate >= 1.0 {
        true => confirm(s, plan, search_plan, (found.rate, found.failed_at), figures).await?,
        false => {
            figures.insert(format!("{prefix}.slo_confirmed"), one("flag", 0.0));
            (found.rate, found.failed_at)
        }
    };
    figures.insert(format!("{prefix}.slo_rate_events_per_s"), one("events/s", rate));
    if let Some(upper) = upper {
        figures.insert(format!("{prefix}.slo_rate_upper_events_per_s"), one("events/s", upper));
    }
    note(format_args!(
        "append {name}: highest rate within p99 ≤ {slo} ms: {rate:.0} events/s{}{}",
        upper.map(|u| format!(" (pinned below {u:.0})")).unwrap_or_default(),
        match search_plan.confirm.contains(&s.strategy) {
            true => "",
            false => ", unconfirmed",
        }
    ));
    // The latency a user running at half that rate would see: the headroom a peer comparison
    // asks about (`append.<s>.half_slo.p99_ms`), in a window as long as a search step.
    let half = (rate / 2.0).round();
    if half >= 1.0 {
        let seed = s.scenario.seed.wrapping_add(2000);
        let (Window { recorded, saturated, host }, _, lag) =
            slo_window(s, plan, (half, search_plan.step_s, seed), "half the SLO rate").await?;
        s.errors += recorded.errors;
        record_open(figures, &format!("{prefix}.half_slo"), &recorded, saturated, host);
        if let Some(lag) = &lag {
            lag.record(figures, &format!("{prefix}.half_slo"));
        }
        figures.insert(format!("{prefix}.half_slo.offered_events_per_s"), one("events/s", half));
    }
    Ok(())
}

/// A window's verdict in words.
fn verdict(passed: bool, r: &Recorded) -> String {
    match (passed, r.harness_bound()) {
        (_, true) => format!(
            "harness-bound ({:.1}% of arrivals started more than 1 ms after they could have: the load generator fell behind)",
            r.harness_late_share() * 100.0
        ),
        (true, _) => "within the SLO".into(),
        (false, _) => "outside the SLO".into(),
    }
}

/// Confirms the rate the search found (`found`, with the lowest rate that did not pass) in
/// sustained windows, each at least two checkpoint intervals long unless the scenario says
/// otherwise: it holds only when every whole minute's p99 held the SLO. After a miss it steps
/// down one search tolerance and tries again. Returns the confirmed rate (0 when no try held)
/// and the lowest rate that missed above it.
async fn confirm(
    s: &mut StrategyRun<'_>,
    plan: &AppendPlan,
    search_plan: &crate::scenario::SloSearch,
    (found, mut upper): (f64, Option<f64>),
    figures: &mut Figures,
) -> Result<(f64, Option<f64>)> {
    let name = s.strategy.name();
    let prefix = format!("append.{name}");
    let slo = s.scenario.slo_p99_ms;
    let seconds = match search_plan.confirm_s {
        Some(seconds) => seconds,
        None => 2.0 * checkpoint_timeout_s(s.store.pool()).await?,
    };
    let mut rate = found;
    for k in 1..=search_plan.confirm_tries {
        let seed = s.scenario.seed.wrapping_add(3000 + k as u64);
        let what = format!("confirming the SLO rate, try {k}/{}", search_plan.confirm_tries);
        let (Window { recorded, saturated, host }, activity, lag) =
            slo_window(s, plan, (rate, seconds, seed), &what).await?;
        s.errors += recorded.errors;
        let minutes: Vec<f64> = recorded.per_minute().into_iter().map(|(_, p99, _)| p99).collect();
        let worst = minutes.iter().copied().fold(0.0, f64::max);
        let outcome = confirmed(&minutes, recorded.errors, saturated, recorded.harness_bound(), slo);
        let (checkpoints, autovacuums) = (activity.checkpoints_at.len(), activity.autovacuums_at.len());
        note(format_args!(
            "append {name}: {rate:.0} events/s for {seconds:.0} s: worst minute's p99 {worst:.1} ms, {} errors{}, {checkpoints} checkpoints and {autovacuums} autovacuum runs: {}",
            recorded.errors,
            if saturated { ", saturated" } else { "" },
            match outcome {
                Confirmed::Held => "confirmed".to_string(),
                Confirmed::Missed => "missed".to_string(),
                Confirmed::HarnessBound => verdict(false, &recorded),
            }
        ));
        let try_prefix = format!("{prefix}.slo_confirm{k}");
        record_open(figures, &try_prefix, &recorded, saturated, host);
        figures.insert(format!("{try_prefix}.offered_events_per_s"), one("events/s", rate));
        figures.insert(format!("{try_prefix}.worst_minute_p99_ms"), one("ms", worst));
        figures.insert(format!("{try_prefix}.checkpoints"), one("count", checkpoints as f64));
        figures.insert(format!("{try_prefix}.autovacuums"), one("count", autovacuums as f64));
        figures.insert(format!("{try_prefix}.held"), one("flag", f64::from(u8::from(outcome == Confirmed::Held))));
        figures.insert(format!("{prefix}.slo_confirm_tries"), one("count", k as f64));
        if outcome == Confirmed::Held {
            figures.insert(format!("{prefix}.slo_confirmed"), one("flag", 1.0));
            figures.insert(format!("{prefix}.slo_confirm_s"), one("s", seconds));
            figures.insert(format!("{prefix}.slo_rate_p99_ms"), one("ms", recorded.latency_ms(0.99)));
            figures.insert(format!("{prefix}.slo_rate_worst_minute_p99_ms"), one("ms", worst));
            figures.insert(format!("{prefix}.slo_rate_checkpoints"), one("count", checkpoints as f64));
            figures.insert(format!("{prefix}.slo_rate_autovacuums"), one("count", autovacuums as f64));
            if let Some(lag) = &lag {
                lag.record(figures, &try_prefix);
                if let Some(l) = figures.get(&format!("{try_prefix}.lag_p99_ms")).cloned() {
                    figures.insert(format!("{prefix}.slo_rate_lag_p99_ms"), l);
                }
            }
            return Ok((rate, upper));
        }
        upper = Some(upper.map_or(rate, |u| u.min(rate)));
        rate = step_down(rate, search_plan.tolerance);
        if rate < 1.0 {
            break;
        }
    }
    figures.insert(format!("{prefix}.slo_confirmed"), one("flag", 0.0));
    note(format_args!(
        "append {name}: no rate held the SLO for {seconds:.0} s in {} tries: the SLO rate is unconfirmed and reported as 0",
        search_plan.confirm_tries
    ));
    Ok((0.0, upper))
}

/// The server's `checkpoint_timeout` in seconds.
async fn checkpoint_timeout_s(pool: &sqlx::PgPool) -> Result<f64> {
    sqlx::query_scalar("SELECT setting::float8 FROM pg_settings WHERE name = 'checkpoint_timeout'")
        .fetch_one(pool)
        .await
        .map_err(|source| crate::error::Error::Database { action: "reading checkpoint_timeout", source })
}

/// One open-loop window at a constant `rate` for `seconds` from the open-loop start hour,
/// with the server's checkpoints and autovacuum runs watched beside it.
async fn slo_window(
    s: &mut StrategyRun<'_>,
    plan: &AppendPlan,
    (rate, seconds, seed): (f64, f64, u64),
    what: &str,
) -> Result<(Window, Activity, Option<Lag>)> {
    let name = s.strategy.name();
    let failures = s.failures.clone();
    let store = s.store.clone();
    let project = s.projects(plan);
    let (appender, feed) = s.restart(plan.open_start_hour).await?;
    let progress = Progress::phase(&format!("append {name}: {what}, {rate:.0} events/s offered for {seconds:.0} s"));
    let watch = ActivityWatch::start(store.pool().clone());
    let lag = match project {
        true => Some(LagWatch::start(&store, Fold::default()).await?),
        false => None,
    };
    let window = open_loop(
        appender,
        feed,
        (Arrival::Constant(rate), plan.arrivals, seed),
        plan.open_users,
        (plan.warmup_s, seconds),
        &failures,
        lag.as_ref().map(LagWatch::meter).as_ref(),
    )
    .await;
    let activity = watch.stop().await;
    progress.done(window.recorded.served, seconds);
    let lag = match lag {
        Some(w) => Some(w.stop().await?),
        None => None,
    };
    Ok((window, activity, lag))
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
