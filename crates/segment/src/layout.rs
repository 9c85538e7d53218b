//! Where everything sits in a segment: the header field offsets (mirrored by
//! `cpp/include/ouroboros/segment_layout.h`; a test keeps the two equal) and
//! the [`Layout`] that places the metadata block and the levels.
//!
//! ```text
//! 0                 header page (HEADER_BYTES)
//! metadata_offset   metadata block, metadata_capacity bytes
//! level0_offset     level 0 \
//! level1_offset     level 1  } level_bytes each, every one on an
//! scratch_offset    scratch /  ALIGNMENT_BYTES boundary
//! segment_bytes     end
//! ```
//!
//! A checkpoint file holds bytes `0..scratch_offset`: everything but scratch.

use crate::error::SegmentError;

/// The first 8 bytes of every segment and checkpoint file.
pub const MAGIC: [u8; 8] = *b"OUROSEG\0";
/// Bumped whenever any offset or meaning below changes.
pub const FORMAT_VERSION: u32 = 2;
/// The header page; the metadata block starts right after it.
pub const HEADER_BYTES: u64 = 4096;
/// Every region starts on a multiple of this (the core's `kAlignmentBytes`).
pub const ALIGNMENT_BYTES: u64 = 4096;
pub const MAX_DIMS: usize = 9;
pub const MIN_EXTENT: u64 = 3;
pub const DEFAULT_METADATA_CAPACITY_BYTES: u64 = 64 * 1024;
pub const MAX_METADATA_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;
/// Keeps every size exact as a JS number and far below `off_t`'s limit.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 48;
pub const PRECISION_F64: u32 = 1;
pub const PRECISION_F32: u32 = 2;

/// Byte offsets of the header fields, all little-endian.
///
/// Bytes `0..HEADER_CHECKSUM` describe the layout; they are written once at
/// creation and covered by `HEADER_CHECKSUM`. Bytes `COMMIT_START..COMMIT_END`
/// are the commit record: the fields that change while the lattice runs
/// (step count, current level, generation, metadata length and checksum),
/// covered by `COMMIT_CHECKSUM`, which is recomputed only at a freeze point
/// (`Segment::commit`). The checkpoint record (version 2) follows it; the
/// rest of the page is zero.
pub mod offset {
    pub const MAGIC: usize = 0;
    pub const FORMAT_VERSION: usize = 8;
    pub const HEADER_BYTES: usize = 12;
    pub const DIMS: usize = 16;
    pub const PRECISION: usize = 20;
    /// `MAX_DIMS` u64 extents; those past `dims` are zero.
    pub const EXTENTS: usize = 24;
    pub const CELLS: usize = 96;
    pub const LEVEL_BYTES: usize = 104;
    pub const METADATA_OFFSET: usize = 112;
    pub const METADATA_CAPACITY: usize = 120;
    pub const LEVEL0_OFFSET: usize = 128;
    pub const LEVEL1_OFFSET: usize = 136;
    pub const SCRATCH_OFFSET: usize = 144;
    pub const SEGMENT_BYTES: usize = 152;
    /// CRC-32C of bytes `0..HEADER_CHECKSUM`.
    pub const HEADER_CHECKSUM: usize = 160;
    /// Its own cache lines, away from the layout the core only reads.
    pub const COMMIT_START: usize = 256;
    pub const STEP_COUNT: usize = 256;
    pub const GENERATION: usize = 264;
    pub const CURRENT_LEVEL: usize = 272;
    /// CRC-32C of the first `METADATA_LENGTH` bytes of the metadata block.
    pub const METADATA_CHECKSUM: usize = 276;
    pub const METADATA_LENGTH: usize = 280;
    /// CRC-32C of bytes `COMMIT_START..COMMIT_CHECKSUM`.
    pub const COMMIT_CHECKSUM: usize = 288;
    pub const COMMIT_END: usize = 292;
    /// The checkpoint record: written only into checkpoint files (a live
    /// segment's levels change every step), when `checkpoint::write` seals
    /// them, and checked by `checkpoint::read`. The levels by role, so a
    /// swapped `CURRENT_LEVEL` shows even with its commit checksum redone.
    pub const CHECKPOINT_START: usize = 320;
    /// CRC-32C of the level `CURRENT_LEVEL` names (u^n).
    pub const LEVEL_CURRENT_CHECKSUM: usize = 320;
    /// CRC-32C of the other level (u^{n-1}).
    pub const LEVEL_PREVIOUS_CHECKSUM: usize = 324;
    /// CRC-32C of bytes `CHECKPOINT_START..CHECKPOINT_CHECKSUM` then
    /// `COMMIT_START..COMMIT_CHECKSUM` (not the commit checksum: a CRC over a
    /// message and its own CRC is a constant).
    pub const CHECKPOINT_CHECKSUM: usize = 328;
    pub const CHECKPOINT_END: usize = 332;
}

/// How each cell is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F64,
    F32,
}

impl Precision {
    pub fn code(self) -> u32 {
        match self {
            Self::F64 => PRECISION_F64,
            Self::F32 => PRECISION_F32,
        }
    }

    pub fn from_code(code: u32) -> Option<Self> {
        match code {
            PRECISION_F64 => Some(Self::F64),
            PRECISION_F32 => Some(Self::F32),
            _ => None,
        }
    }

    pub fn bytes_per_cell(self) -> u64 {
        match self {
            Self::F64 => 8,
            Self::F32 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::F64 => "f64",
            Self::F32 => "f32",
        }
    }
}

/// The shape of a lattice state and where each region of its segment sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    extents: Vec<u64>,
    precision: Precision,
    metadata_capacity: u64,
    cells: u64,
    level_bytes: u64,
    level_stride: u64,
}

/// `value` rounded up to a multiple of [`ALIGNMENT_BYTES`], if that fits.
fn align_up(value: u64) -> Option<u64> {
    Some(value.checked_add(ALIGNMENT_BYTES - 1)? / ALIGNMENT_BYTES * ALIGNMENT_BYTES)
}

fn invalid(field: &str, found: impl ToString, expected: impl Into<String>) -> SegmentError {
    SegmentError::InvalidLayout {
        field: field.to_owned(),
        found: found.to_string(),
        expected: expected.into(),
    }
}

impl Layout {
    /// A layout for `extents` (1..=9 axes, each >= 3, last axis fastest).
    /// `metadata_capacity` must be a positive multiple of [`ALIGNMENT_BYTES`]
    /// up to [`MAX_METADATA_CAPACITY_BYTES`].
    pub fn new(
        extents: &[u64],
        precision: Precision,
        metadata_capacity: u64,
    ) -> Result<Self, SegmentError> {
        if extents.is_empty() || extents.len() > MAX_DIMS {
            return Err(invalid("dims", extents.len(), format!("1..={MAX_DIMS}")));
        }
        let mut cells: u64 = 1;
        for (axis, &extent) in extents.iter().enumerate() {
            if extent < MIN_EXTENT {
                return Err(invalid(
                    &format!("extents[{axis}]"),
                    extent,
                    format!(">= {MIN_EXTENT}"),
                ));
            }
            cells = cells.checked_mul(extent).ok_or_else(|| {
                invalid(
                    "cells",
                    format!("{extents:?}"),
                    "a product that fits in u64",
                )
            })?;
        }
        if metadata_capacity == 0
            || !metadata_capacity.is_multiple_of(ALIGNMENT_BYTES)
            || metadata_capacity > MAX_METADATA_CAPACITY_BYTES
        {
            return Err(invalid(
                "metadata_capacity",
                metadata_capacity,
                format!(
                    "a positive multiple of {ALIGNMENT_BYTES} up to {MAX_METADATA_CAPACITY_BYTES}"
                ),
            ));
        }
        let too_big = || {
            invalid(
                "segment_bytes",
                format!("more than {MAX_SEGMENT_BYTES}"),
                format!("<= {MAX_SEGMENT_BYTES}; use smaller extents"),
            )
        };
        let level_bytes = cells
            .checked_mul(precision.bytes_per_cell())
            .ok_or_else(too_big)?;
        let level_stride = align_up(level_bytes).ok_or_else(too_big)?;
        let layout = Self {
            extents: extents.to_vec(),
            precision,
            metadata_capacity,
            cells,
            level_bytes,
            level_stride,
        };
        let total = level_stride
            .checked_mul(3)
            .and_then(|levels| levels.checked_add(layout.level0_offset()))
            .ok_or_else(too_big)?;
        if total > MAX_SEGMENT_BYTES {
            return Err(too_big());
        }
        Ok(layout)
    }

    pub fn extents(&self) -> &[u64] {
        &self.extents
    }

    pub fn dims(&self) -> usize {
        self.extents.len()
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn cells(&self) -> u64 {
        self.cells
    }

    /// Bytes of one level (and of scratch), without padding.
    pub fn level_bytes(&self) -> u64 {
        self.level_bytes
    }

    pub fn metadata_offset(&self) -> u64 {
        HEADER_BYTES
    }

    pub fn metadata_capacity(&self) -> u64 {
        self.metadata_capacity
    }

    pub fn level0_offset(&self) -> u64 {
        HEADER_BYTES + self.metadata_capacity
    }

    pub fn level1_offset(&self) -> u64 {
        self.level0_offset() + self.level_stride
    }

    /// Offset of level `level` (0 or 1).
    pub fn level_offset(&self, level: usize) -> u64 {
        assert!(level < 2, "level {level}: a segment has levels 0 and 1");
        self.level0_offset() + level as u64 * self.level_stride
    }

    pub fn scratch_offset(&self) -> u64 {
        self.level0_offset() + 2 * self.level_stride
    }

    /// Size of the whole segment, padding included.
    pub fn segment_bytes(&self) -> u64 {
        self.level0_offset() + 3 * self.level_stride
    }

    /// Size of a checkpoint file: the segment without scratch.
    pub fn checkpoint_bytes(&self) -> u64 {
        self.scratch_offset()
    }
}
