//! Per-school writers across several servers, routed by the placement map.
//!
//! Each server has its own commit lanes; each school's transactor is started on the server
//! the map names, when the school first appends there. When a move fences a school, its
//! writer's commits are refused ([`Error::OwnershipLost`]); the append then reads the map
//! again every few milliseconds and retries, on the new server once the switch is recorded
//! and the target's head handed over, on the old one if the move was aborted. The append is
//! acknowledged only once it committed somewhere, so a move costs its school a pause, never
//! an event. How long each refused append waited is kept for the figures.
//!
//! A school that no append touched while it was fenced moves without its writers noticing;
//! their next append goes to the old server, whose writer may answer from what that server
//! holds before any commit is refused (a conflict, the stream's rows being gone). A conflict
//! or an unknown school therefore rereads the map once, and retries where the school is now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;
use uuid::Uuid;

use super::lanes::Lanes;
use super::{Append, Appended, Transactor, TransactorConfig};
use crate::error::{Error, Result};
use crate::event::School;
use crate::placement::{Placement, PlacementMap, Server};
use crate::store::Store;

/// How often a refused append reads the map again.
const RETRY: Duration = Duration::from_millis(5);

/// What the routed writers saw of moves.
#[derive(Debug, Clone, Default)]
pub struct RoutedStats {
    /// For each append a fence refused: its school and how long from the first refusal to
    /// its acknowledgement.
    pub waits: Vec<(School, Duration)>,
    /// Every acknowledged event, with its school (kept only when asked for, to check that
    /// none is lost).
    pub acked: Vec<(School, Uuid)>,
}

/// A school's writer on one server, once started.
type WriterCell = Arc<OnceCell<Arc<Transactor>>>;

/// The routed writers; cheap to clone.
#[derive(Debug, Clone)]
pub struct Routed(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    servers: Vec<(Store, Lanes)>,
    config: TransactorConfig,
    placement: Placement,
    map: Mutex<(PlacementMap, Instant)>,
    /// Each school's writer per server, started by the first append that needs it; the map's
    /// lock is held only to find the cell, never across a round trip.
    writers: Mutex<HashMap<(Server, School), WriterCell>>,
    stats: Mutex<RoutedStats>,
    keep_acked: bool,
    /// How long a refused append keeps trying before it fails.
    give_up: Duration,
}

impl Routed {
    /// Routed writers over `servers` (server i at index i, each a partitioned store), routing
    /// by `placement`. With `keep_acked`, every acknowledged event id is kept in the stats.
    pub async fn start(
        servers: Vec<Store>,
        placement: Placement,
        config: TransactorConfig,
        keep_acked: bool,
    ) -> Result<Self> {
        let map = placement.load().await?;
        let lanes = config.commit_lanes.max(1);
        let servers = servers
            .into_iter()
            .map(|store| {
                let l = Lanes::start(
                    &store,
                    config.lane_writer,
                    lanes,
                    config.max_batch_events * 4,
                    (config.lease.as_secs_f64(), config.timeout, config.injected_slowdown),
                );
                (store, l)
            })
            .collect();
        // A transactor that meets a fence fails at once; the routing retries, not the lease wait.
        let give_up = config.lease_wait.max(Duration::from_secs(30));
        let config = TransactorConfig { lease_wait: Duration::ZERO, ..config };
        Ok(Self(Arc::new(Inner {
            servers,
            config,
            placement,
            map: Mutex::new((map, Instant::now())),
            writers: Mutex::default(),
            stats: Mutex::default(),
            keep_acked,
            give_up,
        })))
    }

    /// Appends through the writer of the school's server; see the module's documentation.
    pub async fn append(&self, append: Append) -> Result<Appended> {
        let school = append.school;
        let ids: Vec<Uuid> = if self.0.keep_acked { append.events.iter().map(|e| e.id).collect() } else { Vec::new() };
        let mut refused: Option<Instant> = None;
        let mut stale_checked = false;
        loop {
            let server = self.server_of(school, refused.is_some()).await?;
            let outcome = match self.writer(server, school).await {
                Ok(w) => w.append(append.clone()).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(done) => {
                    let mut stats = self.0.stats.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(at) = refused {
                        stats.waits.push((school, at.elapsed()));
                    }
                    stats.acked.extend(ids.into_iter().map(|id| (school, id)));
                    return Ok(done);
                }
                Err(Error::OwnershipLost { .. }) => {
                    let at = *refused.get_or_insert_with(Instant::now);
                    if at.elapsed() > self.0.give_up {
                        return Err(Error::OwnershipLost { school });
                    }
                    // A writer whose lease is gone holds nothing; the next try starts afresh.
                    self.0.writers.lock().unwrap_or_else(|p| p.into_inner()).remove(&(server, school));
                    tokio::time::sleep(RETRY).await;
                }
                // A writer on a server the school has left answers from what that server
                // still holds (its rows are gone), before any commit could be refused: a
                // conflict or an unknown school there may only mean the map moved on.
                Err(e @ (Error::Conflict { .. } | Error::UnknownSchool { .. })) => {
                    if stale_checked || self.reload().await?.server_of(school) == Some(server) {
                        return Err(e);
                    }
                    stale_checked = true;
                    self.0.writers.lock().unwrap_or_else(|p| p.into_inner()).remove(&(server, school));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the map now.
    async fn reload(&self) -> Result<PlacementMap> {
        let now = self.0.placement.load().await?;
        *self.0.map.lock().unwrap_or_else(|p| p.into_inner()) = (now.clone(), Instant::now());
        Ok(now)
    }

    /// What the writers saw so far.
    pub fn stats(&self) -> RoutedStats {
        self.0.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops every writer and releases their leases.
    pub async fn stop(self) {
        let cells: Vec<_> = self.0.writers.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, w)| w).collect();
        for cell in cells {
            let writer = Arc::try_unwrap(cell).ok().and_then(OnceCell::into_inner);
            if let Some(Ok(w)) = writer.map(Arc::try_unwrap) {
                w.stop().await;
            }
        }
    }

    /// The school's server; after a refusal, from the map as it is now (read at most every
    /// [`RETRY`]).
    async fn server_of(&self, school: School, fresh: bool) -> Result<Server> {
        let stale = {
            let map = self.0.map.lock().unwrap_or_else(|p| p.into_inner());
            fresh && map.1.elapsed() >= RETRY
        };
        if stale {
            self.reload().await?;
        }
        let map = self.0.map.lock().unwrap_or_else(|p| p.into_inner());
        map.0.server_of(school).ok_or(Error::UnknownSchool { school })
    }

    async fn writer(&self, server: Server, school: School) -> Result<Arc<Transactor>> {
        let cell =
            self.0.writers.lock().unwrap_or_else(|p| p.into_inner()).entry((server, school)).or_default().clone();
        let writer = cell
            .get_or_try_init(|| async {
                let (store, lanes) = self.0.servers.get(server as usize).ok_or_else(|| Error::Placement {
                    reason: format!("school {school} is placed on server {server}, which this writer was not given"),
                })?;
                let config = self.0.config.clone();
                Ok::<_, Error>(Arc::new(
                    Transactor::start_school_in(store.clone(), school, config, lanes.clone()).await?,
                ))
            })
            .await?;
        Ok(writer.clone())
    }
}
