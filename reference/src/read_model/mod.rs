//! The read side: a mergeable in-memory read model, built as `events.fold(model, handle)`.

mod digest;
mod handlers;
mod merge;
mod model;

pub use handlers::{fold, handle, Envelope, Fold, Handlers, SESSION_TIMEOUT_US};
pub use model::{
    Account, AfterMistakes, Mastery, QuestionStats, QuizState, ReadModel, SectionInfo, SectionProgress, StudentView,
};
