//! Replay mode `message-db`: the same history rebuilt through a peer's read path. The
//! generated days are copied into Message DB (a day at a time, in the order they were
//! generated, so its global positions follow stroom's log), settled, and then read back as a
//! Message DB consumer reads: each school's category paged with `get_category_messages`,
//! decoded and folded ([`stroom_reference::replay::message_db_categories`]), on the worker
//! count at which stroom's parallel replay did best. Its reference is the same parallel COPY
//! out of stroom's store that the parallel replay is held to: the same events, read as fast as
//! this machine reads them.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use stroom_reference::read_model::Fold;
use stroom_reference::replay::{message_db_categories, MESSAGE_DB_PAGE};
use stroom_reference::{School, Store, StoredEvent, Upcasters};

use super::generator_config;
use super::replay::{copy_out_rate, ReplayOutcome};
use crate::error::Result;
use crate::figures::{Figure, Figures};
use crate::generator::Generator;
use crate::progress::{note, Progress};
use crate::scenario::{ReplayPlan, Scenario};

/// Loads the history into Message DB and rebuilds from it `plan.repetitions` times on
/// `workers` connections.
pub async fn run(
    (scenario, plan): (&Scenario, &ReplayPlan),
    (history, url): (&Store, &str),
    (days, total, workers): (u32, u64, usize),
    fold: Fold,
    outcome: &mut ReplayOutcome,
    figures: &mut Figures,
) -> Result<()> {
    let mdb = super::peer::message_db(url, workers as u32 + 1).await?;
    let schools = load(&mdb, scenario, days, total).await?;
    let upcasters = Upcasters::standard();
    let (mut rates, mut ratios) = (Vec::new(), Vec::new());
    for rep in 1..=plan.repetitions {
        let reference = copy_out_rate(history, Some(workers), total).await?;
        let progress = Progress::with_total(
            &format!(
                "replay message-db (category pages of {MESSAGE_DB_PAGE}) on {workers} workers, repetition {rep}/{}",
                plan.repetitions
            ),
            total,
        );
        let counter = Arc::new(AtomicU64::new(0));
        let follow = progress.follow(counter.clone());
        let r = message_db_categories(&mdb, &upcasters, &schools, fold, workers, counter).await?;
        drop(follow);
        progress.done(r.events, r.elapsed.as_secs_f64());
        if r.events != total {
            note(format_args!("replay message-db: read {} messages back, the log holds {total}", r.events));
        }
        rates.push(r.events_per_s());
        ratios.push(r.events_per_s() / reference);
        outcome.digests.entry(r.digest.clone()).or_default().push(format!("message-db t{workers}"));
    }
    figures.insert("replay.message-db.events_per_s".into(), Figure::from_repetitions("events/s", rates));
    figures.insert("replay.message-db.per_copy_out".into(), Figure::from_repetitions("x", ratios));
    figures.insert("replay.message-db.workers".into(), Figure::from_repetitions("workers", vec![workers as f64]));
    mdb.truncate().await?;
    mdb.settle().await?;
    Ok(())
}

/// Copies the generated history into Message DB, emptied first; returns its schools, largest
/// first, as stroom's parallel replay orders them.
async fn load(
    mdb: &stroom_reference::append::message_db::MessageDb,
    scenario: &Scenario,
    days: u32,
    total: u64,
) -> Result<Vec<School>> {
    mdb.truncate().await?;
    let progress = Progress::with_total("replay message-db: copying the history into Message DB", total);
    let started = std::time::Instant::now();
    let mut generator = Generator::new(generator_config(scenario, 2));
    let course: Vec<StoredEvent> = generator.course_material().iter().map(|e| e.to_stored()).collect();
    mdb.copy_in(&course).await?;
    let mut copied = course.len() as u64;
    let mut sizes: BTreeMap<School, u64> = BTreeMap::new();
    for _ in 0..days {
        let day = generator.next_day();
        let events: Vec<StoredEvent> =
            day.schools.iter().flat_map(|(_, evs)| evs.iter().map(|e| e.to_stored())).collect();
        for (school, evs) in &day.schools {
            *sizes.entry(*school).or_default() += evs.len() as u64;
        }
        mdb.copy_in(&events).await?;
        copied += events.len() as u64;
        progress.set(copied);
    }
    mdb.settle().await?;
    progress.done(copied, started.elapsed().as_secs_f64());
    let mut schools: Vec<(School, u64)> = sizes.into_iter().collect();
    schools.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(schools.into_iter().map(|(s, _)| s).collect())
}
