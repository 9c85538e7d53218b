use crate::{Lattice, OracleError};

/// Moves the content of `field` by `by` cells along `axis`, periodically:
/// `result[x] = field[x - by * e_axis]`. `by` may be negative or exceed the
/// extent; the result depends only on `by` modulo the extent.
pub fn shift<T: Copy>(
    lattice: &Lattice,
    field: &[T],
    axis: usize,
    by: i64,
) -> Result<Vec<T>, OracleError> {
    lattice.check_field("field", field)?;
    lattice.check_axis(axis)?;
    let extent = lattice.extents()[axis];
    let stride = lattice.strides()[axis];
    // An extent never exceeds the cell count, a usize, so it fits in i128,
    // and the Euclidean remainder lies in 0..extent.
    let offset = (i128::from(by).rem_euclid(extent as i128)) as usize;
    let shifted = (0..field.len())
        .map(|x| {
            let coord = (x / stride) % extent;
            let source_coord = (coord + extent - offset) % extent;
            field[x - coord * stride + source_coord * stride]
        })
        .collect();
    Ok(shifted)
}
