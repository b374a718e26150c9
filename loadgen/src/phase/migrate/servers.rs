//! The servers of the migrate phase: the URLs `[servers]` names, or the run's database as
//! server 0 and throwaway clusters, with its profile, for the rest.

use stroom_cluster::{ClusterOptions, Database, Profile, Source};

use crate::error::{Error, Result};
use crate::progress::note;
use crate::scenario::Servers;

/// The servers, and whatever keeps the started ones running (dropped: stopped).
#[derive(Debug)]
pub struct Started {
    /// Server i's URL at index i.
    pub urls: Vec<String>,
    _clusters: Vec<Database>,
}

/// Starts or names the servers.
pub async fn start(plan: &Servers, run_url: &str, profile: Option<Profile>) -> Result<Started> {
    if !plan.urls.is_empty() {
        return Ok(Started { urls: plan.urls.clone(), _clusters: Vec::new() });
    }
    let mut urls = vec![run_url.to_string()];
    let mut clusters = Vec::new();
    for i in 1..plan.count {
        note(format_args!("migrate: starting server {i} of {} (a throwaway cluster on this machine)", plan.count - 1));
        let options = ClusterOptions { profile: profile.unwrap_or_default(), keep: false, dir: None };
        let db = tokio::task::spawn_blocking(move || Database::open(Source::Embedded(options)))
            .await
            .map_err(|e| Error::Task(format!("starting a server: {e}")))??;
        urls.push(db.url().to_string());
        clusters.push(db);
    }
    Ok(Started { urls, _clusters: clusters })
}
