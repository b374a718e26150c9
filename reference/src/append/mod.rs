//! Append strategies: the ways the benchmarks compare of getting events into the log.
//!
//! | strategy | layout | what it does |
//! |---|---|---|
//! | `rill` | rill log | the 2017 library as published: a command's events in one transaction; the log's statement trigger gives each its insert order under an advisory lock held to COMMIT |
//! | `single` | single log | one event per transaction, as pgbench would |
//! | `batched` | single log | one [`Transactor`] over the whole log, group-committing many commands per transaction |
//! | `per-school` | partitioned | one [`Transactor`] per school, sharing a connection pool |

mod columns;
mod held;
mod input;
mod lanes;
pub mod message_db;
mod outcome;
mod rill;
mod routed;
mod rows;
mod single;
mod transactor;

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

pub use held::{pool_size_for, Held};
pub(crate) use input::check_input;
pub use lanes::Lanes;
pub use routed::{Routed, RoutedStats};
pub use rows::RowWriter;
pub use transactor::{default_commit_lanes, Transactor, TransactorConfig};

use crate::error::{Error, Result};
use crate::event::{NewEvent, School};
use crate::store::{Layout, Store};

/// One command's events for one stream, with the version the command saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    /// The school the stream belongs to.
    pub school: School,
    /// The aggregate.
    pub stream: Uuid,
    /// The stream's version the command was decided on; 0 for a new stream.
    pub expected_version: i64,
    /// The events, in order; they get versions `expected_version + 1 ..`.
    pub events: Vec<NewEvent>,
}

/// What an acknowledged append got. The acknowledgement comes after COMMIT returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Each event's position: in its school (`per-school`), in the log (`batched`), or its
    /// global position (`single`, `rill`).
    pub positions: Vec<i64>,
    /// The stream's version after the append.
    pub version: i64,
}

/// Which strategy appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// The 2017 baseline.
    Rill,
    /// One event per transaction.
    Single,
    /// One group-committing writer for the whole log.
    Batched,
    /// One group-committing writer per school.
    PerSchool,
    /// A peer, not stroom's: Message DB 1.3's `write_message` ([`message_db`]).
    MessageDb,
}

impl Strategy {
    /// Every strategy stroom implements, in the order reports list them.
    pub const ALL: [Strategy; 4] = [Self::Rill, Self::Single, Self::Batched, Self::PerSchool];

    /// The peers: other event stores, measured beside stroom's own in the append phase.
    pub const PEERS: [Strategy; 1] = [Self::MessageDb];

    /// The name scenarios, figures and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rill => "rill",
            Self::Single => "single",
            Self::Batched => "batched",
            Self::PerSchool => "per-school",
            Self::MessageDb => "message-db",
        }
    }

    /// Parses a scenario's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().chain(Self::PEERS).find(|x| x.name() == s)
    }

    /// The layout this strategy writes (a peer writes its own tables; stroom's store beside
    /// it is the single log).
    pub fn layout(self) -> Layout {
        match self {
            Self::PerSchool => Layout::Partitioned,
            Self::Rill => Layout::RillLog,
            Self::Single | Self::Batched | Self::MessageDb => Layout::SingleLog,
        }
    }

    /// Whether this is another event store rather than one of stroom's.
    pub fn is_peer(self) -> bool {
        Self::PEERS.contains(&self)
    }
}

/// A running strategy: `append` may be called from many tasks at once.
#[derive(Debug, Clone)]
pub enum Appender {
    /// See [`Strategy::Rill`]; with the connections it keeps between appends.
    Rill(Store, Held),
    /// See [`Strategy::Single`]; likewise.
    Single(Store, Held),
    /// See [`Strategy::Batched`].
    Batched(Arc<Transactor>),
    /// See [`Strategy::PerSchool`].
    PerSchool(Arc<HashMap<School, Transactor>>),
    /// See [`Strategy::MessageDb`]; made from a [`message_db::MessageDb`], not by [`Self::start`].
    MessageDb(message_db::MessageDb),
    /// Per-school writers on several servers, routed by the placement map; made by
    /// [`Routed::start`], not by [`Self::start`].
    Routed(Routed),
}

impl Appender {
    /// Starts `strategy` on `store`, whose layout must be the strategy's. A peer's appender
    /// comes from the peer's own handle (`Appender::MessageDb`); asked here, it is refused.
    pub async fn start(strategy: Strategy, store: &Store, config: TransactorConfig) -> Result<Self> {
        assert_eq!(
            store.schema().layout,
            strategy.layout(),
            "{} writes the {} layout",
            strategy.name(),
            strategy.layout()
        );
        Ok(match strategy {
            Strategy::Rill => Self::Rill(store.clone(), Held::new(store.pool().clone())),
            Strategy::Single => Self::Single(store.clone(), Held::new(store.pool().clone())),
            Strategy::MessageDb => {
                return Err(Error::Rejected {
                    rule: "message-db appends through its own database: Appender::MessageDb(MessageDb::connect(..))"
                        .into(),
                })
            }
            Strategy::Batched => Self::Batched(Arc::new(Transactor::start_log(store.clone(), config).await?)),
            Strategy::PerSchool => {
                let lanes = (config.commit_lanes > 0).then(|| {
                    Lanes::start(
                        store,
                        config.lane_writer,
                        config.commit_lanes,
                        config.max_batch_events * 4,
                        (config.lease.as_secs_f64(), config.timeout, config.injected_slowdown),
                    )
                });
                let mut map = HashMap::new();
                for school in store.schools().await? {
                    let t = match &lanes {
                        Some(l) => {
                            Transactor::start_school_in(store.clone(), school, config.clone(), l.clone()).await?
                        }
                        None => Transactor::start_school(store.clone(), school, config.clone()).await?,
                    };
                    map.insert(school, t);
                }
                Self::PerSchool(Arc::new(map))
            }
        })
    }

    /// Appends one command's events. Fails with [`Error::Conflict`] when the stream moved on,
    /// and with a typed error, having written nothing, on bad input.
    pub async fn append(&self, append: Append) -> Result<Appended> {
        match self {
            Self::Rill(store, held) => rill::append(store, held, append).await,
            Self::Single(store, held) => single::append(store, held, append).await,
            Self::MessageDb(m) => m.append(append).await,
            Self::Routed(r) => r.append(append).await,
            Self::Batched(t) => t.append(append).await,
            Self::PerSchool(map) => match map.get(&append.school) {
                Some(t) => t.append(append).await,
                None => Err(Error::UnknownSchool { school: append.school }),
            },
        }
    }

    /// Stops the writers and releases their leases.
    pub async fn stop(self) {
        match self {
            Self::Batched(t) => {
                if let Ok(t) = Arc::try_unwrap(t) {
                    t.stop().await;
                }
            }
            Self::PerSchool(map) => {
                if let Ok(map) = Arc::try_unwrap(map) {
                    for t in map.into_values() {
                        t.stop().await;
                    }
                }
            }
            Self::Routed(r) => r.stop().await,
            Self::Rill(..) | Self::Single(..) | Self::MessageDb(_) => {}
        }
    }
}
