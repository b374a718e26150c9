//! The `stroom` binary's library half: it parses the command line and calls library code.
//! `main.rs` only hands over to [`main`], so tests can drive the CLI through [`Cli`].

mod cli;
mod database;
mod generate;
mod interrupt;

use std::process::ExitCode;

use anyhow::Context;

pub use cli::{Cli, Command, DbCommand, DbKind, GenerateArgs};

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
        Command::Db(DbCommand::Start) => {
            let db = database::open(&cli, None, None).await?;
            println!("{}", db.url());
            stroom_loadgen::note(format_args!("{}; Ctrl-C stops it", db.describe()));
            if let Some(cluster) = db.cluster() {
                stroom_loadgen::note(format_args!("connect with {}", cluster.psql_hint()));
            }
            std::future::pending::<()>().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => generate::run(args),
        Command::Compare { baseline, current, noise, only } => {
            anyhow::ensure!((0.0..1.0).contains(noise), "--noise must be between 0 and 1, e.g. 0.15");
            let b = stroom_loadgen::RunResult::read(baseline).context("reading the baseline")?;
            let c = stroom_loadgen::RunResult::read(current).context("reading the current result")?;
            let comparison = stroom_loadgen::compare(&b, &c, *noise, only);
            anyhow::ensure!(
                !comparison.rows.is_empty(),
                "the two results share no figures{}",
                if only.is_empty() { String::new() } else { format!(" starting with {only:?}") }
            );
            print!("{}", comparison.render(*noise));
            let regressions: Vec<_> = comparison.regressions().map(|r| r.name.clone()).collect();
            if regressions.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                stroom_loadgen::note(format_args!("regression in {}", regressions.join(", ")));
                Ok(ExitCode::from(3))
            }
        }
        Command::Plan { result, slo_p99_ms } => {
            let r = stroom_loadgen::RunResult::read(result).context("reading the result")?;
            let slo = slo_p99_ms.or_else(|| r.scenario.get("slo_p99_ms").and_then(|v| v.as_f64())).unwrap_or(50.0);
            print!("{}", stroom_loadgen::plan(&r, slo).render());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { scenario, results } => {
            let scenario = stroom_loadgen::Scenario::load(scenario)?;
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
