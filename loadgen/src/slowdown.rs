//! Puts a scenario's injected fold and poll slowdowns (`[inject]`, or `STROOM_SLOWDOWN`) in
//! place for the run: the poll's share as it is, the fold's as a busy loop per event
//! calibrated against the plain fold on this core, so the fold's rate falls by the share
//! asked. A testing aid for the gate's power; a run with any of it says so in its report.

use std::time::Instant;

use stroom_reference::slowdown;

use crate::error::Result;
use crate::phase::cpu_reference;
use crate::progress::note;
use crate::scenario::Inject;

/// Installs `inject`'s fold and poll slowdowns (or takes them away); returns one line per
/// slowdown put in place, for the result's notes.
pub fn install(inject: &Inject) -> Result<Vec<String>> {
    let mut said = Vec::new();
    slowdown::set_poll_share(inject.poll_slowdown);
    if inject.poll_slowdown > 0.0 {
        said.push(format!("testing aid: every projector poll held {:.0}% longer", hold_pct(inject.poll_slowdown)));
    }
    slowdown::set_fold_spins(0);
    if inject.fold_slowdown > 0.0 {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let plain = median((0..5).map(|_| cpu_reference::once()).collect::<Result<Vec<_>>>()?);
        let per_spin_ns = median((0..5).map(|_| spin_ns()).collect());
        let extra_ns = 1e9 / plain * inject.fold_slowdown / (1.0 - inject.fold_slowdown);
        let spins = (extra_ns / per_spin_ns).round().max(1.0) as u32;
        slowdown::set_fold_spins(spins);
        let slowed = median((0..5).map(|_| cpu_reference::once()).collect::<Result<Vec<_>>>()?);
        said.push(format!(
            "testing aid: the fold slowed by {spins} spins per event, {:.1}% of its rate on the fixed fold \
             ({plain:.0} → {slowed:.0} events/s; asked {:.0}%)",
            (1.0 - slowed / plain) * 100.0,
            inject.fold_slowdown * 100.0
        ));
    }
    if inject.per_school_slowdown > 0.0 {
        said.push(format!(
            "testing aid: every per-school lane commit held {:.0}% longer",
            hold_pct(inject.per_school_slowdown)
        ));
    }
    for line in &said {
        note(format_args!("{line}"));
    }
    Ok(said)
}

fn hold_pct(share: f64) -> f64 {
    share / (1.0 - share) * 100.0
}

/// Nanoseconds one iteration of the busy loop takes here.
fn spin_ns() -> f64 {
    const N: u32 = 20_000_000;
    let started = Instant::now();
    slowdown::spin(N);
    started.elapsed().as_secs_f64() * 1e9 / f64::from(N)
}
