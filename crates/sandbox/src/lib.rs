//! The gauntlet's sandbox runner. `main.rs` is the supervisor; `worker.rs`
//! the process each kernel runs in; everything else lives here so that
//! `cargo test` can check it without a candidate, and so that the live
//! kernel host can reuse the confinement, the filters, the pool and the
//! loader.

pub mod abi;
pub mod bench;
pub mod call_path;
pub mod compare;
pub mod confine;
pub mod denials;
pub mod differential;
pub mod dojo;
pub mod float;
pub mod fpenv;
pub mod invariants;
pub mod kernel;
pub mod lattices;
pub mod live_states;
pub mod phase;
pub mod pool;
pub mod priority;
pub mod probe;
pub mod process_group;
pub mod protocol;
pub mod remote;
pub mod report;
pub mod rng;
pub mod seccomp;
pub mod shared;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod worker;
pub mod worker_handle;
