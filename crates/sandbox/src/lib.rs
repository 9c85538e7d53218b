//! The gauntlet's sandbox runner. `main.rs` confines the process and drives
//! the phases; everything it calls lives here so that `cargo test` can
//! check it without a candidate.

pub mod abi;
pub mod bench;
pub mod compare;
pub mod confine;
pub mod differential;
pub mod dojo;
pub mod float;
pub mod invariants;
pub mod kernel;
pub mod lattices;
pub mod phase;
pub mod pool;
pub mod report;
pub mod rng;
pub mod seccomp;
