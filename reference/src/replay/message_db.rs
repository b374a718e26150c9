//! A rebuild through Message DB, as its consumers read: each school's category
//! (`school<N>`) paged with `get_category_messages` from its first global position, a page of
//! 1000 messages at a time (Message DB's default batch size), each message's `data` decoded and
//! folded in the category's order. Course material first, then the schools on `workers`
//! connections, each worker's model merged, as stroom's parallel replay splits the log: the
//! same work on the peer's read path.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{decode, Replayed};
use crate::append::message_db::MessageDb;
use crate::error::{Error, Result};
use crate::event::{School, GLOBAL_SCHOOL};
use crate::read_model::{Fold, ReadModel};
use crate::upcast::Upcasters;

/// Messages a page: Message DB's own default `batch_size`.
pub const MESSAGE_DB_PAGE: i64 = 1000;

/// Rebuilds the model from Message DB's categories for `schools` (course material first,
/// whether listed or not), adding the events folded so far to `done` as it goes.
pub async fn message_db_categories(
    mdb: &MessageDb,
    upcasters: &Upcasters,
    schools: &[School],
    fold: Fold,
    workers: usize,
    done: Arc<AtomicU64>,
) -> Result<Replayed> {
    let started = Instant::now();
    let mut course = ReadModel::default();
    let mut events = category(mdb, upcasters, GLOBAL_SCHOOL, fold, &mut course, &done).await?;
    let queue: Arc<Mutex<VecDeque<School>>> =
        Arc::new(Mutex::new(schools.iter().copied().filter(|&s| s != GLOBAL_SCHOOL).collect()));
    let tasks: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (mdb, upcasters, queue, done) = (mdb.clone(), upcasters.clone(), queue.clone(), done.clone());
            tokio::spawn(async move {
                let mut model = ReadModel::default();
                let mut n = 0u64;
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let Some(school) = next else { break };
                    n += category(&mdb, &upcasters, school, fold, &mut model, &done).await?;
                }
                Ok::<_, Error>((model, n))
            })
        })
        .collect();
    let mut model = course;
    for task in tasks {
        let (m, n) = task
            .await
            .map_err(|e| Error::BatchFailed { reason: format!("Message DB replay worker failed: {e}") })??;
        model = model.merge(m);
        events += n;
    }
    Ok(Replayed { digest: model.digest(), snapshot: None, model, events, elapsed: started.elapsed() })
}

/// Folds one school's category into `model`, page by page; returns the messages folded.
async fn category(
    mdb: &MessageDb,
    upcasters: &Upcasters,
    school: School,
    fold: Fold,
    model: &mut ReadModel,
    done: &AtomicU64,
) -> Result<u64> {
    let mut from = 1i64;
    let mut n = 0u64;
    loop {
        let page = mdb.category_page(school, from, MESSAGE_DB_PAGE).await?;
        for m in &page {
            let at = recorded_at_us(m.metadata.as_deref());
            let data = m.data.as_deref().unwrap_or("null");
            let e = decode::envelope(upcasters, school, m.global_position, at, &m.message_type, data.as_bytes())?;
            fold.apply(model, &e);
        }
        n += page.len() as u64;
        done.fetch_add(page.len() as u64, Ordering::Relaxed);
        match page.last() {
            Some(last) if page.len() as i64 == MESSAGE_DB_PAGE => from = last.global_position + 1,
            _ => return Ok(n),
        }
    }
}

/// The recorded time stroom keeps in a message's metadata (`recordedAtUs`); 0 without it.
fn recorded_at_us(metadata: Option<&str>) -> i64 {
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "recordedAtUs")]
        recorded_at_us: Option<i64>,
    }
    metadata.and_then(|m| serde_json::from_str::<Meta>(m).ok()).and_then(|m| m.recorded_at_us).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_recorded_time_comes_from_the_metadata() {
        assert_eq!(super::recorded_at_us(Some(r#"{"a":1,"recordedAtUs":1700000000000001}"#)), 1_700_000_000_000_001);
        assert_eq!(super::recorded_at_us(Some("{}")), 0);
        assert_eq!(super::recorded_at_us(None), 0);
    }
}
