//! Scenarios, measurement and reports: what `stroom run` does with the reference
//! implementation.
#![deny(missing_docs)]

mod analysis;
mod environment;
mod error;
mod figures;
mod generate;
pub mod generator;
pub mod live;
mod load;
pub mod measure;
mod namespace;
mod output;
mod phase;
mod progress;
mod reuse;
mod run;
mod scenario;
mod slowdown;

pub use analysis::ab;
pub use analysis::compare::{compare, compare_with_steal_limit, confirm, Comparison, Judgement, Row, MAX_BAND};
pub use analysis::merge::merge;
pub use analysis::plan::{fill_from, plan, plan_for, Machine, Onboarding, Plan, Question};
pub use analysis::threshold::{Threshold, Verdict};
pub use analysis::usl::Usl;
pub use environment::{git_commit, Environment};
pub use error::{Error, Result};
pub use figures::{Figure, Figures};
pub use generate::{generate, GenerateRequest, Generated, Until};
pub use load::{backfill, Loaded};
pub use measure::latency::{Recorded, Sample};
pub use namespace::fresh_store;
pub use output::gate_section::put as put_gate_section;
pub use output::result_file::{check_writable, write_run_dir, RunResult, RESULT_VERSION};
pub use phase::faults::{writer_main as faults_writer, WriterArgs as FaultsWriterArgs};
pub use phase::settle;
pub use phase::steps::{step_names, Per, Sliced, StepOutcome, Stepper, SLICED};
pub use progress::note;
pub use run::{run, Outcome};
pub use scenario::{AppendPlan, Arrival, Calibrate, Inject, Population, ReplayPlan, Scenario, SLOWDOWN_VAR};
pub use slowdown::install as install_slowdowns;

/// Re-rendered reports of a result, for `stroom report`.
pub mod report {
    pub use crate::output::ab_report::{headline as ab_headline, html as ab_html, markdown as ab_markdown};
    pub use crate::output::compare_html::render as compare_html;
    pub use crate::output::report_html::render as html;
    pub use crate::output::report_md::render as markdown;
    pub use crate::output::rerender::rerender;
    pub use crate::output::write_whole::write_whole;
}
