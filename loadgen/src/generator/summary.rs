//! What a generation run produced: events by type, per school and per hour of the day.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{DayKind, SimulatedDay, DAY_SECS, START_UNIX_SECS};

/// Running totals over generated days.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Events in all.
    pub events: u64,
    /// Days generated.
    pub days: u32,
    /// School days among them, and their events.
    pub school_days: u32,
    /// Events on school days.
    pub school_day_events: u64,
    /// Events by type.
    pub by_type: BTreeMap<&'static str, u64>,
    /// Events per school.
    pub per_school: BTreeMap<i32, u64>,
    /// Events per hour of the day, over all days.
    pub per_hour: [u64; 24],
    /// The most events in any one clock hour of any day.
    pub peak_hour_events: u64,
    /// The most events in any one clock second of any day.
    pub peak_second_events: u64,
    /// Events per simulated day, in order.
    pub per_day: Vec<u64>,
}

impl Summary {
    /// Adds a day.
    pub fn add(&mut self, day: &SimulatedDay) {
        let mut hours = [0u64; 24];
        let mut seconds = vec![0u32; DAY_SECS as usize];
        let day_start = START_UNIX_SECS + i64::from(day.day) * DAY_SECS;
        let mut total = 0u64;
        for (school, events) in &day.schools {
            *self.per_school.entry(*school).or_default() += events.len() as u64;
            for e in events {
                *self.by_type.entry(e.event.event_type()).or_default() += 1;
                let second = (e.recorded_at_us / 1_000_000 - day_start).rem_euclid(DAY_SECS) as usize;
                hours[(second / 3600).min(23)] += 1;
                seconds[second] += 1;
            }
            total += events.len() as u64;
        }
        for (h, n) in hours.iter().enumerate() {
            self.per_hour[h] += n;
        }
        self.peak_hour_events = self.peak_hour_events.max(*hours.iter().max().unwrap_or(&0));
        self.peak_second_events = self.peak_second_events.max(u64::from(*seconds.iter().max().unwrap_or(&0)));
        self.events += total;
        self.days += 1;
        self.per_day.push(total);
        if day.kind == DayKind::SchoolDay {
            self.school_days += 1;
            self.school_day_events += total;
        }
    }

    /// Mean events per school day (0 when none was generated).
    pub fn events_per_school_day(&self) -> f64 {
        if self.school_days == 0 {
            0.0
        } else {
            self.school_day_events as f64 / f64::from(self.school_days)
        }
    }

    /// The peak hour's rate, in events per second.
    pub fn peak_hour_events_per_s(&self) -> f64 {
        self.peak_hour_events as f64 / 3600.0
    }

    /// The busiest second's rate, in events per second.
    pub fn peak_second_events_per_s(&self) -> f64 {
        self.peak_second_events as f64
    }

    /// A human-readable summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ =
            writeln!(s, "{} events over {} simulated days ({} school days)", self.events, self.days, self.school_days);
        let _ = writeln!(s, "events per school day: {:.0}", self.events_per_school_day());
        let _ =
            writeln!(s, "peak hour: {} events ({:.0} events/s)", self.peak_hour_events, self.peak_hour_events_per_s());
        let _ = writeln!(s, "busiest second: {} events", self.peak_second_events);
        let _ = writeln!(s, "\nby type:");
        for (t, n) in &self.by_type {
            let _ = writeln!(s, "  {t:<42} {n:>12} {:>6.2}%", *n as f64 * 100.0 / self.events.max(1) as f64);
        }
        let mut sizes: Vec<u64> = self.per_school.values().copied().collect();
        sizes.sort_unstable();
        if !sizes.is_empty() {
            let q = |p: f64| sizes[((sizes.len() - 1) as f64 * p) as usize];
            let _ = writeln!(
                s,
                "\nper school ({} schools): min {}  p50 {}  p90 {}  max {}",
                sizes.len(),
                q(0.0),
                q(0.5),
                q(0.9),
                q(1.0)
            );
        }
        let _ = writeln!(s, "\nper hour of day:");
        let max = *self.per_hour.iter().max().unwrap_or(&1).max(&1);
        for (h, n) in self.per_hour.iter().enumerate() {
            let bar = "#".repeat((*n * 50 / max) as usize);
            let _ = writeln!(s, "  {h:02}:00 {n:>12} {bar}");
        }
        s
    }
}
