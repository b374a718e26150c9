//! The Universal Scalability Law: X(N) = λN / (1 + σ(N−1) + κN(N−1)).
//!
//! σ is contention (the serial share), κ is coherency (the cost of workers keeping each other
//! in step). N is the concurrency a step actually reached where it was measured (Little's
//! law), else the nominal worker count.
//!
//! λ is anchored by the measured point nearest N = 1 (its throughput per unit of N); σ and κ,
//! both ≥ 0, minimise the squared *relative* error, so the 1-writer point counts as much as
//! the 262144-writer one. Each of the four models (σ and κ free or held at 0) is solved by
//! Gauss–Newton from a weighted linear start; the best feasible one wins, which is the
//! constrained optimum. [`Fit`] says how well it fits and whether it may be projected.

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

/// A curve with its quality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// The curve.
    pub usl: Usl,
    /// R² of throughput.
    pub r2: f64,
    /// The largest |predicted − measured| / measured.
    pub max_residual: f64,
    /// Distinct N measured.
    pub points: usize,
    /// The smallest and largest N measured.
    pub range: (f64, f64),
}

/// The largest relative residual a curve may have and still be projected.
pub const MAX_RESIDUAL: f64 = 0.15;
/// The fewest distinct points a projected curve may come from.
pub const MIN_POINTS: usize = 4;

impl Fit {
    /// Why the curve must not be projected past what was measured, if it must not.
    pub fn refusal(&self) -> Option<String> {
        if self.points < MIN_POINTS {
            Some(format!("{} distinct points, fewer than {MIN_POINTS}", self.points))
        } else if self.max_residual > MAX_RESIDUAL {
            Some(format!(
                "the curve misses a measured point by {:.0}%, more than {:.0}%",
                self.max_residual * 100.0,
                MAX_RESIDUAL * 100.0
            ))
        } else {
            None
        }
    }
}

impl Usl {
    /// Fits measured (N, throughput) points; `None` without a usable point.
    pub fn fit(points: &[(f64, f64)]) -> Option<Self> {
        Self::fit_with_quality(points).map(|f| f.usl)
    }

    /// Fits measured (N, throughput) points and says how well the curve fits them.
    pub fn fit_with_quality(points: &[(f64, f64)]) -> Option<Fit> {
        let pts: Vec<(f64, f64)> = points.iter().copied().filter(|(n, x)| *n > 0.0 && *x > 0.0).collect();
        let &(n1, x1) = pts.iter().min_by(|a, b| (a.0 - 1.0).abs().total_cmp(&(b.0 - 1.0).abs()))?;
        let lambda = x1 / n1;
        let mut ns: Vec<f64> = pts.iter().map(|p| p.0).collect();
        ns.sort_by(f64::total_cmp);
        ns.dedup_by(|a, b| (*a - *b).abs() < 1e-9 * b.abs().max(1.0));
        let mut best: Option<(f64, Usl)> = None;
        for (free_sigma, free_kappa) in [(true, true), (true, false), (false, true), (false, false)] {
            if usize::from(free_sigma) + usize::from(free_kappa) + 1 > ns.len() {
                continue;
            }
            let Some((sigma, kappa)) = solve(&pts, lambda, free_sigma, free_kappa) else { continue };
            if sigma < 0.0 || kappa < 0.0 {
                continue;
            }
            let usl = Usl { lambda, sigma, kappa };
            let err = sse(&pts, usl);
            if best.is_none_or(|(e, _)| err < e - 1e-15) {
                best = Some((err, usl));
            }
        }
        let (_, usl) = best?;
        let mean = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
        let ss_tot: f64 = pts.iter().map(|p| (p.1 - mean).powi(2)).sum();
        let ss_res: f64 = pts.iter().map(|p| (usl.throughput(p.0) - p.1).powi(2)).sum();
        Some(Fit {
            usl,
            r2: if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { 1.0 },
            max_residual: pts.iter().map(|p| ((usl.throughput(p.0) - p.1) / p.1).abs()).fold(0.0, f64::max),
            points: ns.len(),
            range: (ns[0], ns[ns.len() - 1]),
        })
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

/// Sum of squared relative errors.
fn sse(pts: &[(f64, f64)], u: Usl) -> f64 {
    pts.iter().map(|(n, x)| ((u.throughput(*n) - x) / x).powi(2)).sum()
}

/// σ and κ (the free ones) for a fixed λ: a linear start, then Gauss–Newton on the relative
/// residuals r = u / D − 1, where u = λN/X and D = 1 + σ(N−1) + κN(N−1).
fn solve(pts: &[(f64, f64)], lambda: f64, free_sigma: bool, free_kappa: bool) -> Option<(f64, f64)> {
    let cols = |n: f64| [if free_sigma { n - 1.0 } else { 0.0 }, if free_kappa { n * (n - 1.0) } else { 0.0 }];
    let k = [free_sigma, free_kappa];
    if !free_sigma && !free_kappa {
        return Some((0.0, 0.0));
    }
    // The start: D ≈ u, each row weighted by 1/u, as the relative error weighs it.
    let mut theta = {
        let rows: Vec<([f64; 2], f64)> = pts
            .iter()
            .map(|(n, x)| {
                let u = lambda * n / x;
                let c = cols(*n);
                ([c[0] / u, c[1] / u], (u - 1.0) / u)
            })
            .collect();
        least_squares(&rows, k)?
    };
    let mut err = sse(pts, Usl { lambda, sigma: theta[0], kappa: theta[1] });
    for _ in 0..50 {
        // r = u/D − 1; ∂r/∂θ = −u/D² · c.
        let rows: Vec<([f64; 2], f64)> = pts
            .iter()
            .map(|(n, x)| {
                let u = lambda * n / x;
                let c = cols(*n);
                let d = 1.0 + theta[0] * c[0] + theta[1] * c[1];
                let g = -u / (d * d);
                ([g * c[0], g * c[1]], -(u / d - 1.0))
            })
            .collect();
        let Some(step) = least_squares(&rows, k) else { break };
        let mut t = 1.0;
        let mut improved = false;
        while t > 1e-6 {
            let cand = [theta[0] + t * step[0], theta[1] + t * step[1]];
            let d_ok = pts.iter().all(|(n, _)| 1.0 + cand[0] * cols(*n)[0] + cand[1] * cols(*n)[1] > 0.0);
            if d_ok {
                let e = sse(pts, Usl { lambda, sigma: cand[0], kappa: cand[1] });
                if e < err {
                    theta = cand;
                    improved = err - e > 1e-14 * err.max(1e-300);
                    err = e;
                    break;
                }
            }
            t /= 2.0;
        }
        if !improved {
            break;
        }
    }
    Some((theta[0], theta[1]))
}

/// Least squares over the free columns of `rows` (a, b) → θ with θ fixed at 0 where not free.
fn least_squares(rows: &[([f64; 2], f64)], free: [bool; 2]) -> Option<[f64; 2]> {
    let idx: Vec<usize> = (0..2).filter(|&i| free[i]).collect();
    let m = idx.len();
    let mut ata = vec![vec![0.0; m]; m];
    let mut aty = vec![0.0; m];
    for (a, y) in rows {
        for (i, &ci) in idx.iter().enumerate() {
            aty[i] += a[ci] * y;
            for (j, &cj) in idx.iter().enumerate() {
                ata[i][j] += a[ci] * a[cj];
            }
        }
    }
    let sol = gauss(ata, aty)?;
    let mut theta = [0.0; 2];
    for (i, &ci) in idx.iter().enumerate() {
        theta[ci] = sol[i];
    }
    Some(theta)
}

fn gauss(mut m: Vec<Vec<f64>>, mut v: Vec<f64>) -> Option<Vec<f64>> {
    let n = v.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
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
mod tests;
