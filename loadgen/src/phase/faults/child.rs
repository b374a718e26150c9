//! The appending process that the `process-restart` fault kills: a child `stroom` that appends
//! to a store of its own and reports each acknowledgement on standard output, which the
//! parent logs as its own. Killed with SIGKILL and started again, the new process must wait
//! for the dead one's leases to run out: the takeover path, for real.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stroom_reference::{Appender, Layout, PayloadType, Schema, Strategy, TransactorConfig};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

use super::acks::Acks;
use super::drive::Users;
use crate::error::{Error, Result};
use crate::namespace::open_store;

/// The child's store namespace (`stroom_faults_child`).
pub const STORE: &str = "faults_child";

/// What a writer child does, from its command line.
#[derive(Debug, Clone)]
pub struct WriterArgs {
    /// The database.
    pub url: String,
    /// Offered events per second.
    pub rate: f64,
    /// Virtual users.
    pub users: usize,
    /// The writers' lease, in seconds.
    pub lease_s: f64,
    /// The writers' timeout, in seconds.
    pub timeout_s: f64,
}

impl WriterArgs {
    fn to_args(&self) -> Vec<String> {
        vec![
            "faults-writer".into(),
            "--url".into(),
            self.url.clone(),
            "--rate".into(),
            self.rate.to_string(),
            "--users".into(),
            self.users.to_string(),
            "--lease-s".into(),
            self.lease_s.to_string(),
            "--timeout-s".into(),
            self.timeout_s.to_string(),
        ]
    }
}

/// The child's side: appends until killed.
pub async fn writer_main(args: WriterArgs) -> Result<()> {
    let store = open_store(&args.url, STORE, Schema::new(Layout::Partitioned, PayloadType::Jsonb), 8).await?;
    let schools: Vec<i32> = store.schools().await?.into_iter().filter(|s| *s > 0).collect();
    let lease = Duration::from_secs_f64(args.lease_s);
    let config = TransactorConfig {
        lease,
        lease_wait: lease * 4,
        timeout: Duration::from_secs_f64(args.timeout_s),
        ..Default::default()
    };
    let appender = Appender::start(Strategy::PerSchool, &store, config).await?;
    let acks = Arc::new(Acks::stdout());
    let _users = Users::start(&appender, &schools, args.users, args.rate, &acks);
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        acks.sync()?;
    }
}

/// The parent's handle on the running child.
pub struct Writer {
    args: WriterArgs,
    child: Child,
    reader: tokio::task::JoinHandle<()>,
    /// When each acknowledgement line arrived.
    acked_at: Arc<Mutex<Vec<Instant>>>,
    acks: Arc<Acks>,
}

impl Writer {
    /// Starts a child writer; its lines go into `acks`.
    pub fn spawn(args: WriterArgs, acks: Arc<Acks>) -> Result<Self> {
        let acked_at = Arc::new(Mutex::new(Vec::new()));
        let (child, reader) = start(&args, &acks, &acked_at)?;
        Ok(Self { args, child, reader, acked_at, acks })
    }

    /// SIGKILLs the child and starts another; returns when the new one was started.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill().await;
        let (child, reader) = start(&self.args, &self.acks, &self.acked_at)?;
        (self.child, self.reader) = (child, reader);
        Ok(())
    }

    /// The first acknowledgement the parent heard at or after `t`.
    pub fn first_ack_after(&self, t: Instant) -> Option<Instant> {
        self.acked_at.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().filter(|a| *a >= t).min()
    }

    /// SIGKILLs the child and reads what it had written.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let _ = (&mut self.reader).await;
    }
}

fn start(
    args: &WriterArgs,
    acks: &Arc<Acks>,
    acked_at: &Arc<Mutex<Vec<Instant>>>,
) -> Result<(Child, tokio::task::JoinHandle<()>)> {
    let exe = std::env::current_exe().map_err(|source| Error::Io { action: "finding the stroom program", source })?;
    let mut child = Command::new(exe)
        .args(args.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::Io { action: "starting the writer process", source })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let (acks, acked_at) = (acks.clone(), acked_at.clone());
    let reader = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if acks.record_line(&line) && line.starts_with('A') {
                acked_at.lock().unwrap_or_else(|p| p.into_inner()).push(Instant::now());
            }
        }
    });
    Ok((child, reader))
}
