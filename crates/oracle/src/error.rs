use std::fmt;

/// A malformed argument: a bug in the caller, reported instead of a panic.
///
/// Every message names the parameter, the value and the allowed range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OracleError {
    /// `extents` has no axes or more than [`crate::MAX_DIMS`].
    DimensionCount { dims: usize },
    /// `extents[axis]` is below [`crate::MIN_EXTENT`].
    ExtentTooSmall { axis: usize, extent: usize },
    /// The product of the extents does not fit in `usize`.
    CellCountOverflow { extents: Vec<usize> },
    /// A field does not hold one value per lattice cell.
    FieldLength {
        name: String,
        len: usize,
        expected: usize,
    },
    /// An axis index is not below the number of dimensions.
    AxisOutOfRange { axis: usize, dims: usize },
    /// `shiftedStepped` does not hold one field per axis.
    ShiftedSteppedCount { len: usize, dims: usize },
    /// Only one of the two wrap-probe fields was given.
    WrapProbeIncomplete {
        given: &'static str,
        missing: &'static str,
    },
    /// A cell index is not below the lattice's cell count.
    CellOutOfRange { cell: usize, cell_count: usize },
    /// Cones of this radius are too narrow for this many steps.
    ConeTooNarrow { steps: usize, radius: usize },
    /// A cone array does not hold whole cones, or the two differ in length.
    ConeLength {
        name: &'static str,
        len: usize,
        cone: usize,
        dims: usize,
        radius: usize,
    },
    /// A cone batch's array does not hold exactly its groups' cones.
    ConeGroupsLength {
        name: &'static str,
        len: usize,
        expected: usize,
    },
    /// A balanced nonary digit outside -4..=4.
    NonaryDigit {
        array: &'static str,
        index: usize,
        value: i8,
    },
}

impl fmt::Display for OracleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DimensionCount { dims } => write!(
                f,
                "extents has {dims} entries: a lattice has 1..={} dimensions",
                crate::MAX_DIMS
            ),
            Self::ExtentTooSmall { axis, extent } => write!(
                f,
                "extents[{axis}] = {extent}: each extent must be an integer >= {}",
                crate::MIN_EXTENT
            ),
            Self::CellCountOverflow { extents } => write!(
                f,
                "extents {extents:?}: the number of cells overflows; use smaller extents"
            ),
            Self::FieldLength {
                name,
                len,
                expected,
            } => write!(
                f,
                "{name} has {len} values: the extents need exactly {expected}, one per cell"
            ),
            Self::AxisOutOfRange { axis, dims } => write!(
                f,
                "axis = {axis}: must be an integer in 0..{dims} for a {dims}-dimensional lattice"
            ),
            Self::ShiftedSteppedCount { len, dims } => write!(
                f,
                "shiftedStepped has {len} fields: it needs exactly {dims}, one per axis"
            ),
            Self::WrapProbeIncomplete { given, missing } => write!(
                f,
                "{given} was given without {missing}: pass both for the wrap probe, or neither"
            ),
            Self::CellOutOfRange { cell, cell_count } => write!(
                f,
                "cells contains {cell}: every cell index must be an integer in 0..{cell_count}"
            ),
            Self::ConeTooNarrow { steps, radius } => write!(
                f,
                "steps = {steps}: cones of radius {radius} allow at most {radius} steps"
            ),
            Self::ConeLength {
                name,
                len,
                cone,
                dims,
                radius,
            } => write!(
                f,
                "{name} has {len} values: cones of radius {radius} in {dims} dimensions hold {cone} values each, \
                 and older and newer must hold the same whole number of them"
            ),
            Self::ConeGroupsLength {
                name,
                len,
                expected,
            } => write!(
                f,
                "{name} has {len} values: the groups' cones hold {expected} (count x (2 radius + 1)^dims per group)"
            ),
            Self::NonaryDigit {
                array,
                index,
                value,
            } => write!(
                f,
                "{array}[{index}] = {value}: balanced nonary digits must be integers in -4..=4"
            ),
        }
    }
}

impl std::error::Error for OracleError {}
