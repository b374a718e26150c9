//! The `[faults]` section: per-school appends at a steady rate while stroom injects faults in
//! turn, then checks in SQL that every acknowledged event is stored exactly once.

use serde::Deserialize;
use toml::Spanned;

use super::{below, span, value, Problems};
use crate::error::Result;

/// One fault the phase can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// SIGKILL of the postmaster and every backend, then a restart: crash recovery.
    PostmasterKill,
    /// `pg_terminate_backend` of a random half of the store's connections.
    BackendTerminate,
    /// An `ACCESS EXCLUSIVE` lock on the head rows' table, held for `stall_s`.
    LockStall,
    /// SIGKILL of the appending child process, and a new one that takes its leases over.
    ProcessRestart,
    /// The WAL moved onto a small tmpfs, filled until the server panics, the filesystem grown
    /// and the server restarted: crash recovery after a full disk. Needs root; last in the list,
    /// since the WAL stays in memory until the phase ends.
    DiskFull,
}

impl Fault {
    /// Every fault, in the default order.
    pub const ALL: [Fault; 5] =
        [Self::BackendTerminate, Self::LockStall, Self::ProcessRestart, Self::PostmasterKill, Self::DiskFull];

    /// The name scenarios and figures use.
    pub fn name(self) -> &'static str {
        match self {
            Self::PostmasterKill => "postmaster-kill",
            Self::BackendTerminate => "backend-terminate",
            Self::LockStall => "lock-stall",
            Self::ProcessRestart => "process-restart",
            Self::DiskFull => "disk-full",
        }
    }

    /// Whether the server restarts, after which `pg_amcheck` checks the store.
    pub fn crashes(self) -> bool {
        matches!(self, Self::PostmasterKill | Self::DiskFull)
    }
}

/// The faults phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FaultsPlan {
    /// The faults, in the order injected.
    pub faults: Vec<Fault>,
    /// Offered events per second, one event per append.
    pub rate: f64,
    /// Virtual users, each appending to streams of its own in one school.
    pub users: usize,
    /// Seconds of steady appends before the first fault and after each.
    pub steady_s: f64,
    /// How long the lock stall holds its lock.
    pub stall_s: f64,
    /// The writers' timeout for any one statement or commit, in seconds.
    pub timeout_s: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFaults {
    faults: Option<Spanned<Vec<String>>>,
    rate: Option<Spanned<f64>>,
    users: Option<Spanned<usize>>,
    steady_s: Option<Spanned<f64>>,
    stall_s: Option<Spanned<f64>>,
    timeout_s: Option<Spanned<f64>>,
}

pub(super) fn faults_plan(p: &Problems<'_>, r: &RawFaults) -> Result<FaultsPlan> {
    let faults = match &r.faults {
        None => Fault::ALL.to_vec(),
        Some(names) => names
            .get_ref()
            .iter()
            .map(|n| {
                Fault::ALL.into_iter().find(|f| f.name() == n).ok_or_else(|| {
                    let known: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                    p.at(
                        Some(names.span()),
                        "faults.faults",
                        format!("unknown fault '{n}' (known: {})", known.join(", ")),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?,
    };
    if faults.is_empty() {
        return Err(p.at(span(&r.faults), "faults.faults", "name at least one fault"));
    }
    if faults.iter().position(|f| *f == Fault::DiskFull).is_some_and(|i| i + 1 != faults.len()) {
        return Err(p.at(
            span(&r.faults),
            "faults.faults",
            "disk-full must come last: the WAL stays on its small in-memory filesystem until the phase ends",
        ));
    }
    let rate = value(&r.rate, 500.0);
    if below(rate, 1.0) {
        return Err(p.at(span(&r.rate), "faults.rate", "must be at least 1 event/s"));
    }
    let users = value(&r.users, 64);
    if users == 0 {
        return Err(p.at(span(&r.users), "faults.users", "must be at least 1"));
    }
    let steady_s = value(&r.steady_s, 10.0);
    if below(steady_s, 1.0) {
        return Err(p.at(span(&r.steady_s), "faults.steady_s", "must be at least 1 s"));
    }
    let stall_s = value(&r.stall_s, 5.0);
    if below(stall_s, 0.1) {
        return Err(p.at(span(&r.stall_s), "faults.stall_s", "must be at least 0.1 s"));
    }
    let timeout_s = value(&r.timeout_s, 10.0);
    if below(timeout_s, 0.5) {
        return Err(p.at(span(&r.timeout_s), "faults.timeout_s", "must be at least 0.5 s"));
    }
    Ok(FaultsPlan { faults, rate, users, steady_s, stall_s, timeout_s })
}
