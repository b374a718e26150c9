//! The command line, as parsed by clap. Nothing here does work.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use stroom_cluster::Profile;

/// Benchmark and load-testing harness for event-sourced systems on PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "stroom", version, about)]
pub struct Cli {
    /// Use this server instead of starting a throwaway cluster.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Where to start a database when no URL is given.
    #[arg(long, value_enum, default_value_t = DbKind::Embedded, global = true)]
    pub db: DbKind,

    /// Settings profile of a started server: `durable` (fsync on) or `fast` (fsync off, tests only).
    /// Defaults to the scenario's, else `durable`.
    #[arg(long, global = true)]
    pub profile: Option<Profile>,

    /// Keep the throwaway cluster running after stroom exits, and print how to connect.
    #[arg(long, global = true)]
    pub keep_db: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where a database is started when no URL is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DbKind {
    /// A throwaway cluster from the installed PostgreSQL server binaries.
    Embedded,
    /// A `postgres` container (needs the `testcontainers` feature and a Docker engine).
    Docker,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario file: the main job.
    Run {
        /// The scenario, e.g. scenarios/quick.toml.
        scenario: PathBuf,
        /// Where result directories go.
        #[arg(long, default_value = "results")]
        results: PathBuf,
    },
    /// Manage a database by hand.
    #[command(subcommand)]
    Db(DbCommand),
}

/// `stroom db …`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Start a throwaway cluster, print its URL and wait until Ctrl-C.
    Start,
}
