//! The appending side of the faults phase: users appending one event at a time at a steady
//! rate, each to streams of its own in one school, retrying what may have committed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stroom_reference::{Append, Appender, Error as StoreError, NewEvent};
use uuid::Uuid;

use super::acks::Acks;

/// How long an append whose outcome is unknown, or whose server is out of reach, is retried.
const RETRY_FOR: Duration = Duration::from_secs(60);
/// The pause between retries.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Events per stream before a user starts a new one.
const STREAM_LENGTH: i64 = 20;

/// One append, from its due time to its known outcome.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it was due.
    pub due: Instant,
    /// When its outcome was known.
    pub ended: Instant,
    /// Whether it was acknowledged.
    pub acked: bool,
}

/// What the users saw, for the figures.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every append.
    pub samples: Vec<Sample>,
    /// Every failed attempt: when, and its kind.
    pub errors: Vec<(Instant, String)>,
    /// When an append whose outcome had been unknown was resolved by a retry.
    pub resolved: Vec<Instant>,
}

/// The running users; `stop` ends them after their current append.
pub struct Users {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    seen: Arc<Mutex<Seen>>,
}

impl Users {
    /// Starts `users` users over `schools`, together offering `rate` appends per second.
    pub fn start(appender: &Appender, schools: &[i32], users: usize, rate: f64, acks: &Arc<Acks>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let interval = Duration::from_secs_f64(users as f64 / rate);
        let start = Instant::now();
        let tasks = (0..users)
            .map(|i| {
                let user = User {
                    appender: appender.clone(),
                    school: schools[i % schools.len()],
                    acks: acks.clone(),
                    seen: seen.clone(),
                    stop: stop.clone(),
                };
                let first = start + interval.mul_f64(i as f64 / users as f64);
                tokio::spawn(user.run(first, interval))
            })
            .collect();
        Self { stop, tasks, seen }
    }

    /// Stops the users and waits for their last appends.
    pub async fn stop(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

struct User {
    appender: Appender,
    school: i32,
    acks: Arc<Acks>,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

/// How an append ended.
enum Known {
    Acked(i64),
    Refused,
    Unresolved,
}

impl User {
    async fn run(self, first: Instant, interval: Duration) {
        let (mut stream, mut version) = (Uuid::new_v4(), 0);
        let mut due = first;
        while !self.stop.load(Ordering::Relaxed) {
            tokio::time::sleep_until(due.into()).await;
            let event = NewEvent {
                id: Uuid::new_v4(),
                event_type: "Faults/Appended".into(),
                recorded_at_us: chrono::Utc::now().timestamp_micros(),
                payload: format!(r#"{{"version": {}}}"#, version + 1),
                metadata: "{}".into(),
            };
            let append = Append { school: self.school, stream, expected_version: version, events: vec![event] };
            let known = self.until_known(append).await;
            let acked = matches!(known, Known::Acked(_));
            self.seen().samples.push(Sample { due, ended: Instant::now(), acked });
            if let Known::Acked(v) = known {
                version = v;
                if version >= STREAM_LENGTH {
                    (stream, version) = (Uuid::new_v4(), 0);
                }
            }
            due += interval;
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends, retrying with the same event ids while the outcome is unknown or the server
    /// out of reach, until the append is acknowledged or refused for certain.
    async fn until_known(&self, append: Append) -> Known {
        let started = Instant::now();
        let ids: Vec<Uuid> = append.events.iter().map(|e| e.id).collect();
        let mut unknown = false;
        loop {
            match self.appender.append(append.clone()).await {
                Ok(done) => {
                    self.acks.acked(self.school, ids);
                    if unknown {
                        self.seen().resolved.push(Instant::now());
                    }
                    return Known::Acked(done.version);
                }
                Err(e) => {
                    self.seen().errors.push((Instant::now(), e.kind()));
                    // Anything but a typed refusal may have been the server going away.
                    let maybe_written = matches!(
                        e,
                        StoreError::OutcomeUnknown { .. }
                            | StoreError::WriterStopped { .. }
                            | StoreError::Database { .. }
                    );
                    let retry = maybe_written
                        || matches!(
                            e,
                            StoreError::Unavailable { .. }
                                | StoreError::Timeout { .. }
                                | StoreError::OwnershipLost { .. }
                        );
                    unknown |= maybe_written;
                    if retry && started.elapsed() < RETRY_FOR {
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                    if unknown {
                        self.acks.unresolved();
                        return Known::Unresolved;
                    }
                    self.acks.refused(self.school, ids);
                    return Known::Refused;
                }
            }
        }
    }
}
