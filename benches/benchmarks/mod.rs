pub mod codecs;
pub mod copy_encode;
pub mod fold;
pub mod generator;
pub mod memory_replay;
pub mod pg_replay;
pub mod sample;
pub mod transactor;
