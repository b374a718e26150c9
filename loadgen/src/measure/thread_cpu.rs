//! The CPU time the calling thread has run: what a CPU-bound step cost, without the time
//! another process (a checkpoint, autovacuum, the other arm's backends) or the hypervisor took
//! the core from it. On a shared 2-core host the fold's wall-clock rate moved by 15–23% a
//! round for that; its CPU-time rate leaves those out and keeps what the code itself costs.

use std::time::Duration;

use nix::time::{clock_gettime, ClockId};

/// The calling thread's CPU time so far, or `None` where the clock cannot be read.
pub fn now() -> Option<Duration> {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok().map(Duration::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_gains_cpu_time_and_a_sleeping_one_does_not() {
        let before = now().unwrap();
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let busy = now().unwrap() - before;
        assert!(busy > Duration::from_millis(5), "50 ms of spinning ran {busy:?} on the CPU");
        let before = now().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let idle = now().unwrap() - before;
        assert!(idle < Duration::from_millis(25), "50 ms asleep ran {idle:?} on the CPU");
    }
}
