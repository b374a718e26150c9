//! What a paired A/B run leaves: `result.json` of `stroom ab`, from which its reports are made.

use serde::{Deserialize, Serialize};

use super::{Pair, Verdict};
use crate::environment::Environment;

/// Bumped whenever the layout of an A/B result changes incompatibly.
pub const AB_VERSION: u32 = 1;

/// One arm of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArmInfo {
    /// What was asked for: a git revision or a binary's path.
    pub spec: String,
    /// The commit it was built from, when it was a revision.
    pub commit: Option<String>,
    /// The binary that ran.
    pub binary: String,
    /// Environment variables set for it (`K=V`), e.g. a testing aid's slowdown.
    pub env: Vec<String>,
}

impl ArmInfo {
    /// The arm in a few words: its commit's first 7 characters or its binary, and its
    /// environment.
    pub fn label(&self) -> String {
        let what = self.commit.as_deref().map_or_else(|| self.spec.clone(), |c| c.get(..7).unwrap_or(c).to_string());
        if self.env.is_empty() {
            what
        } else {
            format!("{what} with {}", self.env.join(" "))
        }
    }
}

/// A paired A/B run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AbResult {
    /// [`AB_VERSION`].
    pub ab_version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file both arms ran.
    pub scenario_file: String,
    /// When the run started and ended, RFC 3339.
    pub started_at: String,
    /// When it ended.
    pub finished_at: String,
    /// The arm judged against.
    pub base: ArmInfo,
    /// The arm judged.
    pub head: ArmInfo,
    /// The margin: a change within ±delta is "the same".
    pub delta: f64,
    /// How the interval is computed.
    pub method: String,
    /// The order of each block's arms, e.g. `base,head`.
    pub orders: Vec<String>,
    /// Wall seconds of each block, both arms.
    pub block_seconds: Vec<f64>,
    /// The steps, when any ran: rounds of short steps, both arms a second apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<StepsInfo>,
    /// Why no more blocks ran.
    pub stopped: String,
    /// Seconds spent building arms from revisions before the first block.
    pub build_seconds: f64,
    /// The host both arms ran on, and the server.
    pub host: Environment,
    /// Every paired figure.
    pub pairs: Vec<Pair>,
    /// Wrong outcomes in either arm, in words, with the arm and block.
    pub wrong: Vec<String>,
}

impl AbResult {
    /// The figures judged slower.
    pub fn slower(&self) -> Vec<&Pair> {
        self.pairs.iter().filter(|p| p.verdict == Verdict::Slower).collect()
    }

    /// Whether the run fails: a figure slower, or a wrong outcome.
    pub fn failed(&self) -> bool {
        !self.wrong.is_empty() || !self.slower().is_empty()
    }

    /// How many figures got each verdict: slower, faster, same, undecided.
    pub fn counts(&self) -> [usize; 4] {
        super::tally(&self.pairs)
    }
}

/// The steps of a stepped run, beside its blocks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepsInfo {
    /// The steps of a round, in order.
    pub steps: Vec<String>,
    /// Wall seconds of each round, both arms.
    pub round_seconds: Vec<f64>,
    /// Why no more rounds ran.
    pub stopped: String,
}
