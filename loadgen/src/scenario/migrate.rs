//! The `[servers]` and `[migrate]` sections: schools placed across several PostgreSQL servers,
//! moved one by one with their writers running, then the 2017 single log rewritten into the
//! partitioned layout.

use serde::Deserialize;
use toml::Spanned;

use super::{below, span, value, Problems};
use crate::error::Result;

/// Where the servers come from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Servers {
    /// How many.
    pub count: usize,
    /// Their URLs, when the file gives them; otherwise the run's database is server 0 and
    /// the others are throwaway clusters started for the phase.
    #[serde(skip)]
    pub urls: Vec<String>,
}

/// The migrate phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigratePlan {
    /// Offered events per second, if given as a number.
    pub rate: Option<f64>,
    /// Otherwise this share of the per-school SLO rate the same run's `[append.slo_search]`
    /// found.
    pub slo_share: f64,
    /// Virtual users appending.
    pub users: usize,
    /// Seconds at the start of each window left out of its figures.
    pub warmup_s: f64,
    /// The window at the same rate with no move running: what the moves are compared with.
    pub quiet_s: f64,
    /// The window the moves run in.
    pub window_s: f64,
    /// Schools moved, one after another.
    pub moves: usize,
    /// Seconds between one move's end and the next one's start.
    pub pause_s: f64,
    /// Then rewrite a single log of the same history into the partitioned layout on the
    /// second server, with the same checks.
    pub transform: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServers {
    count: Option<Spanned<usize>>,
    urls: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMigrate {
    rate: Option<Spanned<f64>>,
    slo_share: Option<Spanned<f64>>,
    users: Option<Spanned<usize>>,
    warmup_s: Option<Spanned<f64>>,
    quiet_s: Option<Spanned<f64>>,
    window_s: Option<Spanned<f64>>,
    moves: Option<Spanned<usize>>,
    pause_s: Option<Spanned<f64>>,
    transform: Option<bool>,
}

pub(super) fn servers(p: &Problems<'_>, s: &RawServers) -> Result<Servers> {
    let urls = value(&s.urls, Vec::new());
    let count = value(&s.count, urls.len().max(1));
    if !urls.is_empty() && urls.len() != count {
        return Err(p.at(span(&s.count), "servers.count", format!("{count} servers, but {} URLs", urls.len())));
    }
    if count == 0 || count > 16 {
        return Err(p.at(span(&s.count), "servers.count", "must be 1 to 16"));
    }
    Ok(Servers { count, urls })
}

pub(super) fn migrate_plan(p: &Problems<'_>, m: &RawMigrate, servers: Option<&Servers>) -> Result<MigratePlan> {
    if servers.is_none_or(|s| s.count < 2) {
        return Err(p.at(span(&m.moves), "migrate", "moving schools needs [servers] with count = 2 or more"));
    }
    let rate = m.rate.as_ref().map(|r| *r.get_ref());
    if rate.is_some_and(|r| below(r, f64::MIN_POSITIVE)) {
        return Err(p.at(span(&m.rate), "migrate.rate", "must be positive (events per second)"));
    }
    let slo_share = value(&m.slo_share, 0.5);
    if below(slo_share, f64::MIN_POSITIVE) || slo_share > 1.0 {
        return Err(p.at(span(&m.slo_share), "migrate.slo_share", "must be above 0 and at most 1"));
    }
    let users = value(&m.users, 256);
    if users == 0 {
        return Err(p.at(span(&m.users), "migrate.users", "must be at least 1"));
    }
    let warmup_s = value(&m.warmup_s, 5.0);
    let quiet_s = value(&m.quiet_s, 30.0);
    let window_s = value(&m.window_s, 90.0);
    let pause_s = value(&m.pause_s, 1.0);
    for (v, field, at) in
        [(warmup_s, "migrate.warmup_s", span(&m.warmup_s)), (pause_s, "migrate.pause_s", span(&m.pause_s))]
    {
        if below(v, 0.0) {
            return Err(p.at(at, field, "must not be negative"));
        }
    }
    for (v, field, at) in
        [(quiet_s, "migrate.quiet_s", span(&m.quiet_s)), (window_s, "migrate.window_s", span(&m.window_s))]
    {
        if below(v, 1.0) {
            return Err(p.at(at, field, "must be at least 1 s"));
        }
    }
    let moves = value(&m.moves, 25);
    Ok(MigratePlan {
        rate,
        slo_share,
        users,
        warmup_s,
        quiet_s,
        window_s,
        moves,
        pause_s,
        transform: m.transform.unwrap_or(true),
    })
}
