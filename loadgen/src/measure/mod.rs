//! Latency from intended start, per command and per second of a window (`latency`); and
//! what the server and the load generator did while a step ran, measured beside the step: its CPU time, its
//! checkpoints, autovacuum runs and WAL (over a window, or per event of a step), the machine's busy and stolen CPU, and what
//! "durable" means on the disk under it; and how far a live projector's model lags behind
//! the acknowledged appends.

mod activity;
mod client_cpu;
mod durability;
mod host_cpu;
mod lag;
pub(crate) mod latency;
mod lateness;
mod server_cpu;
mod tcp_segments;
mod wal;

pub use activity::{Activity, ActivityWatch};
pub use client_cpu::ClientCpu;
pub use durability::{probe as probe_durability, Durability};
pub use host_cpu::{HostCpu, Steal};
pub use lag::{Lag, LagMeter, LagWatch};
pub use lateness::{Lateness, Way};
pub use server_cpu::ServerCpu;
pub use tcp_segments::TcpSegments;
pub use wal::WalPosition;
