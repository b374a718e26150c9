//! The writer's lease on its head row: taken on start (waiting out a dead writer's),
//! renewed while idle, released on stop.

use std::time::Duration;

use super::{within, Scope, State};
use crate::error::{Error, Result};

impl State {
    /// Takes the lease, waiting up to `lease_wait` for another writer's to expire.
    pub(super) async fn acquire_waiting(&mut self) -> Result<()> {
        let started = std::time::Instant::now();
        let mut said = false;
        loop {
            match self.acquire().await {
                Err(Error::OwnershipLost { school }) if started.elapsed() < self.config.lease_wait => {
                    if !said {
                        eprintln!(
                            "stroom: school {school} is leased to another writer; waiting up to {:.0} s for it to expire",
                            self.config.lease_wait.as_secs_f64()
                        );
                        said = true;
                    }
                    tokio::time::sleep(Duration::from_millis(250).min(self.config.lease_wait)).await;
                }
                other => return other,
            }
        }
    }

    /// Extends an idle writer's lease. If another writer holds it now, what this one knew
    /// is forgotten; its next commit is refused and tries to win the lease back.
    pub(super) async fn renew(&mut self) {
        let renewed = within(
            self.config.timeout,
            "renewing the writer's lease",
            sqlx::query_scalar::<_, i32>(
                "UPDATE school_heads SET lease_until = now() + make_interval(secs => $1) \
                 WHERE school = $2 AND owner = $3 RETURNING school",
            )
            .bind(self.config.lease.as_secs_f64())
            .bind(self.scope.head())
            .bind(self.owner)
            .fetch_optional(self.store.pool()),
        )
        .await;
        if !matches!(renewed, Ok(Ok(Some(_)))) {
            self.forget();
        }
    }

    pub(super) async fn acquire(&mut self) -> Result<()> {
        let limit = self.config.timeout;
        let got: Option<i32> = within(
            limit,
            "taking the writer's lease",
            sqlx::query_scalar(
                "UPDATE school_heads SET owner = $1, lease_until = now() + make_interval(secs => $2) \
             WHERE school = $3 AND (owner IS NULL OR owner = $1 OR lease_until < now()) RETURNING school",
            )
            .bind(self.owner)
            .bind(self.config.lease.as_secs_f64())
            .bind(self.scope.head())
            .fetch_optional(self.store.pool()),
        )
        .await?
        .map_err(Error::db("taking the writer's lease"))?;
        self.forget();
        match (got, self.scope) {
            (Some(_), Scope::Log) => {
                self.schools = self.store.schools().await?.into_iter().collect();
                Ok(())
            }
            (Some(_), Scope::School(_)) => Ok(()),
            (None, Scope::School(school)) if !self.store.schools().await?.contains(&school) => {
                Err(Error::UnknownSchool { school })
            }
            (None, _) => Err(Error::OwnershipLost { school: self.scope.head() }),
        }
    }

    pub(super) async fn release(&self) {
        let _ =
            sqlx::query("UPDATE school_heads SET owner = NULL, lease_until = NULL WHERE school = $1 AND owner = $2")
                .bind(self.scope.head())
                .bind(self.owner)
                .execute(self.store.pool())
                .await;
    }
}
