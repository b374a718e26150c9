//! Finding the installed PostgreSQL server binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// Overrides the search: only this directory is tried. Tests point it at an empty directory.
pub const BINDIR_ENV: &str = "STROOM_PG_BINDIR";

/// A directory holding `initdb` and `postgres`, with the server's major version.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The directory.
    pub dir: PathBuf,
    /// The version line `postgres --version` printed, e.g. `postgres (PostgreSQL) 15.18`.
    pub version: String,
}

impl Binaries {
    /// The path of one program in this directory; for a program not there (a `PATH` directory
    /// may link only `initdb` and `postgres`), the one beside the real `postgres` it links to,
    /// else the bare name for `PATH` to resolve.
    pub fn program(&self, name: &str) -> PathBuf {
        let here = self.dir.join(name);
        if here.exists() {
            return here;
        }
        std::fs::canonicalize(self.dir.join("postgres"))
            .ok()
            .and_then(|real| Some(real.parent()?.join(name)))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from(name))
    }

    /// Finds the server binaries: `STROOM_PG_BINDIR` alone if set; otherwise `PATH`, then
    /// `pg_config --bindir`, then the distributions' versioned directories, newest first.
    pub fn discover() -> Result<Self> {
        if let Some(dir) = std::env::var_os(BINDIR_ENV) {
            let dir = PathBuf::from(dir);
            return Self::at(&dir)
                .ok_or_else(|| Error::BinariesNotFound { searched: format!("{BINDIR_ENV}={}", dir.display()) });
        }
        candidates().into_iter().find_map(|dir| Self::at(&dir)).ok_or_else(|| Error::BinariesNotFound {
            searched: "PATH, `pg_config --bindir`, /usr/lib/postgresql/*/bin and \
                           /usr/pgsql-*/bin"
                .into(),
        })
    }

    fn at(dir: &Path) -> Option<Self> {
        if !is_executable(&dir.join("initdb")) || !is_executable(&dir.join("postgres")) {
            return None;
        }
        let out = Command::new(dir.join("postgres")).arg("--version").output().ok()?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Some(Self { dir: dir.to_path_buf(), version })
    }
}

fn candidates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    let mut versioned = Vec::new();
    for (parent, prefix, suffix) in [
        ("/usr/lib/postgresql", "", "bin"),
        ("/usr", "pgsql-", "bin"),
        ("/opt/homebrew/opt", "postgresql@", "bin"),
        ("/usr/local/opt", "postgresql@", "bin"),
    ] {
        let Ok(entries) = std::fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(version) = name.strip_prefix(prefix).and_then(major_version) {
                versioned.push((version, entry.path().join(suffix)));
            }
        }
    }
    versioned.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    dirs.extend(versioned.into_iter().map(|(_, dir)| dir));
    dirs.push(PathBuf::from("/usr/local/pgsql/bin"));
    dirs
}

/// `"15"` → 15, `"9.6"` → 9 (minor ignored); anything else is not a version directory.
fn major_version(name: &str) -> Option<u32> {
    name.split('.').next()?.parse().ok()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_directories_parse() {
        assert_eq!(major_version("15"), Some(15));
        assert_eq!(major_version("9.6"), Some(9));
        assert_eq!(major_version("common"), None);
    }

    #[test]
    fn an_empty_directory_holds_no_binaries() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Binaries::at(dir.path()).is_none());
    }
}
