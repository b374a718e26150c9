//! The fence: a school's head row on a server, taken by the migration with a lease that never
//! ends. Every append takes its positions from that row with an UPDATE that checks the
//! writer's lease (transactors and commit lanes alike), so once the row names the migration
//! no writer can commit to the school there. Taking it waits for the commit in flight.

use uuid::Uuid;

use crate::error::{Error, Result};
use crate::event::School;
use crate::store::Store;

/// Takes `school`'s head on `store` for `owner`, whoever held it; waits for the append in
/// flight to commit. The school must be registered there.
pub async fn take(store: &Store, school: School, owner: Uuid) -> Result<()> {
    let taken: Option<i32> = sqlx::query_scalar(
        "UPDATE school_heads SET owner = $2, lease_until = 'infinity' WHERE school = $1 RETURNING school",
    )
    .bind(school)
    .bind(owner)
    .fetch_optional(store.pool())
    .await
    .map_err(Error::db("fencing the school"))?;
    match taken {
        Some(_) => Ok(()),
        None => Err(Error::UnknownSchool { school }),
    }
}

/// Hands `school`'s head on `store` back to writers, if `owner` still holds it.
pub async fn release(store: &Store, school: School, owner: Uuid) -> Result<()> {
    sqlx::query("UPDATE school_heads SET owner = NULL, lease_until = NULL WHERE school = $1 AND owner = $2")
        .bind(school)
        .bind(owner)
        .execute(store.pool())
        .await
        .map_err(Error::db("lifting the fence"))?;
    Ok(())
}
