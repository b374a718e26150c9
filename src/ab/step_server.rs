//! The arm side of `stroom ab`'s steps (`stroom ab-steps`, hidden): prepares the scenario's
//! stores, says which steps it has, then runs each step named on a line of stdin and answers
//! with one JSON line on stdout. Progress and notes go to stderr.

use std::process::ExitCode;

use anyhow::Context;
use stroom_loadgen::{step_names, Scenario, Stepper};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::cli::Cli;

/// Serves steps as arm `arm` until stdin ends or says `quit`.
pub async fn serve(cli: &Cli, scenario: &Scenario, arm: &str) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !arm.is_empty() && arm.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "--arm must be lowercase letters and digits, e.g. base"
    );
    let url = cli.database_url.as_deref().context("ab-steps needs --database-url")?;
    stroom_loadgen::install_slowdowns(&scenario.inject)?;
    let mut stepper = Stepper::prepare(url, scenario, arm).await?;
    let mut out = tokio::io::stdout();
    let say = |v: serde_json::Value| format!("{v}\n");
    out.write_all(say(serde_json::json!({ "ready": step_names(scenario) })).as_bytes()).await?;
    out.flush().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let step = line.trim();
        if step == "quit" {
            break;
        }
        let answer = match stepper.step(step).await {
            Ok(outcome) => serde_json::to_value(&outcome)?,
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        out.write_all(say(answer).as_bytes()).await?;
        out.flush().await?;
    }
    stepper.close().await;
    Ok(ExitCode::SUCCESS)
}
