//! What "durable" means where the data lives: the data directory's filesystem and the
//! measured latency of one 8 kB write plus `fdatasync` there (`pg_test_fsync`, which ships
//! with the server binaries, for one second per method). On tmpfs an fsync returns at once
//! and nothing survives a power cut, so a "durable" figure measured there is not durable.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// The data directory's filesystem and sync latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Durability {
    /// The filesystem type of the data directory (`ext4`, `overlay`, `tmpfs` …), or `unknown`.
    pub filesystem: String,
    /// Microseconds per 8 kB write + fdatasync, when measured.
    pub fsync_latency_us: Option<f64>,
    /// Whether an acknowledged commit survives a power cut there (false on tmpfs/ramfs).
    pub durable: bool,
}

/// Probes `dir` (a directory on the data directory's filesystem) with `pg_test_fsync`.
pub fn probe(dir: &Path, pg_test_fsync: &Path) -> Durability {
    let filesystem = filesystem_of(dir).unwrap_or_else(|| "unknown".into());
    let durable = !matches!(filesystem.as_str(), "tmpfs" | "ramfs");
    let file = dir.join("stroom-fsync-probe");
    let out = Command::new(pg_test_fsync).arg("-s").arg("1").arg("-f").arg(&file).output();
    let _ = std::fs::remove_file(&file);
    let fsync_latency_us =
        out.ok().filter(|o| o.status.success()).and_then(|o| fdatasync_us(&String::from_utf8_lossy(&o.stdout)));
    Durability { filesystem, fsync_latency_us, durable }
}

/// The `fdatasync` line of the first section (one 8 kB write), in µs per operation.
fn fdatasync_us(report: &str) -> Option<f64> {
    report
        .lines()
        .find(|l| l.trim_start().starts_with("fdatasync"))
        .and_then(|l| l.split_whitespace().rev().nth(1)?.parse::<f64>().ok())
}

/// The type of the filesystem whose mount point is the longest prefix of `dir`.
fn filesystem_of(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, at, kind) = (f.next()?, f.next()?, f.next()?);
            dir.starts_with(at).then(|| (at.len(), kind.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fdatasync_latency_is_read_from_pg_test_fsync_output() {
        let report = "Compare file sync methods using one 8kB write:\n\
                      (in wal_sync_method preference order, except fdatasync is Linux's default)\n\
                              open_datasync                      1201.450 ops/sec     832 usecs/op\n\
                              fdatasync                          1312.110 ops/sec     762 usecs/op\n\
                              fsync                               700.000 ops/sec    1428 usecs/op\n";
        assert_eq!(fdatasync_us(report), Some(762.0));
        assert_eq!(fdatasync_us("nothing"), None);
    }

    #[test]
    fn the_root_filesystem_has_a_type() {
        assert!(filesystem_of(Path::new("/")).is_some());
    }
}
