//! Writing a file whole: into a temporary file beside it, then renamed over it, so a reader
//! never sees half of it, and a full disk leaves the old file as it was.

use std::path::Path;

use crate::error::{Error, Result};

/// Replaces `path` with `contents`, or leaves it as it was.
pub fn write_whole(path: &Path, contents: &[u8]) -> Result<()> {
    let io = |source| Error::WriteResults { path: path.to_path_buf(), source };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    if let Err(e) = std::fs::write(&tmp, contents) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std::fs::rename(&tmp, path).map_err(io)
}
