//! The database server's CPU time, read from `/proc`: the postmaster, every live child, and
//! the children that have exited since it started (the kernel adds their time to the
//! postmaster's `cutime`/`cstime` once it reaps them). Only for a server stroom started on
//! this machine; elsewhere the CPU a step cost the server is unknown, and said to be.

use std::sync::atomic::{AtomicU32, Ordering};

/// `/proc` reports CPU time in USER_HZ ticks, which Linux fixes at 100 per second.
const TICKS_PER_S: f64 = 100.0;

static POSTMASTER: AtomicU32 = AtomicU32::new(0);

/// A reading of the server's CPU time, to subtract from a later one.
#[derive(Debug, Clone, Copy)]
pub struct ServerCpu {
    seconds: f64,
}

impl ServerCpu {
    /// Names the postmaster whose CPU time every later reading sums (the run's own cluster;
    /// again after a restart).
    pub fn watch(postmaster: u32) {
        POSTMASTER.store(postmaster, Ordering::Relaxed);
    }

    /// The postmaster of a server on this machine, found from one of its backends' process
    /// id (`pg_backend_pid()`): its parent, when that is a process of the same program. `None`
    /// for a server elsewhere (no such process here) or in a container's own process space.
    pub fn local_postmaster(backend: u32) -> Option<u32> {
        let parent = stat(backend)?.ppid;
        let comm = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim().to_string());
        let (child, parent_comm) = (comm(backend)?, comm(parent)?);
        (parent_comm.starts_with("postgres") || parent_comm == "postmaster" || parent_comm == child).then_some(parent)
    }

    /// Watches the server `conn` is connected to when it runs on this machine (its postmaster
    /// found from the connection's backend); returns the postmaster, `None` when it is elsewhere.
    pub async fn watch_local(conn: &mut sqlx::PgConnection) -> Option<u32> {
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(conn).await.ok()?;
        let pm = Self::local_postmaster(backend as u32)?;
        Self::watch(pm);
        Some(pm)
    }

    /// The server's CPU time so far; `None` when the server is not one stroom started here.
    pub fn now() -> Option<Self> {
        let pm = Some(POSTMASTER.load(Ordering::Relaxed)).filter(|&p| p != 0)?;
        let own = stat(pm)?;
        let mut seconds = own.utime + own.stime + own.cutime + own.cstime;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if pid == pm {
                continue;
            }
            if let Some(s) = stat(pid).filter(|s| s.ppid == pm) {
                seconds += s.utime + s.stime;
            }
        }
        Some(Self { seconds })
    }

    /// Seconds of server CPU from `self` to `later`.
    pub fn until(self, later: Self) -> f64 {
        (later.seconds - self.seconds).max(0.0)
    }

    /// Microseconds of server CPU per event between two readings; `None` when either is
    /// unknown or nothing was done.
    pub fn us_per_event(before: Option<Self>, after: Option<Self>, events: u64) -> Option<f64> {
        let (before, after) = (before?, after?);
        (events > 0).then(|| before.until(after) * 1e6 / events as f64)
    }
}

pub(super) struct Stat {
    pub(super) ppid: u32,
    pub(super) utime: f64,
    pub(super) stime: f64,
    pub(super) cutime: f64,
    pub(super) cstime: f64,
}

/// Fields of `/proc/<pid>/stat`, after the command name (which may hold spaces).
pub(super) fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse(&text)
}

fn parse(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
    let tick = |i: usize| f.get(i - 3)?.parse::<f64>().ok().map(|t| t / TICKS_PER_S);
    Some(Stat {
        ppid: f.get(1)?.parse().ok()?,
        utime: tick(14)?,
        stime: tick(15)?,
        cutime: tick(16)?,
        cstime: tick(17)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_spaces_in_the_name_parses() {
        let line = "4242 (postgres: stroom db) S 4000 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0";
        let s = parse(line).unwrap();
        assert_eq!(s.ppid, 4000);
        assert!((s.utime - 2.5).abs() < 1e-9 && (s.stime - 0.5).abs() < 1e-9);
        assert!((s.cutime - 0.07).abs() < 1e-9 && (s.cstime - 0.03).abs() < 1e-9);
    }

    #[test]
    fn a_process_whose_parent_is_another_program_has_no_local_postmaster() {
        // This test's parent is cargo's test runner or a shell, not a postgres.
        assert_eq!(ServerCpu::local_postmaster(std::process::id()), None);
        assert_eq!(ServerCpu::local_postmaster(u32::MAX), None);
    }

    #[test]
    fn this_process_has_a_readable_stat() {
        assert!(stat(std::process::id()).is_some());
    }
}
