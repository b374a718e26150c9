//! Scenario files: TOML parsed into raw structs, then validated once into a [`Scenario`].

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use stroom_cluster::Profile;
use stroom_reference::{Layout, PayloadType};
use toml::Spanned;

use crate::error::{Error, Result};

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
    /// Table layout.
    #[serde(serialize_with = "ser_display")]
    pub layout: Layout,
    /// Payload column type.
    #[serde(serialize_with = "ser_display")]
    pub payload: PayloadType,
    /// Number of schools.
    pub schools: u32,
    /// Events loaded before the measured phases.
    pub events: u64,
    /// The calibrate phase, if present.
    pub calibrate: Option<Calibrate>,
}

/// Same-run reference rates: raw COPY in and out of the loaded rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Calibrate {
    /// How many times each COPY is measured.
    pub repetitions: u32,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPopulation {
    schools: Spanned<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    events: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibrate {
    #[serde(default = "default_repetitions")]
    repetitions: Spanned<u32>,
}

fn default_seed() -> u64 {
    42
}

fn default_repetitions() -> Spanned<u32> {
    Spanned::new(0..0, 3)
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
        let fail = |span: Option<Range<usize>>, field: &str, reason: String| Error::Scenario {
            file: path.to_path_buf(),
            line: span.map(|s| line_of(text, s.start)).unwrap_or(0),
            field: field.to_string(),
            reason,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let field = e.message().split('`').nth(1).unwrap_or("(file)").to_string();
            fail(e.span(), &field, e.message().trim().to_string())
        })?;

        let name = raw.name.get_ref().clone();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(fail(
                Some(raw.name.span()),
                "name",
                format!("'{name}' must be non-empty letters, digits, - or _"),
            ));
        }
        let profile = match &raw.database.profile {
            None => Profile::Durable,
            Some(p) => p.get_ref().parse().map_err(|e| fail(Some(p.span()), "database.profile", e))?,
        };
        let layout = match &raw.store.layout {
            None => Layout::Partitioned,
            Some(l) => Layout::parse(l.get_ref()).ok_or_else(|| {
                fail(
                    Some(l.span()),
                    "store.layout",
                    format!("unknown layout '{}' (expected partitioned or single-log)", l.get_ref()),
                )
            })?,
        };
        let payload = match &raw.store.payload {
            None => PayloadType::Jsonb,
            Some(p) => PayloadType::parse(p.get_ref()).ok_or_else(|| {
                fail(
                    Some(p.span()),
                    "store.payload",
                    format!("unknown payload type '{}' (expected jsonb, json or bytea)", p.get_ref()),
                )
            })?,
        };
        let schools = *raw.population.schools.get_ref();
        if !(1..=100_000).contains(&schools) {
            return Err(fail(
                Some(raw.population.schools.span()),
                "population.schools",
                format!("{schools} is out of range 1..=100000"),
            ));
        }
        let events = *raw.load.events.get_ref();
        if events < u64::from(schools) {
            return Err(fail(
                Some(raw.load.events.span()),
                "load.events",
                format!("{events} events cannot cover {schools} schools"),
            ));
        }
        let calibrate = match raw.calibrate {
            None => None,
            Some(c) => {
                let repetitions = *c.repetitions.get_ref();
                if repetitions == 0 {
                    return Err(fail(Some(c.repetitions.span()), "calibrate.repetitions", "must be at least 1".into()));
                }
                Some(Calibrate { repetitions })
            }
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
            schools,
            events,
            calibrate,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name = \"t\"\n[population]\nschools = 3\n[load]\nevents = 100\n[calibrate]\n";

    fn err(text: &str) -> String {
        Scenario::parse(Path::new("s.toml"), text).unwrap_err().to_string()
    }

    #[test]
    fn a_minimal_file_gets_defaults() {
        let s = Scenario::parse(Path::new("s.toml"), GOOD).unwrap();
        assert_eq!(s.profile, Profile::Durable);
        assert_eq!(s.layout, Layout::Partitioned);
        assert_eq!(s.payload, PayloadType::Jsonb);
        assert_eq!(s.calibrate.unwrap().repetitions, 3);
    }

    #[test]
    fn a_bad_value_names_file_line_and_field() {
        let text = GOOD.replace("[load]", "[store]\nlayout = \"sharded\"\n[load]");
        assert_eq!(err(&text), "s.toml:5: store.layout: unknown layout 'sharded' (expected partitioned or single-log)");
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_line() {
        let text = GOOD.replace("schools = 3", "schools = 3\nstudnets = 10");
        let e = err(&text);
        assert!(e.starts_with("s.toml:4: studnets: unknown field `studnets`"), "{e}");
    }

    #[test]
    fn inconsistent_numbers_are_refused() {
        let text = GOOD.replace("events = 100", "events = 2");
        assert_eq!(err(&text), "s.toml:5: load.events: 2 events cannot cover 3 schools");
    }
}
