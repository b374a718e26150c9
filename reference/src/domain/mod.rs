//! The domain: what students do, as events, and the aggregates commands are checked against.

mod event;
mod section_test;

pub use event::*;
pub use section_test::{AnswerQuestion, SectionTest};
