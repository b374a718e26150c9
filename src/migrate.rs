//! `stroom migrate`: runs a migration step by step, saying each, and prints its checks.

use std::process::ExitCode;

use anyhow::Context;
use stroom_reference::migrate::{Migration, Migrator, Step};

use crate::cli::{Cli, MigrateArgs, MigrateWhat};

/// Test hook: the process kills itself with SIGKILL right after the journal records this
/// step, as a crash at that step's boundary would leave things.
const KILL_AFTER: &str = "STROOM_MIGRATE_KILL_AFTER";

/// Runs `stroom migrate`.
pub async fn run(cli: &Cli, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let Some(url) = cli.database_url.as_deref() else {
        anyhow::bail!(
            "stroom migrate needs the first server's URL (--database-url or DATABASE_URL): it holds the placement map"
        )
    };
    let kill_after = match std::env::var(KILL_AFTER) {
        Ok(name) => Some(Step::parse(&name).with_context(|| format!("{KILL_AFTER}={name} names no step"))?),
        Err(_) => None,
    };
    let migrator = Migrator::connect(url).await.context("connecting to the servers")?;
    match (&args.what, args.resume, args.abort) {
        (Some(MigrateWhat::School { school, to }), false, false) => {
            let migration = migrator.start(*school, *to).await?;
            say(&migration, "started");
            drive(migration, kill_after).await
        }
        (None, resume, abort) if resume || abort => {
            let open = migrator.unfinished().await?;
            if open.is_empty() {
                stroom_loadgen::note(format_args!("no migration is open; nothing to do"));
            }
            for mut migration in open {
                if abort {
                    migration.abort("aborted by stroom migrate --abort").await?;
                    say(&migration, "aborted: the copy is removed and the source writable again");
                } else {
                    say(&migration, &format!("resuming after step {}", migration.step().name()));
                    drive(migration, kill_after).await?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => anyhow::bail!("say what to do: `stroom migrate school N --to S`, `--resume` or `--abort`"),
    }
}

async fn drive(mut migration: Migration, kill_after: Option<Step>) -> anyhow::Result<ExitCode> {
    if kill_after == Some(migration.step()) {
        kill_self();
    }
    while !migration.step().finished() {
        let step = migration.advance().await.inspect_err(|_| migration.report().checks.iter().for_each(print_check))?;
        say(&migration, step.name());
        if step == Step::Checked {
            migration.report().checks.iter().for_each(print_check);
        }
        if kill_after == Some(step) {
            kill_self();
        }
    }
    let r = migration.report();
    let fence = r.fence.map_or("not seen by this process".to_string(), |f| format!("{:.1} ms", f.as_secs_f64() * 1e3));
    println!(
        "school {} moved from server {} to server {}: {} rows copied in {} rounds at {:.0} rows/s, fenced {}, {:.1} s in all",
        migration.entry().school,
        migration.entry().from,
        migration.entry().to,
        r.rows_copied,
        r.rounds,
        r.rows_per_s(),
        fence,
        r.elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn say(migration: &Migration, what: &str) {
    let e = migration.entry();
    stroom_loadgen::note(format_args!(
        "migration {} (school {}, server {} → {}): {what}",
        e.id, e.school, e.from, e.to
    ));
}

fn print_check(check: &stroom_reference::migrate::Check) {
    let verdict = if check.passed() { "ok" } else { "MISMATCH" };
    println!("  check {:<26} {verdict:<8} source {} | target {}", check.name, check.source, check.target);
}

fn kill_self() {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
    std::process::abort();
}
