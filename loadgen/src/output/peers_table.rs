//! The "peers" table in report.md: every strategy of the run side by side, stroom's own and
//! the peer event stores, on the same machine in the same run. Each cell is a figure the run
//! measured; a strategy that ran without the step behind a column shows "not run".

use std::fmt::Write;

use stroom_reference::Strategy;

use crate::figures::Figures;

/// The table, when at least two strategies reached a closed-loop ceiling; `None` otherwise.
pub fn render(f: &Figures) -> Option<String> {
    let get = |s: Strategy, what: &str| f.get(&format!("append.{}.{what}", s.name())).map(|x| x.value);
    let rows: Vec<Strategy> = Strategy::ALL
        .into_iter()
        .chain(Strategy::PEERS)
        .filter(|s| get(*s, "ceiling_events_per_s").is_some())
        .collect();
    if rows.len() < 2 {
        return None;
    }
    let or_not_run = |v: Option<String>| v.unwrap_or_else(|| "not run".into());
    let mut s = String::new();
    let _ = writeln!(s, "## Peers: every strategy side by side\n");
    let _ = writeln!(
        s,
        "| strategy | ceiling | SLO rate | p99 at half the SLO rate | server CPU per event | WAL per event | ÷ pgbench, worst C |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    );
    for st in rows {
        let ceiling = get(st, "ceiling_events_per_s").map(|c| match get(st, "ceiling_writers") {
            Some(1.0) => format!("{c:.0} events/s (1 writer)"),
            Some(w) => format!("{c:.0} events/s ({w:.0} writers)"),
            None => format!("{c:.0} events/s"),
        });
        let slo = get(st, "slo_rate_events_per_s").map(|r| {
            let upper = get(st, "slo_rate_upper_events_per_s").or_else(|| get(st, "slo_failed_at_events_per_s"));
            let confirmed = match (get(st, "slo_confirmed"), get(st, "slo_confirm_s")) {
                (Some(1.0), Some(s)) => format!(", confirmed over {s:.0} s"),
                (Some(_), _) => ", unconfirmed".to_string(),
                (None, _) => String::new(),
            };
            match upper {
                Some(u) => format!("{r:.0} events/s (below {u:.0}{confirmed})"),
                None if confirmed.is_empty() => format!("≥ {r:.0} events/s"),
                None => format!("≥ {r:.0} events/s ({})", &confirmed[2..]),
            }
        });
        let half = get(st, "half_slo.p99_ms").map(|p| match get(st, "half_slo.offered_events_per_s") {
            Some(r) => format!("{p:.1} ms at {r:.0} events/s"),
            None => format!("{p:.1} ms"),
        });
        let cpu = get(st, "server_cpu_us_per_event").map(|u| format!("{u:.0} µs"));
        let wal = get(st, "wal_bytes_per_event").map(|b| format!("{b:.0} bytes"));
        let pgbench = get(st, "vs_pgbench_min").map(|r| format!("{r:.2}"));
        let peer = if st.is_peer() { " (peer)" } else { "" };
        let _ = writeln!(
            s,
            "| `{}`{peer} | {} | {} | {} | {} | {} | {} |",
            st.name(),
            or_not_run(ceiling),
            or_not_run(slo),
            or_not_run(half),
            or_not_run(cpu),
            or_not_run(wal),
            or_not_run(pgbench)
        );
    }
    let _ = writeln!(
        s,
        "\nThe ceiling is the best closed-loop step; server CPU and WAL per event are that step's, \
         over every event it wrote (the WAL is the whole cluster's, so a peer in its own database \
         counts alike). The SLO rate is the highest constant rate whose open-loop p99 held the SLO \
         with no error, with the lowest rate that did not (≥: no rate tried failed); confirmed: it \
         then held in a sustained window, every minute's p99 within the SLO; the p99 at half of it comes from one more window \
         as long as a search step. ÷ pgbench: the closed-loop rate over pgbench running the same statements \
         (`write_message` for Message DB) on the same store right after, at the writer count where it is lowest \
         (target ≥ 0.9; group-committing strategies have no such reference).\n"
    );
    Some(s)
}

#[cfg(test)]
mod tests {
    use crate::figures::{Figure, Figures};

    fn figures(pairs: &[(&str, f64)]) -> Figures {
        pairs.iter().map(|(k, v)| ((*k).to_string(), Figure::from_repetitions("x", vec![*v]))).collect()
    }

    #[test]
    fn one_strategy_is_no_table() {
        assert_eq!(super::render(&figures(&[("append.per-school.ceiling_events_per_s", 9000.0)])), None);
    }

    #[test]
    fn each_strategy_is_a_row_and_what_it_did_not_run_says_so() {
        let t = super::render(&figures(&[
            ("append.per-school.ceiling_events_per_s", 8593.0),
            ("append.per-school.ceiling_writers", 64.0),
            ("append.per-school.slo_rate_events_per_s", 4296.0),
            ("append.per-school.slo_failed_at_events_per_s", 5000.0),
            ("append.per-school.slo_rate_upper_events_per_s", 4800.0),
            ("append.per-school.slo_confirmed", 1.0),
            ("append.per-school.slo_confirm_s", 600.0),
            ("append.per-school.half_slo.p99_ms", 4.25),
            ("append.per-school.half_slo.offered_events_per_s", 2148.0),
            ("append.per-school.server_cpu_us_per_event", 117.0),
            ("append.per-school.wal_bytes_per_event", 612.0),
            ("append.message-db.ceiling_events_per_s", 2275.0),
            ("append.message-db.slo_rate_events_per_s", 1914.0),
            ("append.message-db.slo_confirmed", 0.0),
            ("append.rill.ceiling_events_per_s", 1442.0),
            ("append.rill.ceiling_writers", 1.0),
            ("append.rill.vs_pgbench_min", 0.874),
        ]))
        .unwrap();
        assert!(
            t.contains("| `per-school` | 8593 events/s (64 writers) | 4296 events/s (below 4800, confirmed over 600 s) | 4.2 ms at 2148 events/s | 117 µs | 612 bytes | not run |"),
            "{t}"
        );
        assert!(
            t.contains(
                "| `message-db` (peer) | 2275 events/s | ≥ 1914 events/s (unconfirmed) | not run | not run | not run | not run |"
            ),
            "{t}"
        );
        assert!(t.contains("| `rill` | 1442 events/s (1 writer) | not run |"), "{t}");
        assert!(t.contains("| not run | 0.87 |"), "{t}");
        // stroom's strategies first, in the order reports list them, then the peers.
        assert!(t.find("`rill`").unwrap() < t.find("per-school").unwrap());
        assert!(t.find("per-school").unwrap() < t.find("message-db").unwrap());
    }
}
