//! Message DB (github.com/message-db/message-db), an event store on PostgreSQL written by
//! others, that stroom measures beside its own strategies. It ships as the npm package
//! `@eventide/message-db`: [`Package::fetch`] gets it with `npm pack` into a cache, and
//! [`Package::install`] installs it with the package's own `database/install.sh` (which runs
//! `psql`) into a database of its own.

mod install;
mod package;

pub use install::Installed;
pub use package::{cache_dir, Package, NPM_PACKAGE, VERSION};

/// The schema Message DB's functions live in; a client sets `search_path` to it, as the
/// package's own clients do.
pub const SCHEMA: &str = "message_store";
