//! Scenario files: TOML parsed into raw structs, then validated once into a [`Scenario`].
//! A malformed or inconsistent file fails before anything runs, naming file, line and field.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use stroom_cluster::Profile;
use stroom_reference::read_model::Handlers;
use stroom_reference::{Layout, PayloadType, Schema, Strategy};
use toml::Spanned;

use crate::analysis::threshold::Threshold;
use crate::error::{Error, Result};

mod append;
mod faults;
mod inject;
mod live;
mod migrate;
mod soak;

use append::{append_plan, RawAppend};
pub use append::{AppendPlan, Arrival, Arrivals, SloSearch};
use faults::{faults_plan, RawFaults};
pub use faults::{Fault, FaultsPlan};
use inject::{inject, RawInject};
pub use inject::{Inject, SLOWDOWN_VAR};
pub use live::LivePlan;
use live::{live_plan, RawLive};
use migrate::{migrate_plan, servers, RawMigrate, RawServers};
pub use migrate::{MigratePlan, Servers};
use soak::{soak_plan, RawSoak};
pub use soak::{SoakPlan, SoakRate};

/// A validated scenario: what the phases consume. Nothing re-reads the file after this.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scenario {
    /// Short name; results go to `results/<name>/`.
    pub name: String,
    /// One line on what it measures.
    pub description: String,
    /// Seed for every random choice.
    pub seed: u64,
    /// Where it came from.
    pub file: PathBuf,
    /// The server URL the file names, if any (`--database-url` and `DATABASE_URL` win).
    #[serde(skip)]
    pub database_url: Option<String>,
    /// Settings profile of a started server.
    #[serde(serialize_with = "ser_profile")]
    pub profile: Profile,
    /// Table layout of the loaded history.
    #[serde(serialize_with = "ser_display")]
    pub layout: Layout,
    /// Payload column type.
    #[serde(serialize_with = "ser_display")]
    pub payload: PayloadType,
    /// Hash buckets of the partitioned layout; 0 for one LIST partition per school.
    pub hash_partitions: u32,
    /// Population and generator settings.
    pub population: Population,
    /// The load phase.
    pub load: Load,
    /// The calibrate phase.
    pub calibrate: Option<Calibrate>,
    /// The append phase.
    pub append: Option<AppendPlan>,
    /// The live phase.
    pub live: Option<LivePlan>,
    /// The faults phase (needs the throwaway cluster).
    pub faults: Option<FaultsPlan>,
    /// The soak phase.
    pub soak: Option<SoakPlan>,
    /// The replay phase.
    pub replay: Option<ReplayPlan>,
    /// The servers schools are placed across (the migrate phase).
    pub servers: Option<Servers>,
    /// The migrate phase.
    pub migrate: Option<MigratePlan>,
    /// Pass/fail checks over the figures.
    pub thresholds: Vec<Threshold>,
    /// Service-level objective for p99 acknowledgement latency, used by the capacity plan.
    pub slo_p99_ms: f64,
    /// Faults injected by tests ([`Inject`]); none in a real run.
    #[serde(skip_serializing_if = "is_default")]
    pub inject: Inject,
}

fn is_default(i: &Inject) -> bool {
    !i.any()
}

/// Who generates events.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Population {
    /// Schools.
    pub schools: u32,
    /// Students across schools.
    pub students: u32,
    /// Target events per school day across schools.
    pub events_per_school_day: f64,
    /// New students a year, as a share of each school's founding size.
    pub enrolment_per_year: f64,
}

/// How much history to load before measuring.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Load {
    /// At least this many events (whole days), if set.
    pub events: Option<u64>,
    /// This many simulated days, if set.
    pub days: Option<u32>,
    /// Keep the loaded history and use it again when a later run of the same population,
    /// seed, size and store finds it (on a kept cluster: `--db-dir`, or `--database-url`).
    pub reuse: bool,
}

/// Same-run reference rates: raw COPY in and out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Calibrate {
    /// How many times each COPY is measured.
    pub repetitions: u32,
    /// Rows copied in per repetition: the first rows the append steps write, in their order.
    pub rows: u64,
    /// Parallel connections to sweep for COPY in and out (default 1, the cores, twice the
    /// cores); the best is the reference.
    pub connections: Vec<usize>,
}

/// The replay phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayPlan {
    /// `sequential`, `parallel`, `memory`, `cold` (parallel on the most workers, after a
    /// restart that empties the caches; needs a server stroom started).
    pub modes: Vec<String>,
    /// Worker counts for the parallel modes.
    pub threads: Vec<usize>,
    /// Repetitions of each measurement.
    pub repetitions: u32,
    /// Handler set.
    #[serde(serialize_with = "ser_handlers")]
    pub handlers: Handlers,
    /// Extra busy work per event in nanoseconds: a knob to show the regression gate failing.
    pub extra_ns_per_event: u64,
    /// With `from = "standby"`: also rebuild from a hot standby of the run's cluster while the
    /// primary takes appends, against rebuilding on the primary and not rebuilding.
    pub standby: Option<StandbyPlan>,
}

/// The standby part of the replay phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StandbyPlan {
    /// Per-school appends offered to the primary in each window, events per second.
    pub rate: f64,
    /// Measured seconds of each window (none, on the primary, on the standby).
    pub window_s: f64,
    /// Virtual users appending.
    pub users: usize,
}

/// Above this many schools the partitioned layout hashes schools into buckets by default.
pub const HASH_ABOVE_SCHOOLS: u32 = 500;

impl Scenario {
    /// The schema of the loaded history.
    pub fn schema(&self) -> Schema {
        Schema::new(self.layout, self.payload).with_hash_partitions(self.hash_partitions)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    store: RawStore,
    population: RawPopulation,
    load: RawLoad,
    calibrate: Option<RawCalibrate>,
    append: Option<RawAppend>,
    live: Option<RawLive>,
    soak: Option<RawSoak>,
    replay: Option<RawReplay>,
    faults: Option<RawFaults>,
    servers: Option<RawServers>,
    migrate: Option<RawMigrate>,
    #[serde(default)]
    thresholds: Vec<Spanned<String>>,
    #[serde(default)]
    slo: Option<RawSlo>,
    inject: Option<RawInject>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<String>,
    profile: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    layout: Option<Spanned<String>>,
    payload: Option<Spanned<String>>,
    hash_partitions: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPopulation {
    schools: Spanned<u32>,
    students: Option<Spanned<u32>>,
    events_per_school_day: Option<Spanned<f64>>,
    enrolment_per_year: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    events: Option<Spanned<u64>>,
    days: Option<Spanned<u32>>,
    reuse: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibrate {
    repetitions: Option<Spanned<u32>>,
    rows: Option<Spanned<u64>>,
    connections: Option<Spanned<Vec<usize>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplay {
    modes: Option<Spanned<Vec<String>>>,
    threads: Option<Spanned<Vec<usize>>>,
    repetitions: Option<Spanned<u32>>,
    handlers: Option<Spanned<String>>,
    extra_ns_per_event: Option<u64>,
    from: Option<Spanned<String>>,
    standby_rate: Option<Spanned<f64>>,
    standby_window_s: Option<Spanned<f64>>,
    standby_users: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlo {
    p99_ms: Spanned<f64>,
}

fn default_seed() -> u64 {
    42
}

/// Builds errors that point into the file.
pub(crate) struct Problems<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Problems<'_> {
    pub(crate) fn at(&self, span: Option<Range<usize>>, field: &str, reason: impl Into<String>) -> Error {
        Error::Scenario {
            file: self.path.to_path_buf(),
            line: span.map(|s| line_of(self.text, s.start)).unwrap_or(0),
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

pub(crate) fn value<T: Clone>(v: &Option<Spanned<T>>, default: T) -> T {
    v.as_ref().map(|s| s.get_ref().clone()).unwrap_or(default)
}

pub(crate) fn span<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
    v.as_ref().map(Spanned::span)
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::ReadScenario { file: path.to_path_buf(), source })?;
        Self::parse(path, &text)
    }

    /// Validates scenario text; `path` is only used in messages and results.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let p = Problems { path, text };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let field = e.message().split('`').nth(1).unwrap_or("(file)").to_string();
            p.at(e.span(), &field, e.message().trim().to_string())
        })?;

        let name = raw.name.get_ref().clone();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(p.at(
                Some(raw.name.span()),
                "name",
                format!("'{name}' must be non-empty letters, digits, - or _"),
            ));
        }
        let profile = match &raw.database.profile {
            None => Profile::Durable,
            Some(v) => v.get_ref().parse().map_err(|e: String| p.at(Some(v.span()), "database.profile", e))?,
        };
        let layout = match &raw.store.layout {
            None => Layout::Partitioned,
            Some(l) => Layout::parse(l.get_ref()).ok_or_else(|| {
                p.at(
                    Some(l.span()),
                    "store.layout",
                    format!("unknown layout '{}' (expected partitioned or single-log)", l.get_ref()),
                )
            })?,
        };
        let payload = match &raw.store.payload {
            None => PayloadType::Jsonb,
            Some(v) => PayloadType::parse(v.get_ref()).ok_or_else(|| {
                p.at(
                    Some(v.span()),
                    "store.payload",
                    format!("unknown payload type '{}' (expected jsonb, json or bytea)", v.get_ref()),
                )
            })?,
        };

        let schools = *raw.population.schools.get_ref();
        if !(1..=100_000).contains(&schools) {
            return Err(p.at(
                Some(raw.population.schools.span()),
                "population.schools",
                format!("{schools} is out of range 1..=100000"),
            ));
        }
        let students = value(&raw.population.students, schools * 400);
        if students < schools {
            return Err(p.at(
                span(&raw.population.students),
                "population.students",
                format!("{students} students cannot fill {schools} schools"),
            ));
        }
        let events_per_school_day = value(&raw.population.events_per_school_day, f64::from(students) * 12.0);
        if events_per_school_day.is_nan() || events_per_school_day <= 0.0 {
            return Err(p.at(
                span(&raw.population.events_per_school_day),
                "population.events_per_school_day",
                "must be positive",
            ));
        }
        let enrolment_per_year = value(&raw.population.enrolment_per_year, 0.15);
        if below(enrolment_per_year, 0.0) || enrolment_per_year > 10.0 {
            return Err(p.at(
                span(&raw.population.enrolment_per_year),
                "population.enrolment_per_year",
                format!("{enrolment_per_year} is out of range 0..=10 (a share of the founding students per year)"),
            ));
        }
        let population = Population { schools, students, events_per_school_day, enrolment_per_year };
        // One partition per school, until there are so many schools that hashing into
        // buckets keeps the table count sane.
        let hash_partitions = value(&raw.store.hash_partitions, if schools > HASH_ABOVE_SCHOOLS { 64 } else { 0 });

        let load = Load {
            events: raw.load.events.as_ref().map(|v| *v.get_ref()),
            days: raw.load.days.as_ref().map(|v| *v.get_ref()),
            reuse: raw.load.reuse.unwrap_or(false),
        };
        if load.events.is_none() && load.days.is_none() {
            return Err(p.at(None, "load", "give `events` or `days`"));
        }
        if load.events.is_some() && load.days.is_some() {
            return Err(p.at(span(&raw.load.days), "load.days", "give `events` or `days`, not both"));
        }

        let calibrate = match &raw.calibrate {
            None => None,
            Some(c) => {
                let repetitions = value(&c.repetitions, 3);
                if repetitions == 0 {
                    return Err(p.at(span(&c.repetitions), "calibrate.repetitions", "must be at least 1"));
                }
                let rows = value(&c.rows, 200_000);
                if rows < 1_000 {
                    return Err(p.at(
                        span(&c.rows),
                        "calibrate.rows",
                        format!("{rows} rows are too few to time (at least 1000)"),
                    ));
                }
                let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
                let mut connections = value(&c.connections, vec![1, cores, 2 * cores]);
                if connections.is_empty() || connections.contains(&0) {
                    return Err(p.at(
                        span(&c.connections),
                        "calibrate.connections",
                        "give one or more connection counts, each at least 1",
                    ));
                }
                connections.sort_unstable();
                connections.dedup();
                Some(Calibrate { repetitions, rows, connections })
            }
        };

        let append = match &raw.append {
            None => None,
            Some(a) => Some(append_plan(&p, a)?),
        };
        let soak = match &raw.soak {
            None => None,
            Some(s) => Some(soak_plan(&p, s)?),
        };
        let live = match &raw.live {
            None => None,
            Some(l) => Some(live_plan(&p, l)?),
        };
        let replay = match &raw.replay {
            None => None,
            Some(r) => Some(replay_plan(&p, r)?),
        };
        let faults = match &raw.faults {
            None => None,
            Some(f) => Some(faults_plan(&p, f)?),
        };
        let servers = match &raw.servers {
            None => None,
            Some(s) => Some(servers(&p, s)?),
        };
        let migrate = match &raw.migrate {
            None => None,
            Some(m) => Some(migrate_plan(&p, m, servers.as_ref())?),
        };
        let searched = append
            .as_ref()
            .and_then(|a| a.slo_search.as_ref())
            .is_some_and(|s| s.strategies.contains(&Strategy::PerSchool));
        if migrate.as_ref().is_some_and(|m| m.rate.is_none()) && !searched {
            return Err(p.at(
                None,
                "migrate.rate",
                "give a rate, or search the per-school SLO rate in the same run ([append.slo_search]) for slo_share to take a share of",
            ));
        }

        let thresholds = raw
            .thresholds
            .iter()
            .map(|t| Threshold::parse(t.get_ref()).map_err(|e| p.at(Some(t.span()), "thresholds", e)))
            .collect::<Result<Vec<_>>>()?;
        let inject = match &raw.inject {
            None => Inject::default(),
            Some(i) => inject(&p, i)?,
        };
        let slo_p99_ms = match &raw.slo {
            Some(s) if *s.p99_ms.get_ref() > 0.0 => *s.p99_ms.get_ref(),
            Some(s) => return Err(p.at(Some(s.p99_ms.span()), "slo.p99_ms", "must be positive")),
            None => 50.0,
        };

        Ok(Self {
            name,
            description: raw.description,
            seed: raw.seed,
            file: path.to_path_buf(),
            database_url: raw.database.url,
            profile,
            layout,
            payload,
            hash_partitions,
            population,
            load,
            calibrate,
            append,
            live,
            soak,
            replay,
            faults,
            servers,
            migrate,
            thresholds,
            slo_p99_ms,
            inject,
        })
    }
}

fn replay_plan(p: &Problems<'_>, r: &RawReplay) -> Result<ReplayPlan> {
    let modes = value(&r.modes, vec!["sequential".into(), "parallel".into(), "memory".into()]);
    for m in &modes {
        if !["rill", "sequential", "parallel", "message-db", "memory", "cold"].contains(&m.as_str()) {
            return Err(p.at(
                span(&r.modes),
                "replay.modes",
                format!("unknown mode '{m}' (expected rill, sequential, parallel, message-db, memory or cold)"),
            ));
        }
    }
    let threads = value(&r.threads, vec![1, 2, 4]);
    if threads.is_empty() || threads.contains(&0) {
        return Err(p.at(span(&r.threads), "replay.threads", "give one or more thread counts, each at least 1"));
    }
    let repetitions = value(&r.repetitions, 3);
    if repetitions == 0 {
        return Err(p.at(span(&r.repetitions), "replay.repetitions", "must be at least 1"));
    }
    let handlers = match &r.handlers {
        None => Handlers::V2,
        Some(h) => Handlers::parse(h.get_ref()).ok_or_else(|| {
            p.at(
                Some(h.span()),
                "replay.handlers",
                format!("unknown handler set '{}' (expected v1 or v2)", h.get_ref()),
            )
        })?,
    };
    let standby = match r.from.as_ref().map(|f| f.get_ref().as_str()) {
        None | Some("primary") => None,
        Some("standby") => {
            let rate = value(&r.standby_rate, 1000.0);
            if below(rate, f64::MIN_POSITIVE) {
                return Err(p.at(span(&r.standby_rate), "replay.standby_rate", "must be positive (events per second)"));
            }
            let window_s = value(&r.standby_window_s, 20.0);
            if below(window_s, 1.0) {
                return Err(p.at(span(&r.standby_window_s), "replay.standby_window_s", "must be at least 1 s"));
            }
            let users = value(&r.standby_users, 256);
            if users == 0 {
                return Err(p.at(span(&r.standby_users), "replay.standby_users", "must be at least 1"));
            }
            Some(StandbyPlan { rate, window_s, users })
        }
        Some(other) => {
            return Err(p.at(
                span(&r.from),
                "replay.from",
                format!("unknown source '{other}' (expected primary or standby)"),
            ))
        }
    };
    Ok(ReplayPlan {
        modes,
        threads,
        repetitions,
        handlers,
        extra_ns_per_event: r.extra_ns_per_event.unwrap_or(0),
        standby,
    })
}

/// `v < min`, with NaN counting as below.
pub(crate) fn below(v: f64, min: f64) -> bool {
    v.is_nan() || v < min
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

fn ser_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_profile<S: serde::Serializer>(p: &Profile, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.name())
}

fn ser_handlers<S: serde::Serializer>(h: &Handlers, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(h.name())
}

#[cfg(test)]
mod tests;
