//! Invariants the differential's tolerance could let through: the energy
//! over hundreds of steps, exact (bitwise) shift equivariance of the wrap,
//! statelessness across calls; for the readout slot, the laws of balanced
//! nonary digits.

use ouroboros_oracle::{check_invariants, energy, shift, InvariantInput, Lattice, WaveParameters};

use crate::abi::{Geometry, PRECISION_F64};
use crate::differential::{oracle_readout, readout_case};
use crate::float::Float;
use crate::phase::Phase;
use crate::remote::{run_steps, ReadoutResult, Remote};
use crate::rng::Rng;

const DRIFT_TOLERANCE: f64 = 1e-10;

fn parameters(courant2: f64) -> WaveParameters {
    WaveParameters {
        c: 1.0,
        h: 1.0,
        dt: courant2.sqrt(),
    }
}

fn oracle_error(error: ouroboros_oracle::OracleError) -> String {
    error.to_string()
}

/// 310 steps in 10 calls of 31 (so `current` alternates): energy within
/// `DRIFT_TOLERANCE` of the start and every cell finite.
fn energy_case(kernel: &Remote, extents: &[usize], rng: &mut Rng) -> Result<(), String> {
    let lattice = Lattice::new(extents).map_err(oracle_error)?;
    let cells = lattice.cell_count();
    let courant2 = 0.8 / extents.len() as f64;
    let (previous, current) = (rng.field(cells, 1.0), rng.field(cells, 1.0));
    let initial_energy =
        energy(&lattice, &previous, &current, parameters(courant2)).map_err(oracle_error)?;
    let geometry = Geometry::new(extents, PRECISION_F64, courant2);
    let mut current_index = 0;
    kernel.load(&previous, &current, current_index);
    for _ in 0..10 {
        kernel.step(&geometry, 31, current_index)?;
        current_index = (current_index + 31) % 2;
    }
    let end = kernel.levels_after::<f64>(cells, current_index, 0);
    let report = check_invariants(&InvariantInput {
        extents,
        parameters: parameters(courant2),
        previous: &end.previous,
        current: &end.current,
        initial_energy,
        drift_tolerance: DRIFT_TOLERANCE,
        readout: None,
        stepped: None,
        shifted_stepped: None,
    })
    .map_err(oracle_error)?;
    if report.ok {
        Ok(())
    } else {
        Err(report.violations.join("; "))
    }
}

/// One step from a state and from the state shifted by one cell along each
/// axis: the results must be shifts of each other, bit for bit.
fn wrap_case(kernel: &Remote, extents: &[usize], rng: &mut Rng) -> Result<(), String> {
    let lattice = Lattice::new(extents).map_err(oracle_error)?;
    let cells = lattice.cell_count();
    let courant2 = 0.9 / extents.len() as f64;
    let (previous, current) = (rng.field(cells, 1.0), rng.field(cells, 1.0));
    let geometry = Geometry::new(extents, PRECISION_F64, courant2);
    let stepped = run_steps(kernel, &geometry, &previous, &current, 1, 0)?;
    let mut shifted_stepped = Vec::with_capacity(extents.len());
    for axis in 0..extents.len() {
        let shifted_previous = shift(&lattice, &previous, axis, 1).map_err(oracle_error)?;
        let shifted_current = shift(&lattice, &current, axis, 1).map_err(oracle_error)?;
        shifted_stepped
            .push(run_steps(kernel, &geometry, &shifted_previous, &shifted_current, 1, 1)?.current);
    }
    let probes: Vec<&[f64]> = shifted_stepped.iter().map(Vec::as_slice).collect();
    let initial_energy =
        energy(&lattice, &previous, &current, parameters(courant2)).map_err(oracle_error)?;
    let report = check_invariants(&InvariantInput {
        extents,
        parameters: parameters(courant2),
        previous: &stepped.previous,
        current: &stepped.current,
        initial_energy,
        drift_tolerance: DRIFT_TOLERANCE,
        readout: None,
        stepped: Some(&stepped.current),
        shifted_stepped: Some(&probes),
    })
    .map_err(oracle_error)?;
    if report.ok {
        Ok(())
    } else {
        Err(report.violations.join("; "))
    }
}

/// 7 steps in one call equal 3 then 4 in two, bit for bit, and 0 steps
/// change nothing: the kernel keeps no state between calls, in the scratch
/// or in the field. A kernel that writes a count into its output's lowest
/// bits (within every tolerance) steps from them in the second call, and
/// the 7 steps differ; the differential runs this at the live size too.
pub fn stateless_case<T: Float>(
    kernel: &Remote,
    extents: &[usize],
    rng: &mut Rng,
) -> Result<(), String> {
    let cells = extents.iter().product();
    let field =
        |rng: &mut Rng| -> Vec<T> { rng.field(cells, 1.0).into_iter().map(T::from_f64).collect() };
    let (previous, current) = (field(rng), field(rng));
    let geometry = Geometry::new(extents, T::PRECISION, 0.3 / extents.len() as f64);
    let unchanged = run_steps(kernel, &geometry, &previous, &current, 0, 1)?;
    if unchanged.previous != previous || unchanged.current != current {
        return Err("0 steps changed the state".to_owned());
    }
    let whole = run_steps(kernel, &geometry, &previous, &current, 7, 0)?;
    let first = run_steps(kernel, &geometry, &previous, &current, 3, 0)?;
    let split = run_steps(kernel, &geometry, &first.previous, &first.current, 4, 1)?;
    let bits = |values: &[T]| -> Vec<u64> { values.iter().map(|v| v.to_f64().to_bits()).collect() };
    if bits(&whole.current) == bits(&split.current)
        && bits(&whole.previous) == bits(&split.previous)
    {
        Ok(())
    } else {
        Err("7 steps in one call differ from 3 + 4 steps in two calls".to_owned())
    }
}

pub fn phase_step(kernel: &Remote, rng: &mut Rng) -> Phase {
    let mut phase = Phase::start("invariants");
    for extents in [vec![23, 19], vec![7, 9, 5], vec![61]] {
        phase.case(
            &format!("energy {extents:?}"),
            energy_case(kernel, &extents, rng),
        );
    }
    for extents in [
        vec![7],
        vec![5, 6],
        vec![3, 4, 5],
        vec![3, 3, 3, 3, 3, 3, 3, 3, 3],
    ] {
        phase.case(
            &format!("wrap {extents:?}"),
            wrap_case(kernel, &extents, rng),
        );
    }
    phase.case(
        "stateless [9, 7]",
        stateless_case::<f64>(kernel, &[9, 7], rng),
    );
    phase.finish()
}

fn digits_of(kernel: &Remote, extents: &[usize], field: &[f64]) -> Result<Vec<i8>, String> {
    match kernel.readout(&Geometry::new(extents, PRECISION_F64, 0.0), field)? {
        ReadoutResult::Digits(digits) => Ok(digits),
        ReadoutResult::NonFinite { index } => Err(format!(
            "reported cell {index} non-finite in a finite field"
        )),
    }
}

/// Digits in -4..=4, odd symmetry r(-x) = -r(x), integers read as
/// themselves, monotone in the value.
fn nonary_laws(kernel: &Remote, rng: &mut Rng) -> Result<(), String> {
    let extents = [257];
    let mut field = rng.field(257, 100.0);
    let digits = digits_of(kernel, &extents, &field)?;
    if let Some(cell) = digits.iter().position(|d| !(-4..=4).contains(d)) {
        return Err(format!("digit {cell} = {} is outside -4..=4", digits[cell]));
    }
    let negated: Vec<f64> = field.iter().map(|v| -v).collect();
    let negated_digits = digits_of(kernel, &extents, &negated)?;
    if let Some(cell) = (0..257).find(|&i| negated_digits[i] != -digits[i]) {
        return Err(format!("readout(-x) != -readout(x) at {:e}", field[cell]));
    }
    let integers: Vec<f64> = (0..257).map(|i| (i % 9) as f64 - 4.0).collect();
    let integer_digits = digits_of(kernel, &extents, &integers)?;
    if integer_digits
        .iter()
        .zip(&integers)
        .any(|(&d, &v)| f64::from(d) != v)
    {
        return Err("an integer in -4..=4 does not read as itself".to_owned());
    }
    field.sort_by(f64::total_cmp);
    let sorted_digits = digits_of(kernel, &extents, &field)?;
    if sorted_digits.windows(2).any(|pair| pair[0] > pair[1]) {
        return Err("readout is not monotone in the value".to_owned());
    }
    Ok(())
}

/// With non-finite cells at i < j the readout names i.
fn lowest_non_finite(kernel: &Remote, rng: &mut Rng) -> Result<(), String> {
    let mut field = rng.field(64, 3.0);
    let (first, second) = (rng.int(0, 30), rng.int(31, 63));
    field[second] = f64::NAN;
    field[first] = f64::NEG_INFINITY;
    let got = kernel.readout(&Geometry::new(&[64], PRECISION_F64, 0.0), &field)?;
    let expected = oracle_readout(&field);
    if got == expected {
        Ok(())
    } else {
        Err(format!("readout gave {got:?}, the oracle {expected:?}"))
    }
}

pub fn phase_readout(kernel: &Remote, rng: &mut Rng) -> Phase {
    let mut phase = Phase::start("invariants");
    phase.case("nonary laws", nonary_laws(kernel, rng));
    phase.case("lowest non-finite", lowest_non_finite(kernel, rng));
    let field = rng.field(3usize.pow(9), 5.0);
    phase.case(
        "9 dims of extent 3",
        readout_case::<f64>(kernel, &[3; 9], &field),
    );
    phase.finish()
}
