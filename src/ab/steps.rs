//! The steps of `stroom ab`: both arms' step processes (`stroom ab-steps`) prepared once, then
//! rounds in which each step runs on one arm and right after on the other, the first arm
//! alternating from step to step and round to round. Each round gives one pair per figure.
//! The fold and the poll, when both arms can, run as slices (one pass, one poll), the arms in
//! turns.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use stroom_loadgen::ab;
use stroom_loadgen::{note, Sliced, StepOutcome, SLICED};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::arm::Arm;

/// What the rounds gave.
pub struct Rounds {
    /// Per round: base's figures and head's.
    pub rows: Vec<ab::Row>,
    /// The steps of a round.
    pub steps: Vec<String>,
    /// Wall seconds of each round.
    pub seconds: Vec<f64>,
    /// Wrong outcomes, with the arm and round.
    pub wrong: Vec<String>,
    /// Why no more rounds ran.
    pub stopped: String,
}

/// One arm's step process.
struct StepArm {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    log: std::path::PathBuf,
}

impl StepArm {
    async fn start(
        arm: &Arm,
        name: &'static str,
        scenario: &Path,
        url: &str,
        dir: &Path,
    ) -> anyhow::Result<(Self, Vec<String>)> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let log = dir.join(format!("steps-{name}.log"));
        let file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = tokio::process::Command::new(&arm.binary)
            .arg("ab-steps")
            .arg(scenario)
            .arg("--arm")
            .arg(name)
            .arg("--database-url")
            .arg(url)
            .envs(arm.env.iter().map(|(k, v)| (k, v)))
            .env_remove("DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", arm.binary.display()))?;
        let stdin = child.stdin.take().expect("piped");
        let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut me = Self { name, child, stdin, lines, log };
        let ready = me.read().await?;
        let steps: Vec<String> = serde_json::from_value(ready.get("ready").cloned().unwrap_or_default())
            .with_context(|| format!("the {name} arm's first line is not {{\"ready\": [steps]}}: {ready}"))?;
        Ok((me, steps))
    }

    async fn read(&mut self) -> anyhow::Result<serde_json::Value> {
        match self.lines.next_line().await? {
            Some(line) => serde_json::from_str(&line).with_context(|| format!("the {} arm said {line:?}", self.name)),
            None => {
                let tail = std::fs::read_to_string(&self.log).unwrap_or_default();
                let last: Vec<&str> = tail.lines().rev().take(4).collect();
                bail!(
                    "the {} arm's steps ended ({}); last lines of {}: {}",
                    self.name,
                    self.child.wait().await.map(|s| s.to_string()).unwrap_or_default(),
                    self.log.display(),
                    last.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )
            }
        }
    }

    async fn step(&mut self, step: &str) -> anyhow::Result<StepOutcome> {
        self.stdin.write_all(format!("{step}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        let answer = self.read().await?;
        if let Some(e) = answer.get("error") {
            bail!("the {} arm's step {step} failed: {}", self.name, e.as_str().unwrap_or_default());
        }
        serde_json::from_value(answer).with_context(|| format!("the {} arm's answer to {step}", self.name))
    }

    async fn quit(mut self) {
        let _ = self.stdin.write_all(b"quit\n").await;
        let _ = self.stdin.flush().await;
        let _ = tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await;
    }
}

/// The step `sliced` stands for as `sliced.slices` slices, the arms in turns `order[0]`,
/// `order[1]`, `order[1]`, `order[0]`, and so on (a drift of the core's speed within the step
/// then weighs on both alike): the figure's name, and each arm's figure of its summed work and
/// seconds.
async fn in_slices(sliced: &Sliced, arms: [&mut StepArm; 2], order: [usize; 2]) -> anyhow::Result<(String, [f64; 2])> {
    let (mut work, mut seconds) = ([0.0; 2], [0.0; 2]);
    let mut figure = sliced.figure.to_string();
    for k in 0..sliced.slices {
        let slot = if matches!(k % 4, 0 | 3) { order[0] } else { order[1] };
        let out = arms[slot].step(sliced.slice).await?;
        let got =
            |name: &str| out.figures.get(name).copied().with_context(|| format!("a {} without {name}", sliced.slice));
        work[slot] += got(sliced.work)?;
        seconds[slot] += got(sliced.seconds)?;
        if let Some(named) = out.figures.keys().find(|k| *k != sliced.work && *k != sliced.seconds) {
            figure.clone_from(named);
        }
    }
    anyhow::ensure!(!figure.is_empty(), "the {} slices named no figure", sliced.step);
    Ok((figure, [sliced.figure_of(work[0], seconds[0]), sliced.figure_of(work[1], seconds[1])]))
}

/// Runs rounds of steps until every step figure is decided (after `min_rounds`), `budget`
/// has no room for another round, or 400 rounds.
pub async fn run(
    arms: [&Arm; 2],
    scenario: &Path,
    url: &str,
    dir: &Path,
    budget: Duration,
    min_rounds: u32,
    delta: f64,
) -> anyhow::Result<Rounds> {
    note(format_args!("ab: steps: preparing both arms' stores …"));
    let (mut base, base_steps) =
        StepArm::start(arms[0], "base", scenario, url, dir).await.context("the base arm's steps")?;
    let (mut head, head_steps) =
        StepArm::start(arms[1], "head", scenario, url, dir).await.context("the head arm's steps")?;
    let steps: Vec<String> = base_steps.iter().filter(|s| head_steps.contains(s)).cloned().collect();
    // Where both arms have a step's slice, the step is slices of both in turns.
    let sliced: Vec<Sliced> = SLICED.into_iter().filter(|s| steps.iter().any(|n| n == s.slice)).collect();
    let steps: Vec<String> = steps.into_iter().filter(|n| !SLICED.iter().any(|s| s.slice == n)).collect();
    anyhow::ensure!(!steps.is_empty(), "the arms have no step in common (base: {base_steps:?}, head: {head_steps:?})");
    // The headline strategy's appends, the fold and the poll run every round; the other
    // strategies' appends take turns, one a round, so a round stays a few seconds long.
    let (every, turns): (Vec<String>, Vec<String>) =
        steps.iter().cloned().partition(|s| !s.starts_with("append:") || s == "append:per-school");
    note(format_args!(
        "ab: steps: every round {}{}; each step on both arms back to back{}",
        every.join(", "),
        if turns.is_empty() { String::new() } else { format!(", and in turn one of {}", turns.join(", ")) },
        sliced.iter().map(|s| format!(", {} as {} slices in turns", s.step, s.slices)).collect::<String>()
    ));
    let until = Instant::now() + budget;
    let mut rounds = Rounds {
        rows: Vec::new(),
        steps: steps.clone(),
        seconds: Vec::new(),
        wrong: Vec::new(),
        stopped: String::new(),
    };
    rounds.stopped = loop {
        let r = rounds.rows.len();
        let started = Instant::now();
        let mut row = ab::Row::default();
        let this_round: Vec<&String> = every.iter().chain(turns.get(r % turns.len().max(1))).collect();
        for (j, step) in this_round.into_iter().enumerate() {
            let order: [usize; 2] = if (r + j) % 2 == 0 { [0, 1] } else { [1, 0] };
            if let Some(slices) = sliced.iter().find(|s| s.step == step) {
                let (figure, values) = in_slices(slices, [&mut base, &mut head], order)
                    .await
                    .with_context(|| format!("round {}", r + 1))?;
                row.base.insert(figure.clone(), values[0]);
                row.head.insert(figure.clone(), values[1]);
                row.base_first.insert(figure, order[0] == 0);
                continue;
            }
            for slot in order {
                let arm = if slot == 0 { &mut base } else { &mut head };
                let out = arm.step(step).await.with_context(|| format!("round {}", r + 1))?;
                rounds.wrong.extend(out.wrong.iter().map(|w| format!("{}, round {}: {w}", arm.name, r + 1)));
                row.base_first.extend(out.figures.keys().map(|k| (k.clone(), order[0] == 0)));
                if slot == 0 {
                    row.base.extend(out.figures)
                } else {
                    row.head.extend(out.figures)
                }
            }
        }
        rounds.rows.push(row);
        rounds.seconds.push(started.elapsed().as_secs_f64());
        let n = rounds.rows.len() as u32;
        let pairs = ab::analyse_rows(&rounds.rows, delta);
        if n % 5 == 0 {
            let [slower, faster, same, undecided] = ab::tally(&pairs);
            note(format_args!(
                "ab: steps: after {n} rounds: {slower} slower, {faster} faster, {same} the same, {undecided} undecided"
            ));
        }
        let mean = rounds.seconds.iter().sum::<f64>() / f64::from(n);
        if !rounds.wrong.is_empty() {
            break format!("steps stopped after a wrong outcome in round {n}");
        }
        if n >= min_rounds && ab::all_decided(&pairs) {
            break format!("steps stopped when every step figure was decided, after {n} rounds");
        }
        if n >= 400 {
            break format!("steps stopped at {n} rounds");
        }
        if Instant::now() + Duration::from_secs_f64(mean) > until {
            break format!(
                "steps stopped when the budget ({}) had no room for another round of ~{mean:.1} s, after {n} rounds",
                humantime::format_duration(budget)
            );
        }
    };
    base.quit().await;
    head.quit().await;
    Ok(rounds)
}
