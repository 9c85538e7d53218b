use crate::OracleError;

/// The most axes a lattice may have.
pub const MAX_DIMS: usize = 9;

/// The smallest extent of an axis: with 3 cells the two neighbours of every
/// cell along an axis are distinct cells.
pub const MIN_EXTENT: usize = 3;

/// The shape of an N-dimensional torus: extents, strides and cell count.
///
/// Cells are stored row-major with the last axis fastest (its stride is 1),
/// and every axis wraps periodically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lattice {
    extents: Vec<usize>,
    strides: Vec<usize>,
    cell_count: usize,
}

/// One row of the lattice: the cells whose coordinates differ only along the
/// last axis, with the starts of its neighbouring rows along the other axes.
pub(crate) struct Row<'a> {
    /// Index of the row's first cell.
    pub start: usize,
    /// `plus[a]` starts the row one cell further along axis `a` (wrapping),
    /// for every axis but the last.
    pub plus: &'a [usize],
    /// `minus[a]` starts the row one cell back along axis `a` (wrapping).
    pub minus: &'a [usize],
}

impl Lattice {
    /// Checks the extents (1..=9 axes, each >= 3) and derives the strides.
    pub fn new(extents: &[usize]) -> Result<Self, OracleError> {
        if extents.is_empty() || extents.len() > MAX_DIMS {
            return Err(OracleError::DimensionCount {
                dims: extents.len(),
            });
        }
        if let Some((axis, &extent)) = extents.iter().enumerate().find(|(_, &n)| n < MIN_EXTENT) {
            return Err(OracleError::ExtentTooSmall { axis, extent });
        }
        let cell_count = extents
            .iter()
            .try_fold(1usize, |count, &n| count.checked_mul(n))
            .ok_or_else(|| OracleError::CellCountOverflow {
                extents: extents.to_vec(),
            })?;
        let mut strides = vec![1; extents.len()];
        for axis in (0..extents.len() - 1).rev() {
            strides[axis] = strides[axis + 1] * extents[axis + 1];
        }
        Ok(Self {
            extents: extents.to_vec(),
            strides,
            cell_count,
        })
    }

    /// Number of axes, 1..=9.
    pub fn dims(&self) -> usize {
        self.extents.len()
    }

    /// Cells along each axis.
    pub fn extents(&self) -> &[usize] {
        &self.extents
    }

    /// Distance in the storage between neighbours along each axis.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Number of cells, the length every field must have.
    pub fn cell_count(&self) -> usize {
        self.cell_count
    }

    /// Checks that the field called `name` has one value per cell.
    pub fn check_field<T>(&self, name: &str, field: &[T]) -> Result<(), OracleError> {
        if field.len() == self.cell_count {
            Ok(())
        } else {
            Err(OracleError::FieldLength {
                name: name.to_owned(),
                len: field.len(),
                expected: self.cell_count,
            })
        }
    }

    /// Checks that `axis` names an axis of this lattice.
    pub fn check_axis(&self, axis: usize) -> Result<(), OracleError> {
        if axis < self.dims() {
            Ok(())
        } else {
            Err(OracleError::AxisOutOfRange {
                axis,
                dims: self.dims(),
            })
        }
    }

    /// Cells in one row: the extent of the last axis.
    pub(crate) fn row_len(&self) -> usize {
        self.extents[self.dims() - 1]
    }

    /// Visits every row in storage order.
    ///
    /// Handling the wrap once per row keeps the per-cell work to additions:
    /// only the last axis wraps inside a row (see [`wrap_next`], [`wrap_prev`]).
    pub(crate) fn for_each_row(&self, mut visit: impl FnMut(&Row<'_>)) {
        let outer_axes = self.dims() - 1;
        let mut coords = [0usize; MAX_DIMS];
        let mut plus = [0usize; MAX_DIMS];
        let mut minus = [0usize; MAX_DIMS];
        for start in (0..self.cell_count).step_by(self.row_len()) {
            for axis in 0..outer_axes {
                let (extent, stride) = (self.extents[axis], self.strides[axis]);
                let wrap_span = (extent - 1) * stride;
                plus[axis] = if coords[axis] + 1 == extent {
                    start - wrap_span
                } else {
                    start + stride
                };
                minus[axis] = if coords[axis] == 0 {
                    start + wrap_span
                } else {
                    start - stride
                };
            }
            visit(&Row {
                start,
                plus: &plus[..outer_axes],
                minus: &minus[..outer_axes],
            });
            for axis in (0..outer_axes).rev() {
                coords[axis] += 1;
                if coords[axis] < self.extents[axis] {
                    break;
                }
                coords[axis] = 0;
            }
        }
    }
}
