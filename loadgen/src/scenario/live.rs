//! The `[live]` section: part of a simulated school day replayed as commands on an
//! accelerated clock.

use serde::Deserialize;
use stroom_reference::Strategy;
use toml::Spanned;

use super::append::parse_strategies;
use super::{below, span, value, Problems};
use crate::error::Result;

/// Shortest live window, in wall seconds, that says anything about latency.
const MIN_LIVE_SECONDS: f64 = 5.0;
/// Longest live window, in wall seconds: a typo in `speedup` should not hold a machine for days.
const MAX_LIVE_SECONDS: f64 = 6.0 * 3600.0;

/// The live phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LivePlan {
    /// Simulated seconds per wall second.
    pub speedup: f64,
    /// Simulated hour of day 0 (a Monday) the window starts at; earlier events are loaded.
    pub start_hour: f64,
    /// Simulated hours replayed.
    pub hours: f64,
    /// Wall seconds at the start excluded from the figures.
    pub warmup_s: f64,
    /// Concurrent users: each owns a share of the streams and runs its commands in order.
    pub users: usize,
    /// Strategies the commands append through.
    #[serde(serialize_with = "super::append::ser_strategies")]
    pub strategies: Vec<Strategy>,
    /// A live projector folds the feed beside the commands and the phase reports its lag.
    pub project: bool,
    /// Seconds a transaction is held open in another database of the cluster during the
    /// window (0: none); with `project`, the lag it causes is reported on its own.
    pub stall_s: f64,
    /// Wall seconds into the window the stall starts at (default: a third of the way
    /// through the measured part).
    pub stall_at_s: f64,
}

impl LivePlan {
    /// Wall seconds the window takes.
    pub fn wall_seconds(&self) -> f64 {
        self.hours * 3600.0 / self.speedup
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLive {
    speedup: Option<Spanned<f64>>,
    start_hour: Option<Spanned<f64>>,
    hours: Option<Spanned<f64>>,
    warmup_s: Option<Spanned<f64>>,
    users: Option<Spanned<usize>>,
    strategies: Option<Spanned<Vec<String>>>,
    project: Option<Spanned<bool>>,
    stall_s: Option<Spanned<f64>>,
    stall_at_s: Option<Spanned<f64>>,
}

pub(super) fn live_plan(p: &Problems<'_>, l: &RawLive) -> Result<LivePlan> {
    let speedup = value(&l.speedup, 60.0);
    if below(speedup, f64::MIN_POSITIVE) {
        return Err(p.at(span(&l.speedup), "live.speedup", "must be positive (simulated seconds per second)"));
    }
    let start_hour = value(&l.start_hour, 8.0);
    if below(start_hour, 0.0) || start_hour >= 24.0 {
        return Err(p.at(span(&l.start_hour), "live.start_hour", format!("{start_hour} is not an hour of the day")));
    }
    let hours = value(&l.hours, 1.0);
    if below(hours, f64::MIN_POSITIVE) || start_hour + hours > 24.0 {
        return Err(p.at(span(&l.hours), "live.hours", format!("{hours} h from {start_hour}:00 leaves the day")));
    }
    let warmup_s = value(&l.warmup_s, 2.0);
    if below(warmup_s, 0.0) {
        return Err(p.at(span(&l.warmup_s), "live.warmup_s", "must not be negative"));
    }
    let users = value(&l.users, 1024);
    if users == 0 {
        return Err(p.at(span(&l.users), "live.users", "must be at least 1"));
    }
    let strategies = match &l.strategies {
        Some(s) => parse_strategies(p, s, "live.strategies")?,
        None => vec![Strategy::PerSchool],
    };
    if let (Some(s), Some(peer)) = (&l.strategies, strategies.iter().find(|s| s.is_peer())) {
        return Err(p.at(Some(s.span()), "live.strategies", format!("{} is measured in [append] only", peer.name())));
    }
    let project = value(&l.project, false);
    let stall_s = value(&l.stall_s, 0.0);
    if below(stall_s, 0.0) {
        return Err(p.at(span(&l.stall_s), "live.stall_s", "must not be negative"));
    }
    let wall = hours * 3600.0 / speedup;
    let stall_at_s = value(&l.stall_at_s, warmup_s + (wall - warmup_s) / 3.0);
    if stall_s > 0.0 && (below(stall_at_s, warmup_s) || stall_at_s + stall_s > wall) {
        let why = format!("a {stall_s} s stall at {stall_at_s} s does not fit between the {warmup_s} s warm-up and the window's end at {wall:.1} s");
        return Err(p.at(span(&l.stall_at_s).or(span(&l.stall_s)), "live.stall_at_s", why));
    }
    let plan = LivePlan { speedup, start_hour, hours, warmup_s, users, strategies, project, stall_s, stall_at_s };
    if wall - warmup_s < MIN_LIVE_SECONDS {
        return Err(p.at(
            span(&l.speedup),
            "live.speedup",
            format!(
                "{hours} h at x{speedup} lasts {wall:.1} s, {warmup_s} s of it warm-up: too short to measure (at least {MIN_LIVE_SECONDS} s after warm-up)"
            ),
        ));
    }
    if wall > MAX_LIVE_SECONDS {
        return Err(p.at(
            span(&l.speedup),
            "live.speedup",
            format!("{hours} h at x{speedup} would take {:.1} h of wall time; raise the speedup", wall / 3600.0),
        ));
    }
    Ok(plan)
}
