//! JS numbers to indices, and oracle errors to JS errors.

use napi::{Error, Result, Status};
use ouroboros_oracle::{Lattice, OracleError};

/// The largest integer a JS number holds exactly, 2^53 - 1.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A malformed argument is a bug in the caller: an `InvalidArg` error.
pub fn invalid_arg(error: OracleError) -> Error {
    Error::new(Status::InvalidArg, error.to_string())
}

/// The JS number called `name` as a count or index.
pub fn whole_number(name: &str, value: f64) -> Result<usize> {
    if value.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&value) {
        Ok(value as usize)
    } else {
        Err(Error::new(
            Status::InvalidArg,
            format!("{name} = {value}: must be an integer in 0..={MAX_SAFE_INTEGER}"),
        ))
    }
}

/// The JS number called `name` as a signed integer.
pub fn signed_whole_number(name: &str, value: f64) -> Result<i64> {
    if value.fract() == 0.0 && value.abs() <= MAX_SAFE_INTEGER {
        Ok(value as i64)
    } else {
        Err(Error::new(
            Status::InvalidArg,
            format!(
                "{name} = {value}: must be an integer in -{MAX_SAFE_INTEGER}..={MAX_SAFE_INTEGER}"
            ),
        ))
    }
}

/// JS `extents` as cell counts; the oracle checks their range.
pub fn extents(values: &[f64]) -> Result<Vec<usize>> {
    values
        .iter()
        .enumerate()
        .map(|(axis, &extent)| whole_number(&format!("extents[{axis}]"), extent))
        .collect()
}

/// The lattice described by JS `extents`.
pub fn lattice(values: &[f64]) -> Result<Lattice> {
    Lattice::new(&extents(values)?).map_err(invalid_arg)
}

/// JS cell indices (a Float64Array, so that any lattice size fits); the oracle checks their range.
pub fn cell_indices(values: &[f64]) -> Result<Vec<usize>> {
    values
        .iter()
        .enumerate()
        .map(|(i, &cell)| whole_number(&format!("cells[{i}]"), cell))
        .collect()
}
