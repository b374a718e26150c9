//! What the writers were told: every acknowledged event, written to a file and synced as it
//! is acknowledged (a batch of them at a time), and every event refused for certain.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use uuid::Uuid;

use crate::error::{Error, Result};

/// Events by (school, id).
pub type Events = Vec<(i32, Uuid)>;

/// The acknowledgement log: shared by every user task.
#[derive(Debug)]
pub struct Acks {
    path: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: BufWriter<File>,
    acked: Vec<(i32, Uuid)>,
    refused: Vec<(i32, Uuid)>,
    unresolved: u64,
}

impl Acks {
    /// A new log in the temporary directory.
    pub fn create() -> Result<Self> {
        let path = std::env::temp_dir().join(format!("stroom-{}-faults-acks.log", std::process::id()));
        let file =
            File::create(&path).map_err(|source| Error::Io { action: "creating the acknowledgement log", source })?;
        let inner = Inner { file: BufWriter::new(file), acked: Vec::new(), refused: Vec::new(), unresolved: 0 };
        Ok(Self { path, inner: Mutex::new(inner) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records acknowledged events of `school`.
    pub fn acked(&self, school: i32, ids: impl IntoIterator<Item = Uuid>) {
        let mut inner = self.lock();
        for id in ids {
            let _ = writeln!(inner.file, "{school} {id}");
            inner.acked.push((school, id));
        }
    }

    /// Records events refused for certain: they must never be stored.
    pub fn refused(&self, school: i32, ids: impl IntoIterator<Item = Uuid>) {
        self.lock().refused.extend(ids.into_iter().map(|id| (school, id)));
    }

    /// Counts an append whose outcome stayed unknown through every retry.
    pub fn unresolved(&self) {
        self.lock().unresolved += 1;
    }

    /// Writes what is buffered and syncs it to disk.
    pub fn sync(&self) -> Result<()> {
        let mut inner = self.lock();
        inner.file.flush().map_err(|source| Error::Io { action: "writing the acknowledgement log", source })?;
        inner
            .file
            .get_ref()
            .sync_data()
            .map_err(|source| Error::Io { action: "syncing the acknowledgement log", source })
    }

    /// The acknowledged and refused events so far, and the unresolved count.
    pub fn snapshot(&self) -> (Events, Events, u64) {
        let inner = self.lock();
        (inner.acked.clone(), inner.refused.clone(), inner.unresolved)
    }
}

impl Drop for Acks {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
