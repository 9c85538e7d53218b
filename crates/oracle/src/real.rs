use std::ops::{Add, Mul, Sub};

/// The floating-point types a field can hold: `f64` and `f32`.
///
/// Only the operations the leapfrog formula needs, so that an `f32` field is
/// stepped in `f32` arithmetic exactly as the kernels do.
pub trait Real: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> {
    /// Additive identity, the start of the Laplacian sum.
    const ZERO: Self;
    /// The constant 2 of `2 u - u_prev` and `(u+ + u-) - 2 u`.
    const TWO: Self;
    /// The absolute value, widened exactly to `f64`: what a term weighs in
    /// the rounding-error bound of [`crate::term_weight`].
    fn magnitude(self) -> f64;
    /// The value widened exactly to `f64`.
    fn widen(self) -> f64;
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const TWO: Self = 2.0;
    fn magnitude(self) -> f64 {
        self.abs()
    }
    fn widen(self) -> f64 {
        self
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const TWO: Self = 2.0;
    fn magnitude(self) -> f64 {
        f64::from(self.abs())
    }
    fn widen(self) -> f64 {
        f64::from(self)
    }
}
