//! Which figures a paired A/B run pairs, and which way each is better.
//!
//! Every headline figure both arms produce is paired and gated: the closed-loop rate of each
//! strategy at each writer count, its server CPU per event, p99 at each fixed open-loop rate,
//! each replay mode and the fold, the generator, peak memory, and the live projector's lag
//! and poll time. No same-run reference divides them: both arms of a block run on the same
//! host minutes apart, so the block's ratio is the comparison.
//!
//! Tail latencies (p99 of a window of seconds) move by far more than δ between two runs of one
//! build: an A/A run of three blocks here put one build's live p99 at 12.6/24.3, 9.8/33.7 and
//! 14.7/39.7 ms against itself. They are judged with a margin of their own,
//! [`TAIL_DELTA`], wide enough that an A/A run does not flag them and narrow enough that a
//! p99 going from 4 to 45 ms is slower.

use super::verdict::Better;

/// The least margin for a tail latency.
pub const TAIL_DELTA: f64 = 0.25;

/// Whether a paired figure is a tail latency (judged with at least [`TAIL_DELTA`]).
pub fn is_tail(name: &str) -> bool {
    name.ends_with("p99_ms")
}

/// Whether `name` is paired, and which way it is better.
pub fn pairing(name: &str) -> Option<Better> {
    let numbered =
        |s: &str, p: &str| s.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    match name.split('.').collect::<Vec<_>>().as_slice() {
        ["append", _, c, "events_per_s"] if numbered(c, "c") => Some(Better::Higher),
        ["append", _, "server_cpu_us_per_event"] => Some(Better::Lower),
        ["append", _, r, "p99_ms" | "lag_p99_ms" | "project_poll_ms"] if numbered(r, "r") => Some(Better::Lower),
        ["replay", "rill" | "sequential" | "parallel" | "memory" | "fold", "events_per_s"] => Some(Better::Higher),
        ["replay", "peak_rss_mb"] => Some(Better::Lower),
        ["generate", "events_per_s"] => Some(Better::Higher),
        ["live", _, "p99_ms" | "lag_p99_ms" | "project_poll_ms"] => Some(Better::Lower),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headlines_are_paired_and_the_rest_is_not() {
        assert_eq!(pairing("append.per-school.c8.events_per_s"), Some(Better::Higher));
        assert_eq!(pairing("append.rill.server_cpu_us_per_event"), Some(Better::Lower));
        assert_eq!(pairing("append.per-school.r800.p99_ms"), Some(Better::Lower));
        assert_eq!(pairing("append.per-school.r800.project_poll_ms"), Some(Better::Lower));
        assert_eq!(pairing("replay.fold.events_per_s"), Some(Better::Higher));
        assert_eq!(pairing("replay.peak_rss_mb"), Some(Better::Lower));
        assert_eq!(pairing("generate.events_per_s"), Some(Better::Higher));
        assert_eq!(pairing("live.per-school.lag_p99_ms"), Some(Better::Lower));
        assert_eq!(pairing("live.per-school.project_poll_ms"), Some(Better::Lower));
        assert_eq!(pairing("append.per-school.ceiling_events_per_s"), None, "the same step as its c<N>");
        assert_eq!(pairing("append.per-school.slo_step2.p99_ms"), None);
        assert_eq!(pairing("calibrate.copy_in.events_per_s"), None, "a reference");
        assert_eq!(pairing("append.per-school.cx.events_per_s"), None);
        assert!(is_tail("live.per-school.lag_p99_ms") && !is_tail("live.per-school.project_poll_ms"));
    }
}
