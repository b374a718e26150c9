//! A hot standby of a throwaway cluster, by PostgreSQL's own streaming replication: a base
//! backup taken with `pg_basebackup -R` (which writes `standby.signal` and the primary's
//! connection), started as a server that replays the primary's WAL as it streams in and
//! answers read-only queries meanwhile.

use std::process::{Command, Stdio};

use super::{last_lines, Cluster, ClusterOptions, SUPERUSER};
use crate::binaries::Binaries;
use crate::error::{Error, Result};
use crate::owner::Owner;

impl Cluster {
    /// Starts a hot standby of this cluster in a temporary directory of its own, with the
    /// same settings profile; returns once it accepts read-only connections. It follows the
    /// primary until dropped, and dropping it removes it (the primary is untouched).
    ///
    /// The throwaway cluster's `pg_hba.conf` (initdb's, `--auth=trust`) lets replication
    /// connections in from the loopback interface, and `wal_level` is `replica` by default.
    pub fn start_standby(&self) -> Result<Cluster> {
        let bin = Binaries::discover()?;
        let owner = Owner::for_server()?;
        let dir = tempfile::Builder::new()
            .prefix("stroom-pg-standby-")
            .tempdir()
            .map_err(Error::io("creating the standby's temporary directory"))?
            .keep();
        let started = base_backup(self, &dir, &bin, &owner).and_then(|()| {
            Self::start_in(&dir, &bin, &owner, ClusterOptions { profile: self.profile, keep: false, dir: None })
        });
        if started.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        started
    }

    /// Whether this server is a standby (in recovery): read-only, following a primary.
    pub fn is_standby(&self) -> bool {
        self.dir.join("data/standby.signal").exists()
    }
}

/// `pg_basebackup -R` of `primary` into `dir/data`, WAL streamed beside it, as the owner.
fn base_backup(primary: &Cluster, dir: &std::path::Path, bin: &Binaries, owner: &Owner) -> Result<()> {
    owner.give(dir)?;
    let mut cmd = Command::new(bin.program("pg_basebackup"));
    cmd.arg("-D")
        .arg(dir.join("data"))
        .args(["-h", "127.0.0.1", "-p", &primary.port.to_string(), "-U", SUPERUSER])
        .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"])
        .current_dir(dir)
        .stdin(Stdio::null());
    owner.apply(&mut cmd);
    let out = cmd.output().map_err(Error::io("running pg_basebackup"))?;
    if !out.status.success() {
        return Err(Error::ServerProgram { program: "pg_basebackup", detail: last_lines(&out.stderr, 3) });
    }
    Ok(())
}
