//! Helpers shared by the oracle's integration tests.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

/// SplitMix64: a tiny deterministic generator, so every run tests the same data.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn signed_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// Uniform in 0..bound.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    pub fn field(&mut self, len: usize) -> Vec<f64> {
        (0..len).map(|_| self.signed_unit()).collect()
    }
}

/// The extents used for "every dimension 1..=9" tests: mixed 3s and 4s so
/// that strides and extents differ between axes, a few thousand cells at most.
pub fn mixed_extents(dims: usize) -> Vec<usize> {
    (0..dims)
        .map(|axis| if axis % 3 == 1 { 4 } else { 3 })
        .collect()
}
