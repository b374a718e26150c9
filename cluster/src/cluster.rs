//! A throwaway PostgreSQL cluster: `initdb` into a temporary directory, `postgres` on a free
//! port, everything removed when the [`Cluster`] is dropped. Or, given a directory, a cluster
//! that outlives the run: created there the first time, started from it after.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::binaries::Binaries;
use crate::error::{Error, Result};
use crate::owner::Owner;
use crate::profile::{machine_memory_bytes, Profile};

mod small_wal;
mod standby;

const SUPERUSER: &str = "stroom";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Settings profile.
    pub profile: Profile,
    /// Leave the server running and its files in place when dropped.
    pub keep: bool,
    /// A directory of its own, kept: initialised when empty, reused when it holds a cluster
    /// (the server is stopped on drop, the files stay). `None`: a temporary directory.
    pub dir: Option<PathBuf>,
}

/// How [`Cluster::restart_cold`] emptied the caches, for the result to state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColdStart {
    /// Bytes of data files asked out of the OS page cache.
    pub evicted_bytes: u64,
    /// The page cache (`Cached:` in /proc/meminfo) before the restart and after it, kB.
    pub page_cache_kb: (Option<u64>, Option<u64>),
}

impl ColdStart {
    /// The method, in one sentence.
    pub fn describe(&self) -> String {
        let mb = |kb: Option<u64>| kb.map_or("unknown".to_string(), |k| format!("{} MB", k / 1024));
        format!(
            "server stopped (shared_buffers emptied), {} MB of its data files evicted from the OS page cache with posix_fadvise(DONTNEED) after sync, server started; page cache {} before, {} after",
            self.evicted_bytes >> 20,
            mb(self.page_cache_kb.0),
            mb(self.page_cache_kb.1)
        )
    }
}

/// The running postmaster: replaced on a restart.
#[derive(Debug)]
struct Server {
    pid: Pid,
    exited: mpsc::Receiver<()>,
}

/// A running throwaway cluster. Dropping it stops the server and removes its directory,
/// unless it was started with `keep`.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    server: Mutex<Server>,
    keep: bool,
    /// Files stay on drop (a directory of the user's); the server still stops unless `keep`.
    own_dir: bool,
    profile: Profile,
    version: String,
    /// The WAL's own filesystem, while it is on one ([`Cluster::wal_on_small_fs`]).
    wal_fs: Mutex<Option<PathBuf>>,
    /// Where [`Cluster::diagnose`] starts reading the log: past a disaster stroom made on
    /// purpose and repaired (a full WAL filesystem).
    log_seen: AtomicU64,
}

impl Cluster {
    /// Finds the binaries, runs `initdb` and starts the server; returns once it accepts
    /// connections.
    pub fn start(options: ClusterOptions) -> Result<Self> {
        let binaries = Binaries::discover()?;
        let owner = Owner::for_server()?;
        if let Some(dir) = options.dir.clone() {
            std::fs::create_dir_all(&dir).map_err(Error::io("creating the cluster's directory"))?;
            let dir = dir.canonicalize().map_err(Error::io("resolving the cluster's directory"))?;
            return Self::start_in(&dir, &binaries, &owner, options);
        }
        let dir = tempfile::Builder::new()
            .prefix("stroom-pg-")
            .tempdir()
            .map_err(Error::io("creating the cluster's temporary directory"))?
            .keep();
        match Self::start_in(&dir, &binaries, &owner, options) {
            Ok(cluster) => Ok(cluster),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    fn start_in(dir: &Path, bin: &Binaries, owner: &Owner, options: ClusterOptions) -> Result<Self> {
        let data = dir.join("data");
        let sockets = dir.join("sockets");
        std::fs::create_dir_all(&sockets).map_err(Error::io("creating the socket directory"))?;
        owner.give(dir)?;
        owner.give(&sockets)?;
        if !data.join("PG_VERSION").exists() {
            initdb(&data, dir, bin, owner)?;
        }
        let own_dir = options.dir.is_some();

        let settings = options.profile.settings(machine_memory_bytes());
        let mut last_err = None;
        for _attempt in 0..5 {
            let port = free_port()?;
            match spawn_postgres(dir, bin, owner, &settings, port, options.keep) {
                Ok((pid, exited)) => {
                    let mut cluster = Self {
                        dir: dir.to_path_buf(),
                        port,
                        server: Mutex::new(Server { pid, exited }),
                        keep: options.keep,
                        own_dir,
                        profile: options.profile,
                        version: bin.version.clone(),
                        wal_fs: Mutex::new(None),
                        log_seen: AtomicU64::new(0),
                    };
                    match cluster.wait_ready() {
                        Ok(()) => return Ok(cluster),
                        Err(e) => {
                            // Stop the server but keep the directory for the next attempt.
                            cluster.stop_server();
                            cluster.keep = true;
                            drop(cluster);
                            last_err = Some(e);
                            if !log_says_port_taken(dir) {
                                break;
                            }
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.expect("at least one start was attempted"))
    }

    /// Stops the server, evicts its data files from the OS page cache, and starts it again on
    /// the same port: a read after this finds neither shared_buffers nor the page cache warm.
    /// Connections to the old server are gone; open new ones.
    pub fn restart_cold(&self) -> Result<ColdStart> {
        let bin = Binaries::discover()?;
        let owner = Owner::for_server()?;
        let before = crate::profile::meminfo_kb("Cached:");
        self.stop_server();
        nix::unistd::sync();
        let evicted_bytes = evict(&self.dir.join("data"));
        let settings = self.profile.settings(machine_memory_bytes());
        let (pid, exited) = spawn_postgres(&self.dir, &bin, &owner, &settings, self.port, self.keep)?;
        *self.server() = Server { pid, exited };
        self.wait_ready()?;
        Ok(ColdStart { evicted_bytes, page_cache_kb: (before, crate::profile::meminfo_kb("Cached:")) })
    }

    /// Kills the server and every backend at once with SIGKILL, as a crash would, and starts
    /// it again on the same port; returns once it accepts connections, crash recovery done.
    /// Nothing committed may be lost, since every commit reached the disk before its answer.
    pub fn crash_restart(&self) -> Result<()> {
        let bin = Binaries::discover()?;
        let owner = Owner::for_server()?;
        {
            let server = self.server();
            // Backends are session leaders of their own, so the postmaster's group is not
            // theirs: stop the postmaster from forking, then kill it and each child.
            let _ = kill(server.pid, Signal::SIGSTOP);
            let children = children_of(server.pid);
            let _ = kill(server.pid, Signal::SIGKILL);
            for &child in &children {
                let _ = kill(child, Signal::SIGKILL);
            }
            let _ = server.exited.recv_timeout(STOP_TIMEOUT);
            // A backend still alive would hold the old shared memory, and the new server
            // would refuse to start: wait until each is gone (or a zombie, its memory freed).
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline && children.iter().any(|c| alive(*c)) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let settings = self.profile.settings(machine_memory_bytes());
        let (pid, exited) = spawn_postgres(&self.dir, &bin, &owner, &settings, self.port, self.keep)?;
        *self.server() = Server { pid, exited };
        self.wait_ready()
    }

    /// Stops (`true`) or continues (`false`) the server and every backend with SIGSTOP or
    /// SIGCONT: a server that hangs without closing a connection.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        let pid = self.server().pid;
        let failed = |e: nix::errno::Errno| Error::io("signalling the server")(std::io::Error::from(e));
        if frozen {
            kill(pid, Signal::SIGSTOP).map_err(failed)?;
            children_of(pid).into_iter().for_each(|c| {
                let _ = kill(c, Signal::SIGSTOP);
            });
        } else {
            children_of(pid).into_iter().for_each(|c| {
                let _ = kill(c, Signal::SIGCONT);
            });
            kill(pid, Signal::SIGCONT).map_err(failed)?;
        }
        Ok(())
    }

    fn server(&self) -> MutexGuard<'_, Server> {
        self.server.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `postgres://` URL of the `postgres` database, over TCP on the loopback interface.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// `postgres://` URL of database `name` on this cluster.
    pub fn url_for(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// What the server's log says went wrong, when it is a disaster a user must hear about
    /// by name: a full disk, or a server that crashed. `None` when the log shows neither.
    pub fn diagnose(&self) -> Option<String> {
        let log = read_tail(&self.dir.join("postgres.log"), 16 * 1024, self.log_seen.load(Ordering::Relaxed));
        if log.contains("No space left on device") {
            let full = self.wal_fs_mount().unwrap_or_else(|| self.dir.clone());
            // The field types differ between platforms, hence the casts.
            #[allow(clippy::unnecessary_cast)]
            let free = nix::sys::statvfs::statvfs(&full)
                .map(|s| format!("{} MB free", s.blocks_available() as u64 * s.fragment_size() as u64 / (1 << 20)))
                .unwrap_or_else(|_| "free space unknown".into());
            return Some(format!("the database server's disk is full ({}: {free})", full.display()));
        }
        let fatal = log.lines().rev().find(|l| l.contains("PANIC:") || l.contains("terminated by signal"))?;
        Some(format!("the database server failed ({})", fatal.trim()))
    }

    /// The cluster's directory: `data/`, `sockets/` and `postgres.log`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether its files outlive it (`ClusterOptions::dir`).
    pub fn kept_dir(&self) -> bool {
        self.own_dir
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> u32 {
        self.server().pid.as_raw() as u32
    }

    /// The settings profile it runs with.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// `postgres --version` of the binaries it runs.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How to connect with psql, for `--keep-db`.
    pub fn psql_hint(&self) -> String {
        format!(
            "psql 'postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres'   (stop it with: kill -INT {pid}; then rm -rf {dir})",
            port = self.port,
            pid = self.pid(),
            dir = self.dir.display()
        )
    }

    fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let pidfile = self.dir.join("data/postmaster.pid");
        while Instant::now() < deadline {
            if self.server().exited.try_recv().is_ok() {
                return Err(Error::ServerProgram {
                    program: "postgres",
                    detail: log_tail(&self.dir.join("postgres.log")),
                });
            }
            // Line 8 of postmaster.pid reads "ready" once the server accepts connections, or
            // "standby" once a hot standby accepts read-only ones.
            let ready = std::fs::read_to_string(&pidfile)
                .is_ok_and(|s| s.lines().nth(7).is_some_and(|l| matches!(l.trim(), "ready" | "standby")));
            if ready && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(Error::NotReady { seconds: READY_TIMEOUT.as_secs(), log: self.dir.join("postgres.log") })
    }

    /// Fast shutdown (SIGINT), then SIGKILL of the whole process group if it lingers.
    fn stop_server(&self) {
        let server = self.server();
        if kill(server.pid, Signal::SIGINT).is_err() {
            return;
        }
        if server.exited.recv_timeout(STOP_TIMEOUT).is_err() {
            let _ = killpg(server.pid, Signal::SIGKILL);
            let _ = server.exited.recv_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        self.stop_server();
        // Unmounted first, or removing the directory would stop at the mount point.
        let _ = self.unmount_wal_fs();
        if !self.own_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Whether process `pid` exists and is not a zombie.
fn alive(pid: Pid) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).is_some_and(|state| state != "Z")
}

/// The processes whose parent is `parent`, from `/proc`.
fn children_of(parent: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // The parent is the second field after the command, which is in parentheses.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(1).and_then(|p| p.parse::<i32>().ok()) == Some(parent.as_raw())
        })
        .map(Pid::from_raw)
        .collect()
}

fn initdb(data: &Path, dir: &Path, bin: &Binaries, owner: &Owner) -> Result<()> {
    let mut initdb = Command::new(bin.program("initdb"));
    initdb
        .arg("-D")
        .arg(data)
        .args(["-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
        .current_dir(dir)
        .stdin(Stdio::null());
    owner.apply(&mut initdb);
    let out = initdb.output().map_err(Error::io("running initdb"))?;
    if !out.status.success() {
        return Err(Error::ServerProgram { program: "initdb", detail: last_lines(&out.stderr, 3) });
    }
    Ok(())
}

/// Asks the kernel to drop every file under `dir` from its page cache; the bytes asked.
/// Pages still dirty are not dropped, hence the `sync` before.
fn evict(dir: &Path) -> u64 {
    use std::os::fd::AsRawFd;

    use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => {
                    if let Ok(f) = File::open(&path) {
                        let len = f.metadata().map_or(0, |m| m.len());
                        if posix_fadvise(f.as_raw_fd(), 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED).is_ok() {
                            bytes += len;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    bytes
}

/// Starts `postgres` from a keeper thread that lives as long as the server does. Unless the
/// cluster is kept, the server gets SIGQUIT when stroom dies (even by SIGKILL), because
/// parent-death signals follow the thread that spawned the child.
fn spawn_postgres(
    dir: &Path,
    bin: &Binaries,
    owner: &Owner,
    settings: &[(&'static str, String)],
    port: u16,
    keep: bool,
) -> Result<(Pid, mpsc::Receiver<()>)> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("postgres.log"))
        .map_err(Error::io("opening postgres.log"))?;
    let log2 = log.try_clone().map_err(Error::io("opening postgres.log"))?;
    let mut cmd = Command::new(bin.program("postgres"));
    cmd.arg("-D")
        .arg(dir.join("data"))
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(dir.join("sockets"))
        .args(["-c", "listen_addresses=127.0.0.1"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    for (name, value) in settings {
        cmd.arg("-c").arg(format!("{name}={value}"));
    }
    owner.apply(&mut cmd);
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a terminal's Ctrl-C reaches stroom, which then stops the
        // server in order, instead of reaching both at once.
        cmd.process_group(0);
    }
    if !keep {
        die_with_parent(&mut cmd);
    }

    let (started_tx, started_rx) = mpsc::channel();
    let (exited_tx, exited_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("stroom-postgres".into())
        .spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = started_tx.send(Ok(child.id()));
                let _ = child.wait();
                let _ = exited_tx.send(());
            }
            Err(e) => {
                let _ = started_tx.send(Err(e));
            }
        })
        .map_err(Error::io("starting the postgres keeper thread"))?;
    let pid = started_rx
        .recv()
        .map_err(|_| Error::ServerProgram { program: "postgres", detail: "keeper thread died".into() })?
        .map_err(Error::io("starting postgres"))?;
    Ok((Pid::from_raw(pid as i32), exited_rx))
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe, and the closure touches no memory of the parent.
    // It runs after the uid switch, which would otherwise clear the setting.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(Error::io("finding a free TCP port"))?;
    let port = listener.local_addr().map_err(Error::io("finding a free TCP port"))?.port();
    Ok(port)
}

fn log_says_port_taken(dir: &Path) -> bool {
    log_tail(&dir.join("postgres.log")).contains("could not bind")
}

/// The last `bytes` of the file, none of it before offset `from`.
fn read_tail(path: &Path, bytes: u64, from: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(bytes).max(from)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

fn log_tail(path: &Path) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::from("(no log)");
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(4096)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    last_lines(&buf, 3)
}

fn last_lines(bytes: &[u8], n: usize) -> String {
    let lines: Vec<String> =
        BufReader::new(bytes).lines().map_while(|l| l.ok()).filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
