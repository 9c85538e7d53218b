use crate::{step, step_with_term_scale, Lattice, OracleError, Real};

/// Where a kernel's whole newest level first disagrees with the oracle's.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMismatch {
    /// How many cells disagree.
    pub cells: usize,
    pub first_cell: usize,
    /// The kernel's and the oracle's values there, widened exactly.
    pub actual: f64,
    pub expected: f64,
    pub tolerance: f64,
}

/// Compares `actual`, a kernel's u^{n+steps} over the whole lattice, with
/// the oracle's `steps` steps from (previous, current) = (u^{n-1}, u^n):
/// `None` when every cell agrees, else where they first differ.
///
/// A NaN must meet a NaN and an infinity the same infinity; finite values
/// must agree to `ulps_per_step` units of `epsilon` per step of a scale: the
/// largest [`term_scale`](crate::term_scale) of the steps' updates, or the
/// largest finite expected magnitude where that is larger (a correct kernel
/// that sums in another order errs by ulps of the terms, however much they
/// cancel). The steps are taken without weighing the terms first, which
/// costs several times as much as the steps: a level within tolerance of
/// its own magnitude is within it of any larger scale, and only one that is
/// not is judged again against the term scale.
#[allow(clippy::too_many_arguments)]
pub fn check_step<T: Real>(
    lattice: &Lattice,
    previous: &[T],
    current: &[T],
    courant2: T,
    steps: usize,
    actual: &[T],
    ulps_per_step: f64,
    epsilon: f64,
) -> Result<Option<StepMismatch>, OracleError> {
    lattice.check_field("actual", actual)?;
    let per_scale = ulps_per_step * steps.max(1) as f64 * epsilon;
    let expected = step(lattice, previous, current, courant2, steps)?;
    if mismatch(actual, &expected.current, per_scale, 0.0).is_none() {
        return Ok(None);
    }
    let (expected, term_scale) = step_with_term_scale(lattice, previous, current, courant2, steps)?;
    Ok(mismatch(actual, &expected.current, per_scale, term_scale))
}

fn mismatch<T: Real>(
    actual: &[T],
    expected: &[T],
    per_scale: f64,
    term_scale: f64,
) -> Option<StepMismatch> {
    let scale = expected
        .iter()
        .map(|&value| value.widen())
        .filter(|value| value.is_finite())
        .fold(term_scale, |scale, value| scale.max(value.abs()));
    let tolerance = per_scale * scale;
    let mut found: Option<StepMismatch> = None;
    for (cell, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let (a, e) = (a.widen(), e.widen());
        let agrees = if e.is_nan() {
            a.is_nan()
        } else if e.is_infinite() {
            a == e
        } else {
            a.is_finite() && (a - e).abs() <= tolerance
        };
        if agrees {
            continue;
        }
        found
            .get_or_insert(StepMismatch {
                cells: 0,
                first_cell: cell,
                actual: a,
                expected: e,
                tolerance,
            })
            .cells += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::check_step;
    use crate::{step, Lattice};

    fn field(cells: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..cells)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn a_level_wrong_at_one_cell_of_many_is_named_and_the_right_one_passes() {
        let lattice = Lattice::new(&[64, 48]).unwrap();
        let (previous, current) = (
            field(lattice.cell_count(), 1),
            field(lattice.cell_count(), 2),
        );
        let mut actual = step(&lattice, &previous, &current, 0.3, 8).unwrap().current;
        let check = |actual: &[f64]| {
            check_step(
                &lattice,
                &previous,
                &current,
                0.3,
                8,
                actual,
                4.0,
                f64::EPSILON,
            )
            .unwrap()
        };
        assert_eq!(check(&actual), None);
        actual[1234] += 1e-12;
        let mismatch = check(&actual).expect("one cell off by far more than 32 ulps");
        assert_eq!((mismatch.cells, mismatch.first_cell), (1, 1234));
        assert!(mismatch.tolerance > 0.0 && mismatch.tolerance < 1e-12);
    }

    #[test]
    fn a_reordering_within_ulps_of_the_terms_passes_where_ulps_of_the_result_would_not() {
        // Terms 2u and u_prev of 2 cancel to 0 at cell 0: the tolerance is 4 ulps of their sum, 4, not of 0.
        let lattice = Lattice::new(&[3]).unwrap();
        let (previous, current) = (vec![2.0, 0.0, 0.0], vec![1.0, 0.0, 0.0]);
        let expected = step(&lattice, &previous, &current, 0.0, 1).unwrap().current;
        assert_eq!(expected[0], 0.0);
        let mut actual = expected.clone();
        actual[0] = 2.0 * f64::EPSILON;
        assert_eq!(
            check_step(
                &lattice,
                &previous,
                &current,
                0.0,
                1,
                &actual,
                4.0,
                f64::EPSILON
            )
            .unwrap(),
            None
        );
        actual[0] = 20.0 * f64::EPSILON;
        assert!(check_step(
            &lattice,
            &previous,
            &current,
            0.0,
            1,
            &actual,
            4.0,
            f64::EPSILON
        )
        .unwrap()
        .is_some());
    }

    #[test]
    fn non_finite_cells_must_match_in_kind() {
        let lattice = Lattice::new(&[3]).unwrap();
        let (previous, current) = (vec![f64::NAN, 0.0, 0.0], vec![0.0, 0.0, 0.0]);
        let expected = step(&lattice, &previous, &current, 0.25, 1)
            .unwrap()
            .current;
        assert!(expected[0].is_nan());
        let mut actual = expected.clone();
        assert_eq!(
            check_step(
                &lattice,
                &previous,
                &current,
                0.25,
                1,
                &actual,
                4.0,
                f64::EPSILON
            )
            .unwrap(),
            None
        );
        actual[0] = 0.0;
        let mismatch = check_step(
            &lattice,
            &previous,
            &current,
            0.25,
            1,
            &actual,
            4.0,
            f64::EPSILON,
        )
        .unwrap()
        .unwrap();
        assert_eq!(mismatch.first_cell, 0);
    }

    #[test]
    fn a_level_of_the_wrong_length_is_an_error() {
        let lattice = Lattice::new(&[3, 3]).unwrap();
        let zeros = vec![0.0f64; 9];
        assert!(check_step(
            &lattice,
            &zeros,
            &zeros,
            0.25,
            1,
            &zeros[..8],
            4.0,
            f64::EPSILON
        )
        .is_err());
    }
}
