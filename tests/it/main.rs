//! The `stroom` binary end to end, in one test binary (one compile and link, not nine). The
//! paired A/B runs (`tests/ab.rs`) and the regression gate (`tests/gate.rs`) stay binaries of
//! their own: they time their runs, and the tests here run two at a time.

mod common;

mod cli_errors;
mod faults;
mod interrupt;
mod kept_history;
mod live_lag;
mod migrate_crash;
mod peer;
mod report_browser;
mod standby_replay;
