//! What a run's figures mean: the scaling fit, the capacity plan, thresholds and the
//! comparison with a baseline; and the read model's analytics over a generated sample.

pub mod ab;
pub(crate) mod compare;
pub(crate) mod merge;
pub(crate) mod plan;
pub(crate) mod sample;
pub(crate) mod threshold;
pub(crate) mod usl;
