//! The append phase's SLO search for one strategy: the highest constant offered rate whose p99
//! stays within the SLO, with no error and no saturation, found by stepped search over long
//! windows (`slo_search.rs` decides the steps), then confirmed in sustained windows with
//! checkpoints and autovacuum inside, and the latency at half that rate.

use stroom_reference::read_model::Fold;

use super::append::{one, StrategyRun};
use super::open_loop::{open_loop, record_lateness, record_open, Window};
use super::slo_search::{confirmed, step_down, Bounds, Confirmed, Search, Step};
use crate::error::Result;
use crate::figures::Figures;
use crate::measure::latency::Recorded;
use crate::measure::{Activity, ActivityWatch, Lag, LagWatch, Steal};
use crate::progress::{note, Progress};
use crate::scenario::{AppendPlan, Arrival};

/// Searches, confirms and records `s`'s SLO rate.
pub(super) async fn search(
    s: &mut StrategyRun<'_>,
    plan: &AppendPlan,
    search_plan: &crate::scenario::SloSearch,
    figures: &mut Figures,
) -> Result<()> {
    let name = s.strategy.name();
    let slo = s.scenario.slo_p99_ms;
    let start = figures
        .get(&format!("append.{name}.ceiling_events_per_s"))
        .map(|f| f.value * search_plan.start_share)
        .unwrap_or(1000.0)
        .max(1.0)
        .round();
    let mut search = Search::new(Bounds { start, max_steps: search_plan.max_steps, tolerance: search_plan.tolerance });
    let mut steps: Vec<(Step, Activity, Recorded)> = Vec::new();
    let mut steal = Steal::default();
    while let Some(rate) = search.next_rate() {
        let rate = rate.round();
        let i = steps.len() + 1;
        let seed = s.scenario.seed.wrapping_add(1000 + i as u64);
        let what = format!("SLO search step {i}");
        let (Window { recorded, saturated, host, lateness }, activity, lag) =
            slo_window(s, plan, (rate, search_plan.step_s, seed), &what).await?;
        let p99_ms = recorded.latency_ms(0.99);
        let harness_bound = recorded.harness_bound();
        let passed = !harness_bound && !saturated && recorded.errors == 0 && p99_ms <= slo;
        note(format_args!(
            "append {name}: {rate:.0} events/s: p99 {p99_ms:.1} ms, {} errors{}, {} checkpoints and {} autovacuum runs in the window: {}",
            recorded.errors,
            if saturated { ", saturated" } else { "" },
            activity.checkpoints_at.len(),
            activity.autovacuums_at.len(),
            verdict(passed, &recorded)
        ));
        s.errors += recorded.errors;
        if let Some((_, st)) = host {
            steal.push(st);
        }
        let prefix = format!("append.{name}.slo_step{i}");
        record_open(figures, &prefix, &recorded, saturated, host);
        record_lateness(figures, &prefix, &lateness);
        if let Some(lag) = &lag {
            lag.record(figures, &prefix);
        }
        figures.insert(format!("{prefix}.passed"), one("flag", f64::from(u8::from(passed))));
        figures.insert(format!("{prefix}.checkpoints"), one("count", activity.checkpoints_at.len() as f64));
        figures.insert(format!("{prefix}.autovacuums"), one("count", activity.autovacuums_at.len() as f64));
        let step = Step { rate, p99_ms, passed, harness_bound };
        search.record(step.clone());
        steps.push((step, activity, recorded));
    }
    let found = search.found();
    let prefix = format!("append.{name}");
    figures.insert(format!("{prefix}.slo_searched_events_per_s"), one("events/s", found.rate));
    // The most the hypervisor took in any step: one starved step moves the rate found.
    steal.record(figures, &format!("{prefix}.slo_host_steal_share"));
    if let Some(failed) = found.failed_at {
        figures.insert(format!("{prefix}.slo_failed_at_events_per_s"), one("events/s", failed));
    }
    if let Some(limit) = found.harness_bound_at {
        figures.insert(format!("{prefix}.slo_harness_limit_events_per_s"), one("events/s", limit));
        note(format_args!(
            "append {name}: at {limit:.0} events/s the load generator fell behind its schedule: the harness's limit on this machine, not the store's"
        ));
    }
    if let Some((step, activity, _)) = steps.iter().find(|(st, _, _)| st.passed && st.rate == found.rate) {
        figures.insert(format!("{prefix}.slo_rate_p99_ms"), one("ms", step.p99_ms));
        let i = steps.iter().position(|(st, _, _)| st == step).map_or(0, |i| i + 1);
        if let Some(lag) = figures.get(&format!("{prefix}.slo_step{i}.lag_p99_ms")).cloned() {
            figures.insert(format!("{prefix}.slo_rate_lag_p99_ms"), lag);
        }
        figures.insert(format!("{prefix}.slo_rate_checkpoints"), one("count", activity.checkpoints_at.len() as f64));
        figures.insert(format!("{prefix}.slo_rate_autovacuums"), one("count", activity.autovacuums_at.len() as f64));
    }
    figures.insert(format!("{prefix}.slo_steps"), one("count", steps.len() as f64));
    let (rate, upper) = match search_plan.confirm.contains(&s.strategy) && found.rate >= 1.0 {
        true => confirm(s, plan, search_plan, (found.rate, found.failed_at), figures).await?,
        false => {
            figures.insert(format!("{prefix}.slo_confirmed"), one("flag", 0.0));
            (found.rate, found.failed_at)
        }
    };
    figures.insert(format!("{prefix}.slo_rate_events_per_s"), one("events/s", rate));
    if let Some(upper) = upper {
        figures.insert(format!("{prefix}.slo_rate_upper_events_per_s"), one("events/s", upper));
    }
    note(format_args!(
        "append {name}: highest rate within p99 ≤ {slo} ms: {rate:.0} events/s{}{}",
        upper.map(|u| format!(" (pinned below {u:.0})")).unwrap_or_default(),
        match search_plan.confirm.contains(&s.strategy) {
            true => "",
            false => ", unconfirmed",
        }
    ));
    // The latency a user running at half that rate would see: the headroom a peer comparison
    // asks about (`append.<s>.half_slo.p99_ms`), in a window as long as a search step.
    let half = (rate / 2.0).round();
    if half >= 1.0 {
        let seed = s.scenario.seed.wrapping_add(2000);
        let (Window { recorded, saturated, host, lateness }, _, lag) =
            slo_window(s, plan, (half, search_plan.step_s, seed), "half the SLO rate").await?;
        s.errors += recorded.errors;
        record_open(figures, &format!("{prefix}.half_slo"), &recorded, saturated, host);
        record_lateness(figures, &format!("{prefix}.half_slo"), &lateness);
        if let Some(lag) = &lag {
            lag.record(figures, &format!("{prefix}.half_slo"));
        }
        figures.insert(format!("{prefix}.half_slo.offered_events_per_s"), one("events/s", half));
    }
    Ok(())
}

/// A window's verdict in words.
fn verdict(passed: bool, r: &Recorded) -> String {
    match (passed, r.harness_bound()) {
        (_, true) => format!(
            "harness-bound ({:.1}% of arrivals started more than 1 ms after they could have: the load generator fell behind)",
            r.harness_late_share() * 100.0
        ),
        (true, _) => "within the SLO".into(),
        (false, _) => "outside the SLO".into(),
    }
}

/// Confirms the rate the search found (`found`, with the lowest rate that did not pass) in
/// sustained windows, each at least two checkpoint intervals long unless the scenario says
/// otherwise: it holds only when every whole minute's p99 held the SLO. After a miss it steps
/// down one search tolerance and tries again. Returns the confirmed rate (0 when no try held)
/// and the lowest rate that missed above it.
async fn confirm(
    s: &mut StrategyRun<'_>,
    plan: &AppendPlan,
    search_plan: &crate::scenario::SloSearch,
    (found, mut upper): (f64, Option<f64>),
    figures: &mut Figures,
) -> Result<(f64, Option<f64>)> {
    let name = s.strategy.name();
    let prefix = format!("append.{name}");
    let slo = s.scenario.slo_p99_ms;
    let seconds = match search_plan.confirm_s {
        Some(seconds) => seconds,
        None => 2.0 * checkpoint_timeout_s(s.store.pool()).await?,
    };
    let mut rate = found;
    for k in 1..=search_plan.confirm_tries {
        let seed = s.scenario.seed.wrapping_add(3000 + k as u64);
        let what = format!("confirming the SLO rate, try {k}/{}", search_plan.confirm_tries);
        let (Window { recorded, saturated, host, lateness }, activity, lag) =
            slo_window(s, plan, (rate, seconds, seed), &what).await?;
        s.errors += recorded.errors;
        let minutes: Vec<f64> = recorded.per_minute().into_iter().map(|(_, p99, _)| p99).collect();
        let worst = minutes.iter().copied().fold(0.0, f64::max);
        let outcome = confirmed(&minutes, recorded.errors, saturated, recorded.harness_bound(), slo);
        let (checkpoints, autovacuums) = (activity.checkpoints_at.len(), activity.autovacuums_at.len());
        note(format_args!(
            "append {name}: {rate:.0} events/s for {seconds:.0} s: worst minute's p99 {worst:.1} ms, {} errors{}, {checkpoints} checkpoints and {autovacuums} autovacuum runs: {}",
            recorded.errors,
            if saturated { ", saturated" } else { "" },
            match outcome {
                Confirmed::Held => "confirmed".to_string(),
                Confirmed::Missed => "missed".to_string(),
                Confirmed::HarnessBound => verdict(false, &recorded),
            }
        ));
        let try_prefix = format!("{prefix}.slo_confirm{k}");
        record_open(figures, &try_prefix, &recorded, saturated, host);
        record_lateness(figures, &try_prefix, &lateness);
        figures.insert(format!("{try_prefix}.offered_events_per_s"), one("events/s", rate));
        figures.insert(format!("{try_prefix}.worst_minute_p99_ms"), one("ms", worst));
        figures.insert(format!("{try_prefix}.checkpoints"), one("count", checkpoints as f64));
        figures.insert(format!("{try_prefix}.autovacuums"), one("count", autovacuums as f64));
        figures.insert(format!("{try_prefix}.held"), one("flag", f64::from(u8::from(outcome == Confirmed::Held))));
        figures.insert(format!("{prefix}.slo_confirm_tries"), one("count", k as f64));
        if outcome == Confirmed::Held {
            figures.insert(format!("{prefix}.slo_confirmed"), one("flag", 1.0));
            figures.insert(format!("{prefix}.slo_confirm_s"), one("s", seconds));
            figures.insert(format!("{prefix}.slo_rate_p99_ms"), one("ms", recorded.latency_ms(0.99)));
            figures.insert(format!("{prefix}.slo_rate_worst_minute_p99_ms"), one("ms", worst));
            figures.insert(format!("{prefix}.slo_rate_checkpoints"), one("count", checkpoints as f64));
            figures.insert(format!("{prefix}.slo_rate_autovacuums"), one("count", autovacuums as f64));
            if let Some(lag) = &lag {
                lag.record(figures, &try_prefix);
                if let Some(l) = figures.get(&format!("{try_prefix}.lag_p99_ms")).cloned() {
                    figures.insert(format!("{prefix}.slo_rate_lag_p99_ms"), l);
                }
            }
            return Ok((rate, upper));
        }
        upper = Some(upper.map_or(rate, |u| u.min(rate)));
        rate = step_down(rate, search_plan.tolerance);
        if rate < 1.0 {
            break;
        }
    }
    figures.insert(format!("{prefix}.slo_confirmed"), one("flag", 0.0));
    note(format_args!(
        "append {name}: no rate held the SLO for {seconds:.0} s in {} tries: the SLO rate is unconfirmed and reported as 0",
        search_plan.confirm_tries
    ));
    Ok((0.0, upper))
}

/// The server's `checkpoint_timeout` in seconds.
async fn checkpoint_timeout_s(pool: &sqlx::PgPool) -> Result<f64> {
    sqlx::query_scalar("SELECT setting::float8 FROM pg_settings WHERE name = 'checkpoint_timeout'")
        .fetch_one(pool)
        .await
        .map_err(|source| crate::error::Error::Database { action: "reading checkpoint_timeout", source })
}

/// One open-loop window at a constant `rate` for `seconds` from the open-loop start hour,
/// with the server's checkpoints and autovacuum runs watched beside it.
async fn slo_window(
    s: &mut StrategyRun<'_>,
    plan: &AppendPlan,
    (rate, seconds, seed): (f64, f64, u64),
    what: &str,
) -> Result<(Window, Activity, Option<Lag>)> {
    let name = s.strategy.name();
    let failures = s.failures.clone();
    let store = s.store.clone();
    let project = s.projects(plan);
    let (appender, feed) = s.restart(plan.open_start_hour).await?;
    let progress = Progress::phase(&format!("append {name}: {what}, {rate:.0} events/s offered for {seconds:.0} s"));
    let watch = ActivityWatch::start(store.pool().clone());
    let lag = match project {
        true => Some(LagWatch::start(&store, Fold::default()).await?),
        false => None,
    };
    let window = open_loop(
        appender,
        feed,
        (Arrival::Constant(rate), plan.arrivals, seed),
        plan.open_users,
        (plan.warmup_s, seconds),
        &failures,
        lag.as_ref().map(LagWatch::meter).as_ref(),
    )
    .await;
    let activity = watch.stop().await;
    progress.done(window.recorded.served, seconds);
    let lag = match lag {
        Some(w) => Some(w.stop().await?),
        None => None,
    };
    Ok((window, activity, lag))
}
