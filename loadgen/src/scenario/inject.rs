//! The `[inject]` section, for tests only: faults a test puts into a real run to show that
//! the gate catches them. A result made with any of them says so in its report's verdict.
//!
//! * `per_school_slowdown = 0.3`: every per-school lane commit holds its lane 0.3/0.7 of its
//!   own time longer before it answers. A lane serves up to 30% less; group commit absorbs
//!   part of it (a held lane gathers bigger groups), so tests check what was measured.
//! * `fold_slowdown = 0.1`: every event the fold applies gets a busy loop calibrated at the
//!   start of the run to 0.1/0.9 of the plain fold's time per event, so the fold's rate falls
//!   to 0.9 of what it was (every fold: replays, the projector and the CPU reference alike).
//! * `poll_slowdown = 0.1`: every projector poll that reads the feed holds 0.1/0.9 of its own
//!   time longer before folding what it read.
//! * `errors = 1`: the first N arrivals of each open-loop window each come with one extra
//!   command on the same stream at a stale version, which the store rejects: N real failures.
//!
//! The slowdowns can also come from the environment, for a paired A/B run of one build
//! against itself slowed (`stroom ab --head-env`): `STROOM_SLOWDOWN=lane-commit=0.1`,
//! `fold=0.1`, `poll=0.1`, comma-separated; it overrides the file's values.

use serde::Deserialize;
use toml::Spanned;

use super::{below, span, value, Problems};
use crate::error::Result;

/// Faults to inject; all off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Inject {
    /// Share of throughput the per-school commit path loses (0 to 0.9).
    pub per_school_slowdown: f64,
    /// Share of its rate the fold loses (0 to 0.9).
    pub fold_slowdown: f64,
    /// Share of its rate the projector's poll loses (0 to 0.9).
    pub poll_slowdown: f64,
    /// Failing commands at the start of each open-loop window.
    pub errors: u64,
}

/// The environment variable that sets the slowdowns.
pub const SLOWDOWN_VAR: &str = "STROOM_SLOWDOWN";

impl Inject {
    /// These faults with the slowdowns `spec` names (`lane-commit=0.1,fold=0.1,poll=0.1`, any
    /// of them) in place of the file's; the error says which part is wrong.
    pub fn with_slowdowns(mut self, spec: &str) -> std::result::Result<Self, String> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (path, share) = part.split_once('=').ok_or_else(|| format!("{part:?} is not PATH=SHARE"))?;
            let share: f64 = share.trim().parse().map_err(|_| format!("{part:?}: {share:?} is not a number"))?;
            if !(0.0..=0.9).contains(&share) {
                return Err(format!("{part:?}: give a share from 0 to 0.9"));
            }
            match path.trim() {
                "lane-commit" => self.per_school_slowdown = share,
                "fold" => self.fold_slowdown = share,
                "poll" => self.poll_slowdown = share,
                other => return Err(format!("{other:?} is not a path it slows (lane-commit, fold, poll)")),
            }
        }
        Ok(self)
    }
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
    fold_slowdown: Option<Spanned<f64>>,
    poll_slowdown: Option<Spanned<f64>>,
    errors: Option<Spanned<u64>>,
}

pub(super) fn inject(p: &Problems<'_>, r: &RawInject) -> Result<Inject> {
    let share = |field: &Option<Spanned<f64>>, name: &str| {
        let v = value(field, 0.0);
        if below(v, 0.0) || v > 0.9 {
            return Err(p.at(span(field), name, "give a share from 0 to 0.9"));
        }
        Ok(v)
    };
    Ok(Inject {
        per_school_slowdown: share(&r.per_school_slowdown, "inject.per_school_slowdown")?,
        fold_slowdown: share(&r.fold_slowdown, "inject.fold_slowdown")?,
        poll_slowdown: share(&r.poll_slowdown, "inject.poll_slowdown")?,
        errors: value(&r.errors, 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_each_path_it_slows() {
        let i = Inject::default().with_slowdowns("lane-commit=0.1, fold=0.2,poll=0.05").expect("valid");
        assert_eq!((i.per_school_slowdown, i.fold_slowdown, i.poll_slowdown), (0.1, 0.2, 0.05));
        assert!(Inject::default().with_slowdowns("").expect("empty is none").eq(&Inject::default()));
        assert!(Inject::default().with_slowdowns("fold").unwrap_err().contains("PATH=SHARE"));
        assert!(Inject::default().with_slowdowns("fold=x").unwrap_err().contains("not a number"));
        assert!(Inject::default().with_slowdowns("fold=0.95").unwrap_err().contains("0 to 0.9"));
        assert!(Inject::default().with_slowdowns("disk=0.1").unwrap_err().contains("lane-commit, fold, poll"));
    }
}
