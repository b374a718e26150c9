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

    /// Start the cluster in this directory and keep its files: created the first time,
    /// started from it after, so a scenario with `[load] reuse = true` loads its history once.
    #[arg(long, global = true, value_name = "DIR")]
    pub db_dir: Option<std::path::PathBuf>,

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
    /// Compare two results, each figure normalised by its own run's reference, within a noise
    /// band from its repetitions; exit 3 on a regression or a missing figure. The verdict is
    /// added to the current run's report.md (the second run's, with --confirm) when it sits
    /// beside one.
    Compare {
        /// The baseline result.json (e.g. results/baseline.json).
        baseline: PathBuf,
        /// The current result.json.
        current: PathBuf,
        /// The least noise band: a figure's band is its repetitions' spread, never less.
        #[arg(long, default_value_t = 0.10)]
        noise: f64,
        /// Only figures whose names start with this (repeatable), e.g. `replay.parallel`.
        #[arg(long)]
        only: Vec<String>,
        /// Also list the figures that are shown but not judged.
        #[arg(long)]
        all: bool,
        /// A limit or a rate ÷ COPY in that fails while the hypervisor took more than this
        /// share of the CPU (during its step or its reference's) is not judged; 1 judges all.
        #[arg(long, default_value_t = 0.10, env = "STROOM_GATE_STEAL_LIMIT")]
        steal_limit: f64,
        /// A second run of the same commit: a figure judged against a band or a limit then
        /// fails only when both runs put it past; wrong outcomes fail in either run.
        #[arg(long, value_name = "RESULT")]
        confirm: Option<PathBuf>,
        /// Also write a page with both runs' charts overlaid above the delta table.
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
    },
    /// Write the gate's baseline: run a scenario several times from a clean commit and merge
    /// the runs, so the gate knows each figure's run-to-run noise. Refuses a dirty tree.
    Baseline {
        /// The scenario the gate runs.
        #[arg(long, default_value = "scenarios/quick.toml")]
        scenario: PathBuf,
        /// Whole runs to merge (at least 2).
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Where the merged baseline goes.
        #[arg(long, default_value = "results/baseline.json")]
        out: PathBuf,
        /// Where the runs' own result directories go.
        #[arg(long, default_value = "target/baseline-runs")]
        results: PathBuf,
    },
    /// Rebuild report.md and report.html beside each result.json from the result alone, so
    /// results written by an older stroom gain the current report's views; a gate verdict
    /// `stroom compare` put into report.md is kept.
    Report {
        /// One or more result.json files, e.g. results/*/*/result.json.
        #[arg(required = true)]
        results: Vec<PathBuf>,
    },
    /// Paired A/B run: two stroom builds run one scenario against one cluster, interleaved
    /// in blocks (A B, B A, …); for each headline figure, head ÷ base with a 99.9% interval over
    /// the blocks and a verdict (slower, faster, same within ±δ, undecided). Exit 3 when a
    /// figure is slower or either arm had a wrong outcome.
    Ab(AbArgs),
    /// One arm of `stroom ab`'s steps (started by `stroom ab`): prepares the scenario's stores
    /// as arm NAME, prints `{"ready": [steps]}`, then runs each step named on a line of stdin
    /// and prints its figures as one JSON line.
    #[command(hide = true)]
    AbSteps {
        /// The scenario, as `stroom ab` was given it.
        scenario: PathBuf,
        /// The arm's name: its stores are `stroom_ab_<arm>_<strategy>`.
        #[arg(long)]
        arm: String,
    },
    /// Print the capacity plan of a result: fitted scalability, projections, headroom.
    Plan {
        /// A result.json.
        result: PathBuf,
        /// Another result.json of the same machine: the groups of figures the first lacks come
        /// from it (repeat the flag for more; the first to have a group gives it).
        #[arg(long, value_name = "RESULT")]
        with: Vec<PathBuf>,
        /// p99 acknowledgement latency objective in ms (default: the scenario's).
        #[arg(long)]
        slo_p99_ms: Option<f64>,
        /// Target machine's cores (the target defaults to the machine running this).
        #[arg(long)]
        cores: Option<f64>,
        /// Target machine's memory in GB.
        #[arg(long)]
        ram_gb: Option<f64>,
        /// Target machine's disk read rate in MB/s (unmeasured unless given).
        #[arg(long)]
        disk_mb_s: Option<f64>,
        /// Also project a log of this many events.
        #[arg(long, conflicts_with = "day")]
        events: Option<f64>,
        /// Also project the log of this day on the published growth curve (day 888: 300M).
        #[arg(long)]
        day: Option<f64>,
        /// Onboarding: schools on the platform today.
        #[arg(long, default_value_t = 250.0)]
        schools_now: f64,
        /// Onboarding: schools that would join today.
        #[arg(long, default_value_t = 0.0)]
        more_schools: f64,
        /// Onboarding: the longest acceptable full rebuild ("1h", "45min", "90s").
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        rebuild_budget: std::time::Duration,
        /// Onboarding: disk for the log in GB (default: the filesystem of the working directory,
        /// or unjudged for a target machine).
        #[arg(long)]
        disk_gb: Option<f64>,
        /// Onboarding: today, as a day on the published growth curve (888: the 300M point).
        #[arg(long, default_value_t = 888.0)]
        today: f64,
        /// Project this many servers, each a machine like the measured one, from the
        /// one-server figures (default: the servers the result's migrate phase ran on).
        #[arg(long)]
        servers: Option<f64>,
    },
    /// Run the workload generator alone: print a summary, optionally write a sample.
    Generate(GenerateArgs),
    /// Manage a database by hand.
    #[command(subcommand)]
    Db(DbCommand),
    /// Move a school to another server with its writers running (a checked passive
    /// migration), or finish or undo one a crash left open. Needs the first server's URL
    /// (`--database-url`), which holds the placement map, the servers' URLs and the journal.
    Migrate(MigrateArgs),
    /// The faults phase's appending process (started by `stroom run`, killed by its
    /// process-restart fault): appends to the store `stroom_faults_child` until killed,
    /// printing each acknowledgement.
    #[command(hide = true)]
    FaultsWriter {
        /// The database.
        #[arg(long)]
        url: String,
        /// Offered events per second.
        #[arg(long)]
        rate: f64,
        /// Virtual users.
        #[arg(long)]
        users: usize,
        /// The writers' lease in seconds.
        #[arg(long)]
        lease_s: f64,
        /// The writers' timeout in seconds.
        #[arg(long)]
        timeout_s: f64,
    },
}

/// `stroom db …`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Start throwaway clusters, print their URLs (one per line: the servers, then the
    /// standby) and wait until Ctrl-C.
    Start {
        /// How many servers, each a cluster of its own on its own port.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        servers: u16,
        /// Also start a hot standby of the first server, streaming its WAL
        /// (`pg_basebackup -R`), read-only.
        #[arg(long)]
        standby: bool,
    },
}

/// `stroom ab`.
#[derive(Debug, clap::Args)]
pub struct AbArgs {
    /// The scenario both arms run, e.g. scenarios/gate.toml (no [faults] or [migrate]).
    pub scenario: PathBuf,
    /// The build judged against: a git revision (built in a worktree, release, cached by
    /// commit under target/ab/) or a stroom binary's path.
    #[arg(long)]
    pub base: String,
    /// The build judged: a git revision or a stroom binary's path.
    #[arg(long)]
    pub head: String,
    /// The margin: a change within ±δ is "the same"; slower or faster needs the whole 99.9%
    /// interval past it.
    #[arg(long, default_value_t = 0.05)]
    pub delta: f64,
    /// Wall time for the blocks, after the steps (building arms not counted): no block starts
    /// that would end past it ("20min", "600s"; "0s": none).
    #[arg(long, default_value = "20min", value_parser = humantime::parse_duration)]
    pub budget: std::time::Duration,
    /// Wall time for the steps, before the blocks: rounds of short steps (each strategy's
    /// closed loop, the fold, a projector's poll), both arms a second apart ("0s": none).
    #[arg(long, default_value = "10min", value_parser = humantime::parse_duration)]
    pub steps_budget: std::time::Duration,
    /// Rounds of steps before every step figure's verdict may end the steps early.
    #[arg(long, default_value_t = 12)]
    pub min_rounds: u32,
    /// Blocks before every figure's verdict may end the run early.
    #[arg(long, default_value_t = 6)]
    pub min_blocks: u32,
    /// Blocks at most.
    #[arg(long, default_value_t = 40)]
    pub max_blocks: u32,
    /// An environment variable for the base arm's runs, K=V (repeatable).
    #[arg(long, value_name = "K=V")]
    pub base_env: Vec<String>,
    /// An environment variable for the head arm's runs, K=V (repeatable), e.g. the testing aid
    /// STROOM_SLOWDOWN=fold=0.1.
    #[arg(long, value_name = "K=V")]
    pub head_env: Vec<String>,
    /// Where the result goes (`<results>/ab/<time>/`).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Keep every arm's own result beside it (`<results>/ab/<time>-arms/`).
    #[arg(long)]
    pub keep_arms: bool,
}

/// `stroom migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// What to move.
    #[command(subcommand)]
    pub what: Option<MigrateWhat>,
    /// Finish every migration the journal holds open, from its last finished step.
    #[arg(long, conflicts_with = "abort")]
    pub resume: bool,
    /// Undo every open migration that has not switched: remove the copy, lift the fence.
    #[arg(long)]
    pub abort: bool,
}

/// What `stroom migrate` moves.
#[derive(Debug, Subcommand)]
pub enum MigrateWhat {
    /// One school, to server `--to` (servers count from 0 in the order `stroom db start`
    /// printed them).
    School {
        /// The school.
        school: i32,
        /// The server it goes to.
        #[arg(long)]
        to: u32,
    },
}

/// `stroom generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Simulated days to generate.
    #[arg(long, conflicts_with = "events")]
    pub days: Option<u32>,
    /// Generate whole days until at least this many events.
    #[arg(long)]
    pub events: Option<u64>,
    /// Number of schools.
    #[arg(long, default_value_t = 250)]
    pub schools: u32,
    /// Students across all schools.
    #[arg(long, default_value_t = 100_000)]
    pub students: u32,
    /// Target events per school day.
    #[arg(long, default_value_t = 1_200_000.0)]
    pub events_per_school_day: f64,
    /// Follow the published growth history, scaled by this factor (1 = the real volumes).
    #[arg(long)]
    pub growth: Option<f64>,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Write the first events as JSON lines to this file.
    #[arg(long)]
    pub sample: Option<PathBuf>,
    /// Events in the sample.
    #[arg(long, default_value_t = 1000)]
    pub sample_size: usize,
}
