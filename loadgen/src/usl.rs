//! The Universal Scalability Law: X(N) = λN / (1 + σ(N−1) + κN(N−1)).
//!
//! σ is contention (the serial share), κ is coherency (the cost of workers keeping each other
//! in step). Fitted by linear least squares on N/X(N) = 1/λ + (σ/λ)(N−1) + (κ/λ)N(N−1), with
//! σ and κ held non-negative.

use serde::{Deserialize, Serialize};

/// A fitted curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Usl {
    /// Throughput of one worker.
    pub lambda: f64,
    /// Contention.
    pub sigma: f64,
    /// Coherency.
    pub kappa: f64,
}

impl Usl {
    /// Fits measured (N, throughput) points; `None` without a usable point.
    pub fn fit(points: &[(f64, f64)]) -> Option<Self> {
        let pts: Vec<(f64, f64)> = points.iter().copied().filter(|(n, x)| *n >= 1.0 && *x > 0.0).collect();
        if pts.is_empty() {
            return None;
        }
        let distinct = {
            let mut ns: Vec<u64> = pts.iter().map(|(n, _)| *n as u64).collect();
            ns.sort_unstable();
            ns.dedup();
            ns.len()
        };
        // Candidate models: which of σ, κ are free. Keep the best feasible fit.
        let mut best: Option<(f64, Usl)> = None;
        for (free_sigma, free_kappa) in [(true, true), (true, false), (false, true), (false, false)] {
            let needed = 1 + usize::from(free_sigma) + usize::from(free_kappa);
            if needed > distinct {
                continue;
            }
            let Some(fit) = solve(&pts, free_sigma, free_kappa) else { continue };
            if fit.lambda <= 0.0 || fit.sigma < 0.0 || fit.kappa < 0.0 {
                continue;
            }
            let err: f64 = pts.iter().map(|(n, x)| ((fit.throughput(*n) - x) / x).powi(2)).sum();
            if best.is_none_or(|(e, _)| err < e - 1e-12) {
                best = Some((err, fit));
            }
        }
        best.map(|(_, f)| f)
    }

    /// Predicted throughput at N workers.
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }

    /// Where throughput peaks: sqrt((1−σ)/κ); `None` when it never falls (κ = 0).
    pub fn peak(&self) -> Option<f64> {
        (self.kappa > 0.0).then(|| ((1.0 - self.sigma).max(0.0) / self.kappa).sqrt())
    }

    /// The first worker count at which one more worker adds under 5% throughput.
    pub fn knee(&self, max: f64) -> f64 {
        let mut n = 1.0;
        while n < max {
            if self.throughput(n + 1.0) < self.throughput(n) * 1.05 {
                return n;
            }
            n += 1.0;
        }
        max
    }
}

/// Least squares on y = N/X against the free columns among 1, N−1, N(N−1).
fn solve(pts: &[(f64, f64)], free_sigma: bool, free_kappa: bool) -> Option<Usl> {
    let cols = |n: f64| {
        let mut c = vec![1.0];
        if free_sigma {
            c.push(n - 1.0);
        }
        if free_kappa {
            c.push(n * (n - 1.0));
        }
        c
    };
    let k = 1 + usize::from(free_sigma) + usize::from(free_kappa);
    let mut ata = vec![vec![0.0; k]; k];
    let mut aty = vec![0.0; k];
    for (n, x) in pts {
        let (c, y) = (cols(*n), n / x);
        for i in 0..k {
            aty[i] += c[i] * y;
            for j in 0..k {
                ata[i][j] += c[i] * c[j];
            }
        }
    }
    let coef = gauss(ata, aty)?;
    let a = coef[0];
    let mut i = 1;
    let mut next = |free: bool| {
        if free {
            i += 1;
            coef[i - 1] / a
        } else {
            0.0
        }
    };
    let sigma = next(free_sigma);
    let kappa = next(free_kappa);
    Some(Usl { lambda: 1.0 / a, sigma, kappa })
}

fn gauss(mut m: Vec<Vec<f64>>, mut v: Vec<f64>) -> Option<Vec<f64>> {
    let n = v.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-15 {
            return None;
        }
        m.swap(col, pivot);
        v.swap(col, pivot);
        for row in col + 1..n {
            let f = m[row][col] / m[col][col];
            let pivot_row = m[col].clone();
            for (cell, p) in m[row].iter_mut().zip(&pivot_row).skip(col) {
                *cell -= f * p;
            }
            v[row] -= f * v[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| m[row][k] * x[k]).sum();
        x[row] = (v[row] - s) / m[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_curve_is_recovered() {
        let truth = Usl { lambda: 1000.0, sigma: 0.05, kappa: 0.002 };
        let pts: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0].iter().map(|&n| (n, truth.throughput(n))).collect();
        let fit = Usl::fit(&pts).unwrap();
        assert!((fit.lambda - 1000.0).abs() < 1e-6 * 1000.0);
        assert!((fit.sigma - 0.05).abs() < 1e-6);
        assert!((fit.kappa - 0.002).abs() < 1e-6);
        let peak = fit.peak().unwrap();
        assert!((peak - (0.95f64 / 0.002).sqrt()).abs() < 1e-3);
    }

    #[test]
    fn perfect_scaling_has_no_peak_and_two_points_fit_contention_only() {
        let fit = Usl::fit(&[(1.0, 100.0), (2.0, 200.0), (4.0, 400.0)]).unwrap();
        assert!(fit.sigma.abs() < 1e-9 && fit.kappa.abs() < 1e-9 && fit.peak().is_none());
        let fit = Usl::fit(&[(1.0, 100.0), (2.0, 150.0)]).unwrap();
        assert_eq!(fit.kappa, 0.0);
        assert!((fit.sigma - 1.0 / 3.0).abs() < 1e-9, "{fit:?}");
        assert!(Usl::fit(&[]).is_none());
    }
}
