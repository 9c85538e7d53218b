//! The sandbox's random states and dojo waveforms come from the oracle's
//! SplitMix64, the generator the oracle's own tests draw from: one
//! implementation, so a seed means the same stream on both sides of a check.

pub use ouroboros_oracle::SplitMix64 as Rng;
