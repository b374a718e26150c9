//! The transactor: the only writer of its scope (one school, or the whole single log).
//!
//! Because it is the only writer, it keeps its streams' versions in memory and decides
//! conflicts without a round trip. It drains its bounded queue into one transaction per
//! batch (group commit) and acknowledges each append only after COMMIT returned. Ownership is
//! a lease on the scope's head row: the UPDATE that hands out positions also checks and
//! extends the lease, so a writer whose lease another process took can never commit.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

mod lease;

use super::lanes::Lanes;
use super::outcome::{commit_within, for_appends, is_refusal, within};
use super::{check_input, Append, Appended, RowWriter};
use crate::error::{Error, Result};
use crate::event::{School, StoredEvent};
use crate::store::{Layout, PayloadType, Store};

/// How a transactor batches.
#[derive(Debug, Clone)]
pub struct TransactorConfig {
    /// Most events in one transaction.
    pub max_batch_events: usize,
    /// Appends that may wait in the queue before `append` waits too (backpressure).
    pub queue_depth: usize,
    /// How long ownership lasts without a batch or a renewal to extend it. An idle writer
    /// renews its lease every third of this.
    pub lease: Duration,
    /// How long starting waits for another writer's lease to expire (say, that of a process
    /// that was killed) before failing with [`Error::OwnershipLost`].
    pub lease_wait: Duration,
    /// The longest any one statement, commit or connection acquire may take. A commit that
    /// gets no answer in time fails with [`Error::OutcomeUnknown`], anything else with
    /// [`Error::Timeout`].
    pub timeout: Duration,
    /// How rows reach the server when a transactor commits alone.
    pub writer: RowWriter,
    /// Per-school: commit lanes shared by all transactors (group commit across schools);
    /// 0 makes every transactor commit alone. Defaults to [`default_commit_lanes`].
    pub commit_lanes: usize,
    /// How a commit lane writes a group's rows: by default binary COPY after one statement
    /// that advances the heads (figures in `lanes.rs`).
    pub lane_writer: RowWriter,
    /// Test-only fault: each commit lane holds its lane this share of the commit's time
    /// longer (as `share / (1 − share)` of it) before answering, so per-school serves about
    /// that share less. 0 in every real run.
    pub injected_slowdown: f64,
}

impl Default for TransactorConfig {
    fn default() -> Self {
        Self {
            max_batch_events: 2000,
            queue_depth: 1024,
            lease: Duration::from_secs(30),
            lease_wait: Duration::from_secs(35),
            timeout: Duration::from_secs(10),
            writer: RowWriter::default(),
            commit_lanes: default_commit_lanes(),
            lane_writer: RowWriter::Copy,
            injected_slowdown: 0.0,
        }
    }
}

/// One commit lane per core of this machine (1 to 16), as for a server on the same host.
///
/// Statements in flight beyond the server's cores only contend with each other, and each is
/// smaller, so it costs more per event. Per-school on the 250-school population, 2 cores,
/// back to back (closed loop at 16384 writers; open loop 1000 → 30000 events/s, 8192 users,
/// the rate up to which p99 stayed under 50 ms):
///
/// | lanes | closed loop | p99 < 50 ms up to |
/// |---:|---:|---:|
/// | 1 | – | 22.8k events/s |
/// | 2 | 49.1k, 53.4k events/s | 26.4k, 26.4k events/s |
/// | 4 | 46.3k, 52.0k events/s | 19.1k, 15.5k events/s |
pub fn default_commit_lanes() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 16)
}

/// What a transactor owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    School(School),
    Log,
}

impl Scope {
    /// The head row that counts positions and carries the lease.
    fn head(self) -> i32 {
        match self {
            Self::School(s) => s,
            Self::Log => -1,
        }
    }
}

/// A handle on a running transactor.
#[derive(Debug)]
pub struct Transactor {
    scope: Scope,
    payload: PayloadType,
    queue: mpsc::Sender<Request>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct Request {
    append: Append,
    reply: oneshot::Sender<Result<Appended>>,
}

impl Transactor {
    /// Takes ownership of `school` in a partitioned store and starts its writer.
    pub async fn start_school(store: Store, school: School, config: TransactorConfig) -> Result<Self> {
        assert_eq!(store.schema().layout, Layout::Partitioned);
        Self::start(store, Scope::School(school), config, None).await
    }

    /// Like [`Self::start_school`], committing through shared `lanes`.
    pub async fn start_school_in(store: Store, school: School, config: TransactorConfig, lanes: Lanes) -> Result<Self> {
        assert_eq!(store.schema().layout, Layout::Partitioned);
        Self::start(store, Scope::School(school), config, Some(lanes)).await
    }

    /// Takes ownership of a whole single-log store and starts its writer.
    pub async fn start_log(store: Store, config: TransactorConfig) -> Result<Self> {
        assert_eq!(store.schema().layout, Layout::SingleLog);
        Self::start(store, Scope::Log, config, None).await
    }

    async fn start(store: Store, scope: Scope, config: TransactorConfig, lanes: Option<Lanes>) -> Result<Self> {
        let mut state = State {
            store,
            scope,
            owner: Uuid::new_v4(),
            streams: HashMap::new(),
            unregistered: HashSet::new(),
            assumed: HashSet::new(),
            schools: HashSet::new(),
            config,
            lanes,
        };
        state.acquire_waiting().await?;
        let payload = state.store.schema().payload;
        let (queue, rx) = mpsc::channel(state.config.queue_depth);
        let task = tokio::spawn(state.run(rx));
        Ok(Self { scope, payload, queue, task })
    }

    /// Queues an append and waits until it is committed or refused.
    pub async fn append(&self, append: Append) -> Result<Appended> {
        check_input(&append, self.payload)?;
        if let Scope::School(s) = self.scope {
            if append.school != s {
                return Err(Error::UnknownSchool { school: append.school });
            }
        }
        let school = append.school;
        let (reply, answer) = oneshot::channel();
        self.queue.send(Request { append, reply }).await.map_err(|_| Error::WriterStopped { school })?;
        answer.await.unwrap_or(Err(Error::WriterStopped { school }))
    }

    /// Finishes what is queued, releases the lease and stops.
    pub async fn stop(self) {
        drop(self.queue);
        let _ = self.task.await;
    }
}

/// The writer task's state.
struct State {
    store: Store,
    scope: Scope,
    /// This writer's identity in the lease.
    owner: Uuid,
    /// Known streams: (owning school, current version). Valid only while the lease is held.
    streams: HashMap<Uuid, (School, i64)>,
    /// Known streams not yet in the registry: registered by the commit of their first events.
    unregistered: HashSet<Uuid>,
    /// Of those, the ones taken as new without asking the database (see `learn_streams`).
    assumed: HashSet<Uuid>,
    /// Schools known to exist (whole-log scope only).
    schools: HashSet<School>,
    config: TransactorConfig,
    /// Shared commit lanes, if this writer commits through them.
    lanes: Option<Lanes>,
}

impl State {
    async fn run(mut self, mut queue: mpsc::Receiver<Request>) {
        let renew_every = self.config.lease / 3;
        loop {
            let first = match tokio::time::timeout(renew_every, queue.recv()).await {
                Ok(Some(first)) => first,
                Ok(None) => break,
                Err(_idle) => {
                    self.renew().await;
                    continue;
                }
            };
            let mut events = first.append.events.len();
            let mut batch = vec![first];
            while events < self.config.max_batch_events {
                match queue.try_recv() {
                    Ok(r) => {
                        events += r.append.events.len();
                        batch.push(r);
                    }
                    Err(_) => break,
                }
            }
            self.process(batch).await;
        }
        self.release().await;
    }

    async fn process(&mut self, batch: Vec<Request>) {
        self.process_once(batch, true).await;
    }

    /// Decides and commits a batch. With `optimistic`, appends that start an unknown stream
    /// take it as new without a lookup; if the commit then fails, the batch is decided again
    /// once, from what the database says.
    async fn process_once(&mut self, batch: Vec<Request>, optimistic: bool) {
        let limit = self.config.timeout;
        let learnt = within(limit, "reading the batch's streams", self.learn_streams(&batch, optimistic)).await;
        if let Err(e) = learnt.and_then(|r| r) {
            for r in batch {
                let _ = r.reply.send(Err(for_appends(&e)));
            }
            return;
        }

        // Decide every append against the versions in memory, in queue order.
        let mut tentative: HashMap<Uuid, i64> = HashMap::new();
        // Request (its events moved into `rows`), index of its first row, number of events.
        let mut accepted: Vec<(Request, usize, usize)> = Vec::new();
        let mut suspects: Vec<Request> = Vec::new();
        let mut rows: Vec<(StoredEvent, i64)> = Vec::new();
        for r in batch {
            let a = &r.append;
            if self.scope == Scope::Log && !self.schools.contains(&a.school) {
                let _ = r.reply.send(Err(Error::UnknownSchool { school: a.school }));
                continue;
            }
            let Some(&(owner, stored)) = self.streams.get(&a.stream) else {
                // learn_streams refused it: registered to another school.
                let owner = self.store.stream_school(a.stream).await.ok().flatten().unwrap_or(a.school);
                let _ = r.reply.send(Err(Error::WrongSchool { stream: a.stream, school: a.school, owner }));
                continue;
            };
            if owner != a.school {
                let _ = r.reply.send(Err(Error::WrongSchool { stream: a.stream, school: a.school, owner }));
                continue;
            }
            let current = tentative.get(&a.stream).copied().unwrap_or(stored);
            if a.expected_version != current {
                suspects.push(r);
                continue;
            }
            let (first, n, school, stream) = (rows.len(), a.events.len(), a.school, a.stream);
            let mut r = r;
            for (i, e) in std::mem::take(&mut r.append.events).into_iter().enumerate() {
                rows.push((StoredEvent::from_new(school, stream, current + 1 + i as i64, e), 0));
            }
            tentative.insert(stream, current + n as i64);
            accepted.push((r, first, n));
        }

        if !suspects.is_empty() {
            self.settle_suspects(suspects, &tentative).await;
        }
        if accepted.is_empty() {
            return;
        }
        let register: Vec<(Uuid, School)> =
            tentative.keys().filter(|s| self.unregistered.contains(s)).map(|s| (*s, self.streams[s].0)).collect();
        match self.commit(&mut rows, &register).await {
            Ok(()) => {
                for (stream, _) in &register {
                    self.unregistered.remove(stream);
                    self.assumed.remove(stream);
                }
                for (stream, version) in tentative {
                    if let Some(entry) = self.streams.get_mut(&stream) {
                        entry.1 = version;
                    }
                }
                for (r, first, n) in accepted {
                    let positions = rows[first..first + n].iter().map(|(_, p)| *p).collect();
                    let version = r.append.expected_version + n as i64;
                    let _ = r.reply.send(Ok(Appended { positions, version }));
                }
            }
            Err(e) => {
                let guessed = accepted.iter().any(|(r, _, _)| self.assumed.contains(&r.append.stream));
                // The outcome may be unknown (a COMMIT lost in transit): forget what we knew.
                self.forget();
                // Refused by the server, surely nothing written (a lane says BatchFailed).
                let refused = matches!(e, Error::BatchFailed { .. }) || is_refusal(&e);
                if refused && (accepted.len() > 1 || (optimistic && guessed)) {
                    // Nothing was written. Decided again from the database, half by half, a
                    // stream wrongly taken as new gets Conflict or WrongSchool alone, and an
                    // append the server refuses fails alone; the others commit.
                    let mut rows = rows.into_iter();
                    let mut retry: Vec<Request> = accepted
                        .into_iter()
                        .map(|(mut r, _, n)| {
                            r.append.events = rows.by_ref().take(n).map(|(e, _)| e.into_new()).collect();
                            r
                        })
                        .collect();
                    let second = retry.split_off(retry.len() / 2);
                    Box::pin(self.process_once(retry, false)).await;
                    if !second.is_empty() {
                        Box::pin(self.process_once(second, false)).await;
                    }
                    return;
                }
                for (r, _, _) in accepted {
                    let err = match &e {
                        Error::OwnershipLost { .. } => Error::OwnershipLost { school: r.append.school },
                        Error::WriterStopped { .. } => Error::WriterStopped { school: r.append.school },
                        other => for_appends(other),
                    };
                    let _ = r.reply.send(Err(err));
                }
            }
        }
    }

    /// Reads the owners and versions of the batch's unknown streams, read-only. A stream
    /// nobody owns yet is taken as new (version 0); its registration rides on the commit of
    /// its first events, so a new stream costs no commit of its own. Streams owned by another
    /// school are left out of `self.streams`.
    async fn learn_streams(&mut self, batch: &[Request], optimistic: bool) -> Result<()> {
        let mut seen = HashSet::new();
        let mut streams = Vec::new();
        let mut schools = HashMap::new();
        for r in batch {
            let a = &r.append;
            if optimistic && a.expected_version == 0 && !self.streams.contains_key(&a.stream) {
                // It says it starts the stream: believe it. If it is wrong, the registry's or
                // the log's unique keys refuse the commit and the batch is decided again.
                self.streams.insert(a.stream, (a.school, 0));
                self.unregistered.insert(a.stream);
                self.assumed.insert(a.stream);
                continue;
            }
            if !self.streams.contains_key(&a.stream) && seen.insert(a.stream) {
                streams.push(a.stream);
                schools.insert(a.stream, a.school);
            }
        }
        if streams.is_empty() {
            return Ok(());
        }
        // The registry first: it is small and unpartitioned. Only streams this writer may
        // append to and that already exist need their version read from the log.
        let owners: Vec<(Uuid, Option<School>)> = sqlx::query_as(
            "SELECT i.stream, s.school FROM unnest($1::uuid[]) AS i(stream) LEFT JOIN streams s ON s.stream = i.stream",
        )
        .bind(&streams)
        .fetch_all(self.store.pool())
        .await
        .map_err(Error::db("reading stream owners"))?;
        let mut existing = Vec::new();
        for (stream, owner) in owners {
            let Some(owner) = owner else {
                self.unregistered.insert(stream);
                self.streams.insert(stream, (schools[&stream], 0));
                continue;
            };
            let allowed = match self.scope {
                Scope::School(s) => owner == s,
                Scope::Log => true,
            };
            if allowed {
                existing.push((stream, owner));
            }
        }
        if existing.is_empty() {
            return Ok(());
        }
        let version_filter = match self.scope {
            Scope::School(_) => "e.school = $2 AND e.stream = i.stream",
            Scope::Log => "e.stream = i.stream AND $2::int IS NOT NULL",
        };
        let sql = format!(
            "SELECT i.stream, coalesce((SELECT max(e.version) FROM events e WHERE {version_filter}), 0) \
             FROM unnest($1::uuid[]) AS i(stream)"
        );
        let ids: Vec<Uuid> = existing.iter().map(|(s, _)| *s).collect();
        let versions: HashMap<Uuid, i64> = sqlx::query_as(&sql)
            .bind(&ids)
            .bind(self.scope.head())
            .fetch_all(self.store.pool())
            .await
            .map_err(Error::db("reading stream versions"))?
            .into_iter()
            .collect();
        for (stream, owner) in existing {
            self.streams.insert(stream, (owner, versions.get(&stream).copied().unwrap_or(0)));
        }
        Ok(())
    }

    /// Drops everything known about streams (after losing the lease or an unknown outcome).
    fn forget(&mut self) {
        self.streams.clear();
        self.unregistered.clear();
        self.assumed.clear();
    }

    /// Appends whose expected version is not the stream's: an idempotent retry when every
    /// event id is already stored (the stored positions are returned), a conflict otherwise.
    async fn settle_suspects(&self, suspects: Vec<Request>, tentative: &HashMap<Uuid, i64>) {
        let ids: Vec<Uuid> = suspects.iter().flat_map(|r| r.append.events.iter().map(|e| e.id)).collect();
        let limit = self.config.timeout;
        let stored = within(limit, "looking up event ids", self.store.positions_of(self.scope_school(), &ids))
            .await
            .and_then(|r| r);
        for r in suspects {
            let a = &r.append;
            let actual = tentative.get(&a.stream).copied().or(self.streams.get(&a.stream).map(|s| s.1)).unwrap_or(0);
            let reply = match &stored {
                Err(e) => Err(Error::BatchFailed { reason: e.to_string() }),
                Ok(found) => {
                    let hits: Option<Vec<(i64, i64)>> = a.events.iter().map(|e| found.get(&e.id).copied()).collect();
                    match hits {
                        Some(hits) if !hits.is_empty() => Ok(Appended {
                            positions: hits.iter().map(|(p, _)| *p).collect(),
                            version: hits.iter().map(|(_, v)| *v).max().unwrap_or(actual),
                        }),
                        _ => Err(Error::Conflict { stream: a.stream, expected: a.expected_version, actual }),
                    }
                }
            };
            let _ = r.reply.send(reply);
        }
    }

    fn scope_school(&self) -> Option<School> {
        match self.scope {
            Scope::School(s) => Some(s),
            Scope::Log => None,
        }
    }

    /// Takes positions from the head (checking the lease), registers the new streams in
    /// `register`, writes and commits. Through lanes, the events travel to the lane and back.
    async fn commit(&mut self, rows: &mut [(StoredEvent, i64)], register: &[(Uuid, School)]) -> Result<()> {
        if let Some(lanes) = &self.lanes {
            let new: Vec<Uuid> = register.iter().map(|(s, _)| *s).collect();
            let events = rows.iter_mut().map(|(e, _)| std::mem::take(e)).collect();
            let (given, events) = lanes.commit(self.scope.head(), self.owner, events, new).await;
            // Back in place, so a batch decided again can rebuild its appends from them.
            for ((row, _), e) in rows.iter_mut().zip(events) {
                *row = e;
            }
            let given = given?;
            let Some(positions) = given else {
                let _ = self.acquire().await;
                return Err(Error::OwnershipLost { school: self.scope.head() });
            };
            for (row, p) in rows.iter_mut().zip(positions) {
                row.1 = p;
            }
            return Ok(());
        }
        let limit = self.config.timeout;
        if self.config.writer == RowWriter::Unnest {
            let given = commit_within(
                limit,
                super::rows::commit_one_statement(
                    self.store.pool(),
                    self.store.schema().payload,
                    self.scope.head(),
                    self.owner,
                    self.config.lease.as_secs_f64(),
                    rows,
                    register,
                ),
            )
            .await?;
            let Some(positions) = given else {
                let _ = self.acquire().await;
                return Err(Error::OwnershipLost { school: self.scope.head() });
            };
            for (row, p) in rows.iter_mut().zip(positions) {
                row.1 = p;
            }
            return Ok(());
        }
        commit_within(limit, self.commit_in_transaction(rows, register)).await
    }

    /// BEGIN, take positions from the head (checking the lease), COPY, COMMIT.
    async fn commit_in_transaction(
        &mut self,
        rows: &mut [(StoredEvent, i64)],
        register: &[(Uuid, School)],
    ) -> Result<()> {
        let mut tx = self.store.pool().begin().await.map_err(Error::db("starting a batch"))?;
        let head: Option<i64> = sqlx::query_scalar(
            "UPDATE school_heads SET position = position + $1, lease_until = now() + make_interval(secs => $2) \
             WHERE school = $3 AND owner = $4 RETURNING position",
        )
        .bind(rows.len() as i64)
        .bind(self.config.lease.as_secs_f64())
        .bind(self.scope.head())
        .bind(self.owner)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::db("taking positions"))?;
        let Some(last) = head else {
            drop(tx);
            // Someone else holds the lease now; try to win it back for the next batch.
            let _ = self.acquire().await;
            return Err(Error::OwnershipLost { school: self.scope.head() });
        };
        if !register.is_empty() {
            let (streams, schools): (Vec<Uuid>, Vec<School>) = register.iter().copied().unzip();
            sqlx::query("INSERT INTO streams (stream, school) SELECT * FROM unnest($1::uuid[], $2::int[])")
                .bind(streams)
                .bind(schools)
                .execute(&mut *tx)
                .await
                .map_err(Error::db("registering new streams"))?;
        }
        let first = last - rows.len() as i64 + 1;
        for (i, row) in rows.iter_mut().enumerate() {
            row.1 = first + i as i64;
        }
        self.config.writer.write(&mut tx, self.store.schema().payload, rows).await?;
        tx.commit().await.map_err(super::outcome::of_commit("committing a batch"))
    }
}
