//! The oracle differential: the candidate against `ouroboros_oracle` on
//! random states, every dimension count 1..=9, extents that are not the
//! benchmark's, both precisions and both `current` parities.

use ouroboros_oracle::{readout, Lattice, Readout};

use crate::abi::Geometry;
use crate::compare::compare;
use crate::float::Float;
use crate::kernel::{run_readout, run_steps, Kernel, ReadoutResult};
use crate::lattices::differential_extents;
use crate::phase::Phase;
use crate::rng::Rng;

/// Finite cells may differ from the oracle by this many epsilons of the
/// field's scale per step: reordered but equivalent arithmetic stays within
/// it, a changed formula does not.
pub const ULPS_PER_STEP: f64 = 4.0;
const STEPS: u64 = 5;

fn lattice(extents: &[usize]) -> Result<Lattice, String> {
    Lattice::new(extents).map_err(|error| error.to_string())
}

/// One stepping case: both levels after `steps` steps must match the oracle.
pub fn step_case<T: Float>(
    kernel: &Kernel,
    extents: &[usize],
    courant2: f64,
    previous: &[f64],
    current: &[f64],
    steps: u64,
    current_index: u32,
) -> Result<(), String> {
    let lattice = lattice(extents)?;
    let previous: Vec<T> = previous.iter().map(|&v| T::from_f64(v)).collect();
    let current: Vec<T> = current.iter().map(|&v| T::from_f64(v)).collect();
    let geometry = Geometry::new(extents, T::PRECISION, courant2);
    let got = run_steps(kernel, &geometry, &previous, &current, steps, current_index)?;
    let expected = ouroboros_oracle::step(
        &lattice,
        &previous,
        &current,
        T::from_f64(courant2),
        steps as usize,
    )
    .map_err(|error| error.to_string())?;
    compare(
        "u^{n+k}",
        &got.current,
        &expected.current,
        steps,
        ULPS_PER_STEP,
    )?;
    compare(
        "u^{n+k-1}",
        &got.previous,
        &expected.previous,
        steps,
        ULPS_PER_STEP,
    )
}

/// The oracle's readout of a field of either precision, widened exactly.
pub fn oracle_readout<T: Float>(field: &[T]) -> ReadoutResult {
    let widened: Vec<f64> = field.iter().map(|v| v.to_f64()).collect();
    match readout(&widened) {
        Readout::Digits(digits) => ReadoutResult::Digits(digits),
        Readout::NonFinite { index } => ReadoutResult::NonFinite {
            index: index as u64,
        },
    }
}

/// One readout case: digits (or the non-finite index) exactly the oracle's.
pub fn readout_case<T: Float>(
    kernel: &Kernel,
    extents: &[usize],
    field: &[f64],
) -> Result<(), String> {
    let field: Vec<T> = field.iter().map(|&v| T::from_f64(v)).collect();
    let geometry = Geometry::new(extents, T::PRECISION, 0.0);
    let got = run_readout(kernel, &geometry, &field)?;
    let expected = oracle_readout(&field);
    if got == expected {
        return Ok(());
    }
    Err(match (got, expected) {
        (ReadoutResult::Digits(got), ReadoutResult::Digits(expected)) => {
            let cell = got
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            format!(
                "digit {cell} is {} where the oracle reads {} from {:e}",
                got[cell],
                expected[cell],
                field[cell].to_f64()
            )
        }
        (got, expected) => format!("readout gave {got:?}, the oracle {expected:?}"),
    })
}

fn precision_label<T: Float>(extents: &[usize]) -> String {
    format!("{} {extents:?}", T::NAME)
}

/// The step slot's differential: 9 dimension counts x 3 lattices x 2 precisions.
pub fn phase_step(kernel: &Kernel, rng: &mut Rng) -> Phase {
    let mut phase = Phase::start("differential");
    for dims in 1..=9 {
        for extents in differential_extents(dims) {
            let cells = extents.iter().product();
            let courant2 = rng.range(0.2, 0.95) / dims as f64;
            let previous = rng.field(cells, 1.0);
            let current = rng.field(cells, 1.0);
            let parity = (rng.next_u64() % 2) as u32;
            phase.case(
                &precision_label::<f64>(&extents),
                step_case::<f64>(
                    kernel, &extents, courant2, &previous, &current, STEPS, parity,
                ),
            );
            phase.case(
                &precision_label::<f32>(&extents),
                step_case::<f32>(
                    kernel,
                    &extents,
                    courant2,
                    &previous,
                    &current,
                    STEPS,
                    1 - parity,
                ),
            );
        }
    }
    phase.finish()
}

/// The readout slot's differential: random fields spanning beyond -4..4.
pub fn phase_readout(kernel: &Kernel, rng: &mut Rng) -> Phase {
    let mut phase = Phase::start("differential");
    for dims in 1..=9 {
        for extents in differential_extents(dims) {
            let field = rng.field(extents.iter().product(), 6.0);
            phase.case(
                &precision_label::<f64>(&extents),
                readout_case::<f64>(kernel, &extents, &field),
            );
            phase.case(
                &precision_label::<f32>(&extents),
                readout_case::<f32>(kernel, &extents, &field),
            );
        }
    }
    phase.finish()
}
