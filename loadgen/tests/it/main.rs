//! The load generator's integration tests, in one binary (one compile and link, not four).

mod generator;
mod live;
mod replay;
mod settle;
