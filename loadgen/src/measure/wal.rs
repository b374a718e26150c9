//! Where the server's WAL stands, to subtract from a later reading: the WAL a step wrote,
//! whoever wrote it (the whole cluster's, so a peer in another database counts the same way).

use sqlx::PgPool;

/// A reading of the WAL insert position, in bytes from the start of the WAL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WalPosition(f64);

impl WalPosition {
    /// The position now; `None` when the server would not say (a role without the right).
    pub async fn now(pool: &PgPool) -> Option<Self> {
        sqlx::query_scalar::<_, f64>("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::float8")
            .fetch_one(pool)
            .await
            .ok()
            .map(Self)
    }

    /// WAL bytes per event between two readings over `events` events; `None` without both
    /// readings or without events.
    pub fn bytes_per_event(before: Option<Self>, after: Option<Self>, events: u64) -> Option<f64> {
        match (before, after) {
            (Some(b), Some(a)) if events > 0 && a.0 >= b.0 => Some((a.0 - b.0) / events as f64),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_per_event_needs_both_readings_and_events() {
        let (b, a) = (Some(WalPosition(1000.0)), Some(WalPosition(5000.0)));
        assert_eq!(WalPosition::bytes_per_event(b, a, 8), Some(500.0));
        assert_eq!(WalPosition::bytes_per_event(b, a, 0), None);
        assert_eq!(WalPosition::bytes_per_event(None, a, 8), None);
        assert_eq!(WalPosition::bytes_per_event(a, b, 8), None);
    }
}
