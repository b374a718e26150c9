//! The migrate phase: schools placed across several servers, per-school open-loop appends
//! routed by the placement map, a quiet window, then a window in which schools are moved one
//! by one (checked passive migrations); last, the 2017 single log rewritten into the
//! partitioned layout on another server.
//!
//! Figures (`migrate.*`):
//! - `quiet.*` and `moving.*`: the open-loop figures of each window at the same rate, every
//!   school's appends in them (a moved school's refused and retried appends included);
//! - `fence_p50_ms`, `fence_p99_ms`, `fence_max_ms`: per move, the pause its school's writers
//!   saw: the longest wait of an append the fence refused, from the refusal to its
//!   acknowledgement on the target. A move that no append met contributes the fence as the
//!   journal timed it (source head taken → switch recorded), the least a writer arriving then
//!   would have waited;
//! - `during_moves.p99_ms`: every school's appends due in the seconds a move ran, against
//!   `quiet.p99_ms`; `*.checkpoints` and `*.autovacuums` say what else the servers did;
//! - `fence_held_p99_ms`: the fence by the journal's clock alone (source head taken → switch);
//! - `lost`: acknowledged events not on the server the final map names for their school;
//! - `mismatches`: moves whose consistency checks failed (each aborted, nothing switched);
//! - `move_p50_s`, `move_max_s`, `copied_events_per_s`;
//! - `transform.*`: the single-log → partitioned rewrite: events, events per second of
//!   copying, schools whose checks failed.
//!
//! All servers of a run on one machine share its cores (`migrate.cores`): the figures are of
//! correctness and the cost of routing and moving, not of scaling out.

mod moves;
mod servers;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use stroom_cluster::Profile;
use stroom_reference::append::Routed;
use stroom_reference::migrate::{transform, Migrator};
use stroom_reference::placement::{Placement, Server};
use stroom_reference::{Appender, Layout, Schema, School, StoredEvent, TransactorConfig, GLOBAL_SCHOOL};
use uuid::Uuid;

use super::feed::Feed;
use super::open_loop::{open_loop, record_open, Failures};
use super::{all_schools, generator_config};
use crate::error::{Error, Result};
use crate::figures::{Figure, Figures};
use crate::load::bulk_load;
use crate::measure::latency::Recorded;
use crate::measure::ActivityWatch;
use crate::namespace::fresh_store;
use crate::progress::note;
use crate::scenario::{Arrival, Arrivals, MigratePlan, Scenario, Servers};

/// Runs the phase; returns each window's latency for the plots.
pub async fn run(
    run_url: &str,
    profile: Option<Profile>,
    scenario: &Scenario,
    (plan, servers_plan): (&MigratePlan, &Servers),
    figures: &mut Figures,
) -> Result<Vec<(String, Recorded)>> {
    let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
    let rate = match plan.rate {
        Some(r) => r,
        None => {
            let slo = figures.get("append.per-school.slo_rate_events_per_s").map(|f| f.value).ok_or_else(|| {
                Error::Task(
                    "migrate: the per-school SLO rate was not measured, so slo_share has nothing to take".into(),
                )
            })?;
            (slo * plan.slo_share).max(1.0)
        }
    };
    let started = servers::start(servers_plan, run_url, profile).await?;
    let n = started.urls.len() as Server;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    note(format_args!("migrate: {n} servers sharing this machine's {cores} cores; appends at {rate:.0} events/s"));
    figures.insert("migrate.servers".into(), one("count", f64::from(n)));
    figures.insert("migrate.cores".into(), one("cores", cores as f64));
    figures.insert("migrate.rate_events_per_s".into(), one("events/s", rate));

    let schema = Schema::new(Layout::Partitioned, scenario.payload);
    let mut stores = Vec::new();
    for url in &started.urls {
        stores.push(fresh_store(url, "migrate", schema, 16).await?);
    }
    let placement = Placement::install(stores[0].pool().clone()).await?;
    placement.register_servers(&started.urls).await?;
    let schools: Vec<School> = all_schools(scenario).into_iter().filter(|s| *s != GLOBAL_SCHOOL).collect();
    let map = placement.place_missing(&schools, n).await?;
    for (server, store) in stores.iter().enumerate() {
        let mut here = vec![GLOBAL_SCHOOL];
        here.extend(map.schools_on(server as Server));
        store.add_schools(&here).await?;
    }

    // The history up to the start hour, each school's rows on its server.
    let start_hour = scenario.append.as_ref().map_or(10.0, |a| a.start_hour);
    // Windows of minutes run past the first day: the next day is made early (as the soak's
    // is), on one thread, else arrivals would wait seconds for the generator when the day runs out.
    let mut feed = Feed::start_with(generator_config(scenario, 1), start_hour, super::feed::LOW_WATER_LONG);
    let earlier = feed.earlier().await;
    let mut by_server: HashMap<Server, Vec<StoredEvent>> = HashMap::new();
    for e in &earlier {
        by_server.entry(map.server_of(e.school).unwrap_or(0)).or_default().push(e.clone());
    }
    let loading = Instant::now();
    for (server, rows) in &by_server {
        bulk_load(&stores[*server as usize], rows).await?;
    }
    note(format_args!(
        "migrate: loaded {} events up to {start_hour:02}:00 across {n} servers in {:.1} s",
        earlier.len(),
        loading.elapsed().as_secs_f64()
    ));
    feed.ready().await;

    let routed = Routed::start(stores.clone(), placement.clone(), TransactorConfig::default(), true).await?;
    let appender = Appender::Routed(routed.clone());
    let schedule = |salt: u64| (Arrival::Constant(rate), Arrivals::Poisson, scenario.seed ^ salt);
    let mut runs = Vec::new();

    note(format_args!("migrate: quiet window, {:.0} s at {rate:.0} events/s, nothing moving", plan.quiet_s));
    let failures = Failures::default();
    let watches = Watches::start(&stores);
    let mut quiet =
        open_loop(&appender, &mut feed, schedule(1), plan.users, (plan.warmup_s, plan.quiet_s), &failures, None).await;
    watches.stop(&mut quiet.recorded, "migrate.quiet", figures).await;
    record_open(figures, "migrate.quiet", &quiet.recorded, quiet.saturated, quiet.host);
    runs.push(("migrate quiet".to_string(), quiet.recorded));

    let pools = stores.iter().map(|s| s.pool().clone()).collect();
    let migrator = Migrator::new(pools).await?;
    let chosen = moves::pick(&map, n, plan.moves);
    note(format_args!("migrate: moving {} schools one by one during a {:.0} s window", chosen.len(), plan.window_s));
    let window_ends = Instant::now() + Duration::from_secs_f64(plan.warmup_s + plan.window_s);
    let timing = (Duration::from_secs_f64(plan.warmup_s), Duration::from_secs_f64(plan.pause_s), window_ends);
    let watches = Watches::start(&stores);
    let (mut moving, moved) = tokio::join!(
        open_loop(&appender, &mut feed, schedule(2), plan.users, (plan.warmup_s, plan.window_s), &failures, None),
        moves::run(&migrator, chosen, n, timing)
    );
    failures.report("migrate");
    watches.stop(&mut moving.recorded, "migrate.moving", figures).await;
    let moved = moved?;
    for m in &moved.moved {
        moving.recorded.mark("move", m.span.0);
    }
    let during = during(&moving.recorded, &moved.moved);
    figures.insert("migrate.during_moves.p99_ms".into(), one("ms", during.value_at_quantile(0.99) as f64 / 1000.0));
    figures.insert("migrate.during_moves.appends".into(), one("count", during.len() as f64));
    record_open(figures, "migrate.moving", &moving.recorded, moving.saturated, moving.host);
    runs.push(("migrate moving".to_string(), moving.recorded));
    drop(feed);
    let stats = routed.stats();
    appender.stop().await;

    // Every acknowledged event must be on the server the final map names for its school.
    let map = placement.load().await?;
    let mut wanted: HashMap<Server, Vec<Uuid>> = HashMap::new();
    for (school, id) in &stats.acked {
        wanted.entry(map.server_of(*school).unwrap_or(0)).or_default().push(*id);
    }
    let mut found = 0usize;
    for (server, ids) in &wanted {
        for chunk in ids.chunks(10_000) {
            found += stores[*server as usize].positions_of(None, chunk).await?.len();
        }
    }
    let lost = stats.acked.len() - found;
    note(format_args!(
        "migrate: {} moves, {} acknowledged events, {lost} of them missing where the map says",
        moved.moved.len(),
        stats.acked.len()
    ));

    let mut pauses: Vec<f64> = moved
        .moved
        .iter()
        .map(|m| {
            let seen = stats.waits.iter().filter(|(s, _)| *s == m.school).map(|(_, w)| *w).max();
            seen.unwrap_or(m.fence).as_secs_f64() * 1e3
        })
        .collect();
    pauses.sort_by(f64::total_cmp);
    let q = |v: &[f64], p: f64| if v.is_empty() { f64::NAN } else { v[((v.len() - 1) as f64 * p).round() as usize] };
    figures.insert("migrate.moves".into(), one("count", moved.moved.len() as f64));
    figures.insert(
        "migrate.moves_after_window".into(),
        one("count", moved.moved.iter().filter(|m| m.after_window).count() as f64),
    );
    figures.insert("migrate.lost".into(), one("count", lost as f64));
    figures.insert("migrate.mismatches".into(), one("count", moved.mismatches as f64));
    figures.insert("migrate.fence_p50_ms".into(), one("ms", q(&pauses, 0.5)));
    figures.insert("migrate.fence_p99_ms".into(), one("ms", q(&pauses, 0.99)));
    figures.insert("migrate.fence_max_ms".into(), one("ms", q(&pauses, 1.0)));
    let mut held: Vec<f64> = moved.moved.iter().map(|m| m.fence.as_secs_f64() * 1e3).collect();
    held.sort_by(f64::total_cmp);
    figures.insert("migrate.fence_held_p99_ms".into(), one("ms", q(&held, 0.99)));
    figures.insert("migrate.refused_appends".into(), one("count", stats.waits.len() as f64));
    let mut times: Vec<f64> = moved.moved.iter().map(|m| m.elapsed.as_secs_f64()).collect();
    times.sort_by(f64::total_cmp);
    figures.insert("migrate.move_p50_s".into(), one("s", q(&times, 0.5)));
    figures.insert("migrate.move_max_s".into(), one("s", q(&times, 1.0)));
    let (rows, copying) =
        moved.moved.iter().fold((0u64, 0.0f64), |(r, c), m| (r + m.rows, c + m.copying.as_secs_f64()));
    figures.insert("migrate.copied_events_per_s".into(), one("events/s", rows as f64 / copying.max(1e-9)));

    if plan.transform {
        transform_single_log(&started.urls, scenario, &earlier, figures).await?;
    }
    for store in stores {
        store.pool().close().await;
    }
    Ok(runs)
}

/// The appends due in the seconds a move ran (and the second after, when its refused appends
/// were answered), every school's: the moved school's refused appends are few among them.
fn during(r: &Recorded, moved: &[moves::Moved]) -> hdrhistogram::Histogram<u64> {
    let mut h = crate::measure::latency::histogram();
    let second = |at: Instant| at.checked_duration_since(r.started).map(|d| d.as_secs() as usize);
    let mut seconds = std::collections::BTreeSet::new();
    for m in moved {
        if let (Some(from), Some(to)) = (second(m.span.0), second(m.span.1)) {
            seconds.extend(from..=to + 1);
        }
    }
    for s in seconds {
        if let Some(interval) = r.intervals.get(s) {
            let _ = h.add(interval);
        }
    }
    h
}

/// Checkpoints and autovacuum runs on every server during a window, marked on its seconds.
struct Watches(Vec<(ActivityWatch, Instant)>);

impl Watches {
    fn start(stores: &[stroom_reference::Store]) -> Self {
        Self(stores.iter().map(|s| (ActivityWatch::start(s.pool().clone()), Instant::now())).collect())
    }

    async fn stop(self, recorded: &mut Recorded, prefix: &str, figures: &mut Figures) {
        let (mut checkpoints, mut autovacuums) = (0, 0);
        for (server, (watch, from)) in self.0.into_iter().enumerate() {
            let activity = watch.stop().await;
            checkpoints += activity.checkpoints_at.len();
            autovacuums += activity.autovacuums_at.len();
            let seen = activity.checkpoints_at.iter().map(|t| ("checkpoint", t));
            for (what, t) in seen.chain(activity.autovacuums_at.iter().map(|t| ("autovacuum", t))) {
                recorded.mark(&format!("{what} on server {server}"), from + Duration::from_secs_f64(*t));
            }
        }
        let one = |v: usize| Figure::from_repetitions("count", vec![v as f64]);
        figures.insert(format!("{prefix}.checkpoints"), one(checkpoints));
        figures.insert(format!("{prefix}.autovacuums"), one(autovacuums));
    }
}

/// The history as a single log on server 0, rewritten into the partitioned layout on server 1.
async fn transform_single_log(
    urls: &[String],
    scenario: &Scenario,
    history: &[StoredEvent],
    figures: &mut Figures,
) -> Result<()> {
    let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
    let single = fresh_store(&urls[0], "migrate_single", Schema::new(Layout::SingleLog, scenario.payload), 16).await?;
    single.add_schools(&all_schools(scenario)).await?;
    bulk_load(&single, history).await?;
    let target =
        fresh_store(&urls[1], "migrate_transformed", Schema::new(Layout::Partitioned, scenario.payload), 16).await?;
    note(format_args!(
        "migrate: rewriting a single log of {} events into the partitioned layout on server 1",
        history.len()
    ));
    let mut last = Instant::now();
    let done = transform(&single, &target, |i, n| {
        if last.elapsed() >= Duration::from_secs(5) || i == n {
            note(format_args!("migrate: transform: {i}/{n} schools copied and checked"));
            last = Instant::now();
        }
    })
    .await?;
    for (school, checks) in done.checks.iter().filter(|(_, c)| c.iter().any(|c| !c.passed())) {
        let failed: Vec<&str> = checks.iter().filter(|c| !c.passed()).map(|c| c.name).collect();
        note(format_args!("migrate: transform: school {school} differs in {}", failed.join(", ")));
    }
    figures.insert("migrate.transform.events".into(), one("events", done.rows as f64));
    figures.insert("migrate.transform.events_per_s".into(), one("events/s", done.rows_per_s()));
    figures.insert("migrate.transform.elapsed_s".into(), one("s", done.elapsed.as_secs_f64()));
    figures.insert("migrate.transform.mismatches".into(), one("count", done.mismatches() as f64));
    for store in [single, target] {
        store.pool().close().await;
    }
    Ok(())
}
