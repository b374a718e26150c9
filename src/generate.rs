//! `stroom generate`: flags to a request, a summary to stdout.

use std::process::ExitCode;

use anyhow::Context;
use stroom_loadgen::generator::GeneratorConfig;
use stroom_loadgen::{GenerateRequest, Until};

use crate::cli::GenerateArgs;

pub fn run(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.schools >= 1, "--schools must be at least 1");
    anyhow::ensure!(
        args.students >= args.schools,
        "--students ({}) must be at least --schools ({})",
        args.students,
        args.schools
    );
    anyhow::ensure!(args.events_per_school_day > 0.0, "--events-per-school-day must be positive");
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    let until = match (args.days, args.events) {
        (_, Some(n)) => Until::Events(n),
        (Some(d), None) => Until::Days(d),
        (None, None) => Until::Days(5),
    };
    let req = GenerateRequest {
        config: GeneratorConfig {
            seed: args.seed,
            schools: args.schools,
            students: args.students,
            events_per_school_day: args.events_per_school_day,
            growth: args.growth,
            threads,
            ..GeneratorConfig::default()
        },
        until,
        sample: args.sample.clone(),
        sample_size: args.sample_size,
    };
    let out = stroom_loadgen::generate(&req).context("generating")?;
    print!("{}", out.summary.render());
    println!("\ngenerated at {:.0} events/s on {threads} threads", out.events_per_s);
    if let Some(path) = &args.sample {
        println!("sample: {}", path.display());
        println!("the v2 read model of the sample's events (check against its lines):");
        for line in &out.sample_analytics {
            println!("  {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
