use crate::readout::DIGIT_MAX;
use crate::{energy, readout, shift, Lattice, OracleError, Readout, WaveParameters};

/// A kernel's state and outputs, to be checked against the oracle.
#[derive(Debug, Clone, Copy)]
pub struct InvariantInput<'a> {
    /// 1..=9 extents, each >= 3, last axis fastest.
    pub extents: &'a [usize],
    pub parameters: WaveParameters,
    /// The live levels u^{n-1} and u^n, widened to `f64` exactly.
    pub previous: &'a [f64],
    pub current: &'a [f64],
    /// The energy at the start of the run, E0.
    pub initial_energy: f64,
    /// The largest acceptable energy drift (see [`InvariantReport::energy_drift`]).
    pub drift_tolerance: f64,
    /// The kernel's readout of `current`, if it should be checked.
    pub readout: Option<&'a [i8]>,
    /// Wrap probe: the kernel's current level after one step from
    /// (previous, current). Given together with `shifted_stepped` or not at all.
    pub stepped: Option<&'a [f64]>,
    /// Wrap probe: `shifted_stepped[axis]` is the kernel's current level after
    /// one step from both levels shifted by +1 cell along `axis`.
    pub shifted_stepped: Option<&'a [&'a [f64]]>,
}

/// What [`check_invariants`] found. Checks that were not asked for are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct InvariantReport {
    /// No violations.
    pub ok: bool,
    /// Energy of (previous, current), see [`crate::energy`].
    pub energy: f64,
    pub initial_energy: f64,
    /// `|E - E0| / |E0|`, or `|E - E0|` when E0 is 0.
    pub energy_drift: f64,
    pub drift_tolerance: f64,
    /// Every value of both levels is finite.
    pub all_finite: bool,
    /// The lowest non-finite index in `current`; when `current` is all
    /// finite, the lowest non-finite index in `previous`. The matching
    /// violation names the level.
    pub first_non_finite: Option<usize>,
    /// Every readout digit lies in -4..=4.
    pub readout_in_range: Option<bool>,
    /// The readout equals the oracle's readout of `current` (false when
    /// `current` is not finite or the lengths differ).
    pub readout_matches_oracle: Option<bool>,
    /// Every `shifted_stepped[axis]` equals `stepped` shifted by +1 along
    /// `axis`, bit for bit.
    pub wrap_exact: Option<bool>,
    /// The axes where the wrap probe failed, ascending.
    pub wrap_failed_axes: Vec<usize>,
    /// One sentence per failed check.
    pub violations: Vec<String>,
}

/// Checks energy conservation, finiteness, and when given the readout and
/// the wrap probe. Malformed input (bad extents, a field of the wrong
/// length, half a wrap probe) is an error; everything the state or the
/// kernel's outputs get wrong is reported as a violation.
pub fn check_invariants(input: &InvariantInput<'_>) -> Result<InvariantReport, OracleError> {
    let lattice = Lattice::new(input.extents)?;
    let wrap_probe = validate(&lattice, input)?;
    let mut violations = Vec::new();

    let energy = energy(&lattice, input.previous, input.current, input.parameters)?;
    let energy_drift = drift(energy, input.initial_energy);
    // A NaN drift compares false, so it is never within tolerance.
    let drift_within_tolerance = energy_drift <= input.drift_tolerance;
    if !drift_within_tolerance {
        violations.push(drift_violation(energy, energy_drift, input));
    }

    // A non-finite value in either level makes its cell's kinetic term, a
    // square, infinite or NaN, and so the energy: a finite energy needs no scan.
    let non_finite = if energy.is_finite() {
        None
    } else {
        first_non_finite("current", input.current)
            .or_else(|| first_non_finite("previous", input.previous))
    };
    if let Some((level, index, value)) = non_finite {
        violations.push(format!("{level}[{index}] = {value} is not finite"));
    }

    let (readout_in_range, readout_matches_oracle) = match input.readout {
        Some(digits) => {
            let (in_range, matches) = check_readout(digits, input.current, &mut violations);
            (Some(in_range), Some(matches))
        }
        None => (None, None),
    };

    let (wrap_exact, wrap_failed_axes) = match wrap_probe {
        Some((stepped, shifted_stepped)) => {
            let failed = check_wrap(&lattice, stepped, shifted_stepped, &mut violations)?;
            (Some(failed.is_empty()), failed)
        }
        None => (None, Vec::new()),
    };

    Ok(InvariantReport {
        ok: violations.is_empty(),
        energy,
        initial_energy: input.initial_energy,
        energy_drift,
        drift_tolerance: input.drift_tolerance,
        all_finite: non_finite.is_none(),
        first_non_finite: non_finite.map(|(_, index, _)| index),
        readout_in_range,
        readout_matches_oracle,
        wrap_exact,
        wrap_failed_axes,
        violations,
    })
}

type WrapProbe<'a> = (&'a [f64], &'a [&'a [f64]]);

/// Checks every length up front, so no check runs on malformed input.
fn validate<'a>(
    lattice: &Lattice,
    input: &InvariantInput<'a>,
) -> Result<Option<WrapProbe<'a>>, OracleError> {
    lattice.check_field("previous", input.previous)?;
    lattice.check_field("current", input.current)?;
    let probe = match (input.stepped, input.shifted_stepped) {
        (None, None) => return Ok(None),
        (Some(stepped), Some(shifted_stepped)) => (stepped, shifted_stepped),
        (Some(_), None) => {
            return Err(OracleError::WrapProbeIncomplete {
                given: "stepped",
                missing: "shiftedStepped",
            })
        }
        (None, Some(_)) => {
            return Err(OracleError::WrapProbeIncomplete {
                given: "shiftedStepped",
                missing: "stepped",
            })
        }
    };
    lattice.check_field("stepped", probe.0)?;
    if probe.1.len() != lattice.dims() {
        return Err(OracleError::ShiftedSteppedCount {
            len: probe.1.len(),
            dims: lattice.dims(),
        });
    }
    for (axis, field) in probe.1.iter().enumerate() {
        lattice.check_field(&format!("shiftedStepped[{axis}]"), field)?;
    }
    Ok(Some(probe))
}

/// `|E - E0| / |E0|`, or the absolute change when E0 is 0.
fn drift(energy: f64, initial_energy: f64) -> f64 {
    let change = (energy - initial_energy).abs();
    if initial_energy == 0.0 {
        change
    } else {
        change / initial_energy.abs()
    }
}

fn drift_violation(energy: f64, energy_drift: f64, input: &InvariantInput<'_>) -> String {
    let (tolerance, initial) = (input.drift_tolerance, input.initial_energy);
    if energy_drift.is_nan() {
        format!("energy drift is NaN (E = {energy}, E0 = {initial}): the state or E0 is not finite")
    } else {
        format!("energy drift {energy_drift:e} exceeds tolerance {tolerance:e} (E = {energy}, E0 = {initial})")
    }
}

fn first_non_finite<'a>(level: &'a str, field: &[f64]) -> Option<(&'a str, usize, f64)> {
    field
        .iter()
        .position(|value| !value.is_finite())
        .map(|index| (level, index, field[index]))
}

/// Returns (every digit in range, equal to the oracle's readout).
fn check_readout(digits: &[i8], current: &[f64], violations: &mut Vec<String>) -> (bool, bool) {
    let out_of_range = digits
        .iter()
        .position(|digit| !(-DIGIT_MAX..=DIGIT_MAX).contains(digit));
    if let Some(index) = out_of_range {
        violations.push(format!(
            "readout[{index}] = {} is outside -{DIGIT_MAX}..={DIGIT_MAX}",
            digits[index]
        ));
    }
    let matches = match readout(current) {
        Readout::NonFinite { index } => {
            violations.push(format!(
                "a readout was given but current[{index}] is not finite, so there is none"
            ));
            false
        }
        Readout::Digits(expected) if expected.len() != digits.len() => {
            violations.push(format!(
                "readout has {} digits: the lattice has {} cells",
                digits.len(),
                expected.len()
            ));
            false
        }
        Readout::Digits(expected) => {
            let mismatches: Vec<usize> = (0..expected.len())
                .filter(|&i| digits[i] != expected[i])
                .collect();
            if let Some(&first) = mismatches.first() {
                violations.push(format!(
                    "readout differs from the oracle's in {} cells, first readout[{first}] = {} where current[{first}] = {} reads {}",
                    mismatches.len(),
                    digits[first],
                    current[first],
                    expected[first]
                ));
            }
            mismatches.is_empty()
        }
    };
    (out_of_range.is_none(), matches)
}

/// Returns the axes where a step from the shifted state is not, bit for bit,
/// the shifted step: the kernel's wrap-around along that axis is wrong.
fn check_wrap(
    lattice: &Lattice,
    stepped: &[f64],
    shifted_stepped: &[&[f64]],
    violations: &mut Vec<String>,
) -> Result<Vec<usize>, OracleError> {
    let mut failed_axes = Vec::new();
    for (axis, &actual) in shifted_stepped.iter().enumerate() {
        let expected = shift(lattice, stepped, axis, 1)?;
        let first_difference = expected
            .iter()
            .zip(actual)
            .position(|(e, a)| e.to_bits() != a.to_bits());
        if let Some(cell) = first_difference {
            violations.push(format!(
                "wrap probe along axis {axis}: stepping the shifted state differs from shifting the stepped state, first at cell {cell} ({} instead of {})",
                actual[cell], expected[cell]
            ));
            failed_axes.push(axis);
        }
    }
    Ok(failed_axes)
}
