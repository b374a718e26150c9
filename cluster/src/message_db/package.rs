//! The `@eventide/message-db` package: fetched once with `npm pack`, unpacked into a cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The version stroom measures.
pub const VERSION: &str = "1.3.1";

/// The npm package.
pub const NPM_PACKAGE: &str = "@eventide/message-db";

/// Where fetched packages are kept: `STROOM_CACHE_DIR`, else `$XDG_CACHE_HOME/stroom`, else
/// `~/.cache/stroom`, else `target/stroom-cache` under the working directory.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("STROOM_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("stroom")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("stroom")))
        .unwrap_or_else(|| PathBuf::from("target").join("stroom-cache"))
}

/// An unpacked Message DB package.
#[derive(Debug, Clone)]
pub struct Package {
    /// The package's root (holding `database/install.sh`).
    pub dir: PathBuf,
    /// The npm package's version ([`VERSION`]).
    pub version: &'static str,
    /// The version of the database schema it installs (`database/VERSION.txt`; 1.3.0 in the
    /// package 1.3.1, which changed only its tooling).
    pub schema_version: String,
}

impl Package {
    /// The package of [`VERSION`] from `cache`, fetched with `npm pack` first when it is not
    /// there. Unpacked into a temporary directory and renamed into place, so a cache never
    /// holds half a package.
    pub fn fetch(cache: &Path) -> Result<Self> {
        let dir = cache.join(format!("message-db-{VERSION}"));
        if !dir.join("database").join("install.sh").exists() {
            std::fs::create_dir_all(cache).map_err(Error::io(format!("creating {}", cache.display())))?;
            let tarball = cache.join(format!("eventide-message-db-{VERSION}.tgz"));
            if !tarball.exists() {
                npm_pack(cache)?;
            }
            let partial = cache.join(format!("message-db-{VERSION}.partial-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&partial);
            std::fs::create_dir_all(&partial).map_err(Error::io(format!("creating {}", partial.display())))?;
            run(Command::new("tar").arg("xzf").arg(&tarball).arg("-C").arg(&partial), "tar")?;
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(partial.join("package"), &dir)
                .map_err(Error::io(format!("moving into {}", dir.display())))?;
            let _ = std::fs::remove_dir_all(&partial);
        }
        let schema_version = std::fs::read_to_string(dir.join("database").join("VERSION.txt"))
            .map_err(Error::io(format!("reading {}/database/VERSION.txt", dir.display())))?
            .trim()
            .to_string();
        Ok(Self { dir, version: VERSION, schema_version })
    }
}

fn npm_pack(cache: &Path) -> Result<()> {
    let spec = format!("{NPM_PACKAGE}@{VERSION}");
    let mut npm = Command::new("npm");
    npm.args(["pack", &spec, "--silent", "--pack-destination"]).arg(cache);
    match npm.output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::MessageDb(format!(
            "`npm` was not found: install Node.js's npm (e.g. `apt-get install npm`) to fetch {spec}, \
             or put eventide-message-db-{VERSION}.tgz (from `npm pack {spec}`) in {}",
            cache.display()
        ))),
        Err(e) => Err(Error::io("running npm")(e)),
        Ok(out) if !out.status.success() => Err(Error::MessageDb(format!(
            "`npm pack {spec}` failed (is the npm registry reachable?): {}",
            last_lines(&out.stderr)
        ))),
        Ok(_) => Ok(()),
    }
}

fn run(cmd: &mut Command, program: &'static str) -> Result<()> {
    let out = cmd.output().map_err(Error::io(format!("running {program}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::MessageDb(format!("{program} failed: {}", last_lines(&out.stderr))))
    }
}

/// The last few lines a program printed, on one line.
pub(super) fn last_lines(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}
