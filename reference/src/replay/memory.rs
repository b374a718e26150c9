//! The same replay over an in-memory log: the fold's own ceiling, apart from PostgreSQL.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::{decode, Replayed};
use crate::error::Result;
use crate::event::{StoredEvent, GLOBAL_SCHOOL};
use crate::read_model::{Envelope, Fold, ReadModel};
use crate::upcast::Upcasters;

/// Events in global order, with each school's events indexed.
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    events: Vec<StoredEvent>,
    /// Per school, the indices of its events, largest school first.
    schools: Vec<(i32, Vec<u32>)>,
}

impl MemoryLog {
    /// A log of `events` in global order.
    pub fn new(events: Vec<StoredEvent>) -> Self {
        let mut by_school: std::collections::BTreeMap<i32, Vec<u32>> = Default::default();
        for (i, e) in events.iter().enumerate() {
            by_school.entry(e.school).or_default().push(i as u32);
        }
        let mut schools: Vec<(i32, Vec<u32>)> = by_school.into_iter().collect();
        schools.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        Self { events, schools }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether it holds no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// All events, decoded, in global order (for benchmarking the fold alone).
    pub fn decode_all(&self, upcasters: &Upcasters) -> Result<Vec<Envelope>> {
        self.events.iter().enumerate().map(|(i, e)| decode_one(upcasters, e, i)).collect()
    }

    /// One reader over the whole log in global order.
    pub fn sequential(&self, fold: Fold, upcasters: &Upcasters) -> Result<Replayed> {
        let started = Instant::now();
        let mut model = ReadModel::default();
        for (i, e) in self.events.iter().enumerate() {
            fold.apply(&mut model, &decode_one(upcasters, e, i)?);
        }
        Ok(Replayed {
            digest: model.digest(),
            snapshot: None,
            model,
            events: self.events.len() as u64,
            elapsed: started.elapsed(),
        })
    }

    /// Course material first, then schools on `threads` threads, largest first, merged.
    pub fn parallel(&self, fold: Fold, upcasters: &Upcasters, threads: usize) -> Result<Replayed> {
        let started = Instant::now();
        let mut model = ReadModel::default();
        let rest: Vec<&(i32, Vec<u32>)> = self
            .schools
            .iter()
            .filter(|(s, idx)| {
                if *s == GLOBAL_SCHOOL {
                    for &i in idx {
                        if let Ok(env) = decode_one(upcasters, &self.events[i as usize], i as usize) {
                            fold.apply(&mut model, &env);
                        }
                    }
                }
                *s != GLOBAL_SCHOOL
            })
            .collect();
        let next = AtomicUsize::new(0);
        let parts: Vec<Result<ReadModel>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads.max(1))
                .map(|_| {
                    scope.spawn(|| {
                        let mut m = ReadModel::default();
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            let Some((_, idx)) = rest.get(k) else { break };
                            for &i in idx {
                                fold.apply(&mut m, &decode_one(upcasters, &self.events[i as usize], i as usize)?);
                            }
                        }
                        Ok(m)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("replay thread panicked")).collect()
        });
        for part in parts {
            model = model.merge(part?);
        }
        Ok(Replayed {
            digest: model.digest(),
            snapshot: None,
            model,
            events: self.events.len() as u64,
            elapsed: started.elapsed(),
        })
    }
}

fn decode_one(upcasters: &Upcasters, e: &StoredEvent, i: usize) -> Result<Envelope> {
    decode::envelope(upcasters, e.school, i as i64 + 1, e.recorded_at_us, &e.event_type, e.payload.as_bytes())
}
