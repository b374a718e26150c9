//! Which figures the gate judges, which way is better, and what each is divided by.
//!
//! Every judged figure is divided by a reference measured in the same run, so a faster or
//! slower machine moves both alike and only a change in stroom moves the ratio. Where the
//! machine's speed drifts within a run (a shared VM), a reference minutes away is no
//! reference, so replays and CPU-bound figures are divided repetition by repetition by a
//! reference taken just before each (the `per_…` figures):
//!
//! | figures | normalised by |
//! |---|---|
//! | append ceilings and SLO rates | ÷ `calibrate.copy_in.events_per_s`, parallel COPY of the same rows |
//! | sequential / parallel replay | `replay.<mode>.per_copy_out`: each repetition ÷ the same read as raw COPY out, just before it |
//! | fold, memory replay, generator | `….per_cpu_fold`: each repetition ÷ a fixed fold on one thread, just before it |
//! | server CPU per event | × `calibrate.cpu_fold.events_per_s` (the work, in fixed folds) |
//!
//! Two kinds of figure are held to a limit instead of to the baseline, because no same-run
//! reference carries them from one machine to another. The same commit gave a per-school
//! p99 of 4.8 ms on the development VM and 36 ms on the CI VM (both 2 cores, with a durable
//! one-row commit of 0.15 and 0.17 ms), and a live late-start share of 0.03% and 2.6%: tails
//! and the load generator's punctuality follow a VM's neighbours, not stroom. So:
//!
//! | figures | fails when |
//! |---|---|
//! | headline p99 latencies (`append`/`live.<s>.p99_ms`, `soak.worst_minute_p99_ms`) | over the run's SLO (`[slo] p99_ms`) |
//! | late-start shares | over [`LATE_START_LIMIT`] of arrivals: the load was no longer offered as scheduled |
//!
//! Their change against the baseline is still shown.
//!
//! Past its limit or band while the hypervisor took more than [`STEAL_LIMIT`] of the CPU
//! during its step or its reference's ([`steal_figures`]), a limit or an append rate ÷ COPY in
//! is not judged: the step measured the VM's neighbours. Counts of wrong outcomes, the digests'
//! agreement and peak memory are judged as they are. The rest of a result (raw rates, steps of a sweep, the references themselves)
//! is shown with `--all` and never judged; figures whose presence depends on the run (search
//! steps, soak minutes, the plan, per-k references) are skipped altogether.

/// How a figure is made comparable across runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// As it is.
    None,
    /// Divided by the named same-run figure.
    Divide(&'static str),
}

impl Norm {
    /// The reference's name, if any.
    pub fn reference(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Divide(r) => Some(r),
        }
    }

    /// `value` normalised by `reference`.
    pub fn apply(self, value: f64, reference: f64) -> f64 {
        match self {
            Self::None => value,
            Self::Divide(_) => value / reference,
        }
    }
}

/// How the gate treats one figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Higher is better; a fall past the noise band regresses.
    Higher(Norm),
    /// Lower is better; a rise past the noise band regresses.
    Lower(Norm),
    /// A latency held to the run's SLO: over it regresses, whatever the baseline.
    UnderSlo,
    /// A share of arrivals that started late: over [`LATE_START_LIMIT`] regresses.
    LateShare,
    /// A count of wrong outcomes: more than 0 when it was 0 regresses, as does a rise past the
    /// band when it was not.
    WrongOutcomes,
    /// Must not fall (the digests' agreement).
    MustStay,
    /// Shown with `--all`, not judged.
    Info,
    /// Not compared, and not missed when absent: it depends on the run, not on stroom.
    Skip,
}

impl Rule {
    /// Whether a change of this figure can fail the gate.
    pub fn judged(self) -> bool {
        !matches!(self, Self::Info | Self::Skip)
    }

    /// How the figure is normalised.
    pub fn norm(self) -> Norm {
        match self {
            Self::Higher(n) | Self::Lower(n) => n,
            _ => Norm::None,
        }
    }
}

const COPY_IN: &str = "calibrate.copy_in.events_per_s";

/// The share of arrivals that may start more than 10 ms late before a step stops being the
/// load it claims to be.
pub const LATE_START_LIMIT: f64 = 0.05;

/// The share of the machine's CPU the hypervisor may take during a step held to a limit
/// before the step says more about the VM's neighbours than about stroom. The development VM
/// gives 0.5%; the CI VM that failed a fresh-clone run of a6d6d2a on 2026-12-01 gave 48.7%
/// during the live step, whose p99 went from 9.5 ms to 622 ms and whose load generator
/// started 60% of its arrivals late.
pub const STEAL_LIMIT: f64 = 0.10;

/// The figures that say how much CPU the hypervisor took while `name` and its reference were
/// measured: for the figures only an absolute limit judges (latencies, late starts), and for
/// the append rates divided by COPY in, a reference measured minutes before them. Past
/// [`STEAL_LIMIT`] in any of them, a failure is not judged ([`super::Judgement::Starved`]).
/// Replay and fold ratios are not here: their reference is taken just before each
/// repetition, on the same machine in the same state.
pub fn steal_figures(name: &str) -> Vec<String> {
    let copy_in = || "calibrate.copy_in.host_steal_share".to_string();
    match name.split('.').collect::<Vec<_>>().as_slice() {
        [phase @ ("append" | "live"), s, "p99_ms" | "late_start_share"] => {
            vec![format!("{phase}.{s}.host_steal_share")]
        }
        ["append", s, "slo_rate_events_per_s"] => vec![format!("append.{s}.slo_host_steal_share"), copy_in()],
        ["append", s, "ceiling_events_per_s"] => vec![format!("append.{s}.ceiling_host_steal_share"), copy_in()],
        ["soak", "worst_minute_p99_ms"] => vec!["soak.host_steal_share".into()],
        _ => Vec::new(),
    }
}

/// The SLO a result was run against (`[slo] p99_ms`, 50 ms when the result predates it).
pub fn slo_p99_ms(scenario: &serde_json::Value) -> f64 {
    scenario.get("slo_p99_ms").and_then(serde_json::Value::as_f64).unwrap_or(50.0)
}

/// The rule for the figure `name`.
pub fn rule(name: &str) -> Rule {
    let parts: Vec<&str> = name.split('.').collect();
    if skipped(&parts) {
        return Rule::Skip;
    }
    if matches!(parts.last(), Some(&("errors" | "rejected" | "lost" | "duplicates"))) {
        return Rule::WrongOutcomes;
    }
    match parts.as_slice() {
        ["replay", "digests_equal"] => Rule::MustStay,
        ["faults", "gaps" | "streams_across_schools" | "refused_stored" | "unresolved" | "amcheck_failures"] => {
            Rule::WrongOutcomes
        }
        ["replay", "rill" | "sequential" | "parallel" | "cold", "per_copy_out"]
        | ["replay", "memory" | "fold", "per_cpu_fold"]
        | ["generate", "per_cpu_fold"] => Rule::Higher(Norm::None),
        ["replay", "peak_rss_mb"] => Rule::Lower(Norm::None),
        ["append", _, "ceiling_events_per_s" | "slo_rate_events_per_s"] => Rule::Higher(Norm::Divide(COPY_IN)),
        ["append" | "live", _, "p99_ms"] | ["soak", "worst_minute_p99_ms"] => Rule::UnderSlo,
        // As measured: multiplied by the client-side fold's rate, as it was until 2026-12-01,
        // these moved with the fold and not with the server (a fresh-clone run of cff7001: rill's
        // 697 µs against the baseline's 693, the fold at 13.3M events/s against 8.1M-11.6M, read
        // as 32% worse).
        ["append", _, "server_cpu_us_per_event"]
        | ["calibrate", "copy_in" | "copy_out" | "copy_out_ordered", "server_cpu_us_per_event"] => {
            Rule::Lower(Norm::None)
        }
        ["append" | "live", _, "late_start_share"] => Rule::LateShare,
        _ => Rule::Info,
    }
}

/// Figures whose presence depends on the run or the machine, not on stroom.
fn skipped(parts: &[&str]) -> bool {
    let numbered =
        |s: &str, p: &str| s.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    parts.first() == Some(&"plan")
        || parts.iter().any(|p| {
            numbered(p, "slo_step")
                || numbered(p, "slo_confirm")
                || ["slo_failed_at", "slo_rate_upper", "slo_harness_limit"].iter().any(|f| p.starts_with(f))
        })
        || (parts.first() == Some(&"soak") && parts.get(1).is_some_and(|p| numbered(p, "m")))
        || (parts.first() == Some(&"calibrate") && parts.get(2).is_some_and(|p| numbered(p, "k")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_headline_is_judged_against_its_same_run_reference() {
        assert_eq!(rule("append.per-school.slo_rate_events_per_s"), Rule::Higher(Norm::Divide(COPY_IN)));
        assert_eq!(rule("append.rill.ceiling_events_per_s"), Rule::Higher(Norm::Divide(COPY_IN)));
        assert_eq!(rule("replay.sequential.per_copy_out"), Rule::Higher(Norm::None));
        assert_eq!(rule("replay.parallel.per_copy_out"), Rule::Higher(Norm::None));
        assert_eq!(rule("replay.fold.per_cpu_fold"), Rule::Higher(Norm::None));
        assert_eq!(rule("generate.per_cpu_fold"), Rule::Higher(Norm::None));
        assert_eq!(rule("replay.parallel.events_per_s"), Rule::Info, "the raw rate is shown, its ratio judged");
        assert_eq!(rule("append.single.p99_ms"), Rule::UnderSlo);
        assert_eq!(rule("soak.worst_minute_p99_ms"), Rule::UnderSlo);
        assert_eq!(rule("calibrate.copy_in.server_cpu_us_per_event"), Rule::Lower(Norm::None));
        assert_eq!(rule("replay.digests_equal"), Rule::MustStay);
    }

    #[test]
    fn wrong_outcomes_anywhere_are_counts_and_run_dependent_figures_are_skipped() {
        assert_eq!(rule("append.per-school.r200.errors"), Rule::WrongOutcomes);
        assert_eq!(rule("live.per-school.rejected"), Rule::WrongOutcomes);
        assert_eq!(rule("faults.lost"), Rule::WrongOutcomes);
        assert_eq!(rule("faults.gaps"), Rule::WrongOutcomes);
        assert_eq!(
            rule("faults.postmaster-kill.failed_attempts"),
            Rule::Info,
            "a fault's failed attempts are expected"
        );
        assert_eq!(rule("append.per-school.slo_step3.errors"), Rule::Skip);
        assert_eq!(rule("plan.append.sigma"), Rule::Skip);
        assert_eq!(rule("soak.m12.p99_ms"), Rule::Skip);
        assert_eq!(rule("calibrate.copy_in.k4.events_per_s"), Rule::Skip);
        assert_eq!(rule("append.per-school.slo_failed_at_events_per_s"), Rule::Skip);
        assert_eq!(rule("append.per-school.c32.events_per_s"), Rule::Info);
        assert_eq!(rule("calibrate.copy_in.events_per_s"), Rule::Info, "a reference is not judged on itself");
        assert_eq!(rule("append.per-school.late_start_share"), Rule::LateShare);
        assert_eq!(rule("live.per-school.host_steal_share"), Rule::Info, "shown; it decides, it is not judged");
    }

    #[test]
    fn limits_and_ratios_to_a_reference_minutes_away_answer_to_the_hosts_steal() {
        let steal = |n: &str| steal_figures(n);
        assert_eq!(steal("live.per-school.p99_ms"), ["live.per-school.host_steal_share"]);
        assert_eq!(steal("append.per-school.late_start_share"), ["append.per-school.host_steal_share"]);
        assert_eq!(
            steal("append.per-school.slo_rate_events_per_s"),
            ["append.per-school.slo_host_steal_share", "calibrate.copy_in.host_steal_share"]
        );
        assert_eq!(
            steal("append.single.ceiling_events_per_s"),
            ["append.single.ceiling_host_steal_share", "calibrate.copy_in.host_steal_share"]
        );
        assert_eq!(steal("soak.worst_minute_p99_ms"), ["soak.host_steal_share"]);
        assert!(steal("replay.parallel.per_copy_out").is_empty(), "its reference is taken just before it");
        assert!(steal("live.per-school.errors").is_empty(), "a wrong outcome is never the VM's");
    }
}
