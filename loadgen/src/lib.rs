//! Scenarios, measurement and reports: what `stroom run` does with the reference
//! implementation.
#![deny(missing_docs)]

mod calibrate;
mod environment;
mod error;
mod figures;
mod generate;
pub mod generator;
mod load;
mod progress;
mod report_md;
mod result_file;
mod run;
mod scenario;
mod synthetic;

pub use environment::Environment;
pub use error::{Error, Result};
pub use figures::{Figure, Figures};
pub use generate::{generate, GenerateRequest, Generated, Until};
pub use load::{backfill, Loaded};
pub use progress::note;
pub use result_file::{RunResult, RESULT_VERSION};
pub use run::{run, Outcome};
pub use scenario::{Calibrate, Scenario};
