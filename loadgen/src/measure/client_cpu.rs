//! The load generator's own CPU time, read from `/proc/self/stat`: stroom's (every thread: the
//! loop, the appends, the feed) and its reaped children's (pgbench, run beside a strategy as
//! its reference). Per event, the two say how much of a gap to pgbench is the harness's.

use super::server_cpu::stat;

/// A reading of this process's CPU time and its reaped children's, to subtract from a later one.
#[derive(Debug, Clone, Copy)]
pub struct ClientCpu {
    own: f64,
    children: f64,
}

impl ClientCpu {
    /// The CPU time so far; `None` where `/proc` cannot be read.
    pub fn now() -> Option<Self> {
        let s = stat(std::process::id())?;
        Some(Self { own: s.utime + s.stime, children: s.cutime + s.cstime })
    }

    /// Microseconds of stroom's own CPU per event between two readings; `None` when either
    /// is unknown or nothing was done.
    pub fn own_us_per_event(before: Option<Self>, after: Option<Self>, events: u64) -> Option<f64> {
        let (before, after) = (before?, after?);
        (events > 0).then(|| (after.own - before.own).max(0.0) * 1e6 / events as f64)
    }

    /// The same for the children that exited between the readings (a pgbench run).
    pub fn children_us_per_event(before: Option<Self>, after: Option<Self>, events: u64) -> Option<f64> {
        let (before, after) = (before?, after?);
        (events > 0).then(|| (after.children - before.children).max(0.0) * 1e6 / events as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinning_shows_in_the_own_time_and_a_reaped_child_in_the_children_time() {
        let before = ClientCpu::now();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 300 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let spun = ClientCpu::now();
        let own = ClientCpu::own_us_per_event(before, spun, 1).unwrap();
        assert!(own >= 150_000.0, "300 ms of spinning read as {own} µs");
        // A child that burns CPU, then is waited for.
        let ok = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok);
        let after = ClientCpu::now();
        let child = ClientCpu::children_us_per_event(spun, after, 1).unwrap();
        assert!(child > 0.0, "the shell's loop cost no child CPU");
        assert_eq!(ClientCpu::own_us_per_event(before, after, 0), None);
    }
}
