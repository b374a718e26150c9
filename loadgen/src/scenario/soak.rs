//! The `[soak]` section: one strategy's open-loop appends at a steady rate for many minutes,
//! with nothing settled inside the window, so checkpoints and autovacuum land where they
//! would in production.

use std::path::PathBuf;

use serde::Deserialize;
use stroom_reference::Strategy;
use toml::Spanned;

use super::{below, span, value, Problems};
use crate::error::Result;

/// The soak phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SoakPlan {
    /// The strategy appended through (default per-school).
    #[serde(serialize_with = "ser_strategy")]
    pub strategy: Strategy,
    /// Measured minutes.
    pub minutes: f64,
    /// Where the offered rate comes from.
    pub rate: SoakRate,
    /// Virtual users: each owns a share of the streams.
    pub users: usize,
    /// Seconds of warm-up before the window.
    pub warmup_s: f64,
}

/// The soak's offered rate.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SoakRate {
    /// A fixed rate in events/s.
    Fixed(f64),
    /// A share of the SLO rate the newest baseline result under `results` measured for the
    /// strategy (`append.<strategy>.slo_rate_events_per_s`).
    ShareOfBaseline {
        /// The share, e.g. 0.5.
        share: f64,
        /// A result directory to search (newest `*/result.json` first) or a result file.
        from: PathBuf,
    },
}

fn ser_strategy<S: serde::Serializer>(v: &Strategy, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(v.name())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSoak {
    strategy: Option<Spanned<String>>,
    minutes: Option<Spanned<f64>>,
    rate: Option<Spanned<f64>>,
    share_of_baseline_slo_rate: Option<Spanned<f64>>,
    baseline: Option<Spanned<String>>,
    users: Option<Spanned<usize>>,
    warmup_s: Option<Spanned<f64>>,
}

pub(super) fn soak_plan(p: &Problems<'_>, r: &RawSoak) -> Result<SoakPlan> {
    let strategy = match &r.strategy {
        None => Strategy::PerSchool,
        Some(s) => Strategy::parse(s.get_ref())
            .ok_or_else(|| p.at(Some(s.span()), "soak.strategy", format!("unknown strategy '{}'", s.get_ref())))
            .and_then(|st| match st.is_peer() {
                true => {
                    Err(p.at(Some(s.span()), "soak.strategy", format!("{} is measured in [append] only", st.name())))
                }
                false => Ok(st),
            })?,
    };
    let minutes = value(&r.minutes, 15.0);
    if below(minutes, 0.05) || minutes > 24.0 * 60.0 {
        return Err(p.at(span(&r.minutes), "soak.minutes", format!("{minutes} is not 0.05 to 1440 minutes")));
    }
    let rate = match (&r.rate, &r.share_of_baseline_slo_rate) {
        (Some(rate), None) if *rate.get_ref() > 0.0 => SoakRate::Fixed(*rate.get_ref()),
        (Some(rate), None) => return Err(p.at(Some(rate.span()), "soak.rate", "must be positive (events/s)")),
        (None, Some(share)) if *share.get_ref() > 0.0 && *share.get_ref() <= 1.0 => SoakRate::ShareOfBaseline {
            share: *share.get_ref(),
            from: PathBuf::from(value(&r.baseline, "results/baseline".to_string())),
        },
        (None, Some(share)) => {
            return Err(p.at(Some(share.span()), "soak.share_of_baseline_slo_rate", "give a share from 0 to 1"))
        }
        (Some(rate), Some(_)) => {
            return Err(p.at(Some(rate.span()), "soak.rate", "give `rate` or `share_of_baseline_slo_rate`, not both"))
        }
        (None, None) => return Err(p.at(None, "soak", "give `rate` (events/s) or `share_of_baseline_slo_rate`")),
    };
    let users = value(&r.users, 8192);
    if users == 0 {
        return Err(p.at(span(&r.users), "soak.users", "must be at least 1"));
    }
    let warmup_s = value(&r.warmup_s, 2.0);
    if below(warmup_s, 0.0) {
        return Err(p.at(span(&r.warmup_s), "soak.warmup_s", "must not be negative"));
    }
    Ok(SoakPlan { strategy, minutes, rate, users, warmup_s })
}
