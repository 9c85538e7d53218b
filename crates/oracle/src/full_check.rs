use crate::{cone_scales_through, step, Lattice, OracleError, Real};

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
/// A NaN must meet a NaN and an infinity the same infinity; each finite
/// value must agree to `ulps_per_step` units of `epsilon` per step of its
/// own scale: its cell's [`cone_scales_through`] (the largest value of its
/// light cone in the inputs and the expected outputs, weighted by an
/// update's terms), or its expected magnitude where
/// that is larger (a correct kernel that sums in another order errs by ulps
/// of the terms, however much they cancel), never the field's largest value,
/// which would hide a wrong quiet region. A level within tolerance of each
/// cell's own magnitude is within it of any larger scale, so only one that
/// is not pays for the cone scales.
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
    if mismatch(actual, &expected.current, per_scale, &[]).is_none() {
        return Ok(None);
    }
    let scales = cone_scales_through(
        lattice,
        [previous, current],
        [&expected.previous, &expected.current],
        courant2.magnitude(),
        steps,
    )?;
    Ok(mismatch(actual, &expected.current, per_scale, &scales))
}

fn mismatch<T: Real>(
    actual: &[T],
    expected: &[T],
    per_scale: f64,
    scales: &[f64],
) -> Option<StepMismatch> {
    let mut found: Option<StepMismatch> = None;
    for (cell, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let (a, e) = (a.widen(), e.widen());
        let tolerance = per_scale * scales.get(cell).copied().unwrap_or(0.0).max(e.abs());
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
        // Terms 2u and u_prev of 2 cancel to 0 at cell 0: the tolerance is 4 ulps of its cone's scale, 3 (the
        // weight at r^2 = 0) times its largest value 2, not of 0.
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
        actual[0] = 25.0 * f64::EPSILON;
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
    fn a_quiet_cell_is_judged_to_its_own_cone_not_to_the_fields_peak() {
        // 9 cells, one step at r^2 = 0.25 (weight 3 + 4 * 0.25 = 4): cell 5's cone (4..=6) holds 1e-12, cell 0's holds 2.
        let lattice = Lattice::new(&[9]).unwrap();
        let mut previous = vec![1.0e-12; 9];
        previous[0] = 2.0;
        let current = previous.clone();
        let expected = step(&lattice, &previous, &current, 0.25, 1)
            .unwrap()
            .current;
        let check = |actual: &[f64]| {
            check_step(
                &lattice,
                &previous,
                &current,
                0.25,
                1,
                actual,
                4.0,
                f64::EPSILON,
            )
            .unwrap()
        };
        let mut actual = expected.clone();
        // 15 ulps of 1e-12 are within 4 of 4e-12; 17 are not, though far below an ulp of the peak.
        actual[5] = expected[5] + 15.0 * f64::EPSILON * 1.0e-12;
        assert_eq!(check(&actual), None);
        actual[5] = expected[5] + 17.0 * f64::EPSILON * 1.0e-12;
        let mismatch = check(&actual).unwrap();
        assert_eq!((mismatch.first_cell, mismatch.cells), (5, 1));
        assert_eq!(mismatch.tolerance, 4.0 * f64::EPSILON * 4.0e-12);
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
