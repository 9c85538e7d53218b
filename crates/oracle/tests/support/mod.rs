//! Helpers shared by the oracle's integration tests.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

/// The oracle's seeded generator (the sandbox draws from the same one), so every run tests the same data.
pub use ouroboros_oracle::SplitMix64;

/// The extents used for "every dimension 1..=9" tests: mixed 3s and 4s so
/// that strides and extents differ between axes, a few thousand cells at most.
pub fn mixed_extents(dims: usize) -> Vec<usize> {
    (0..dims)
        .map(|axis| if axis % 3 == 1 { 4 } else { 3 })
        .collect()
}
