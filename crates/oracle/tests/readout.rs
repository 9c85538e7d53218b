//! Readout: rounding ties away from zero, clamping, and non-finite cells.

use ouroboros_oracle::{readout, Readout};

#[test]
fn rounds_to_nearest_with_ties_away_from_zero() {
    let field = [
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        0.49999999999999994,
        1.4999,
        -3.6,
    ];
    assert_eq!(
        readout(&field),
        Readout::Digits(vec![1, -1, 2, -2, 3, -3, 0, 1, -4])
    );
}

#[test]
fn clamps_to_plus_minus_four() {
    let field = [4.4999, 4.5, -4.5, 100.0, -1e300, f64::MAX];
    assert_eq!(readout(&field), Readout::Digits(vec![4, 4, -4, 4, -4, 4]));
}

#[test]
fn negative_zero_and_small_negatives_read_as_zero() {
    assert_eq!(readout(&[-0.0, -0.4, 0.0]), Readout::Digits(vec![0, 0, 0]));
}

#[test]
fn names_the_lowest_non_finite_cell_instead_of_digits() {
    assert_eq!(
        readout(&[0.0, 1.0, f64::INFINITY, f64::NAN]),
        Readout::NonFinite { index: 2 }
    );
    assert_eq!(readout(&[f64::NAN, 1.0]), Readout::NonFinite { index: 0 });
    assert_eq!(
        readout(&[1.0, 2.0, f64::NEG_INFINITY]),
        Readout::NonFinite { index: 2 }
    );
}
