//! What a result was measured on: machine, server and code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The environment every result file records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    /// `git rev-parse HEAD`, with `-dirty` when the tree has changes; `unknown` outside git.
    pub git_commit: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Logical cores.
    pub cores: usize,
    /// The kernel's release (`/proc/sys/kernel/osrelease`); empty in older results.
    #[serde(default)]
    pub kernel: String,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Where the data lived, in words.
    pub database: String,
    /// The settings profile stroom started the server with, or `external`.
    pub profile: String,
    /// Effective server settings, read back from the server (includes `server_version`).
    pub settings: BTreeMap<String, String>,
    /// Huge pages the kernel had reserved (`HugePages_Total` × `Hugepagesize`), in bytes. A
    /// server with `huge_pages = try` (the default) maps its shared buffers on them when enough
    /// are free; per-school appends ran about 7% faster with them here. 0 in older results.
    #[serde(default)]
    pub huge_pages_bytes: u64,
    /// The data directory's filesystem and measured fsync latency, when stroom started the
    /// server here; `None` for a server elsewhere (then both are unknown).
    #[serde(default)]
    pub durability: Option<crate::measure::Durability>,
}

impl Environment {
    /// Reads the machine; `database`, `profile` and `settings` come from the caller.
    pub fn capture(database: String, profile: String, settings: BTreeMap<String, String>) -> Self {
        Self {
            git_commit: git_commit(),
            cpu_model: cpu_model(),
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            kernel: kernel(),
            memory_bytes: stroom_cluster::machine_memory_bytes(),
            database,
            profile,
            settings,
            huge_pages_bytes: huge_pages_bytes(),
            durability: None,
        }
    }
}

impl Environment {
    /// How the host of `other` differs from this one's, a line each: CPU model, cores,
    /// memory, kernel, and fsync latency when they differ by more than a third. Empty when
    /// nothing recorded differs (a figure an older result lacks is not a difference).
    pub fn host_differences(&self, other: &Self) -> Vec<String> {
        let mut out = Vec::new();
        let mut differ = |what: &str, a: String, b: String| {
            if !a.is_empty() && !b.is_empty() && a != b {
                out.push(format!("{what}: {a} against {b}"));
            }
        };
        differ("CPU model", self.cpu_model.clone(), other.cpu_model.clone());
        differ("cores", self.cores.to_string(), other.cores.to_string());
        let gib = |b: u64| format!("{:.0} GiB", b as f64 / (1u64 << 30) as f64);
        differ("memory", gib(self.memory_bytes), gib(other.memory_bytes));
        differ("kernel", self.kernel.clone(), other.kernel.clone());
        let fsync = |e: &Self| e.durability.as_ref().and_then(|d| d.fsync_latency_us);
        if let (Some(a), Some(b)) = (fsync(self), fsync(other)) {
            if a.max(b) / a.min(b).max(1e-9) > 4.0 / 3.0 {
                out.push(format!("8 kB write + fdatasync: {a:.0} µs against {b:.0} µs"));
            }
        }
        out
    }

    /// The host in one line: CPU model, cores, kernel, fsync latency.
    pub fn host_line(&self) -> String {
        let fsync = self.durability.as_ref().and_then(|d| d.fsync_latency_us);
        format!(
            "{} × {}, kernel {}, fdatasync {}",
            self.cores,
            self.cpu_model,
            if self.kernel.is_empty() { "unknown" } else { &self.kernel },
            fsync.map_or("unknown".to_string(), |us| format!("{us:.0} µs"))
        )
    }
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

fn huge_pages_bytes() -> u64 {
    let field = |name| stroom_cluster::meminfo_kb(name).unwrap_or(0);
    field("HugePages_Total:") * field("Hugepagesize:") * 1024
}

/// The commit of the working directory: `git rev-parse HEAD`, with `-dirty` when tracked files
/// have changes; `unknown` outside git.
pub fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(head) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{head}-dirty")
            } else {
                head
            }
        }
        None => "unknown".into(),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(cpu: &str, fsync: Option<f64>) -> Environment {
        let mut e = Environment::capture(String::new(), String::new(), BTreeMap::new());
        e.cpu_model = cpu.into();
        e.durability = fsync.map(|us| crate::measure::Durability {
            filesystem: "ext4".into(),
            fsync_latency_us: Some(us),
            durable: true,
        });
        e
    }

    #[test]
    fn two_hosts_differ_in_cpu_model_and_fsync_and_one_host_not_at_all() {
        let (intel, amd) = (env("Intel(R) Xeon(R) Processor", Some(120.0)), env("AMD EPYC 7B13", Some(210.0)));
        let d = intel.host_differences(&amd);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("CPU model: Intel") && d[1].contains("120 µs against 210 µs"), "{d:?}");
        assert!(intel.host_differences(&env("Intel(R) Xeon(R) Processor", Some(140.0))).is_empty());
        assert!(
            intel.host_differences(&env("Intel(R) Xeon(R) Processor", None)).is_empty(),
            "unknown is no difference"
        );
    }
}
