//! Installing Message DB into a database of its own, with the package's `install.sh`.

use std::path::Path;
use std::process::Command;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::package::{last_lines, Package};
use crate::error::{Error, Result};

/// What [`Package::install`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The database.
    pub database: String,
    /// What `message_store.message_store_version()` answers: the schema's version.
    pub version: String,
    /// Whether this call installed it (false: it was there already).
    pub fresh: bool,
}

impl Package {
    /// Installs Message DB into `database` on the server `server` connects to, unless it is
    /// installed there already. `bindir` holds `psql`, which `install.sh` runs. A database
    /// left without a working install (an install that failed halfway) is dropped and made
    /// again; one that failed now is dropped, so nothing is left half-installed.
    pub async fn install(&self, server: &PgConnectOptions, database: &str, bindir: &Path) -> Result<Installed> {
        if let Some(version) = installed_version(server, database).await? {
            return Ok(Installed { database: database.into(), version, fresh: false });
        }
        let mut admin = server.connect().await.map_err(Error::db("connecting to install Message DB"))?;
        let quoted = format!("\"{}\"", database.replace('"', "\"\""));
        sqlx::query(&format!("DROP DATABASE IF EXISTS {quoted}"))
            .execute(&mut admin)
            .await
            .map_err(Error::db(format!("dropping the half-installed {database}")))?;
        sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut admin)
            .await
            .map_err(Error::db(format!("creating {database}")))?;
        let script = self.dir.join("database").join("install.sh");
        let mut sh = Command::new("bash");
        sh.arg(&script).envs(psql_env(server, database, bindir));
        let out = sh.output().map_err(Error::io(format!("running {}", script.display())))?;
        let failed = !out.status.success();
        let version = if failed { None } else { installed_version(server, database).await? };
        let Some(version) = version else {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {quoted}")).execute(&mut admin).await;
            let why = if failed { last_lines(&out.stderr) } else { "message_store_version() is missing".into() };
            return Err(Error::MessageDb(format!(
                "installing Message DB {} into {database} failed: {why}",
                self.version
            )));
        };
        admin.close().await.ok();
        Ok(Installed { database: database.into(), version, fresh: true })
    }
}

/// `message_store.message_store_version()` in `database`, or `None` when the database or the
/// function is not there.
async fn installed_version(server: &PgConnectOptions, database: &str) -> Result<Option<String>> {
    let mut admin = server.connect().await.map_err(Error::db("connecting to look for Message DB"))?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(database)
        .fetch_one(&mut admin)
        .await
        .map_err(Error::db("looking for the Message DB database"))?;
    admin.close().await.ok();
    if !exists {
        return Ok(None);
    }
    let mut conn =
        server.clone().database(database).connect().await.map_err(Error::db(format!("connecting to {database}")))?;
    let version: Option<String> = sqlx::query_scalar(
        "SELECT CASE WHEN to_regproc('message_store.message_store_version') IS NULL THEN NULL \
         ELSE message_store.message_store_version()::text END",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(Error::db("asking Message DB its version"))?;
    conn.close().await.ok();
    Ok(version)
}

/// The environment `install.sh` and its `psql` calls need: the server from `server`, the
/// database by name (the script makes no database, as stroom already did), and `psql` first
/// on `PATH`.
fn psql_env(server: &PgConnectOptions, database: &str, bindir: &Path) -> Vec<(String, String)> {
    let host = match server.get_socket() {
        Some(dir) => dir.display().to_string(),
        None => server.get_host().to_string(),
    };
    let path = format!("{}:{}", bindir.display(), std::env::var("PATH").unwrap_or_default());
    let mut env = vec![
        ("DATABASE_NAME".to_string(), database.to_string()),
        ("CREATE_DATABASE".to_string(), "off".to_string()),
        ("PGHOST".to_string(), host),
        ("PGPORT".to_string(), server.get_port().to_string()),
        ("PGUSER".to_string(), server.get_username().to_string()),
        ("PATH".to_string(), path),
    ];
    if let Some(password) = password_of(server) {
        env.push(("PGPASSWORD".to_string(), password));
    }
    env
}

/// The password in the options, read back through their URL (sqlx has no getter for it).
fn password_of(server: &PgConnectOptions) -> Option<String> {
    let url = server.to_url_lossy();
    let password = url.password()?;
    Some(percent_decode(password))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psql_gets_the_server_the_user_and_the_password_of_the_options() {
        let o: PgConnectOptions = "postgres://bob:s%40cret@db.example:5433/app".parse().unwrap();
        let env = psql_env(&o, "mdb", Path::new("/pg/bin"));
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PGHOST"), Some("db.example"));
        assert_eq!(get("PGPORT"), Some("5433"));
        assert_eq!(get("PGUSER"), Some("bob"));
        assert_eq!(get("PGPASSWORD"), Some("s@cret"));
        assert_eq!(get("DATABASE_NAME"), Some("mdb"));
        assert_eq!(get("CREATE_DATABASE"), Some("off"));
        assert!(get("PATH").unwrap().starts_with("/pg/bin:"));
        let socket: PgConnectOptions = "postgres://u@localhost:5999/x?host=/tmp/sock".parse().unwrap();
        let env = psql_env(&socket, "mdb", Path::new("/b"));
        assert!(env.contains(&("PGHOST".into(), "/tmp/sock".into())));
        assert!(!env.iter().any(|(k, _)| k == "PGPASSWORD"));
    }
}
