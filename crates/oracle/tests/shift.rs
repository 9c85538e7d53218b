//! Periodic shifts, and their equivariance with leapfrog in every dimension.

mod support;

use ouroboros_oracle::{shift, step, Lattice, OracleError};
use support::{mixed_extents, SplitMix64};

#[test]
fn moves_content_forward_along_a_ring() {
    let lattice = Lattice::new(&[5]).unwrap();
    let field = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(
        shift(&lattice, &field, 0, 1).unwrap(),
        [5.0, 1.0, 2.0, 3.0, 4.0]
    );
    assert_eq!(
        shift(&lattice, &field, 0, -1).unwrap(),
        [2.0, 3.0, 4.0, 5.0, 1.0]
    );
    assert_eq!(
        shift(&lattice, &field, 0, 7).unwrap(),
        [4.0, 5.0, 1.0, 2.0, 3.0]
    );
    assert_eq!(shift(&lattice, &field, 0, -10).unwrap(), field);
}

#[test]
fn moves_whole_rows_along_the_slow_axis() {
    // 3 rows of 4, row-major: axis 0 picks the row, axis 1 the column.
    let lattice = Lattice::new(&[3, 4]).unwrap();
    let field: Vec<f64> = (0..12).map(f64::from).collect();
    let down = shift(&lattice, &field, 0, 1).unwrap();
    assert_eq!(
        down,
        [8.0, 9.0, 10.0, 11.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    );
    let right = shift(&lattice, &field, 1, 1).unwrap();
    assert_eq!(
        right,
        [3.0, 0.0, 1.0, 2.0, 7.0, 4.0, 5.0, 6.0, 11.0, 8.0, 9.0, 10.0]
    );
}

#[test]
fn commutes_with_leapfrog_bit_for_bit_in_every_dimension() {
    let mut rng = SplitMix64::new(6);
    for dims in 1..=9 {
        let lattice = Lattice::new(&mixed_extents(dims)).unwrap();
        let courant2 = 0.9 / dims as f64;
        let previous = rng.field(lattice.cell_count(), 1.0);
        let current = rng.field(lattice.cell_count(), 1.0);
        let stepped = step(&lattice, &previous, &current, courant2, 2).unwrap();
        for axis in 0..dims {
            for by in [1, -1, 2] {
                let shifted_previous = shift(&lattice, &previous, axis, by).unwrap();
                let shifted_current = shift(&lattice, &current, axis, by).unwrap();
                let step_of_shift =
                    step(&lattice, &shifted_previous, &shifted_current, courant2, 2).unwrap();
                let shift_of_step = shift(&lattice, &stepped.current, axis, by).unwrap();
                let equal = step_of_shift
                    .current
                    .iter()
                    .zip(&shift_of_step)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(equal, "dims {dims}, axis {axis}, by {by}");
            }
        }
    }
}

#[test]
fn keeps_bit_patterns_including_nan_payloads() {
    let lattice = Lattice::new(&[3]).unwrap();
    let quiet_nan = f64::from_bits(0x7ff8_0000_0000_0001);
    let field = [quiet_nan, -0.0, 1.0];
    let shifted = shift(&lattice, &field, 0, 1).unwrap();
    let bits: Vec<u64> = shifted.iter().map(|v| v.to_bits()).collect();
    assert_eq!(
        bits,
        [1.0f64.to_bits(), quiet_nan.to_bits(), (-0.0f64).to_bits()]
    );
}

#[test]
fn rejects_a_missing_axis_and_a_wrong_length() {
    let lattice = Lattice::new(&[3, 3]).unwrap();
    assert_eq!(
        shift(&lattice, &[0.0; 9], 2, 1).unwrap_err(),
        OracleError::AxisOutOfRange { axis: 2, dims: 2 }
    );
    assert!(matches!(
        shift(&lattice, &[0.0; 8], 0, 1).unwrap_err(),
        OracleError::FieldLength {
            len: 8,
            expected: 9,
            ..
        }
    ));
}
