//! The phases a scenario runs, in order: load, calibrate, append, live, soak, replay.

pub mod append;
mod append_slo;
pub mod calibrate;
mod closed_loop;
mod commit_reference;
pub(crate) mod cpu_reference;
pub mod faults;
pub mod feed;
pub mod live;
pub mod migrate;
mod open_loop;
mod peer;
mod pgbench;
pub use peer::fetch as fetch_peer;
pub mod replay;
pub mod replay_cold;
mod replay_peer;
mod replay_rill;
pub mod replay_standby;
mod schedule;
mod settle;
mod slo_search;
pub mod soak;
mod stall;
pub mod steps;
mod ticker;

pub use settle::settle;

use crate::generator::{Generator, GeneratorConfig};
use crate::scenario::Scenario;

/// The generator settings a scenario implies, on `threads` threads.
pub fn generator_config(scenario: &Scenario, threads: usize) -> GeneratorConfig {
    GeneratorConfig {
        seed: scenario.seed,
        schools: scenario.population.schools,
        students: scenario.population.students,
        events_per_school_day: scenario.population.events_per_school_day,
        enrolment_per_year: scenario.population.enrolment_per_year,
        threads,
        ..GeneratorConfig::default()
    }
}

/// Every school id the scenario's stores hold, the global partition (0) first.
pub fn all_schools(scenario: &Scenario) -> Vec<i32> {
    let mut v = vec![stroom_reference::GLOBAL_SCHOOL];
    v.extend(Generator::new(generator_config(scenario, 1)).schools());
    v
}
