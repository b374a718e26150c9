//! Reading events back: one stream, or one school's events from a position in pages.

use super::Store;
use crate::error::{Error, Result};
use crate::event::{RecordedEvent, School};
use crate::store::Layout;

/// The columns of a [`RecordedEvent`], with the payload as JSON text.
pub(crate) fn select_columns(store: &Store) -> String {
    format!(
        "school, position, global_position, id, stream, version, event_type, \
         (extract(epoch FROM recorded_at) * 1000000)::bigint AS recorded_at_us, \
         {} AS payload, metadata::text AS metadata",
        store.schema().payload.to_text("payload")
    )
}

impl Store {
    /// One stream's events in version order, upcast.
    pub async fn read_stream(&self, school: School, stream: uuid::Uuid) -> Result<Vec<RecordedEvent>> {
        let sql =
            format!("SELECT {} FROM events WHERE school = $1 AND stream = $2 ORDER BY version", select_columns(self));
        let mut events: Vec<RecordedEvent> = sqlx::query_as(&sql)
            .bind(school)
            .bind(stream)
            .fetch_all(self.pool())
            .await
            .map_err(Error::db("reading a stream"))?;
        events.iter_mut().for_each(|e| self.upcasters.apply(e));
        Ok(events)
    }

    /// Streams one school's events after `from` in commit order, a page at a time, so memory
    /// stays bounded by the page size. In the partitioned layout the order is the school
    /// position; in the single log it is the global position.
    pub fn read_school(&self, school: School, from: i64, page: usize) -> SchoolReader {
        SchoolReader { store: self.clone(), school, after: from, page, done: false }
    }
}

/// Pages of one school's events; see [`Store::read_school`].
#[derive(Debug)]
pub struct SchoolReader {
    store: Store,
    school: School,
    after: i64,
    page: usize,
    done: bool,
}

impl SchoolReader {
    /// The next page, upcast; empty when the school has no more events.
    pub async fn next_page(&mut self) -> Result<Vec<RecordedEvent>> {
        if self.done {
            return Ok(Vec::new());
        }
        let key = match self.store.schema().layout {
            Layout::Partitioned => "position",
            Layout::SingleLog | Layout::RillLog => "global_position",
        };
        let sql = format!(
            "SELECT {} FROM events WHERE school = $1 AND {key} > $2 ORDER BY {key} LIMIT $3",
            select_columns(&self.store)
        );
        let mut events: Vec<RecordedEvent> = sqlx::query_as(&sql)
            .bind(self.school)
            .bind(self.after)
            .bind(self.page as i64)
            .fetch_all(self.store.pool())
            .await
            .map_err(Error::db("reading a school's events"))?;
        self.done = events.len() < self.page;
        if let Some(last) = events.last() {
            self.after = match self.store.schema().layout {
                Layout::Partitioned => last.position.unwrap_or(self.after),
                Layout::SingleLog | Layout::RillLog => last.global_position,
            };
        }
        events.iter_mut().for_each(|e| self.store.upcasters.apply(e));
        Ok(events)
    }
}
