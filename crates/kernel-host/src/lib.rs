//! The confined kernel host. A module from an untrusted generator runs live
//! only here: a child process that maps the live lattice's state segment,
//! confines itself as the gauntlet's sandbox does (`ouroboros-sandbox`'s
//! `confine`, `seccomp` and `pool`), loads the kernel and steps the segment
//! in place each time the core sends a step command. `main.rs` drives it;
//! what can be tested without a kernel lives here.

pub mod levels;
pub mod protocol;
pub mod rules;
pub mod workspace;
