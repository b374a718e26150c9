//! The school rhythm: which days are school days, and when in a day students practise.
//!
//! Weekdays have lessons from 8:30 to 16:00 peaking late in the morning, then homework in the
//! evening. Weekends are quiet; holidays quieter still.

/// Seconds per simulated day.
pub const DAY_SECS: i64 = 86_400;
/// Quarter-hour slots per day.
pub const SLOTS: usize = 96;

/// What kind of day a simulated day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// Monday to Friday outside holidays.
    SchoolDay,
    /// Saturday or Sunday.
    Weekend,
    /// A school holiday.
    Holiday,
}

impl DayKind {
    /// Activity relative to a school day.
    pub fn weight(self) -> f64 {
        match self {
            Self::SchoolDay => 1.0,
            Self::Weekend => 0.10,
            Self::Holiday => 0.04,
        }
    }
}

/// Day 0 is a Monday early in the Dutch school year (5 September 2016).
pub const START_UNIX_SECS: i64 = 1_473_033_600;

/// The kind of simulated day `day` (0-based from the start).
pub fn day_kind(day: u32) -> DayKind {
    let weekday = day % 7; // 0 = Monday
    if weekday >= 5 {
        return DayKind::Weekend;
    }
    // Week of the school year, from 0 at the start (early September).
    let week = (day / 7) % 52;
    let holiday = matches!(week, 7 | 15 | 16 | 24 | 33 | 44..=51);
    if holiday {
        DayKind::Holiday
    } else {
        DayKind::SchoolDay
    }
}

/// Relative intensity per quarter-hour slot for a kind of day, summing to 1.
pub fn profile(kind: DayKind) -> [f64; SLOTS] {
    let mut w = [0.0f64; SLOTS];
    for (slot, weight) in w.iter_mut().enumerate() {
        let h = slot as f64 / 4.0 + 0.125; // slot midpoint in hours
        *weight = match kind {
            DayKind::SchoolDay => {
                let lessons = if (8.5..16.0).contains(&h) { 1.0 + 1.6 * bump(h, 11.25, 1.4) } else { 0.0 };
                let homework = 0.9 * bump(h, 20.0, 1.2);
                let late_afternoon = if (16.0..18.0).contains(&h) { 0.25 } else { 0.0 };
                lessons + homework + late_afternoon + 0.01
            }
            DayKind::Weekend | DayKind::Holiday => 0.02 + bump(h, 14.0, 2.5) + 0.8 * bump(h, 20.5, 1.3),
        };
    }
    let total: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= total);
    w
}

fn bump(h: f64, centre: f64, width: f64) -> f64 {
    (-((h - centre) / width).powi(2) / 2.0).exp()
}

/// A sampler of slots from a profile: cumulative weights, searched by bisection.
#[derive(Debug, Clone)]
pub struct SlotSampler {
    cumulative: [f64; SLOTS],
}

impl SlotSampler {
    /// A sampler for `kind`'s profile.
    pub fn new(kind: DayKind) -> Self {
        let p = profile(kind);
        let mut cumulative = [0.0; SLOTS];
        let mut acc = 0.0;
        for (c, x) in cumulative.iter_mut().zip(p) {
            acc += x;
            *c = acc;
        }
        Self { cumulative }
    }

    /// The second of the day for a uniform draw `u` and a uniform draw `within` of the slot.
    pub fn second(&self, u: f64, within: f64) -> i64 {
        let slot = self.cumulative.partition_point(|&c| c < u).min(SLOTS - 1);
        (slot as f64 * 900.0 + within * 900.0) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn school_days_peak_late_in_the_morning() {
        let p = profile(DayKind::SchoolDay);
        let peak = (0..SLOTS).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert!((40..=48).contains(&peak), "peak slot {peak} is not 10:00-12:00");
        let night: f64 = p[4..24].iter().sum();
        assert!(night < 0.01, "nights are quiet: {night}");
    }

    #[test]
    fn the_calendar_has_weekends_and_holidays() {
        assert_eq!(day_kind(0), DayKind::SchoolDay);
        assert_eq!(day_kind(5), DayKind::Weekend);
        assert_eq!(day_kind(6), DayKind::Weekend);
        assert_eq!(day_kind(7 * 46), DayKind::Holiday);
        let school_days = (0..364).filter(|&d| day_kind(d) == DayKind::SchoolDay).count();
        assert!((190..=200).contains(&school_days), "{school_days} school days a year");
    }
}
