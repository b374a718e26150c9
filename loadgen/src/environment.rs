//! What a result was measured on: machine, server and code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The environment every result file records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    /// `git rev-parse HEAD`, with `-dirty` when the tree has changes; `unknown` outside git.
    pub git_commit: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Logical cores.
    pub cores: usize,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Where the data lived, in words.
    pub database: String,
    /// The settings profile stroom started the server with, or `external`.
    pub profile: String,
    /// Effective server settings, read back from the server (includes `server_version`).
    pub settings: BTreeMap<String, String>,
    /// Huge pages the kernel had reserved (`HugePages_Total` × `Hugepagesize`), in bytes. A
    /// server with `huge_pages = try` (the default) maps its shared buffers on them when enough
    /// are free; per-school appends ran about 7% faster with them here. 0 in older results.
    #[serde(default)]
    pub huge_pages_bytes: u64,
    /// The data directory's filesystem and measured fsync latency, when stroom started the
    /// server here; `None` for a server elsewhere (then both are unknown).
    #[serde(default)]
    pub durability: Option<crate::measure::Durability>,
}

impl Environment {
    /// Reads the machine; `database`, `profile` and `settings` come from the caller.
    pub fn capture(database: String, profile: String, settings: BTreeMap<String, String>) -> Self {
        Self {
            git_commit: git_commit(),
            cpu_model: cpu_model(),
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            memory_bytes: stroom_cluster::machine_memory_bytes(),
            database,
            profile,
            settings,
            huge_pages_bytes: huge_pages_bytes(),
            durability: None,
        }
    }
}

fn huge_pages_bytes() -> u64 {
    let field = |name| stroom_cluster::meminfo_kb(name).unwrap_or(0);
    field("HugePages_Total:") * field("Hugepagesize:") * 1024
}

/// The commit of the working directory: `git rev-parse HEAD`, with `-dirty` when tracked files
/// have changes; `unknown` outside git.
pub fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(head) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{head}-dirty")
            } else {
                head
            }
        }
        None => "unknown".into(),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
