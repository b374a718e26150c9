//! The same-run reference for the one-by-one strategies and Message DB: `pgbench` (it ships
//! with the server binaries) running the strategy's own statements against the strategy's own
//! store, at the same number of clients as the closed-loop step it is compared with.
//!
//! A baseline that the harness slows down inflates every "× rill" ratio, so `single ÷ pgbench`
//! and `rill ÷ pgbench` say how much of a one-by-one strategy's rate the harness costs.
//!
//! Each client appends to a stream of its own in one school (`1 + client_id % schools`), with
//! a version from the microsecond clock (it rises per client; `single` does not check gaps), a
//! fresh event id per append and a real generated payload, bound as a parameter as stroom
//! binds it (`-M prepared`).

use std::path::Path;
use std::process::Command;

use stroom_reference::{NewEvent, PayloadType, Strategy};

use crate::error::{Error, Result};

/// The most clients pgbench is run with; the server allows 200 connections in all.
pub const MAX_CLIENTS: usize = 100;

/// The insert `single` makes (`reference/src/append/single.rs`), with pgbench variables.
fn insert(payload: PayloadType) -> String {
    let payload = match payload {
        PayloadType::Jsonb => "CAST(:payload AS jsonb)",
        PayloadType::Json => "CAST(:payload AS json)",
        PayloadType::Bytea => "convert_to(:payload, 'UTF8')",
    };
    format!(
        "WITH reg AS (INSERT INTO streams (stream, school) VALUES (md5('stroom-pgbench-' || :client_id)::uuid, :school) \
         ON CONFLICT DO NOTHING RETURNING school), \
         owner AS (SELECT school FROM reg UNION ALL SELECT school FROM streams \
         WHERE stream = md5('stroom-pgbench-' || :client_id)::uuid LIMIT 1) \
         INSERT INTO events (school, id, stream, version, event_type, recorded_at, payload, metadata) \
         SELECT :school, gen_random_uuid(), md5('stroom-pgbench-' || :client_id)::uuid, \
         (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, :event_type, now(), {payload}, CAST(:metadata AS jsonb) \
         WHERE (SELECT school FROM owner) = :school RETURNING global_position"
    )
}

/// Message DB's append as stroom makes it (`reference/src/append/message_db.rs`): one
/// `write_message` in a transaction, the stream `school<N>-<uuid>` in the school's category,
/// the recorded time in the metadata. The expected version is left out (NULL): Message DB
/// reads the stream's version either way, and pgbench does not know it.
const WRITE_MESSAGE: &str = "SELECT write_message(gen_random_uuid()::text, \
     'school' || :school || '-' || md5('stroom-pgbench-' || :client_id)::uuid, :event_type, CAST(:payload AS jsonb), \
     CAST(:metadata AS jsonb) || jsonb_build_object('recordedAtUs', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint), \
     NULL)";

/// The pgbench script for `strategy`, or `None` when it is not a one-by-one strategy.
pub fn script(strategy: Strategy, payload: PayloadType, schools: usize) -> Option<String> {
    let school = format!("\\set school 1 + :client_id % {}\n", schools.max(1));
    match strategy {
        Strategy::Single => Some(format!("{school}{};\n", insert(payload))),
        // rill: the command's insert in one transaction; the rill log's statement trigger
        // gives its insert order under the advisory lock, held to COMMIT
        // (`reference/src/append/rill.rs`).
        Strategy::Rill => Some(format!("{school}BEGIN;\n{};\nCOMMIT;\n", insert(payload))),
        Strategy::MessageDb => Some(format!("{school}BEGIN;\n{WRITE_MESSAGE};\nCOMMIT;\n")),
        Strategy::Batched | Strategy::PerSchool => None,
    }
}

/// Whether `pgbench` runs at all.
pub fn available(pgbench: &Path) -> bool {
    Command::new(pgbench).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs pgbench with `script` on `clients` clients for `seconds` against `url`, with
/// `search_path`; returns transactions (= events) per second, connection time excluded.
pub fn run(
    pgbench: &Path,
    url: &str,
    search_path: &str,
    script: &str,
    sample: &NewEvent,
    (clients, seconds): (usize, f64),
) -> Result<f64> {
    let dir = tempfile::tempdir().map_err(|e| Error::Io { action: "making a pgbench script", source: e })?;
    let file = dir.path().join("append.sql");
    std::fs::write(&file, script).map_err(|e| Error::Io { action: "writing a pgbench script", source: e })?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let out = Command::new(pgbench)
        .env("PGOPTIONS", format!("-c search_path={search_path} -c plan_cache_mode=auto"))
        .args(["-n", "-M", "prepared"])
        .arg(format!("--client={clients}"))
        .arg(format!("--jobs={}", clients.min(cores)))
        .arg(format!("--time={}", seconds.ceil().max(1.0) as u64))
        .arg("-D")
        .arg(format!("payload={}", sample.payload))
        .arg("-D")
        .arg(format!("metadata={}", sample.metadata))
        .arg("-D")
        .arg(format!("event_type={}", sample.event_type))
        .arg("-f")
        .arg(&file)
        .arg(libpq_url(url))
        .output()
        .map_err(|e| Error::Io { action: "running pgbench", source: e })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        return Err(Error::Reference(format!("pgbench failed: {last}")));
    }
    tps(&text).ok_or_else(|| Error::Reference(format!("pgbench printed no tps: {}", text.trim())))
}

/// `url` as libpq takes it: sqlx's own parameters (`statement-cache-capacity` …) make libpq
/// refuse the whole URL, so only the parameters libpq knows are kept.
fn libpq_url(url: &str) -> String {
    const LIBPQ: &[&str] =
        &["sslmode", "sslrootcert", "sslcert", "sslkey", "application_name", "options", "host", "port"];
    let Some((base, query)) = url.split_once('?') else { return url.to_string() };
    let kept: Vec<&str> =
        query.split('&').filter(|kv| LIBPQ.contains(&kv.split('=').next().unwrap_or_default())).collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// `tps = 1234.5 (without initial connection time)`.
fn tps(report: &str) -> Option<f64> {
    report
        .lines()
        .find(|l| l.starts_with("tps = ") && l.contains("without initial connection time"))
        .and_then(|l| l.split_whitespace().nth(2)?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_read_without_connection_time() {
        let report = "latency average = 1.2 ms\ninitial connection time = 3.1 ms\n\
                      tps = 812.345678 (without initial connection time)\n";
        assert_eq!(tps(report), Some(812.345678));
        assert_eq!(tps("tps = 5 (including connections establishing)"), None);
    }

    #[test]
    fn sqlx_parameters_are_left_out_of_the_url_pgbench_gets() {
        assert_eq!(
            libpq_url("postgres://u@h:5/db?sslmode=prefer&statement-cache-capacity=100"),
            "postgres://u@h:5/db?sslmode=prefer"
        );
        assert_eq!(libpq_url("postgres://u@h:5/db?statement-cache-capacity=100"), "postgres://u@h:5/db");
        assert_eq!(libpq_url("postgres://u:p@h/db"), "postgres://u:p@h/db");
    }

    #[test]
    fn only_one_by_one_strategies_and_message_db_have_a_script() {
        assert!(script(Strategy::Single, PayloadType::Jsonb, 250).unwrap().contains("% 250"));
        let rill = script(Strategy::Rill, PayloadType::Jsonb, 3).unwrap();
        assert!(rill.starts_with("\\set school") && rill.contains("BEGIN;\n") && rill.ends_with("COMMIT;\n"));
        let mdb = script(Strategy::MessageDb, PayloadType::Jsonb, 3).unwrap();
        assert!(mdb.contains("BEGIN;\nSELECT write_message(") && mdb.ends_with("COMMIT;\n"));
        assert!(script(Strategy::PerSchool, PayloadType::Jsonb, 3).is_none());
        assert!(script(Strategy::Batched, PayloadType::Jsonb, 3).is_none());
    }
}
