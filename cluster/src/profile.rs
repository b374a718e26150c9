//! Server settings profiles, sized from the machine.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the throwaway server trades durability for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// fsync and synchronous_commit stay on: an acknowledged commit is on disk. For benchmarks.
    #[default]
    Durable,
    /// fsync off. Fast and unsafe on a crash: for tests only.
    Fast,
}

impl Profile {
    /// The profile's name as scenarios and result files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Durable => "durable",
            Self::Fast => "fast",
        }
    }

    /// The `-c name=value` settings the server starts with, sized from `memory_bytes`.
    pub fn settings(self, memory_bytes: u64) -> Vec<(&'static str, String)> {
        const MB: u64 = 1 << 20;
        let mb = |bytes: u64| format!("{}MB", bytes / MB);
        let clamp = |v: u64, lo: u64, hi: u64| v.clamp(lo * MB, hi * MB);
        let mut s = vec![
            ("max_connections", "200".to_string()),
            // A statement on a partitioned log may lock every partition and each of its
            // indexes (a generic plan does); the default of 64 runs out of shared memory at
            // a few hundred schools under concurrent load.
            ("max_locks_per_transaction", "1024".to_string()),
            ("effective_cache_size", mb(memory_bytes / 2)),
            ("maintenance_work_mem", mb(clamp(memory_bytes / 16, 64, 2048))),
            ("work_mem", "16MB".to_string()),
            ("log_min_messages", "warning".to_string()),
        ];
        match self {
            // PostgreSQL's own checkpoint defaults (1 GB of WAL, 5 minutes): at stroom's append
            // rates a checkpoint then falls every few tens of seconds, as on a server nobody
            // tuned, so a 60 s step or a soak sees the stalls production sees. (Until
            // 2026-11-30 this was max_wal_size = memory / 4 and 15 min: no measured window
            // ever contained a checkpoint.)
            Self::Durable => s.extend([
                ("max_wal_size", "1024MB".to_string()),
                ("checkpoint_timeout", "5min".to_string()),
                ("shared_buffers", mb(clamp(memory_bytes / 4, 128, 8192))),
                ("fsync", "on".to_string()),
                ("synchronous_commit", "on".to_string()),
                ("full_page_writes", "on".to_string()),
            ]),
            Self::Fast => s.extend([
                ("max_wal_size", mb(clamp(memory_bytes / 4, 1024, 16384))),
                ("min_wal_size", "256MB".to_string()),
                ("checkpoint_timeout", "15min".to_string()),
                ("shared_buffers", mb(clamp(memory_bytes / 32, 128, 1024))),
                ("fsync", "off".to_string()),
                ("synchronous_commit", "off".to_string()),
                ("full_page_writes", "off".to_string()),
            ]),
        }
        s
    }
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "durable" => Ok(Self::Durable),
            "fast" => Ok(Self::Fast),
            other => Err(format!("unknown profile '{other}' (expected durable or fast)")),
        }
    }
}

/// The settings every result file records, read back from the running server.
pub const RECORDED_SETTINGS: &[&str] = &[
    "server_version",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_level",
    "shared_buffers",
    "huge_pages",
    "effective_cache_size",
    "work_mem",
    "maintenance_work_mem",
    "max_wal_size",
    "checkpoint_timeout",
    "max_connections",
    "max_locks_per_transaction",
];

/// Reads the effective values of [`RECORDED_SETTINGS`] from a server, with their units.
pub async fn effective_settings(pool: &sqlx::PgPool) -> Result<BTreeMap<String, String>> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)")
            .bind(RECORDED_SETTINGS)
            .fetch_all(pool)
            .await
            .map_err(Error::db("reading the server's settings"))?;
    Ok(rows
        .into_iter()
        .map(|(name, setting, unit)| {
            (name, format!("{setting}{}", unit.map(|u| format!(" × {u}")).unwrap_or_default()))
        })
        .collect())
}

/// Total memory of this machine, from /proc/meminfo; 4 GiB if it cannot be read.
pub fn machine_memory_bytes() -> u64 {
    meminfo_kb("MemTotal:").map_or(4 << 30, |kb| kb * 1024)
}

/// The size in bytes of the filesystem holding `path`; `None` if it cannot be read.
pub fn filesystem_bytes(path: &std::path::Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    Some(s.blocks() as u64 * s.fragment_size() as u64)
}

/// One `/proc/meminfo` field (`"MemTotal:"`, `"HugePages_Total:"`, …): its number, which is
/// kB for sizes and a count for page counts; `None` if it cannot be read.
pub fn meminfo_kb(field: &str) -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(s: &[(&str, String)], name: &str) -> String {
        s.iter().find(|(n, _)| *n == name).unwrap().1.clone()
    }

    #[test]
    fn durable_keeps_fsync_and_fast_drops_it() {
        let d = Profile::Durable.settings(24 << 30);
        let f = Profile::Fast.settings(24 << 30);
        assert_eq!(get(&d, "fsync"), "on");
        assert_eq!(get(&d, "synchronous_commit"), "on");
        assert_eq!(get(&f, "fsync"), "off");
    }

    #[test]
    fn memory_settings_follow_the_machine() {
        assert_eq!(get(&Profile::Durable.settings(24 << 30), "shared_buffers"), "6144MB");
        assert_eq!(get(&Profile::Durable.settings(1 << 30), "shared_buffers"), "256MB");
        assert_eq!(get(&Profile::Durable.settings(256 << 30), "shared_buffers"), "8192MB");
    }
}
