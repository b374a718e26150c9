//! What the writers were told: every acknowledged event, written to a file and synced as it
//! is acknowledged (a batch of them at a time), and every event refused for certain. In a
//! writer child process the same lines go to standard output, for the parent to log.

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
    file: BufWriter<Box<dyn WriteSync>>,
    acked: Vec<(i32, Uuid)>,
    refused: Vec<(i32, Uuid)>,
    unresolved: u64,
}

/// Where the lines go: a file synced to disk, or standard output.
trait WriteSync: Write + Send + std::fmt::Debug {
    fn sync(&mut self) -> std::io::Result<()>;
}

impl WriteSync for File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
}

impl WriteSync for std::io::Stdout {
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Acks {
    /// A new log in the temporary directory, named after `name`.
    pub fn create(name: &str) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("stroom-{}-{name}-acks.log", std::process::id()));
        let file =
            File::create(&path).map_err(|source| Error::Io { action: "creating the acknowledgement log", source })?;
        Ok(Self::with(Box::new(file), path))
    }

    /// A log written to standard output, as `A <school> <id>`, `R <school> <id>` and `U` lines.
    pub fn stdout() -> Self {
        Self::with(Box::new(std::io::stdout()), PathBuf::new())
    }

    fn with(sink: Box<dyn WriteSync>, path: PathBuf) -> Self {
        let inner = Inner { file: BufWriter::new(sink), acked: Vec::new(), refused: Vec::new(), unresolved: 0 };
        Self { path, inner: Mutex::new(inner) }
    }

    /// Records one line of a writer child's log; false when it is not one.
    pub fn record_line(&self, line: &str) -> bool {
        let mut words = line.split_whitespace();
        let kind = words.next();
        if kind == Some("U") {
            self.unresolved();
            return true;
        }
        let school = words.next().and_then(|s| s.parse().ok());
        let id = words.next().and_then(|s| s.parse().ok());
        let (Some(school), Some(id)) = (school, id) else { return false };
        match kind {
            Some("A") => self.acked(school, [id]),
            Some("R") => self.refused(school, [id]),
            _ => return false,
        }
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records acknowledged events of `school`.
    pub fn acked(&self, school: i32, ids: impl IntoIterator<Item = Uuid>) {
        let mut inner = self.lock();
        for id in ids {
            let _ = writeln!(inner.file, "A {school} {id}");
            inner.acked.push((school, id));
        }
    }

    /// Records events refused for certain: they must never be stored.
    pub fn refused(&self, school: i32, ids: impl IntoIterator<Item = Uuid>) {
        let mut inner = self.lock();
        for id in ids {
            let _ = writeln!(inner.file, "R {school} {id}");
            inner.refused.push((school, id));
        }
    }

    /// Counts an append whose outcome stayed unknown through every retry.
    pub fn unresolved(&self) {
        let mut inner = self.lock();
        let _ = writeln!(inner.file, "U");
        inner.unresolved += 1;
    }

    /// Writes what is buffered and syncs it to disk.
    pub fn sync(&self) -> Result<()> {
        let mut inner = self.lock();
        inner.file.flush().map_err(|source| Error::Io { action: "writing the acknowledgement log", source })?;
        inner.file.get_mut().sync().map_err(|source| Error::Io { action: "syncing the acknowledgement log", source })
    }

    /// The acknowledged and refused events so far, and the unresolved count.
    pub fn snapshot(&self) -> (Events, Events, u64) {
        let inner = self.lock();
        (inner.acked.clone(), inner.refused.clone(), inner.unresolved)
    }
}

impl Drop for Acks {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
