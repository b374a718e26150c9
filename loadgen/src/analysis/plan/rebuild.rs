//! The rebuild, projected from measured per-event costs onto a log size and a machine.
//!
//! A rebuild costs, per event, the server's CPU to read it out (`calibrate.copy_out`'s
//! `server_cpu_us_per_event`), this process's CPU to decode and fold it (one thread of the
//! memory replay, `replay.memory.t1`), and its bytes on disk (`load.bytes_per_event`). While
//! the log fits in memory, a parallel rebuild is bound by CPU: the costs spread over the cores
//! as well as they did where measured (the measured parallel rate against its cores). Once it
//! does not, every byte comes from disk and the disk's read rate bounds it; without a measured
//! rate that case is "unmeasured". Whatever bounds the answer is named with it.

use crate::figures::Figures;

/// Share of memory a log may take and still be read from cache: the rest is the server's and
/// the replay's own.
pub const CACHEABLE: f64 = 0.75;

/// What a rebuild would run on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Machine {
    /// Cores.
    pub cores: f64,
    /// Memory in bytes.
    pub ram_bytes: f64,
    /// Sequential read rate of the disk holding the log, MB/s, if measured or given.
    pub disk_mb_s: Option<f64>,
}

/// The per-event costs a result measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Costs {
    /// Server CPU µs to read one event out.
    pub server_us: f64,
    /// Client CPU µs to decode and fold one event.
    pub client_us: f64,
    /// Bytes one event takes on disk, indexes included.
    pub bytes: f64,
    /// How well the measured parallel replay used its cores (≤ 1).
    pub efficiency: f64,
    /// Events in the measured log, and the cores it was measured on.
    pub measured: (f64, f64),
    /// The measured sequential replay rate (one reader), events/s.
    pub sequential_rate: Option<f64>,
    /// The measured rate of rill's catch-up read (pages of 100 in global order, decoded on a
    /// second thread, one fold), events/s: the 2017 rebuild path on the same log.
    pub rill_rate: Option<f64>,
    /// Whether that log was partitioned by school: then each of rill's pages of 100 in global
    /// order merges every school's partition, a cost rill's one table never had.
    pub rill_on_partitions: bool,
}

impl Costs {
    /// The costs in `figures` measured on `cores`; `Err` names the first figure missing.
    pub fn from(figures: &Figures, cores: f64) -> Result<Self, &'static str> {
        let get = |name: &'static str| figures.get(name).map(|f| f.value).filter(|v| *v > 0.0).ok_or(name);
        let server_us = get("calibrate.copy_out.server_cpu_us_per_event")?;
        let client_us = 1e6 / get("replay.memory.t1.events_per_s")?;
        let bytes = get("load.bytes_per_event")?;
        let parallel = get("replay.parallel.events_per_s")?;
        let events = get("replay.events")?;
        let efficiency = (parallel * (server_us + client_us) / 1e6 / cores).min(1.0);
        let sequential_rate = get("replay.sequential.events_per_s").ok();
        let rill_rate = get("replay.rill.events_per_s").ok();
        Ok(Self {
            server_us,
            client_us,
            bytes,
            efficiency,
            measured: (events, cores),
            sequential_rate,
            rill_rate,
            rill_on_partitions: false,
        })
    }
}

/// A projected rebuild time and what bounds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Seconds, or `None` when unmeasured.
    pub seconds: Option<f64>,
    /// The resource that bounds it, and how the figure was reached.
    pub limit: String,
}

impl Projection {
    /// "12 min (CPU …)" or "unmeasured (…)".
    pub fn render(&self) -> String {
        match self.seconds {
            Some(s) => format!("{} ({})", duration(s), self.limit),
            None => format!("unmeasured ({})", self.limit),
        }
    }
}

/// A parallel rebuild of `events` on `m`.
pub fn parallel(c: &Costs, m: &Machine, events: f64) -> Projection {
    let cpu = events * (c.server_us + c.client_us) / 1e6 / (m.cores * c.efficiency);
    let past = if m.cores > c.measured.1 {
        format!(", costs assumed to spread over {} cores as over the {} measured", m.cores, c.measured.1)
    } else {
        String::new()
    };
    bound(
        c,
        m,
        events,
        cpu,
        format!(
            "CPU: {:.1} µs per event at {:.0}% use of the cores{past}",
            c.server_us + c.client_us,
            c.efficiency * 100.0
        ),
    )
}

/// A sequential rebuild (one reader in global order) of `events` on `m`: the measured rate,
/// which no core count changes, while the log fits in memory. Past that it is unmeasured: a
/// cold read was measured for the parallel replay, school by school, and a read in global
/// order across every school's partition is another pattern on disk.
pub fn sequential(c: &Costs, m: &Machine, events: f64) -> Projection {
    one_reader(c.sequential_rate, "sequential", c, m, events)
}

/// rill's rebuild of `events` on `m`: its catch-up read (pages of 100 by the global order, a
/// decoding thread, one fold) at the rate measured on the same log, bound as [`sequential`] is:
/// one reader in global order, which no core count changes and no cold step measured.
pub fn rill(c: &Costs, m: &Machine, events: f64) -> Projection {
    if c.rill_on_partitions && c.rill_rate.is_some() {
        return Projection {
            seconds: None,
            limit: "rill's read was measured on the store partitioned by school, where each page of 100 in global order merges every school's partition; rill read one table".into(),
        };
    }
    one_reader(c.rill_rate, "rill", c, m, events)
}

/// One reader in global order at its measured `rate`, while the log fits in memory.
fn one_reader(rate: Option<f64>, mode: &str, c: &Costs, m: &Machine, events: f64) -> Projection {
    let Some(rate) = rate else {
        return Projection { seconds: None, limit: format!("no {mode} replay in this result") };
    };
    let log = events * c.bytes;
    if log > m.ram_bytes * CACHEABLE {
        return Projection {
            seconds: None,
            limit: format!(
                "a {:.0} GB log against {:.0} GB of memory, read from disk in global order, which no cold step measured",
                log / 1e9,
                m.ram_bytes / 1e9
            ),
        };
    }
    bound(c, m, events, events / rate, format!("one reader at the measured {rate:.0} events/s"))
}

/// `cpu` seconds while the log fits in memory; past that, the disk's read time or unmeasured.
fn bound(c: &Costs, m: &Machine, events: f64, cpu: f64, cpu_limit: String) -> Projection {
    let log = events * c.bytes;
    if log <= m.ram_bytes * CACHEABLE {
        return Projection { seconds: Some(cpu), limit: cpu_limit };
    }
    let size = format!("a {:.0} GB log against {:.0} GB of memory", log / 1e9, m.ram_bytes / 1e9);
    match m.disk_mb_s {
        Some(d) => {
            let disk = log / (d * 1e6);
            if disk >= cpu {
                Projection { seconds: Some(disk), limit: format!("disk: {size}, read at {d:.0} MB/s") }
            } else {
                Projection { seconds: Some(cpu), limit: format!("{cpu_limit}; {size} reads from disk in less") }
            }
        }
        None => {
            Projection { seconds: None, limit: format!("{size}: bound by the disk's read rate, not measured here") }
        }
    }
}

/// Seconds as a person says them: "45 s", "12 min", "1.5 h".
pub fn duration(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs() -> Costs {
        Costs {
            server_us: 2.0,
            client_us: 1.0,
            bytes: 300.0,
            efficiency: 0.5,
            measured: (10e6, 2.0),
            sequential_rate: Some(300_000.0),
            rill_rate: Some(100_000.0),
            rill_on_partitions: false,
        }
    }

    #[test]
    fn a_log_in_memory_is_bound_by_cpu() {
        let m = Machine { cores: 2.0, ram_bytes: 24e9, disk_mb_s: None };
        let p = parallel(&costs(), &m, 10e6);
        // 10M × 3 µs over 2 cores at 50%: 30 s.
        assert!((p.seconds.unwrap() - 30.0).abs() < 1e-9, "{p:?}");
        assert!(p.limit.starts_with("CPU"), "{p:?}");
        assert!((sequential(&costs(), &m, 10e6).seconds.unwrap() - 33.333).abs() < 1e-2);
        // rill: one reader at its own measured rate, 10M at 100k events/s.
        let r = rill(&costs(), &m, 10e6);
        assert!((r.seconds.unwrap() - 100.0).abs() < 1e-9 && r.limit.contains("100000 events/s"), "{r:?}");
        assert_eq!(
            rill(&Costs { rill_rate: None, ..costs() }, &m, 10e6).render(),
            "unmeasured (no rill replay in this result)"
        );
        // A rate read from a partitioned store is not rill's: refused, saying why.
        let p = rill(&Costs { rill_on_partitions: true, ..costs() }, &m, 10e6);
        assert!(p.seconds.is_none() && p.limit.contains("partitioned by school"), "{p:?}");
        // Past memory, even with a disk rate: the cold rate was the parallel replay's.
        let disk = Machine { disk_mb_s: Some(500.0), ..m };
        let p = sequential(&costs(), &disk, 300e6);
        assert!(p.seconds.is_none() && p.limit.contains("global order"), "{p:?}");
        let p = rill(&costs(), &disk, 300e6);
        assert!(p.seconds.is_none() && p.limit.contains("global order"), "{p:?}");
    }

    #[test]
    fn a_log_larger_than_memory_is_disk_bound_or_unmeasured() {
        let m = Machine { cores: 2.0, ram_bytes: 24e9, disk_mb_s: None };
        let p = parallel(&costs(), &m, 300e6);
        assert_eq!(p.seconds, None);
        assert!(p.render().starts_with("unmeasured (a 90 GB log against 24 GB"), "{}", p.render());
        // 90 GB at 50 MB/s is 1800 s, more than the 900 s of CPU: the disk bounds it.
        let slow = Machine { disk_mb_s: Some(50.0), ..m };
        let p = parallel(&costs(), &slow, 300e6);
        assert!((p.seconds.unwrap() - 1800.0).abs() < 1e-9 && p.limit.starts_with("disk"), "{p:?}");
        // At 500 MB/s the disk reads it in 180 s: the CPU bounds it, and says the log is on disk.
        let fast = Machine { disk_mb_s: Some(500.0), ..m };
        let p = parallel(&costs(), &fast, 300e6);
        assert!((p.seconds.unwrap() - 900.0).abs() < 1e-9 && p.limit.contains("reads from disk in less"), "{p:?}");
    }

    #[test]
    fn more_cores_than_measured_say_so() {
        let m = Machine { cores: 40.0, ram_bytes: 512e9, disk_mb_s: None };
        let p = parallel(&costs(), &m, 300e6);
        assert!(p.limit.contains("as over the 2 measured"), "{p:?}");
    }
}
