use stroom_reference::Strategy;

use super::*;

const GOOD: &str = "name = \"t\"\n[population]\nschools = 3\n[load]\nevents = 100\n[calibrate]\n";

fn err(text: &str) -> String {
    Scenario::parse(Path::new("s.toml"), text).unwrap_err().to_string()
}

#[test]
fn a_minimal_file_gets_defaults() {
    let s = Scenario::parse(Path::new("s.toml"), GOOD).unwrap();
    assert_eq!(s.profile, Profile::Durable);
    assert_eq!(s.layout, Layout::Partitioned);
    assert_eq!(s.payload, PayloadType::Jsonb);
    assert_eq!(s.population.students, 1200);
    assert_eq!(s.calibrate.unwrap().repetitions, 3);
    assert!(s.append.is_none());
}

#[test]
fn a_bad_value_names_file_line_and_field() {
    let text = GOOD.replace("[load]", "[store]\nlayout = \"sharded\"\n[load]");
    assert_eq!(err(&text), "s.toml:5: store.layout: unknown layout 'sharded' (expected partitioned or single-log)");
}

#[test]
fn an_unknown_field_is_refused_with_its_line() {
    let text = GOOD.replace("schools = 3", "schools = 3\nstudnets = 10");
    let e = err(&text);
    assert!(e.starts_with("s.toml:4: studnets: unknown field `studnets`"), "{e}");
}

#[test]
fn inconsistent_settings_are_refused() {
    assert_eq!(
        err(&GOOD.replace("schools = 3", "schools = 3\nstudents = 2")),
        "s.toml:4: population.students: 2 students cannot fill 3 schools"
    );
    assert_eq!(
        err(&GOOD.replace("events = 100", "events = 100\ndays = 2")),
        "s.toml:6: load.days: give `events` or `days`, not both"
    );
}

#[test]
fn too_short_a_measurement_is_refused() {
    let text = format!("{GOOD}[append]\nstrategies = [\"single\"]\nduration_s = 0.2\n");
    assert_eq!(err(&text), "s.toml:9: append.duration_s: 0.2 s is too short to mean anything (at least 1 s)");
}

#[test]
fn commit_lanes_default_to_the_cores_and_must_be_at_least_one() {
    let append = format!("{GOOD}[append]\nstrategies = [\"per-school\"]\n");
    let plan = |text: &str| Scenario::parse(Path::new("s.toml"), text).unwrap().append.unwrap();
    assert_eq!(plan(&append).commit_lanes, stroom_reference::append::default_commit_lanes());
    assert_eq!(plan(&format!("{append}commit_lanes = 3\n")).commit_lanes, 3);
    assert_eq!(err(&format!("{append}commit_lanes = 0\n")), "s.toml:9: append.commit_lanes: must be at least 1");
}

#[test]
fn steps_start_at_the_busy_hour_unless_told_another_hour_of_the_day() {
    let append = format!("{GOOD}[append]\nstrategies = [\"per-school\"]\n");
    let open = format!("{append}[append.open]\nrates = [100]\n");
    let plan = |text: &str| Scenario::parse(Path::new("s.toml"), text).unwrap().append.unwrap();
    assert_eq!((plan(&open).start_hour, plan(&open).open_start_hour), (10.0, 10.0));
    assert_eq!(plan(&format!("{open}start_hour = 0\n")).open_start_hour, 0.0);
    let midnight = plan(&format!("{append}start_hour = 0\n[append.open]\nrates = [100]\n"));
    assert_eq!((midnight.start_hour, midnight.open_start_hour), (0.0, 0.0));
    assert_eq!(plan(&open).arrivals, crate::scenario::Arrivals::Poisson);
    assert_eq!(plan(&format!("{open}arrivals = \"uniform\"\n")).arrivals, crate::scenario::Arrivals::Uniform);
    assert_eq!(
        err(&format!("{open}arrivals = \"bursty\"\n")),
        "s.toml:11: append.open.arrivals: unknown arrivals 'bursty' (expected poisson or uniform)"
    );
    let search = plan(&format!("{open}[append.slo_search]\n")).slo_search.unwrap();
    assert_eq!((search.step_s, search.max_steps, search.strategies.len()), (60.0, 6, 1));
    assert_eq!(
        err(&format!("{open}[append.slo_search]\nstep_s = 0.5\n")),
        "s.toml:12: append.slo_search.step_s: 0.5 s is too short (at least 1 s; 60 s holds a checkpoint)"
    );
    // Per-school's rate is confirmed by default, over two checkpoint intervals, three tries.
    assert_eq!((search.confirm.clone(), search.confirm_s, search.confirm_tries), (vec![Strategy::PerSchool], None, 3));
    let none = plan(&format!("{open}[append.slo_search]\nconfirm = []\nconfirm_s = 90\n")).slo_search.unwrap();
    assert_eq!((none.confirm.len(), none.confirm_s), (0, Some(90.0)));
    assert_eq!(
        err(&format!("{open}[append.slo_search]\nconfirm = [\"batched\"]\n")),
        "s.toml:12: append.slo_search.confirm: batched is not searched (append.slo_search.strategies), so it has no rate to confirm"
    );
    assert_eq!(
        err(&format!("{open}start_hour = 24\n")),
        "s.toml:11: append.open.start_hour: 24 is not an hour of the day"
    );
}

#[test]
fn a_strategy_may_sweep_writers_of_its_own() {
    let append = format!("{GOOD}[append]\nstrategies = [\"rill\", \"per-school\"]\nwriters = [1, 4]\n");
    let plan = |text: &str| Scenario::parse(Path::new("s.toml"), text).unwrap().append.unwrap();
    let own = plan(&format!("{append}[append.writers_by_strategy]\nper-school = [4, 64]\n"));
    assert_eq!(own.writers_for(Strategy::PerSchool), &[4, 64]);
    assert_eq!(own.writers_for(Strategy::Rill), &[1, 4]);
    assert_eq!(
        err(&format!("{append}[append.writers_by_strategy]\nbatched = [4]\n")),
        "s.toml:10: append.writers_by_strategy: 'batched' is not one of append.strategies (rill, per-school)"
    );
    assert_eq!(
        err(&format!("{append}[append.writers_by_strategy]\nrill = [0]\n")),
        "s.toml:10: append.writers_by_strategy: rill: give one or more writer counts, each at least 1"
    );
}

#[test]
fn a_live_window_must_be_long_enough_and_stay_in_the_day() {
    let text = format!("{GOOD}[live]\nspeedup = 3600\nhours = 1\n");
    assert_eq!(
        err(&text),
        "s.toml:8: live.speedup: 1 h at x3600 lasts 1.0 s, 2 s of it warm-up: too short to measure (at least 5 s after warm-up)"
    );
    let text = format!("{GOOD}[live]\nstart_hour = 23\nhours = 2\n");
    assert_eq!(err(&text), "s.toml:9: live.hours: 2 h from 23:00 leaves the day");
    let s = Scenario::parse(Path::new("s.toml"), &format!("{GOOD}[live]\n")).unwrap();
    let live = s.live.unwrap();
    assert_eq!((live.speedup, live.start_hour, live.hours), (60.0, 8.0, 1.0));
    assert_eq!(live.strategies, vec![stroom_reference::Strategy::PerSchool]);
}

#[test]
fn a_peer_is_measured_in_the_append_phase_only() {
    let text = format!("{GOOD}[append]\nstrategies = [\"message-db\", \"per-school\"]\n");
    let s = Scenario::parse(Path::new("s.toml"), &text).unwrap();
    assert_eq!(s.append.unwrap().strategies[0], stroom_reference::Strategy::MessageDb);
    let text = format!("{GOOD}[live]\nstrategies = [\"message-db\"]\n");
    assert!(err(&text).contains("live.strategies: message-db is measured in [append] only"), "{}", err(&text));
    let text = format!("{GOOD}[soak]\nstrategy = \"message-db\"\n");
    assert!(err(&text).contains("soak.strategy: message-db is measured in [append] only"), "{}", err(&text));
}

#[test]
fn unknown_strategies_and_bad_thresholds_are_refused() {
    let text = format!("{GOOD}[append]\nstrategies = [\"single\", \"sharded\"]\n");
    assert!(err(&text).contains("append.strategies: unknown strategy 'sharded'"), "{}", err(&text));
    let text = format!("thresholds = [\"replay.parallel.events_per_s >> 3\"]\n{GOOD}");
    assert!(err(&text).starts_with("s.toml:1: thresholds: "), "{}", err(&text));
}

#[test]
fn injected_faults_are_off_unless_set_and_bounded() {
    assert!(!Scenario::parse(Path::new("s.toml"), GOOD).unwrap().inject.any());
    let s = Scenario::parse(Path::new("s.toml"), &format!("{GOOD}[inject]\nper_school_slowdown = 0.3\nerrors = 1\n"))
        .unwrap();
    assert_eq!((s.inject.per_school_slowdown, s.inject.errors), (0.3, 1));
    assert!(err(&format!("{GOOD}[inject]\nper_school_slowdown = 1.5\n")).contains("inject.per_school_slowdown"));
}

#[test]
fn a_full_disk_must_be_the_last_fault() {
    let faults = |list: &str| format!("{GOOD}[faults]\nfaults = {list}\n");
    let s = Scenario::parse(Path::new("s.toml"), &faults(r#"["postmaster-kill", "disk-full"]"#)).unwrap();
    assert_eq!(s.faults.unwrap().faults.last(), Some(&Fault::DiskFull));
    assert_eq!(
        err(&faults(r#"["disk-full", "postmaster-kill"]"#)),
        "s.toml:8: faults.faults: disk-full must come last: the WAL stays on its small in-memory filesystem until the phase ends"
    );
}

#[test]
fn every_shipped_scenario_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut parsed = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            parsed.push(path);
        }
    }
    assert!(parsed.len() >= 9, "{parsed:?}");
}

#[test]
fn moving_schools_needs_servers_and_a_rate() {
    let with = |extra: &str| format!("{GOOD}{extra}");
    let e = err(&with("[migrate]\nrate = 100\nmoves = 3\n"));
    assert!(e.contains("migrate: moving schools needs [servers] with count = 2 or more"), "{e}");
    let e = err(&with("[servers]\ncount = 2\n[migrate]\nmoves = 3\n"));
    assert!(e.contains("migrate.rate: give a rate, or search the per-school SLO rate"), "{e}");
    let e = err(&with("[servers]\ncount = 2\nurls = [\"postgres://a\"]\n[migrate]\nrate = 100\n"));
    assert!(e.contains("servers.count: 2 servers, but 1 URLs"), "{e}");
    let s = Scenario::parse(Path::new("s.toml"), &with("[servers]\ncount = 2\n[migrate]\nrate = 100\n")).unwrap();
    let m = s.migrate.unwrap();
    assert_eq!((m.moves, m.slo_share, m.transform, s.servers.unwrap().count), (25, 0.5, true, 2));
}

#[test]
fn a_replay_reads_the_primary_or_a_standby() {
    let with = |extra: &str| format!("{GOOD}[replay]\n{extra}");
    let s = Scenario::parse(Path::new("s.toml"), &with("from = \"standby\"\nstandby_rate = 500\n")).unwrap();
    let standby = s.replay.unwrap().standby.unwrap();
    assert_eq!((standby.rate, standby.window_s, standby.users), (500.0, 20.0, 256));
    assert!(Scenario::parse(Path::new("s.toml"), &with("from = \"primary\"\n"))
        .unwrap()
        .replay
        .unwrap()
        .standby
        .is_none());
    let e = err(&with("from = \"replica\"\n"));
    assert!(e.contains("replay.from: unknown source 'replica' (expected primary or standby)"), "{e}");
}
