//! Databases for tests: one server per test binary, one fresh database per test.
//!
//! The server is `DATABASE_URL` when set, otherwise a throwaway cluster with the `fast`
//! profile, started on first use and removed when the test binary exits.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::cluster::{Cluster, ClusterOptions};
use crate::profile::Profile;

static ADMIN_URL: OnceLock<Result<String, String>> = OnceLock::new();
static CLUSTER: Mutex<Option<Cluster>> = Mutex::new(None);
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A database of its own for one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// Its name.
    pub name: String,
    /// Options to connect to it.
    pub options: PgConnectOptions,
}

impl TestDatabase {
    /// Creates a fresh, empty database on the test binary's shared server.
    ///
    /// # Panics
    /// When no server can be had; the message says why.
    pub async fn create() -> Self {
        let admin = admin_url().unwrap_or_else(|e| panic!("no test database: {e}"));
        let options: PgConnectOptions = admin.parse().expect("valid admin URL");
        let name = format!("stroom_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut conn = options.connect().await.expect("connect to the test server");
        sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await.expect("create the test database");
        conn.close().await.ok();
        Self { options: options.database(&name), name }
    }

    /// A small pool on this database.
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(16)
            .connect_with(self.options.clone())
            .await
            .expect("connect to the test database")
    }

    /// Its URL, for code that takes one.
    pub fn url(&self) -> String {
        self.options.to_url_lossy().to_string()
    }
}

fn admin_url() -> Result<String, String> {
    ADMIN_URL
        .get_or_init(|| {
            if let Ok(url) = std::env::var("DATABASE_URL") {
                return Ok(url);
            }
            let cluster = Cluster::start(ClusterOptions { profile: Profile::Fast, keep: false, dir: None })
                .map_err(|e| e.to_string())?;
            let url = cluster.url();
            *CLUSTER.lock().unwrap_or_else(|p| p.into_inner()) = Some(cluster);
            register_exit_cleanup();
            Ok(url)
        })
        .clone()
}

/// Statics are never dropped, so the shared cluster is stopped and removed from an exit hook.
#[allow(unsafe_code)]
fn register_exit_cleanup() {
    extern "C" fn stop_shared_cluster() {
        if let Ok(mut guard) = CLUSTER.lock() {
            drop(guard.take());
        }
    }
    // SAFETY: registering a plain `extern "C"` function with no arguments is what atexit expects.
    unsafe {
        libc::atexit(stop_shared_cluster);
    }
}
