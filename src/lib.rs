//! The `stroom` binary's library half: it parses the command line and calls library code.
//! `main.rs` only hands over to [`main`], so tests can drive the CLI through [`Cli`].

mod ab;
mod baseline;
mod cli;
mod database;
mod generate;
mod interrupt;
mod migrate;

use std::process::ExitCode;

use anyhow::Context;

pub use cli::{AbArgs, Cli, Command, DbCommand, DbKind, GenerateArgs, MigrateArgs, MigrateWhat};

/// Runs one command line to completion and returns the process exit code. Errors are printed
/// as one line.
pub fn main(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(anyhow::Error::new(e).context("starting the async runtime")),
    };
    let outcome = runtime.block_on(interrupt::unless_interrupted(run(cli)));
    drop(runtime);
    match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => fail(e),
        Err(signal) => {
            stroom_loadgen::note(format_args!("interrupted by {signal}; stopped and removed what this run started"));
            ExitCode::from(130)
        }
    }
}

/// Says, one line each, how two results' hosts differ: a figure from another CPU model or
/// disk is context, not evidence of a change.
fn warn_hosts(a_name: &str, a: &stroom_loadgen::RunResult, b_name: &str, b: &stroom_loadgen::RunResult) {
    let differences = a.environment.host_differences(&b.environment);
    if differences.is_empty() {
        return;
    }
    stroom_loadgen::note(format_args!(
        "warning: {a_name} and {b_name} ran on different hosts; a difference between them may be the host's, \
         not stroom's (stroom ab runs both builds on one host):"
    ));
    for d in differences {
        stroom_loadgen::note(format_args!("  {d}"));
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    stroom_loadgen::note(format_args!("error: {}", one_line(&e)));
    ExitCode::FAILURE
}

/// The error chain as one line, leaving out causes whose text the line already holds.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Db(DbCommand::Start { servers, standby }) => {
            let started = database::start_servers(&cli, *servers, *standby).await?;
            for (name, db) in &started.servers {
                println!("{}", db.url());
                stroom_loadgen::note(format_args!("{name}: {}", db.describe()));
                if let Some(cluster) = db.cluster() {
                    stroom_loadgen::note(format_args!("  connect with {}", cluster.psql_hint()));
                }
            }
            if let Some(standby) = &started.standby {
                println!("{}", standby.url());
                stroom_loadgen::note(format_args!(
                    "standby of server 1: hot standby in {}, read-only, streaming its WAL",
                    standby.dir().display()
                ));
            }
            let what = if started.servers.len() == 1 && started.standby.is_none() { "it" } else { "them" };
            stroom_loadgen::note(format_args!("Ctrl-C stops {what}"));
            std::future::pending::<()>().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => generate::run(args),
        Command::Ab(args) => ab::run(&cli, args).await,
        Command::Migrate(args) => migrate::run(&cli, args).await,
        Command::FaultsWriter { url, rate, users, lease_s, timeout_s } => {
            let args = stroom_loadgen::FaultsWriterArgs {
                url: url.clone(),
                rate: *rate,
                users: *users,
                lease_s: *lease_s,
                timeout_s: *timeout_s,
            };
            stroom_loadgen::faults_writer(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare { baseline, current, noise, only, all, confirm, steal_limit, html } => {
            anyhow::ensure!((0.0..1.0).contains(noise), "--noise must be between 0 and 1, e.g. 0.10");
            anyhow::ensure!((0.0..=1.0).contains(steal_limit), "--steal-limit must be between 0 and 1, e.g. 0.10");
            let compare = |b: &_, c: &_| stroom_loadgen::compare_with_steal_limit(b, c, *noise, only, *steal_limit);
            let b = stroom_loadgen::RunResult::read(baseline).context("reading the baseline")?;
            let c = stroom_loadgen::RunResult::read(current).context("reading the current result")?;
            warn_hosts("the baseline", &b, "the current run", &c);
            let mut comparison = compare(&b, &c);
            let mut current = current;
            let mut shown = c.clone();
            if let Some(second) = confirm {
                let s = stroom_loadgen::RunResult::read(second).context("reading the second run")?;
                anyhow::ensure!(
                    s.environment.git_commit == c.environment.git_commit,
                    "--confirm needs a second run of the same commit: {} is of {}, {} of {}",
                    current.display(),
                    c.environment.git_commit,
                    second.display(),
                    s.environment.git_commit
                );
                comparison = stroom_loadgen::confirm(&comparison, &compare(&b, &s));
                current = second;
                shown = s;
            }
            anyhow::ensure!(
                !comparison.rows.is_empty(),
                "the baseline has no figures to compare{}",
                if only.is_empty() { String::new() } else { format!(" starting with {only:?}") }
            );
            print!("{}", comparison.render(*all));
            if let Some(out) = html {
                let delta = comparison.markdown(&baseline.display().to_string());
                let names = (baseline.display().to_string(), current.display().to_string());
                let page =
                    stroom_loadgen::report::compare_html((names.0.as_str(), &b), (names.1.as_str(), &shown), &delta);
                stroom_loadgen::report::write_whole(out, page.as_bytes())
                    .with_context(|| format!("writing {}", out.display()))?;
                stroom_loadgen::note(format_args!("wrote {}", out.display()));
            }
            let report = current.with_file_name("report.md");
            if report.is_file() {
                stroom_loadgen::put_gate_section(&report, &comparison.markdown(&baseline.display().to_string()))?;
                stroom_loadgen::note(format_args!("the verdict is in {}", report.display()));
            }
            let failed: Vec<_> = comparison.regressions().map(|r| r.name.clone()).collect();
            if failed.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                stroom_loadgen::note(format_args!("regression in {}", failed.join(", ")));
                Ok(ExitCode::from(3))
            }
        }
        Command::Report { results } => {
            for result in results {
                let written = stroom_loadgen::report::rerender(result)
                    .with_context(|| format!("rebuilding the reports of {}", result.display()))?;
                let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
                stroom_loadgen::note(format_args!("wrote {}", names.join(" and ")));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Baseline { scenario, runs, out, results } => baseline::run(&cli, scenario, *runs, out, results).await,
        Command::Plan {
            result,
            with,
            slo_p99_ms,
            cores,
            ram_gb,
            disk_mb_s,
            events,
            day,
            schools_now,
            more_schools,
            rebuild_budget,
            disk_gb,
            today,
            servers,
        } => {
            let mut r = stroom_loadgen::RunResult::read(result).context("reading the result")?;
            for path in with {
                let other = stroom_loadgen::RunResult::read(path).context("reading the --with result")?;
                warn_hosts(&result.display().to_string(), &r, &path.display().to_string(), &other);
                let added = stroom_loadgen::fill_from(&mut r, &other)
                    .map_err(|why| anyhow::anyhow!("--with {}: {why}", path.display()))?;
                println!(
                    "with {} (commit {}): {} figures this result lacks",
                    path.display(),
                    other.environment.git_commit.get(..7).unwrap_or("unknown"),
                    added.len()
                );
            }
            let slo = slo_p99_ms.or_else(|| r.scenario.get("slo_p99_ms").and_then(|v| v.as_f64())).unwrap_or(50.0);
            for (flag, v) in [
                ("--cores", cores),
                ("--ram-gb", ram_gb),
                ("--disk-mb-s", disk_mb_s),
                ("--events", events),
                ("--day", day),
                ("--disk-gb", disk_gb),
                ("--schools-now", &Some(*schools_now)),
                ("--today", &Some(*today)),
                ("--servers", servers),
            ] {
                anyhow::ensure!(v.is_none_or(|v| v > 0.0 && v.is_finite()), "{flag} must be a positive number");
            }
            anyhow::ensure!(
                *more_schools >= 0.0 && more_schools.is_finite(),
                "--more-schools must be a number of schools, 0 or more"
            );
            anyhow::ensure!(!rebuild_budget.is_zero(), "--rebuild-budget must be longer than 0");
            let target =
                (cores.is_some() || ram_gb.is_some() || disk_mb_s.is_some()).then(|| stroom_loadgen::Machine {
                    cores: cores
                        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)),
                    ram_bytes: ram_gb.map_or_else(|| stroom_cluster::machine_memory_bytes() as f64, |g| g * 1e9),
                    disk_mb_s: *disk_mb_s,
                });
            let events = events.or_else(|| day.map(|d| stroom_loadgen::generator::Growth::published().cumulative(d)));
            // The disk defaults to this machine's only when the plan is for this machine.
            let disk_bytes = disk_gb.map(|g| g * 1e9).or_else(|| {
                target
                    .is_none()
                    .then(|| stroom_cluster::filesystem_bytes(std::path::Path::new(".")))
                    .flatten()
                    .map(|b| b as f64)
            });
            let onboarding = stroom_loadgen::Onboarding {
                schools_now: *schools_now,
                more: *more_schools,
                rebuild_budget_s: rebuild_budget.as_secs_f64(),
                disk_bytes,
                today: *today,
            };
            let question = stroom_loadgen::Question { target, events, onboarding, servers: *servers };
            print!("{}", stroom_loadgen::plan_for(&r, slo, &question).render());
            Ok(ExitCode::SUCCESS)
        }
        Command::AbSteps { scenario, arm } => ab::step_server::serve(&cli, &load_scenario(scenario)?, arm).await,
        Command::Run { scenario, results } => {
            let scenario = load_scenario(scenario)?;
            // Results that could not be written would cost the whole run: check first.
            stroom_loadgen::check_writable(results, &scenario.name)?;
            let db = database::open(&cli, Some(scenario.profile), scenario.database_url.as_deref()).await?;
            let outcome = match stroom_loadgen::run(&scenario, &db, results).await {
                Ok(outcome) => outcome,
                // A full disk or a crashed server first, by name, then what stroom was doing.
                Err(e) => match db.cluster().and_then(|c| c.diagnose()) {
                    Some(diagnosis) => return Err(anyhow::Error::new(e).context(diagnosis)),
                    None => return Err(e.into()),
                },
            };
            Ok(if outcome.passed { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }
    }
}

/// Loads a scenario with the testing aid's slowdowns from the environment, if set (the gate's
/// power trials).
fn load_scenario(path: &std::path::Path) -> anyhow::Result<stroom_loadgen::Scenario> {
    let mut scenario = stroom_loadgen::Scenario::load(path)?;
    if let Ok(spec) = std::env::var(stroom_loadgen::SLOWDOWN_VAR) {
        scenario.inject = scenario
            .inject
            .with_slowdowns(&spec)
            .map_err(|why| anyhow::anyhow!("{}={spec:?}: {why}", stroom_loadgen::SLOWDOWN_VAR))?;
    }
    Ok(scenario)
}
