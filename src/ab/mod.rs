//! `stroom ab`: two stroom builds run one scenario against one cluster, interleaved in blocks
//! (A B, then B A, …), until every paired figure has a verdict or the time budget ends; then
//! the result, report.md and report.html under `<results>/ab/<time>/`.

mod arm;
pub mod step_server;
mod steps;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use stroom_loadgen::ab::{self, AbResult, Block};
use stroom_loadgen::{note, RunResult};

use crate::cli::{AbArgs, Cli};
use arm::Arm;

/// Runs `stroom ab`; exit 3 when a figure is slower or an arm had a wrong outcome.
pub async fn run(cli: &Cli, args: &AbArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.delta > 0.0 && args.delta < 0.5, "--delta must be between 0 and 0.5, e.g. 0.05");
    anyhow::ensure!(args.min_blocks >= 2, "--min-blocks must be at least 2: one block gives no interval");
    anyhow::ensure!(args.max_blocks >= args.min_blocks, "--max-blocks must be at least --min-blocks");
    let scenario = stroom_loadgen::Scenario::load(&args.scenario)?;
    anyhow::ensure!(
        scenario.faults.is_none() && scenario.migrate.is_none(),
        "{}: a scenario for stroom ab must not kill the server or start others ([faults], [migrate]): both arms share one",
        args.scenario.display()
    );
    stroom_loadgen::check_writable(&args.results, "ab")?;
    let started_at = chrono::Utc::now();
    let (base, base_build) = arm::resolve(&args.base, &args.base_env).context("the base arm")?;
    let (head, head_build) = arm::resolve(&args.head, &args.head_env).context("the head arm")?;
    let db = crate::database::open(cli, Some(scenario.profile), scenario.database_url.as_deref()).await?;
    let mut host = stroom_loadgen::Environment::capture(db.describe(), String::new(), Default::default());
    if let Some(cluster) = db.cluster() {
        note(format_args!("ab: the data directory's fsync latency (pg_test_fsync, ~15 s) …"));
        if let Ok(binaries) = stroom_cluster::Binaries::discover() {
            host.durability =
                Some(stroom_loadgen::measure::probe_durability(cluster.dir(), &binaries.program("pg_test_fsync")));
        }
    }
    note(format_args!("ab: host {}", host.host_line()));
    let arms_dir = match args.keep_arms {
        true => None,
        false => {
            Some(tempfile::Builder::new().prefix("stroom-ab-").tempdir().context("a directory for the arms' results")?)
        }
    };
    let stamp = started_at.format("%Y%m%dT%H%M%SZ").to_string();
    let arms_root = arms_dir
        .as_ref()
        .map_or_else(|| args.results.join("ab").join(format!("{stamp}-arms")), |d| d.path().to_path_buf());

    anyhow::ensure!(
        !args.budget.is_zero() || !args.steps_budget.is_zero(),
        "--budget and --steps-budget are both 0: nothing would run"
    );
    let (mut blocks, mut orders, mut block_seconds, mut wrong) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let stepped = !args.steps_budget.is_zero() && scenario.append.is_some();
    if !args.steps_budget.is_zero() && !stepped {
        note(format_args!("ab: no steps: {} has no [append] to step", args.scenario.display()));
    }
    let rounds = match !stepped {
        true => None,
        false => Some(
            steps::run(
                [&base, &head],
                &args.scenario,
                db.url(),
                &arms_root,
                args.steps_budget,
                args.min_rounds,
                args.delta,
            )
            .await
            .context("the steps")?,
        ),
    };
    if let Some(r) = &rounds {
        note(format_args!("ab: {}", r.stopped));
        wrong.extend(r.wrong.iter().cloned());
    }
    let budget = Instant::now() + args.budget;
    let stopped = if args.budget.is_zero() {
        "no blocks (--budget 0s)".to_string()
    } else if !wrong.is_empty() {
        "no blocks after a wrong outcome in the steps".to_string()
    } else {
        loop {
            let i = blocks.len();
            let base_first = i % 2 == 0;
            let block_started = Instant::now();
            let mut results: [Option<RunResult>; 2] = [None, None];
            for slot in if base_first { [0, 1] } else { [1, 0] } {
                let (name, arm) = if slot == 0 { ("base", &base) } else { ("head", &head) };
                let dir = arms_root.join(format!("{:02}-{name}", i + 1));
                let took = Instant::now();
                let r = run_arm(arm, &args.scenario, db.url(), &dir, &scenario.name)
                    .await
                    .with_context(|| format!("block {}: the {name} arm", i + 1))?;
                note(format_args!("ab: block {} {name}: {:.0} s", i + 1, took.elapsed().as_secs_f64()));
                wrong.extend(ab::wrong_outcomes(&r).into_iter().map(|w| format!("{name}, block {}: {w}", i + 1)));
                results[slot] = Some(r);
            }
            let [Some(b), Some(h)] = results else { unreachable!("both arms ran") };
            blocks.push(Block { base: b, head: h, base_first });
            orders.push(if base_first { "base,head" } else { "head,base" }.to_string());
            block_seconds.push(block_started.elapsed().as_secs_f64());
            let pairs = ab::analyse(&blocks, args.delta);
            let [slower, faster, same, undecided] = ab::tally(&pairs);
            note(format_args!(
                "ab: after {} blocks: {slower} slower, {faster} faster, {same} the same, {undecided} undecided",
                blocks.len()
            ));
            let n = blocks.len() as u32;
            let mean_block = Duration::from_secs_f64(block_seconds.iter().sum::<f64>() / f64::from(n));
            if !wrong.is_empty() {
                break format!("stopped after a wrong outcome in block {n}");
            }
            if n >= args.min_blocks && ab::all_decided(&pairs) {
                break format!("stopped when every figure was decided, after {n} blocks");
            }
            if n >= args.max_blocks {
                break format!("stopped at --max-blocks {n}");
            }
            if Instant::now() + mean_block > budget {
                break format!(
                    "stopped when the budget ({}) had no room for another block of ~{:.0} s",
                    humantime::format_duration(args.budget),
                    mean_block.as_secs_f64()
                );
            }
        }
    };
    let mut pairs = rounds.as_ref().map(|r| ab::analyse_rows(&r.rows, args.delta)).unwrap_or_default();
    pairs.extend(ab::analyse(&blocks, args.delta));
    let result = AbResult {
        ab_version: ab::AB_VERSION,
        scenario: scenario.name.clone(),
        scenario_file: args.scenario.display().to_string(),
        started_at: started_at.to_rfc3339(),
        finished_at: chrono::Utc::now().to_rfc3339(),
        base: base.info.clone(),
        head: head.info.clone(),
        delta: args.delta,
        method: ab::METHOD.into(),
        orders,
        block_seconds,
        steps: rounds.map(|r| ab::StepsInfo { steps: r.steps, round_seconds: r.seconds, stopped: r.stopped }),
        stopped,
        build_seconds: base_build + head_build,
        host,
        pairs,
        wrong,
    };
    let md = stroom_loadgen::report::ab_markdown(&result);
    let files = vec![
        ("result.json".to_string(), serde_json::to_vec_pretty(&result).context("serialising the result")?),
        ("report.md".to_string(), md.clone().into_bytes()),
        ("report.html".to_string(), stroom_loadgen::report::ab_html(&result).into_bytes()),
    ];
    println!("{md}");
    let dir = stroom_loadgen::write_run_dir(&args.results, "ab", &stamp, &files)?;
    note(format_args!("wrote {}", dir.display()));
    note(format_args!("ab: {}", stroom_loadgen::report::ab_headline(&result)));
    Ok(if result.failed() { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

/// Runs `scenario` with `arm` against `url`, results under `dir`; its output goes to
/// `dir/stroom.log`. A run that exits 3 (a threshold failed) still gives its result.
async fn run_arm(arm: &Arm, scenario: &Path, url: &str, dir: &Path, name: &str) -> anyhow::Result<RunResult> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let log_path = dir.join("stroom.log");
    let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let mut command = tokio::process::Command::new(&arm.binary);
    command
        .arg("run")
        .arg(scenario)
        .arg("--results")
        .arg(dir)
        .arg("--database-url")
        .arg(url)
        .envs(arm.env.iter().map(|(k, v)| (k, v)))
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    let status = command.status().await.with_context(|| format!("starting {}", arm.binary.display()))?;
    if !status.success() && status.code() != Some(3) {
        let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
        let last: Vec<&str> = tail.lines().rev().take(5).collect();
        bail!(
            "its run failed ({status}); last lines of {}: {}",
            log_path.display(),
            last.into_iter().rev().collect::<Vec<_>>().join(" | ")
        );
    }
    let newest: Option<PathBuf> = std::fs::read_dir(dir.join(name))
        .ok()
        .and_then(|d| d.flatten().map(|e| e.path()).filter(|p| p.join("result.json").is_file()).max());
    let newest = newest.with_context(|| format!("its run wrote no result under {}", dir.join(name).display()))?;
    RunResult::read(&newest.join("result.json")).with_context(|| format!("reading {}", newest.display()))
}
