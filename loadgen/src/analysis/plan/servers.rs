//! "What would N servers take?": what the migrate phase measured of several servers on this
//! machine, and a projection for N servers each on a machine like it, labelled as one.
//!
//! Schools never interact and each server holds its own, so a server's appends bound nothing
//! but its own schools: N servers each on a machine like the measured one take about N times
//! the one-server per-school SLO rate, if the schools split evenly. That is a projection from
//! one server's figure, never a measurement of N machines; the parts the servers share (the
//! placement map on the first, a feed across servers) are not in it and are said to be
//! unmeasured.

use crate::figures::Figures;

/// A rebuild of fewer events says nothing about a server's rebuild rate.
const MIN_REPLAYED: f64 = 100_000.0;

/// Lines on `servers` servers from `f`'s figures, when it holds what they need.
pub(super) fn lines(f: &Figures, servers: Option<f64>, slo_p99_ms: f64, say: &mut impl FnMut(String)) {
    let get = |name: &str| f.get(name).map(|x| x.value);
    if let (Some(n), Some(cores), Some(rate)) =
        (get("migrate.servers"), get("migrate.cores"), get("migrate.rate_events_per_s"))
    {
        let p99 = |w: &str| get(&format!("migrate.{w}.p99_ms")).map_or("unmeasured".into(), |v| format!("{v:.1} ms"));
        say(format!(
            "servers: measured: {n:.0} servers sharing this machine's {cores:.0} cores took {rate:.0} events/s of routed per-school appends, p99 {} with nothing moving, {} in the seconds {} schools were moving and {} over that whole window (fence p99 {}, {} acknowledged events lost); a measurement of routing and moving on one machine, not of scaling out",
            p99("quiet"),
            p99("during_moves"),
            get("migrate.moves").unwrap_or(0.0),
            p99("moving"),
            get("migrate.fence_p99_ms").map_or("unmeasured".into(), |v| format!("{v:.0} ms")),
            get("migrate.lost").map_or("unmeasured".into(), |v| format!("{v:.0}")),
        ));
    }
    let Some(n) = servers.or_else(|| get("migrate.servers")) else { return };
    match get("append.per-school.slo_rate_events_per_s") {
        Some(one) => say(format!(
            "servers: {n:.0} servers, each a machine like this one, schools split evenly: about {:.0} events/s within p99 {slo_p99_ms} ms [projection: {n:.0} × the one-server per-school SLO rate of {one:.0} events/s measured here]; unmeasured: the placement map's server under that many writers, and a feed or read side across servers",
            n * one
        )),
        None => say(format!(
            "servers: {n:.0} servers: unmeasured (no per-school SLO rate in this result to project from; run a scenario with [append.slo_search])"
        )),
    }
    let replayed = get("replay.events").unwrap_or(0.0);
    if replayed < MIN_REPLAYED {
        say(format!(
            "servers: a rebuild across {n:.0} servers: unmeasured (this result's rebuild read {replayed:.0} events, too few to project from)"
        ));
    } else if let Some(r) = get("replay.parallel.events_per_s") {
        say(format!(
            "servers: a rebuild across {n:.0} servers, each reading its own schools at once: about {:.0} events/s [projection: {n:.0} × the {r:.0} events/s one server rebuilt at here; the merge of the models is not in it]",
            n * r
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figure;

    fn said(f: &Figures, servers: Option<f64>) -> Vec<String> {
        let mut out = Vec::new();
        lines(f, servers, 50.0, &mut |s| out.push(s));
        out
    }

    #[test]
    fn n_servers_are_a_labelled_projection_from_one_servers_slo_rate() {
        let mut f = Figures::new();
        let one = |v: f64| Figure::from_repetitions("x", vec![v]);
        assert!(said(&f, None).is_empty(), "nothing measured, nothing asked: nothing said");
        assert!(said(&f, Some(4.0))[0].contains("4 servers: unmeasured"));
        for (name, v) in [
            ("migrate.servers", 2.0),
            ("migrate.cores", 2.0),
            ("migrate.rate_events_per_s", 7592.0),
            ("migrate.quiet.p99_ms", 29.4),
            ("migrate.moving.p99_ms", 38.2),
            ("migrate.during_moves.p99_ms", 40.2),
            ("migrate.moves", 25.0),
            ("migrate.fence_p99_ms", 133.0),
            ("migrate.lost", 0.0),
            ("append.per-school.slo_rate_events_per_s", 15185.0),
        ] {
            f.insert(name.into(), one(v));
        }
        let lines = said(&f, None);
        assert!(
            lines[0].contains("2 servers sharing this machine's 2 cores") && lines[0].contains("not of scaling out")
        );
        assert!(lines[1].contains("about 30370 events/s") && lines[1].contains("[projection: 2 × the one-server"));
        assert!(said(&f, Some(8.0))[1].contains("8 servers, each a machine like this one"));
    }
}
