//! The interval a paired A/B run puts around head ÷ base: a paired t interval on the log of
//! each block's ratio.
//!
//! Each block runs both arms back to back on the same host, so the block's ratio carries what
//! changed between the arms and cancels what the host did to both. Ratios of rates and
//! latencies are skewed (a ratio of 2 and one of 0.5 are the same distance from 1), so the
//! mean and spread are taken of their logarithms, and the interval is mapped back: it is an
//! interval for the geometric mean of the block ratios. Few blocks (4 to 20) make a bootstrap
//! interval too narrow (it never reaches past the most extreme block seen), which is why the
//! interval is Student's t, whose tails widen for few blocks.
//!
//! Each figure's interval is 99.9% (two-sided), not 95%: a gate judges every paired figure
//! at once (17 in `gate.toml`), and at 95% each the chance that some figure of two equal builds
//! lies wholly past its margin is several times 5%. CI's first A/B gate, of two builds whose
//! measured code was the same, flagged rill's rate at −37% (95% interval −57% … −8.5%) after 7
//! blocks. 99.9% per figure keeps the chance that any of up to 50 figures misses under 5%
//! (Bonferroni).

/// The confidence of every interval: 99.9%, two-sided.
pub const CONFIDENCE: f64 = 0.999;

/// head ÷ base of one figure over the blocks measured so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The geometric mean of the block ratios.
    pub ratio: f64,
    /// Lower end of the interval ([`CONFIDENCE`]).
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
    /// Blocks it rests on.
    pub blocks: usize,
}

impl Interval {
    /// high ÷ low − 1: how wide the interval is, as a share.
    pub fn width(&self) -> f64 {
        self.high / self.low - 1.0
    }
}

/// Student's t at 0.9995 for `df` degrees of freedom (the 99.9% two-sided quantile): the
/// table to 30, then the Cornish–Fisher expansion, which joins it within 0.01 at 30.
pub fn t_9995(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        636.62, 31.599, 12.924, 8.610, 6.869, 5.959, 5.408, 5.041, 4.781, 4.587, 4.437, 4.318, 4.221, 4.140, 4.073,
        4.015, 3.965, 3.922, 3.883, 3.850, 3.819, 3.792, 3.768, 3.745, 3.725, 3.707, 3.690, 3.674, 3.659, 3.646,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => cornish_fisher(3.290_527, df as f64),
    }
}

fn cornish_fisher(z: f64, v: f64) -> f64 {
    z + (z.powi(3) + z) / (4.0 * v)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
        + (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / (384.0 * v.powi(3))
}

/// The paired t interval over the block ratios (each head ÷ base of one block). `None` with
/// fewer than two usable blocks (a ratio that is not finite and positive is left out).
pub fn paired_t(ratios: &[f64]) -> Option<Interval> {
    let logs: Vec<f64> = ratios.iter().filter(|r| r.is_finite() && **r > 0.0).map(|r| r.ln()).collect();
    let n = logs.len();
    if n < 2 {
        return None;
    }
    let mean = logs.iter().sum::<f64>() / n as f64;
    let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t_9995(n - 1) * (var / n as f64).sqrt();
    Some(Interval { ratio: mean.exp(), low: (mean - half).exp(), high: (mean + half).exp(), blocks: n })
}

/// The paired t interval with the order the arms ran in taken out: `base_first[i]` says
/// whether base ran first in block (or round) `i`. The arm that runs second meets a host the
/// first one warmed or left busy (the WAL it wrote, a checkpoint it started), so the log of a
/// ratio is the change plus or minus an order effect, plus noise. The estimate is the midpoint
/// of the two orders' mean logs, which the order effect cancels from even when the orders are
/// unequal in number; its spread is the noise alone, with two degrees of freedom spent (the
/// AB/BA crossover's period effect). Falls back to [`paired_t`] while either order has no
/// ratio, or with fewer than 4 ratios.
pub fn crossover_t(ratios: &[f64], base_first: &[bool]) -> Option<Interval> {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for (r, &b) in ratios.iter().zip(base_first) {
        if r.is_finite() && *r > 0.0 {
            if b {
                first.push(r.ln())
            } else {
                second.push(r.ln())
            }
        }
    }
    let n = first.len() + second.len();
    if first.is_empty() || second.is_empty() || n < 4 {
        return paired_t(ratios);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (m1, m2) = (mean(&first), mean(&second));
    let ss = first.iter().map(|l| (l - m1).powi(2)).sum::<f64>() + second.iter().map(|l| (l - m2).powi(2)).sum::<f64>();
    let var = ss / (n - 2) as f64;
    let centre = (m1 + m2) / 2.0;
    let se = (var / 4.0 * (1.0 / first.len() as f64 + 1.0 / second.len() as f64)).sqrt();
    let half = t_9995(n - 2) * se;
    Some(Interval { ratio: centre.exp(), low: (centre - half).exp(), high: (centre + half).exp(), blocks: n })
}

/// Student's t at 0.975 for `df` degrees of freedom: the table to 30, then the
/// Cornish–Fisher expansion around the normal quantile (within 0.001 of the exact value there).
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => {
            let (z, v) = (1.959_964_f64, df as f64);
            z + (z.powi(3) + z) / (4.0 * v) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use rand_distr::{Distribution, LogNormal, Normal};

    use super::*;

    /// How often a 95% interval (the old confidence, whose misses are common enough to
    /// count) over `blocks` draws from `draw` covers `truth`, over many trials.
    fn coverage(blocks: usize, truth: f64, mut draw: impl FnMut(&mut SmallRng) -> f64) -> f64 {
        let mut rng = SmallRng::seed_from_u64(7);
        let trials = 4000;
        let covered = (0..trials)
            .filter(|_| {
                let ratios: Vec<f64> = (0..blocks).map(|_| draw(&mut rng)).collect();
                let logs: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
                let n = logs.len() as f64;
                let mean = logs.iter().sum::<f64>() / n;
                let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
                let half = t_975(blocks - 1) * sd / n.sqrt();
                let wide = paired_t(&ratios).expect("enough blocks");
                assert!(wide.high >= (mean + half).exp() && wide.low <= (mean - half).exp(), "99.9% is wider");
                (mean - half).exp() <= truth && truth <= (mean + half).exp()
            })
            .count();
        covered as f64 / trials as f64
    }

    #[test]
    fn log_normal_block_ratios_are_covered_at_the_stated_rate() {
        // Block ratios whose logarithm is normal around ln 0.9 (a 10% slowdown) with 8% spread.
        let d = LogNormal::new(0.9f64.ln(), 0.08).expect("valid");
        for blocks in [3, 4, 6, 10, 20] {
            let c = coverage(blocks, 0.9, |r| d.sample(r));
            assert!((0.935..=0.965).contains(&c), "{blocks} blocks: coverage {c}");
        }
    }

    #[test]
    fn two_arms_with_shared_host_noise_cover_the_true_ratio() {
        // Each block: the host's speed moves both arms alike (±30%), each arm adds its own 5%,
        // and head is truly 0.95 of base. The shared part cancels in the ratio.
        let host = LogNormal::new(0.0, 0.3).expect("valid");
        let own = Normal::new(0.0, 0.05).expect("valid");
        let c = coverage(8, 0.95, |r| {
            let speed = host.sample(r);
            let base = 1000.0 * speed * f64::exp(own.sample(r));
            let head = 950.0 * speed * f64::exp(own.sample(r));
            head / base
        });
        assert!((0.935..=0.965).contains(&c), "coverage {c}");
    }

    #[test]
    fn the_gate_interval_misses_about_one_in_a_thousand() {
        let d = LogNormal::new(0.0, 0.2).expect("valid");
        let mut rng = SmallRng::seed_from_u64(11);
        let trials = 20_000;
        let missed = (0..trials)
            .filter(|_| {
                let ratios: Vec<f64> = (0..6).map(|_| d.sample(&mut rng)).collect();
                let i = paired_t(&ratios).expect("six blocks");
                !(i.low <= 1.0 && 1.0 <= i.high)
            })
            .count();
        assert!(missed <= 60, "{missed} of {trials} missed; 20 expected");
        assert!((t_9995(31) - 3.633).abs() < 0.01, "{}", t_9995(31));
        assert!((t_9995(120) - 3.373).abs() < 0.01, "{}", t_9995(120));
    }

    #[test]
    fn an_order_effect_is_taken_out_and_the_truth_still_covered() {
        // head is truly 0.9 of base; whichever arm runs second gains 8%; 5% noise; orders
        // alternate but not evenly (7 base-first, 5 head-first).
        let noise = Normal::new(0.0, 0.05).expect("valid");
        let mut rng = SmallRng::seed_from_u64(5);
        let orders: Vec<bool> = (0..12).map(|i| i % 2 == 0 || i == 11).collect();
        let trials = 20_000;
        let (mut missed, mut narrower) = (0, 0);
        for _ in 0..trials {
            let ratios: Vec<f64> = orders
                .iter()
                .map(|&b| (0.9f64.ln() + if b { 0.08 } else { -0.08 } + noise.sample(&mut rng)).exp())
                .collect();
            let i = crossover_t(&ratios, &orders).expect("twelve rounds");
            missed += usize::from(!(i.low <= 0.9 && 0.9 <= i.high));
            let plain = paired_t(&ratios).expect("twelve rounds");
            narrower += usize::from(i.width() < plain.width());
        }
        assert!(missed <= 60, "{missed} of {trials} missed; 20 expected at 99.9%");
        assert!(narrower > trials * 9 / 10, "narrower than the plain interval in only {narrower} of {trials}");
        // A steady 10% fall with an order effect and little noise is wholly below 0.95.
        let ratios: Vec<f64> = orders.iter().map(|&b| 0.9 * if b { 1.08 } else { 1.0 / 1.08 }).collect();
        let i = crossover_t(&ratios, &orders).expect("twelve rounds");
        assert!((i.ratio - 0.9).abs() < 1e-9 && i.high < 0.95, "{i:?}");
        // One order only: the plain interval.
        assert_eq!(crossover_t(&ratios, &[true; 12]), paired_t(&ratios));
    }

    #[test]
    fn the_t_quantile_matches_the_table_and_joins_the_normal() {
        assert_eq!(t_975(1), 12.706);
        assert!((t_975(31) - 2.040).abs() < 0.002, "{}", t_975(31));
        assert!((t_975(60) - 2.000).abs() < 0.002, "{}", t_975(60));
        assert!((t_975(100_000) - 1.960).abs() < 0.001);
        assert!(t_975(0).is_infinite());
    }

    #[test]
    fn one_block_or_unusable_ratios_give_no_interval() {
        assert!(paired_t(&[1.0]).is_none());
        assert!(paired_t(&[1.0, f64::NAN, 0.0]).is_none());
        let i = paired_t(&[1.0, 1.0, 1.0]).expect("three blocks");
        assert_eq!((i.ratio, i.low, i.high, i.blocks), (1.0, 1.0, 1.0, 3));
    }
}
