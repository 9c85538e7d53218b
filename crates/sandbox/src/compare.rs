//! Comparing a kernel's field with the oracle's, NaN-aware: non-finite cells
//! must match in kind (any NaN for a NaN, the same infinity for an
//! infinity); each finite cell must agree to `ulps_per_step * steps`
//! machine epsilons of its own scale: its expected magnitude, or where the
//! oracle knows it, the larger bound on the terms its result was summed
//! from (`ouroboros_oracle::cone_scales`: the largest value of the cell's
//! light cone in either input level, weighted by the update's terms), since
//! a correct reordering of a sum errs by ulps of its terms, not of its
//! result. No cell is judged by the field's largest value: that would let a
//! kernel err by ulps of a pulse's peak in its quiet far field. For a field
//! of subnormals the tolerance is below one subnormal step, so flushing
//! them to zero is caught.

use crate::float::Float;

/// `compare_to_scales` with no scale known beyond each expected cell's own.
pub fn compare<T: Float>(
    name: &str,
    actual: &[T],
    expected: &[T],
    steps: u64,
    ulps_per_step: f64,
) -> Result<(), String> {
    compare_to_scales(name, actual, expected, steps, ulps_per_step, &[])
}

/// `actual` against `expected` after `steps` steps, each cell to
/// `ulps_per_step` epsilons per step of the larger of its `scales` entry
/// (none when `scales` is empty) and its expected magnitude.
pub fn compare_to_scales<T: Float>(
    name: &str,
    actual: &[T],
    expected: &[T],
    steps: u64,
    ulps_per_step: f64,
    scales: &[f64],
) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "{name} has {} cells, the oracle {}",
            actual.len(),
            expected.len()
        ));
    }
    assert!(scales.is_empty() || scales.len() == expected.len());
    let per_scale = ulps_per_step * steps.max(1) as f64 * T::EPSILON;
    let mut mismatches = 0usize;
    let mut first = None;
    for (cell, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let scale = scales.get(cell).copied().unwrap_or(0.0);
        let tolerance = per_scale * scale.max(e.to_f64().abs());
        let agrees = if e.is_nan() {
            a.is_nan()
        } else if !e.is_finite() {
            a.bits() == e.bits()
        } else {
            a.is_finite() && (a.to_f64() - e.to_f64()).abs() <= tolerance
        };
        if !agrees {
            mismatches += 1;
            first.get_or_insert((cell, a, e, tolerance));
        }
    }
    match first {
        None => Ok(()),
        Some((cell, a, e, tolerance)) => Err(format!(
            "{name}: {mismatches} of {} cells differ from the oracle, first cell {cell}: {:e} where the oracle has {:e} (its tolerance {tolerance:e})",
            actual.len(),
            a.to_f64(),
            e.to_f64()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{compare, compare_to_scales};

    #[test]
    fn nan_matches_any_nan_and_infinities_must_match_exactly() {
        let other_nan = f64::from_bits(f64::NAN.to_bits() | 1);
        assert!(compare(
            "f",
            &[other_nan, f64::INFINITY],
            &[f64::NAN, f64::INFINITY],
            1,
            4.0
        )
        .is_ok());
        assert!(compare("f", &[f64::NAN], &[f64::INFINITY], 1, 4.0).is_err());
        assert!(compare("f", &[f64::NEG_INFINITY], &[f64::INFINITY], 1, 4.0).is_err());
        assert!(compare("f", &[0.0], &[f64::NAN], 1, 4.0).is_err());
    }

    #[test]
    fn finite_cells_get_a_few_ulps_per_step_of_their_own_magnitude() {
        let eps = f64::EPSILON;
        assert!(compare("f", &[1.0 + 3.0 * eps, 0.5], &[1.0, 0.5], 1, 4.0).is_ok());
        // 3 ulps of the field's peak are far more than 4 of a quiet cell's.
        assert!(compare("f", &[1.0, 1.0e-6 + 3.0 * eps], &[1.0, 1.0e-6], 1, 4.0).is_err());
        assert!(compare("f", &[1.0 + 6.0 * eps], &[1.0], 1, 4.0).is_err());
        assert!(compare("f", &[1.0 + 6.0 * eps], &[1.0], 2, 4.0).is_ok());
    }

    #[test]
    fn a_cells_scale_widens_its_tolerance_to_ulps_of_its_terms_only() {
        let eps = f64::EPSILON;
        // A result of 1e-3 from terms of 1: an ulp of the terms is 1e3 ulps of it.
        let (got, oracle) = ([1.0e-3 + 2.0 * eps], [1.0e-3]);
        assert!(compare("f", &got, &oracle, 1, 4.0).is_err());
        assert!(compare_to_scales("f", &got, &oracle, 1, 4.0, &[1.0]).is_ok());
        assert!(compare_to_scales("f", &[1.0e-3 + 5.0 * eps], &oracle, 1, 4.0, &[1.0]).is_err());
        // The expected cell's magnitude still counts when it is the larger.
        assert!(compare_to_scales("f", &[1.0 + 3.0 * eps], &[1.0], 1, 4.0, &[0.5]).is_ok());
        // One cell's scale does not widen its neighbour's tolerance.
        let (got, oracle) = ([1.0, 1.0e-9 + 2.0 * eps], [1.0, 1.0e-9]);
        assert!(compare_to_scales("f", &got, &oracle, 1, 4.0, &[1.0, 1.0e-9]).is_err());
        assert!(compare_to_scales("f", &got, &oracle, 1, 4.0, &[1.0, 1.0]).is_ok());
    }

    #[test]
    fn flushing_subnormals_to_zero_is_a_mismatch() {
        let tiny = f64::MIN_POSITIVE / 8.0;
        assert!(compare("f", &[0.0, tiny], &[tiny, tiny], 3, 4.0).is_err());
        assert!(compare("f", &[tiny, tiny], &[tiny, tiny], 3, 4.0).is_ok());
    }
}
