//! `stroom plan A --with B`: one plan from two results of the same machine, such as an
//! onboarding run (no replay) and a rebuild run (no open loop), or a cold rebuild of a large
//! log and a warm one of a small log (the per-event CPU costs).

use crate::output::result_file::RunResult;

/// Adds to `result` the figures of every group `other` measured and it did not; the names
/// added. A group is a figure's first two parts (`replay.parallel`, `calibrate.copy_out`,
/// `load.bytes_per_event`), so a sweep is taken whole from one result, never mixed. Refuses
/// results of different machines (cores or memory), whose figures do not combine.
pub fn fill_from(result: &mut RunResult, other: &RunResult) -> Result<Vec<String>, String> {
    let (a, b) = (&result.environment, &other.environment);
    if a.cores != b.cores || a.memory_bytes != b.memory_bytes {
        return Err(format!(
            "measured on another machine ({} cores, {:.0} GB against {} cores, {:.0} GB): its figures do not combine with this result's",
            b.cores,
            b.memory_bytes as f64 / 1e9,
            a.cores,
            a.memory_bytes as f64 / 1e9
        ));
    }
    let group = |name: &str| name.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
    let own: std::collections::BTreeSet<String> = result.figures.keys().map(|k| group(k)).collect();
    let added: Vec<String> = other.figures.keys().filter(|k| !own.contains(&group(k))).cloned().collect();
    for k in &added {
        result.figures.insert(k.clone(), other.figures[k].clone());
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figure;

    fn result(cores: u32, pairs: &[(&str, f64)]) -> RunResult {
        let mut r: RunResult = serde_json::from_value(serde_json::json!({
            "result_version": 1, "stroom_version": "0", "scenario": {}, "started_at": "", "finished_at": "",
            "complete": true,
            "environment": {"git_commit": "", "cpu_model": "", "cores": cores, "memory_bytes": 1, "database": "", "profile": "", "settings": {}},
            "figures": {}, "thresholds": []
        }))
        .unwrap();
        for (k, v) in pairs {
            r.figures.insert((*k).into(), Figure::from_repetitions("x", vec![*v]));
        }
        r
    }

    #[test]
    fn missing_groups_come_from_the_other_result_whole_and_its_own_stay() {
        let mut a = result(2, &[("load.bytes_per_event", 600.0), ("replay.parallel.t4.events_per_s", 5e5)]);
        let b = result(
            2,
            &[
                ("load.bytes_per_event", 500.0),
                ("replay.memory.t1.events_per_s", 1e6),
                ("replay.parallel.t1.events_per_s", 3e5),
            ],
        );
        assert_eq!(fill_from(&mut a, &b).unwrap(), vec!["replay.memory.t1.events_per_s".to_string()]);
        assert_eq!(a.figures["load.bytes_per_event"].value, 600.0);
        assert!(!a.figures.contains_key("replay.parallel.t1.events_per_s"), "a sweep is never mixed");
        assert!(fill_from(&mut a, &result(16, &[])).unwrap_err().starts_with("measured on another machine (16 cores"));
    }
}
