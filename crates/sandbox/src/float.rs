//! The two cell types a lattice can hold, with what the checks need beyond
//! the oracle's arithmetic: widening, bit patterns and the machine epsilon.

use ouroboros_oracle::Real;

use crate::abi::{PRECISION_F32, PRECISION_F64};

pub trait Float: Real + PartialEq + PartialOrd + Default + std::fmt::Debug + 'static {
    /// The `ouro_precision` of a field of this type.
    const PRECISION: u32;
    const EPSILON: f64;
    const NAME: &'static str;
    fn from_f64(value: f64) -> Self;
    fn to_f64(self) -> f64;
    fn bits(self) -> u64;
    fn is_nan(self) -> bool;
    fn is_finite(self) -> bool;
}

impl Float for f64 {
    const PRECISION: u32 = PRECISION_F64;
    const EPSILON: f64 = f64::EPSILON;
    const NAME: &'static str = "f64";
    fn from_f64(value: f64) -> Self {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

impl Float for f32 {
    const PRECISION: u32 = PRECISION_F32;
    const EPSILON: f64 = f32::EPSILON as f64;
    const NAME: &'static str = "f32";
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}
