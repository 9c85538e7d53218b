//! Comparing a kernel's field with the oracle's, NaN-aware: non-finite cells
//! must match in kind (any NaN for a NaN, the same infinity for an
//! infinity); finite cells must agree to `ulps_per_step * steps` machine
//! epsilons of a scale: the field's largest finite magnitude, or where the
//! oracle knows it, the larger magnitude of the terms its updates summed
//! (`ouroboros_oracle::term_scale`), since a correct reordering of a sum
//! errs by ulps of its terms, not of its result. For a field of subnormals
//! that tolerance is below one subnormal step, so flushing them to zero is
//! caught.

use crate::float::Float;

/// `compare_to_scale` with no scale known beyond the expected field's.
pub fn compare<T: Float>(
    name: &str,
    actual: &[T],
    expected: &[T],
    steps: u64,
    ulps_per_step: f64,
) -> Result<(), String> {
    compare_to_scale(name, actual, expected, steps, ulps_per_step, 0.0)
}

/// `actual` against `expected` after `steps` steps, to `ulps_per_step`
/// epsilons per step of the larger of `term_scale` and the expected field's
/// largest finite magnitude.
pub fn compare_to_scale<T: Float>(
    name: &str,
    actual: &[T],
    expected: &[T],
    steps: u64,
    ulps_per_step: f64,
    term_scale: f64,
) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "{name} has {} cells, the oracle {}",
            actual.len(),
            expected.len()
        ));
    }
    let scale = expected
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v.to_f64().abs())
        .fold(term_scale, f64::max);
    let tolerance = ulps_per_step * steps.max(1) as f64 * T::EPSILON * scale;
    let mut mismatches = 0usize;
    let mut first = None;
    for (cell, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let agrees = if e.is_nan() {
            a.is_nan()
        } else if !e.is_finite() {
            a.bits() == e.bits()
        } else {
            a.is_finite() && (a.to_f64() - e.to_f64()).abs() <= tolerance
        };
        if !agrees {
            mismatches += 1;
            first.get_or_insert((cell, a, e));
        }
    }
    match first {
        None => Ok(()),
        Some((cell, a, e)) => Err(format!(
            "{name}: {mismatches} of {} cells differ from the oracle, first cell {cell}: {:e} where the oracle has {:e} (tolerance {tolerance:e})",
            actual.len(),
            a.to_f64(),
            e.to_f64()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{compare, compare_to_scale};

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
    fn finite_cells_get_a_few_ulps_per_step_of_the_largest_magnitude() {
        let eps = f64::EPSILON;
        assert!(compare("f", &[1.0 + 3.0 * eps, 0.5], &[1.0, 0.5], 1, 4.0).is_ok());
        assert!(compare("f", &[1.0 + 6.0 * eps], &[1.0], 1, 4.0).is_err());
        assert!(compare("f", &[1.0 + 6.0 * eps], &[1.0], 2, 4.0).is_ok());
    }

    #[test]
    fn a_term_scale_widens_the_tolerance_to_ulps_of_the_terms() {
        let eps = f64::EPSILON;
        // A result of 1e-3 from terms of 1: an ulp of the terms is 1e3 ulps of it.
        let (got, oracle) = ([1.0e-3 + 2.0 * eps], [1.0e-3]);
        assert!(compare("f", &got, &oracle, 1, 4.0).is_err());
        assert!(compare_to_scale("f", &got, &oracle, 1, 4.0, 1.0).is_ok());
        assert!(compare_to_scale("f", &[1.0e-3 + 5.0 * eps], &oracle, 1, 4.0, 1.0).is_err());
        // The expected field's magnitude still counts when it is the larger.
        assert!(compare_to_scale("f", &[1.0 + 3.0 * eps], &[1.0], 1, 4.0, 0.5).is_ok());
    }

    #[test]
    fn flushing_subnormals_to_zero_is_a_mismatch() {
        let tiny = f64::MIN_POSITIVE / 8.0;
        assert!(compare("f", &[0.0, tiny], &[tiny, tiny], 3, 4.0).is_err());
        assert!(compare("f", &[tiny, tiny], &[tiny, tiny], 3, 4.0).is_ok());
    }
}
