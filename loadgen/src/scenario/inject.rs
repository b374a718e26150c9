//! The `[inject]` section, for tests only: faults a test puts into a real run to show that
//! the gate catches them. A result made with any of them says so in its report's verdict.
//!
//! * `per_school_slowdown = 0.3`: every per-school lane commit holds its lane 0.3/0.7 of its
//!   own time longer before it answers. A lane serves up to 30% less; group commit absorbs
//!   part of it (a held lane gathers bigger groups), so tests check what was measured.
//! * `errors = 1`: the first N arrivals of each open-loop window each come with one extra
//!   command on the same stream at a stale version, which the store rejects: N real failures.

use serde::Deserialize;
use toml::Spanned;

use super::{below, span, value, Problems};
use crate::error::Result;

/// Faults to inject; all off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Inject {
    /// Share of throughput the per-school commit path loses (0 to 0.9).
    pub per_school_slowdown: f64,
    /// Failing commands at the start of each open-loop window.
    pub errors: u64,
}

impl Inject {
    /// Whether anything is injected.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInject {
    per_school_slowdown: Option<Spanned<f64>>,
    errors: Option<Spanned<u64>>,
}

pub(super) fn inject(p: &Problems<'_>, r: &RawInject) -> Result<Inject> {
    let per_school_slowdown = value(&r.per_school_slowdown, 0.0);
    if below(per_school_slowdown, 0.0) || per_school_slowdown > 0.9 {
        return Err(p.at(span(&r.per_school_slowdown), "inject.per_school_slowdown", "give a share from 0 to 0.9"));
    }
    Ok(Inject { per_school_slowdown, errors: value(&r.errors, 0) })
}
