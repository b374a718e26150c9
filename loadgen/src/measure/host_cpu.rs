//! The whole machine's CPU over a step, from `/proc/stat`: how busy it was, and how much time
//! the hypervisor gave to other guests (steal). On a shared VM a step's tail latency follows
//! its neighbours; these say whether a slow run had the machine it thought it had.

/// A reading of the machine's CPU counters, to subtract from a later one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostCpu {
    busy: u64,
    steal: u64,
    total: u64,
}

impl HostCpu {
    /// The counters now; `None` where `/proc/stat` cannot be read (not Linux).
    pub fn now() -> Option<Self> {
        parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// (busy share, steal share) from a reading `since` (taken where one could be) to now.
    pub fn since(since: Option<Self>) -> Option<(f64, f64)> {
        since.zip(Self::now()).and_then(|(a, b)| a.shares(b))
    }

    /// (busy share, steal share) of all CPU time from `self` to `later`: busy counts every
    /// state but idle, iowait and steal.
    pub fn shares(self, later: Self) -> Option<(f64, f64)> {
        let total = later.total.checked_sub(self.total).filter(|&t| t > 0)? as f64;
        let busy = later.busy.saturating_sub(self.busy) as f64;
        let steal = later.steal.saturating_sub(self.steal) as f64;
        Some((busy / total, steal / total))
    }
}

/// The most the hypervisor took over several windows: a ratio to a reference is only as good
/// as the worse of the two windows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Steal(Option<f64>);

impl Steal {
    /// Adds the window from `since` to now.
    pub fn add(&mut self, since: Option<HostCpu>) {
        if let Some((_, steal)) = HostCpu::since(since) {
            self.push(steal);
        }
    }

    /// Adds a window's steal share measured elsewhere.
    pub fn push(&mut self, steal: f64) {
        self.0 = Some(self.0.map_or(steal, |m| m.max(steal)));
    }

    /// The worst window's share, as `name`, where any was read.
    pub fn record(self, figures: &mut crate::figures::Figures, name: &str) {
        if let Some(steal) = self.0 {
            figures.insert(name.to_string(), crate::figures::Figure::from_repetitions("share", vec![steal]));
        }
    }
}

/// The aggregate `cpu` line: user nice system idle iowait irq softirq steal (guest time is
/// already inside user and nice).
fn parse(stat: &str) -> Option<HostCpu> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).take(8).map(|t| t.parse().ok()).collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = v.try_into().ok()?;
    let busy = user + nice + system + irq + softirq;
    Some(HostCpu { busy, steal, total: busy + idle + iowait + steal })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_come_from_the_aggregate_line() {
        let a = parse("cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 1 2 3 4 5 6 7 8\n").unwrap();
        let b = parse("cpu  160 0 70 880 10 0 0 80 0 0\n").unwrap();
        let (busy, steal) = a.shares(b).unwrap();
        assert!((busy - 80.0 / 200.0).abs() < 1e-12 && (steal - 40.0 / 200.0).abs() < 1e-12);
        assert_eq!(a.shares(a), None, "no time passed");
        assert_eq!(parse("intr 1 2 3"), None);
    }
}
