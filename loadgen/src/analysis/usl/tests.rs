use super::*;

/// A deterministic ±`amp` wobble, different at each point.
fn noisy(truth: Usl, ns: &[f64], amp: f64) -> Vec<(f64, f64)> {
    ns.iter()
        .enumerate()
        .map(|(i, &n)| (n, truth.throughput(n) * (1.0 + amp * [0.0, 1.0, -1.0, 0.5, -0.5, 0.8, -0.8][i % 7])))
        .collect()
}

#[test]
fn known_curves_are_recovered_within_ten_percent_through_noise() {
    let ns = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];
    for truth in [
        Usl { lambda: 1000.0, sigma: 0.05, kappa: 0.002 },
        Usl { lambda: 900.0, sigma: 0.2, kappa: 0.0005 },
        Usl { lambda: 50_000.0, sigma: 0.02, kappa: 0.0001 },
    ] {
        let fit = Usl::fit_with_quality(&noisy(truth, &ns, 0.02)).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= 0.1 * b;
        assert!(close(fit.usl.lambda, truth.lambda), "{fit:?} vs {truth:?}");
        assert!(close(fit.usl.sigma, truth.sigma), "{fit:?} vs {truth:?}");
        assert!(close(fit.usl.kappa, truth.kappa), "{fit:?} vs {truth:?}");
        assert!(fit.r2 > 0.95 && fit.max_residual < 0.05 && fit.refusal().is_none(), "{fit:?}");
    }
}

#[test]
fn an_exact_curve_is_recovered_exactly() {
    let truth = Usl { lambda: 1000.0, sigma: 0.05, kappa: 0.002 };
    let fit = Usl::fit(&noisy(truth, &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0], 0.0)).unwrap();
    assert!((fit.sigma - 0.05).abs() < 1e-6 && (fit.kappa - 0.002).abs() < 1e-7, "{fit:?}");
    assert!((fit.peak().unwrap() - (0.95f64 / 0.002).sqrt()).abs() < 1e-2);
}

#[test]
fn perfect_scaling_has_no_peak_and_few_points_are_not_projected() {
    let fit = Usl::fit_with_quality(&[(1.0, 100.0), (2.0, 200.0), (4.0, 400.0)]).unwrap();
    assert!(fit.usl.sigma.abs() < 1e-9 && fit.usl.kappa.abs() < 1e-9 && fit.usl.peak().is_none());
    assert!(fit.refusal().unwrap().contains("3 distinct points"), "{fit:?}");
    // One point: λ only, and said to be unfit for projection.
    let one = Usl::fit_with_quality(&[(1.0, 100.0)]).unwrap();
    assert_eq!((one.usl.sigma, one.usl.kappa), (0.0, 0.0));
    assert!(one.refusal().is_some());
    assert!(Usl::fit(&[]).is_none());
}

#[test]
fn a_curve_that_misses_a_point_by_more_than_fifteen_percent_is_refused() {
    // Throughput that collapses and recovers: no USL curve follows it.
    let fit = Usl::fit_with_quality(&[(1.0, 100.0), (2.0, 190.0), (4.0, 60.0), (8.0, 700.0), (16.0, 90.0)]).unwrap();
    assert!(fit.refusal().unwrap().contains("misses a measured point"), "{fit:?}");
}

#[test]
fn the_committed_per_school_sweep_anchors_lambda_at_its_one_writer_rate() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../results/baseline/20261130T214857Z/result.json");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let f = &r["figures"];
    let mut points = Vec::new();
    for (name, v) in f.as_object().unwrap() {
        let Some(step) = name.strip_prefix("append.per-school.c").and_then(|s| s.strip_suffix(".events_per_s")) else {
            continue;
        };
        let n = f[format!("append.per-school.c{step}.concurrency")]["value"].as_f64().unwrap();
        points.push((n, v["value"].as_f64().unwrap()));
    }
    let one_writer = f["append.per-school.c1.events_per_s"]["value"].as_f64().unwrap();
    let fit = Usl::fit_with_quality(&points).unwrap();
    assert!((fit.usl.lambda - one_writer).abs() <= 0.1 * one_writer, "{fit:?} vs {one_writer}");
    assert!(fit.usl.sigma > 0.0, "throughput levels off: contention is not 0 ({fit:?})");
}
