//! The domain: what students do, as events, and the aggregates commands are checked against.

mod event;
mod example;
mod section_test;

pub use event::*;
pub use example::example_student;
pub use section_test::{AnswerQuestion, SectionTest};
