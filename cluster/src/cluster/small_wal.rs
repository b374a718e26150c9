//! The write-ahead log on a filesystem of its own, small enough to fill: a tmpfs mounted in
//! the cluster's directory, `data/pg_wal` a link to it. Moving the WAL there and back needs
//! a clean stop and start, and mounting needs root.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Cluster, Server};
use crate::binaries::Binaries;
use crate::error::{Error, Result};
use crate::owner::Owner;
use crate::profile::machine_memory_bytes;

/// Where the tmpfs is mounted, in the cluster's directory.
const MOUNT: &str = "walfs";

impl Cluster {
    /// Whether the WAL can be put on a small filesystem here: stroom runs as root and may
    /// mount a tmpfs (a 1 MB one is mounted and unmounted to find out). `Err` says why not.
    pub fn can_mount_wal_fs() -> std::result::Result<(), String> {
        if !nix::unistd::Uid::effective().is_root() {
            return Err("mounting a small filesystem for the WAL needs root".into());
        }
        let probe = tempfile::tempdir().map_err(|e| format!("a directory to try a mount in: {e}"))?;
        run("mount", Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(probe.path()))
            .map_err(|e| format!("this machine refuses to mount a tmpfs ({e})"))?;
        run("umount", Command::new("umount").arg(probe.path())).map_err(|e| e.to_string())
    }

    /// Stops the server, moves `pg_wal` onto a new tmpfs with `free` bytes beyond what the WAL
    /// holds now, and starts the server again on the same port. Returns the filesystem's size.
    pub fn wal_on_small_fs(&self, free: u64) -> Result<u64> {
        Self::can_mount_wal_fs().map_err(|why| Error::io("moving the WAL")(std::io::Error::other(why)))?;
        let owner = Owner::for_server()?;
        let (wal, mount) = (self.dir.join("data/pg_wal"), self.dir.join(MOUNT));
        self.stop_server();
        let size = round_up_mb(bytes_under(&wal) + free);
        std::fs::create_dir_all(&mount).map_err(Error::io("creating the WAL filesystem's mount point"))?;
        let mut options = format!("size={size},mode=0700");
        if let Some((uid, gid)) = owner.switch_to {
            options.push_str(&format!(",uid={uid},gid={gid}"));
        }
        run("mount", Command::new("mount").args(["-t", "tmpfs", "-o", &options, "tmpfs"]).arg(&mount))?;
        *self.wal_fs.lock().unwrap_or_else(|p| p.into_inner()) = Some(mount.clone());
        copy_contents(&wal, &mount)?;
        std::fs::remove_dir_all(&wal).map_err(Error::io("removing pg_wal from the data directory"))?;
        std::os::unix::fs::symlink(&mount, &wal).map_err(Error::io("linking pg_wal to its filesystem"))?;
        self.start_again()?;
        Ok(size)
    }

    /// Grows the WAL's filesystem to `size` bytes, as an operator freeing space would. The
    /// log's complaints of a full disk so far are then history: [`Cluster::diagnose`] reads on
    /// from here.
    pub fn grow_wal_fs(&self, size: u64) -> Result<()> {
        let mount = self.wal_fs_mount().ok_or_else(|| Error::io("growing the WAL filesystem")(not_mounted()))?;
        run("mount", Command::new("mount").args(["-o", &format!("remount,size={}", round_up_mb(size))]).arg(&mount))?;
        let log = std::fs::metadata(self.dir.join("postgres.log")).map_or(0, |m| m.len());
        self.log_seen.store(log, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Stops the server, moves the WAL back into the data directory, unmounts its filesystem
    /// and starts the server again. Nothing to do when it never moved.
    pub fn wal_back_to_disk(&self) -> Result<()> {
        let Some(mount) = self.wal_fs_mount() else { return Ok(()) };
        let owner = Owner::for_server()?;
        let wal = self.dir.join("data/pg_wal");
        self.stop_server();
        std::fs::remove_file(&wal).map_err(Error::io("removing the pg_wal link"))?;
        std::fs::create_dir(&wal).map_err(Error::io("creating pg_wal"))?;
        owner.give(&wal)?;
        copy_contents(&mount, &wal)?;
        self.unmount_wal_fs()?;
        self.start_again()
    }

    /// The mount point, while the WAL is on its own filesystem.
    pub fn wal_fs_mount(&self) -> Option<PathBuf> {
        self.wal_fs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Unmounts the WAL's filesystem (the server must be stopped); used on drop too.
    pub(super) fn unmount_wal_fs(&self) -> Result<()> {
        let Some(mount) = self.wal_fs.lock().unwrap_or_else(|p| p.into_inner()).take() else { return Ok(()) };
        run("umount", Command::new("umount").arg(&mount))?;
        let _ = std::fs::remove_dir(&mount);
        Ok(())
    }

    fn start_again(&self) -> Result<()> {
        let bin = Binaries::discover()?;
        let owner = Owner::for_server()?;
        let settings = self.profile.settings(machine_memory_bytes());
        let (pid, exited) = super::spawn_postgres(&self.dir, &bin, &owner, &settings, self.port, self.keep)?;
        *self.server() = Server { pid, exited };
        self.wait_ready()
    }
}

fn not_mounted() -> std::io::Error {
    std::io::Error::other("the WAL is not on a filesystem of its own")
}

fn round_up_mb(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20).max(1) << 20
}

/// Bytes of the regular files under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// `cp -a from/. to/`: every file, with its owner and mode.
fn copy_contents(from: &Path, to: &Path) -> Result<()> {
    let mut source = from.as_os_str().to_owned();
    source.push("/.");
    run("cp", Command::new("cp").arg("-a").arg(source).arg(to))
}

fn run(program: &'static str, cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(Error::io(format!("running {program}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::ServerProgram { program, detail: String::from_utf8_lossy(&out.stderr).trim().to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_whole_megabytes() {
        assert_eq!(round_up_mb(0), 1 << 20);
        assert_eq!(round_up_mb((16 << 20) + 1), 17 << 20);
        assert_eq!(round_up_mb(48 << 20), 48 << 20);
    }
}
