//! The faults phase: per-school appends at a steady rate while faults are injected in turn.
//! Every acknowledged event is logged as it is acknowledged; after each fault, and at the end,
//! an independent check in SQL compares the log with what the writers were told, and after
//! each crash `pg_amcheck` checks the store's tables and indexes.

mod acks;
mod check;
mod child;
mod drive;
mod inject;

pub use child::{writer_main, WriterArgs};

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use stroom_cluster::Cluster;
use stroom_reference::{Appender, Layout, Schema, Strategy, TransactorConfig};

use self::acks::Acks;
use self::check::Found;
use self::drive::{Seen, Users};
use self::inject::Injected;
use super::all_schools;
use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::namespace::fresh_store;
use crate::progress::note;
use crate::scenario::{Fault, FaultsPlan, Scenario};

/// One injected fault's time line.
struct Window {
    fault: Fault,
    /// When it was injected.
    at: Instant,
    /// When it was over: the server restarted, the lock released.
    over: Instant,
    /// The end of the steady stretch after it.
    until: Instant,
}

/// Runs the phase; figures go into `figures`, and a line per fault into `notes`.
pub async fn run(
    cluster: Option<&Cluster>,
    url: &str,
    scenario: &Scenario,
    plan: &FaultsPlan,
    figures: &mut Figures,
    notes: &mut Vec<String>,
) -> Result<()> {
    let Some(cluster) = cluster else {
        let why = "faults: NOT RUN: the phase kills and restarts the server, so it needs stroom's own cluster \
                   (run without --db and DATABASE_URL)";
        note(format_args!("{why}"));
        notes.push(why.into());
        return Ok(());
    };
    let store = fresh_store(url, "faults", Schema::new(Layout::Partitioned, scenario.payload), 16).await?;
    let schools: Vec<i32> =
        all_schools(scenario).into_iter().filter(|s| *s != stroom_reference::GLOBAL_SCHOOL).collect();
    store.add_schools(&schools).await?;
    let timeout = Duration::from_secs_f64(plan.timeout_s);
    let appender =
        Appender::start(Strategy::PerSchool, &store, TransactorConfig { timeout, ..Default::default() }).await?;
    let acks = Arc::new(Acks::create("faults")?);
    // The process-restart fault's writer: a child process on a store of its own, a quarter of
    // the load, with short leases so its successor waits seconds, not half a minute.
    let child_acks = Arc::new(Acks::create("faults-child")?);
    let mut writer = match plan.faults.contains(&Fault::ProcessRestart) {
        false => None,
        true => {
            let child_store = fresh_store(
                url,
                child::STORE,
                Schema::new(Layout::Partitioned, stroom_reference::PayloadType::Jsonb),
                4,
            )
            .await?;
            child_store.add_schools(&schools).await?;
            child_store.pool().close().await;
            let args = WriterArgs {
                url: url.to_string(),
                rate: plan.rate / 4.0,
                users: (plan.users / 4).max(1),
                lease_s: 2.0,
                timeout_s: plan.timeout_s,
            };
            Some(child::Writer::spawn(args, child_acks.clone())?)
        }
    };
    note(format_args!(
        "faults: {} users appending {:.0} events/s over {} schools; {} s steady, then {}",
        plan.users,
        plan.rate,
        schools.len(),
        plan.steady_s,
        plan.faults.iter().map(|f| f.name()).collect::<Vec<_>>().join(", then ")
    ));
    let users = Users::start(&appender, &schools, plan.users, plan.rate, &acks);
    let steady = Duration::from_secs_f64(plan.steady_s);
    let syncing = {
        let acks = acks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = acks.sync();
            }
        })
    };
    tokio::time::sleep(steady).await;
    let mut worst = Found::default();
    let mut amcheck_failures = 0.0;
    let mut windows = Vec::new();
    for &fault in &plan.faults {
        let at = Instant::now();
        let stall = Duration::from_secs_f64(plan.stall_s);
        let what = match inject::inject(fault, cluster, &store, stall, writer.as_mut()).await? {
            Injected::Done(what) => what,
            Injected::NotRun(why) => {
                let line = format!("faults: {}: NOT RUN: {why}", fault.name());
                note(format_args!("{line}"));
                notes.push(line);
                figures.insert(format!("faults.{}.not_run", fault.name()), Figure::from_repetitions("flag", vec![1.0]));
                continue;
            }
        };
        let over = Instant::now();
        note(format_args!("faults: {}: {what}", fault.name()));
        notes.push(format!("faults: {}: {what}", fault.name()));
        if fault.crashes() {
            let schema = "stroom_faults";
            match tokio::task::block_in_place(|| check::amcheck(url, schema))? {
                None => note(format_args!("faults: pg_amcheck found no corruption after crash recovery")),
                Some(found) => {
                    amcheck_failures += 1.0;
                    note(format_args!("faults: pg_amcheck found corruption: {found}"));
                    notes.push(format!("faults: {}: pg_amcheck found corruption: {found}", fault.name()));
                }
            }
        }
        tokio::time::sleep(steady).await;
        if fault == Fault::ProcessRestart {
            let recovered = writer.as_ref().and_then(|w| w.first_ack_after(over));
            let recovery = recovered.map(|r| (r - at).as_secs_f64());
            figures.insert(
                "faults.process-restart.recovery_s".into(),
                Figure::from_repetitions("s", vec![recovery.unwrap_or(f64::NAN)]),
            );
        }
        let found = check_both(&store, &acks, &child_acks, writer.is_some(), url).await?;
        say(fault.name(), &found, notes);
        worst = worst.worst(found);
        windows.push(Window { fault, at, over, until: Instant::now() });
    }
    let seen = users.stop().await;
    if let Some(w) = writer.as_mut() {
        w.kill().await;
    }
    syncing.abort();
    let found = check_both(&store, &acks, &child_acks, writer.is_some(), url).await?;
    say("end", &found, notes);
    worst = worst.worst(found);
    let (acked, _, _) = acks.snapshot();
    let (child_acked, _, child_unresolved) = child_acks.snapshot();
    let unresolved = acks.snapshot().2 + child_unresolved;
    appender.stop().await;
    store.pool().close().await;
    if cluster.wal_fs_mount().is_some() {
        // A clean stop and start: the WAL goes back beside the data before anything else runs.
        tokio::task::block_in_place(|| cluster.wal_back_to_disk())?;
        note(format_args!("faults: the WAL is back in the data directory"));
    }

    let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
    figures.insert("faults.acknowledged".into(), one("events", (acked.len() + child_acked.len()) as f64));
    figures.insert("faults.lost".into(), one("events", worst.lost as f64));
    figures.insert("faults.duplicates".into(), one("events", worst.duplicates as f64));
    figures.insert("faults.gaps".into(), one("count", worst.gaps as f64));
    figures.insert("faults.streams_across_schools".into(), one("streams", worst.streams_across_schools as f64));
    figures.insert("faults.refused_stored".into(), one("events", worst.refused_stored as f64));
    figures.insert("faults.unresolved".into(), one("appends", unresolved as f64));
    figures.insert("faults.amcheck_failures".into(), one("count", amcheck_failures));
    for w in windows.iter().filter(|w| w.fault != Fault::ProcessRestart) {
        per_fault(figures, w, &seen);
    }
    Ok(())
}

/// The check of the phase's store against its writers' acknowledgements, and of the child
/// writer's store against the child's, added up. A connection a fault broke is retried.
async fn check_both(
    store: &stroom_reference::Store,
    acks: &Acks,
    child_acks: &Acks,
    child: bool,
    url: &str,
) -> Result<Found> {
    acks.sync()?;
    let (acked, refused, _) = acks.snapshot();
    let mut found = retried(|| check::check(store, &acked, &refused)).await?;
    if child {
        let schema = Schema::new(Layout::Partitioned, stroom_reference::PayloadType::Jsonb);
        let child_store = crate::namespace::open_store(url, child::STORE, schema, 2).await?;
        let (acked, refused, _) = child_acks.snapshot();
        found = found.plus(retried(|| check::check(&child_store, &acked, &refused)).await?);
        child_store.pool().close().await;
    }
    Ok(found)
}

/// Runs `check` up to five times, 200 ms apart, while it fails (a pooled connection that a
/// fault ended fails once).
async fn retried<F, Fut>(check: F) -> Result<Found>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Found>>,
{
    let mut attempt = 0;
    loop {
        match check().await {
            Err(_) if attempt < 4 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            done => return done,
        }
    }
}
fn say(when: &str, found: &Found, notes: &mut Vec<String>) {
    let line = format!(
        "faults: check after {when}: {} acknowledged, {} lost, {} duplicated, {} gaps, {} streams across schools, \
         {} refused yet stored",
        found.acknowledged,
        found.lost,
        found.duplicates,
        found.gaps,
        found.streams_across_schools,
        found.refused_stored
    );
    note(format_args!("{line}"));
    if !found.clean() {
        notes.push(line);
    }
}

/// A fault's figures: recovery time, p99 of the appends due while it lasted and after, failed
/// attempts by kind, and unknown outcomes resolved by a retry.
fn per_fault(figures: &mut Figures, w: &Window, seen: &Seen) {
    let prefix = format!("faults.{}", w.fault.name());
    let one = |unit: &str, v: f64| Figure::from_repetitions(unit, vec![v]);
    let in_window: Vec<_> = seen.samples.iter().filter(|s| s.ended >= w.at && s.due < w.until).collect();
    // Recovered: the first acknowledgement once the fault was over (the server restarted, the
    // lock released), whenever its append was due: appends held up by the fault count.
    let Some(recovered) = in_window.iter().filter(|s| s.acked && s.ended >= w.over).map(|s| s.ended).min() else {
        figures.insert(format!("{prefix}.acknowledged"), one("appends", 0.0));
        return;
    };
    figures.insert(format!("{prefix}.recovery_s"), one("s", (recovered - w.at).as_secs_f64()));
    let p99 = |during: bool| {
        let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("bounds");
        for s in in_window.iter().filter(|s| (s.due < recovered) == during) {
            h.saturating_record((s.ended - s.due).as_micros().max(1) as u64);
        }
        (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1000.0)
    };
    // During: appends still waiting when it began and due before it was recovered; after: the
    // rest of the steady stretch.
    if let Some(v) = p99(true) {
        figures.insert(format!("{prefix}.p99_during_ms"), one("ms", v));
    }
    if let Some(v) = p99(false) {
        figures.insert(format!("{prefix}.p99_after_ms"), one("ms", v));
    }
    let errors: Vec<&String> = seen.errors.iter().filter(|(t, _)| *t >= w.at && *t < w.until).map(|(_, k)| k).collect();
    figures.insert(format!("{prefix}.failed_attempts"), one("attempts", errors.len() as f64));
    let mut kinds: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for k in errors {
        *kinds.entry(k.replace(' ', "_")).or_default() += 1.0;
    }
    for (kind, n) in kinds {
        figures.insert(format!("{prefix}.failed_attempts.{kind}"), one("attempts", n));
    }
    let resolved = seen.resolved.iter().filter(|t| **t >= w.at && **t < w.until).count();
    figures.insert(format!("{prefix}.unknown_resolved"), one("appends", resolved as f64));
}
