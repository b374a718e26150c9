//! Who runs `initdb` and `postgres`: both refuse to run as root.

use nix::unistd::{Gid, Uid, User};

use crate::error::{Error, Result};

/// Names the unprivileged user to run the server as when stroom runs as root.
pub const USER_ENV: &str = "STROOM_PG_USER";

/// The account the server processes run as.
#[derive(Debug, Clone)]
pub struct Owner {
    /// `None`: the current user, who is not root.
    pub switch_to: Option<(Uid, Gid)>,
}

impl Owner {
    /// The current user, or, when that is root, the unprivileged `postgres` user
    /// (or `$STROOM_PG_USER`).
    pub fn for_server() -> Result<Self> {
        if !Uid::effective().is_root() {
            return Ok(Self { switch_to: None });
        }
        let name = std::env::var(USER_ENV).unwrap_or_else(|_| "postgres".to_string());
        match User::from_name(&name) {
            Ok(Some(user)) if !user.uid.is_root() => Ok(Self { switch_to: Some((user.uid, user.gid)) }),
            _ => Err(Error::NoUnprivilegedUser { user: name }),
        }
    }

    /// Hands `path` to the owner, so the server may write there.
    pub fn give(&self, path: &std::path::Path) -> Result<()> {
        if let Some((uid, gid)) = self.switch_to {
            nix::unistd::chown(path, Some(uid), Some(gid)).map_err(|e| Error::Io {
                action: format!("handing {} to the server's user", path.display()),
                source: e.into(),
            })?;
        }
        Ok(())
    }

    /// Makes `cmd` run as the owner.
    pub fn apply(&self, cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        if let Some((uid, gid)) = self.switch_to {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
    }
}
