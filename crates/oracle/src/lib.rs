//! The independent reference that checks the Ouroboros C++ kernels.
//!
//! Everything here is written from the specification alone and shares no code
//! with the kernels it checks:
//!
//! - [`Lattice`]: an N-dimensional torus (1..=9 axes, each extent >= 3,
//!   row-major with the last axis fastest, every axis periodic);
//! - [`step`]: the leapfrog scheme for the wave equation, in `f64` or `f32`;
//! - [`cone_scales`]: each cell's own error scale, from the largest value of its light cone;
//! - [`step_at_cells`]: the same steps at a few cells only, from their light cones;
//! - [`step_cones`]: the same from light cones gathered elsewhere, without the levels
//!   ([`step_cone_groups`]: several probes' cones in one call);
//! - [`check_step`]: a kernel's whole newest level against [`step`]'s, each cell to ulps of its cone scale;
//! - [`energy`]: the discrete energy leapfrog conserves exactly;
//! - [`readout`]: fields rounded to balanced nonary digits;
//! - [`shift`]: periodic translation of a field along one axis;
//! - [`check_invariants`]: one report on a kernel's state and outputs;
//! - [`nonary`]: arithmetic on balanced nonary digit strings;
//! - [`SplitMix64`]: the seeded generator of the random states checks run on.
//!
//! The crate knows nothing of Node: `ouroboros-oracle-napi` converts and
//! forwards to it.

mod cells;
mod cone_scale;
mod energy;
mod error;
mod full_check;
mod invariants;
mod lattice;
pub mod nonary;
mod readout;
mod real;
mod rng;
mod shift;
mod step;
mod summation;

pub use cells::{step_at_cells, step_cone_groups, step_cones, ConeGroup};
pub use cone_scale::{
    cone_scales, cone_scales_at_cells, cone_scales_through, gathered_cone_scale, term_weight,
};
pub use energy::{energy, WaveParameters};
pub use error::OracleError;
pub use full_check::{check_step, StepMismatch};
pub use invariants::{check_invariants, InvariantInput, InvariantReport};
pub use lattice::{Lattice, MAX_DIMS, MIN_EXTENT};
pub use readout::{readout, Readout, DIGIT_MAX};
pub use real::Real;
pub use rng::SplitMix64;
pub use shift::shift;
pub use step::{step, Levels};
