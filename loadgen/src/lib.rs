//! Scenarios, measurement and reports: what `stroom run` does with the reference
//! implementation.
#![deny(missing_docs)]

mod compare;
mod environment;
mod error;
mod figures;
mod generate;
pub mod generator;
mod latency;
pub mod live;
mod load;
pub mod measure;
mod namespace;
mod phase;
mod plan;
mod progress;
mod report_html;
mod report_md;
mod result_file;
mod run;
mod scenario;
mod svg;
mod threshold;
mod usl;

pub use compare::{compare, Comparison, Row};
pub use environment::Environment;
pub use error::{Error, Result};
pub use figures::{Figure, Figures};
pub use generate::{generate, GenerateRequest, Generated, Until};
pub use latency::{Recorded, Sample};
pub use load::{backfill, Loaded};
pub use namespace::fresh_store;
pub use phase::settle;
pub use plan::{plan, Plan};
pub use progress::note;
pub use result_file::{check_writable, write_run_dir, RunResult, RESULT_VERSION};
pub use run::{run, Outcome};
pub use scenario::{AppendPlan, Arrival, Calibrate, Population, ReplayPlan, Scenario};
pub use threshold::{Threshold, Verdict};
pub use usl::Usl;

/// Re-rendered reports of a result, for `stroom report`.
pub mod report {
    pub use crate::report_html::render as html;
    pub use crate::report_md::render as markdown;
}
