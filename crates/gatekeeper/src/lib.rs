//! The gauntlet's gatekeeper: the ELF gate over built candidate modules
//! (`inspect`) and the confinement the gauntlet's tools run under (`confine`).
//! Plain logic, tested with `cargo test`; `src/main.rs` is the command line.

pub mod confine;
pub mod inspect;
pub mod scan;
