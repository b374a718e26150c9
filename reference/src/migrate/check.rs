//! The consistency checks run before a switch, each computed on both sides and compared:
//! events and last position, last version per stream, event ids in order, the stream
//! registry, and the school's read model folded from each side's rows. A single log's rows
//! are numbered in global order, as a transforming migration numbers them.

use crate::error::Result;
use crate::event::School;
use crate::read_model::{fold, Handlers, ReadModel};
use crate::replay::recorded;
use crate::store::Store;

/// One check: what each side gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The check, in words.
    pub name: &'static str,
    /// The source's value.
    pub source: String,
    /// The target's value.
    pub target: String,
}

impl Check {
    /// Whether both sides agree.
    pub fn passed(&self) -> bool {
        self.source == self.target
    }
}

/// Every check for `school`, source against target. Both sides must be quiet (fenced).
pub async fn run(source: &Store, target: &Store, school: School) -> Result<Vec<Check>> {
    let (s, t) = tokio::try_join!(measure(source, school), measure(target, school))?;
    Ok(NAMES.iter().zip(s.into_iter().zip(t)).map(|(name, (source, target))| Check { name, source, target }).collect())
}

/// The checks' names, in the order [`measure`] returns values.
pub const NAMES: [&str; 5] =
    ["events and last position", "last version per stream", "event ids", "stream registry", "read-model digest"];

/// `{rows}` is the school's rows numbered as the partitioned layout numbers them.
const AGGREGATES: &str = "
    SELECT
      (SELECT count(*) || ' events, last position ' || coalesce(max(position), 0) FROM {rows} WHERE school = $1),
      (SELECT count(*) || ' streams, md5 ' || md5(coalesce(string_agg(stream::text || ':' || v, ',' ORDER BY stream), ''))
         FROM (SELECT stream, max(version) AS v FROM {rows} WHERE school = $1 GROUP BY stream) s),
      (SELECT md5(coalesce(string_agg(id::text, ',' ORDER BY position), '')) FROM {rows} WHERE school = $1),
      (SELECT count(*) || ' streams, md5 ' || md5(coalesce(string_agg(stream::text, ',' ORDER BY stream), ''))
         FROM streams WHERE school = $1)";

async fn measure(store: &Store, school: School) -> Result<Vec<String>> {
    let sql = AGGREGATES.replace("{rows}", &super::copy::numbered_rows(store, "$1"));
    let (a, b, c, d): (String, String, String, String) = sqlx::query_as(&sql)
        .bind(school)
        .fetch_one(store.pool())
        .await
        .map_err(crate::error::Error::db("running the consistency checks"))?;
    Ok(vec![a, b, c, d, digest(store, school).await?])
}

/// The school's read model, folded from its rows in position order, as a digest.
async fn digest(store: &Store, school: School) -> Result<String> {
    let mut model = ReadModel::default();
    let mut pages = store.read_school(school, 0, 10_000);
    loop {
        let page = pages.next_page().await?;
        if page.is_empty() {
            break;
        }
        let envelopes = page.iter().map(recorded).collect::<Result<Vec<_>>>()?;
        model = fold(Handlers::default(), model, &envelopes);
    }
    Ok(model.digest())
}
