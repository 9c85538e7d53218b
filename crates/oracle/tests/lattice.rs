//! Lattice shapes: strides and the errors for malformed extents.

use ouroboros_oracle::{Lattice, OracleError};

#[test]
fn last_axis_is_fastest() {
    let lattice = Lattice::new(&[3, 4, 5]).unwrap();
    assert_eq!(lattice.strides(), [20, 5, 1]);
    assert_eq!(lattice.cell_count(), 60);
    assert_eq!(lattice.dims(), 3);
}

#[test]
fn rejects_malformed_extents_with_a_message_naming_them() {
    let too_small = Lattice::new(&[3, 2]).unwrap_err();
    assert_eq!(
        too_small,
        OracleError::ExtentTooSmall { axis: 1, extent: 2 }
    );
    assert_eq!(
        too_small.to_string(),
        "extents[1] = 2: each extent must be an integer >= 3"
    );
    assert_eq!(
        Lattice::new(&[]).unwrap_err(),
        OracleError::DimensionCount { dims: 0 }
    );
    assert_eq!(
        Lattice::new(&[3; 10]).unwrap_err(),
        OracleError::DimensionCount { dims: 10 }
    );
    assert!(matches!(
        Lattice::new(&[usize::MAX, 3]).unwrap_err(),
        OracleError::CellCountOverflow { .. }
    ));
}
