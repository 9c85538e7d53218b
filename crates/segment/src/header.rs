//! The header page as plain bytes: encoding it for a layout, and checking a
//! copy of one. Everything here works on private byte arrays, never on the
//! shared mapping itself (see `mapping.rs`).

use crate::crc32c::crc32c;
use crate::error::SegmentError;
use crate::layout::{offset, Layout, Precision, FORMAT_VERSION, HEADER_BYTES, MAGIC, MAX_DIMS};

/// A private copy of a header page.
pub type HeaderPage = [u8; HEADER_BYTES as usize];

/// The configuration a caller expects a segment to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub extents: Vec<u64>,
    pub precision: Precision,
}

/// The fields that change while the lattice runs; valid as a whole only
/// after a commit, when `commit_checksum` covers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitRecord {
    pub step_count: u64,
    pub generation: u64,
    pub current_level: u32,
    pub metadata_checksum: u32,
    pub metadata_length: u64,
}

pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

pub(crate) fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

impl CommitRecord {
    /// Reads the record from a header page (checksum not checked).
    pub fn read(page: &[u8]) -> Self {
        Self {
            step_count: u64_at(page, offset::STEP_COUNT),
            generation: u64_at(page, offset::GENERATION),
            current_level: u32_at(page, offset::CURRENT_LEVEL),
            metadata_checksum: u32_at(page, offset::METADATA_CHECKSUM),
            metadata_length: u64_at(page, offset::METADATA_LENGTH),
        }
    }

    /// CRC-32C of the record's bytes, `COMMIT_START..COMMIT_CHECKSUM`.
    pub fn checksum(&self) -> u32 {
        let mut page = [0u8; offset::COMMIT_CHECKSUM];
        self.write(&mut page);
        crc32c(&page[offset::COMMIT_START..offset::COMMIT_CHECKSUM])
    }

    /// Writes the record into a header page, without its checksum.
    pub fn write(&self, page: &mut [u8]) {
        put_u64(page, offset::STEP_COUNT, self.step_count);
        put_u64(page, offset::GENERATION, self.generation);
        put_u32(page, offset::CURRENT_LEVEL, self.current_level);
        put_u32(page, offset::METADATA_CHECKSUM, self.metadata_checksum);
        put_u64(page, offset::METADATA_LENGTH, self.metadata_length);
    }
}

/// The header page of a new segment: the layout, its checksum, and a
/// committed record at step 0 with empty metadata.
pub fn encode(layout: &Layout) -> HeaderPage {
    let mut page = [0u8; HEADER_BYTES as usize];
    page[offset::MAGIC..offset::MAGIC + 8].copy_from_slice(&MAGIC);
    put_u32(&mut page, offset::FORMAT_VERSION, FORMAT_VERSION);
    put_u32(&mut page, offset::HEADER_BYTES, HEADER_BYTES as u32);
    put_u32(&mut page, offset::DIMS, layout.dims() as u32);
    put_u32(&mut page, offset::PRECISION, layout.precision().code());
    for (axis, &extent) in layout.extents().iter().enumerate() {
        put_u64(&mut page, offset::EXTENTS + 8 * axis, extent);
    }
    for (at, value) in layout_fields(layout) {
        put_u64(&mut page, at, value);
    }
    let checksum = crc32c(&page[..offset::HEADER_CHECKSUM]);
    put_u32(&mut page, offset::HEADER_CHECKSUM, checksum);
    let record = CommitRecord {
        metadata_checksum: crc32c(&[]),
        ..CommitRecord::default()
    };
    record.write(&mut page);
    put_u32(&mut page, offset::COMMIT_CHECKSUM, record.checksum());
    page
}

/// The u64 fields a layout determines, with their offsets and names.
fn layout_fields(layout: &Layout) -> [(usize, u64); 8] {
    [
        (offset::CELLS, layout.cells()),
        (offset::LEVEL_BYTES, layout.level_bytes()),
        (offset::METADATA_OFFSET, layout.metadata_offset()),
        (offset::METADATA_CAPACITY, layout.metadata_capacity()),
        (offset::LEVEL0_OFFSET, layout.level0_offset()),
        (offset::LEVEL1_OFFSET, layout.level1_offset()),
        (offset::SCRATCH_OFFSET, layout.scratch_offset()),
        (offset::SEGMENT_BYTES, layout.segment_bytes()),
    ]
}

fn field_name(at: usize) -> &'static str {
    match at {
        offset::CELLS => "cells",
        offset::LEVEL_BYTES => "level_bytes",
        offset::METADATA_OFFSET => "metadata_offset",
        offset::METADATA_CAPACITY => "metadata_capacity",
        offset::LEVEL0_OFFSET => "level0_offset",
        offset::LEVEL1_OFFSET => "level1_offset",
        offset::SCRATCH_OFFSET => "scratch_offset",
        _ => "segment_bytes",
    }
}

fn inconsistent(field: &str, found: impl ToString, expected: impl ToString) -> SegmentError {
    SegmentError::InconsistentLayout {
        field: field.to_owned(),
        found: found.to_string(),
        expected: expected.to_string(),
    }
}

/// Checks the start of a segment or file (`what`) and returns its layout:
/// magic, then length, version, header size, header checksum, and that every
/// stored offset is the one the shape implies. Checks in that order, so a
/// file of another kind is reported as such, not as corrupt.
pub fn decode(bytes: &[u8], what: &'static str) -> Result<Layout, SegmentError> {
    if bytes.len() >= MAGIC.len() && bytes[..MAGIC.len()] != MAGIC {
        let mut found = [0u8; 8];
        found.copy_from_slice(&bytes[..8]);
        return Err(SegmentError::BadMagic { found });
    }
    if (bytes.len() as u64) < HEADER_BYTES {
        return Err(SegmentError::Truncated {
            what,
            found: bytes.len() as u64,
            expected: HEADER_BYTES,
        });
    }
    let version = u32_at(bytes, offset::FORMAT_VERSION);
    if version != FORMAT_VERSION {
        return Err(SegmentError::UnknownVersion { found: version });
    }
    let header_bytes = u32_at(bytes, offset::HEADER_BYTES);
    if u64::from(header_bytes) != HEADER_BYTES {
        return Err(inconsistent("header_bytes", header_bytes, HEADER_BYTES));
    }
    let stored = u32_at(bytes, offset::HEADER_CHECKSUM);
    let computed = crc32c(&bytes[..offset::HEADER_CHECKSUM]);
    if stored != computed {
        return Err(SegmentError::ChecksumMismatch {
            field: "header_checksum",
            found: stored,
            expected: computed,
        });
    }
    let layout = stored_layout(bytes)?;
    for (at, implied) in layout_fields(&layout) {
        let found = u64_at(bytes, at);
        if found != implied {
            return Err(inconsistent(field_name(at), found, implied));
        }
    }
    Ok(layout)
}

/// The layout the shape fields (dims, precision, extents, capacity) describe.
fn stored_layout(bytes: &[u8]) -> Result<Layout, SegmentError> {
    let dims = u32_at(bytes, offset::DIMS) as usize;
    if dims == 0 || dims > MAX_DIMS {
        return Err(inconsistent("dims", dims, format!("1..={MAX_DIMS}")));
    }
    let code = u32_at(bytes, offset::PRECISION);
    let precision = Precision::from_code(code)
        .ok_or_else(|| inconsistent("precision", code, "1 (f64) or 2 (f32)"))?;
    let extent = |axis: usize| u64_at(bytes, offset::EXTENTS + 8 * axis);
    if let Some(axis) = (dims..MAX_DIMS).find(|&axis| extent(axis) != 0) {
        return Err(inconsistent(&format!("extents[{axis}]"), extent(axis), 0));
    }
    let extents: Vec<u64> = (0..dims).map(extent).collect();
    let capacity = u64_at(bytes, offset::METADATA_CAPACITY);
    Layout::new(&extents, precision, capacity).map_err(|error| match error {
        SegmentError::InvalidLayout {
            field,
            found,
            expected,
        } => SegmentError::InconsistentLayout {
            field,
            found,
            expected,
        },
        other => other,
    })
}

/// Checks the commit record of a decoded header page against `layout`.
pub fn verify_commit(page: &[u8], layout: &Layout) -> Result<CommitRecord, SegmentError> {
    let record = CommitRecord::read(page);
    let stored = u32_at(page, offset::COMMIT_CHECKSUM);
    let computed = record.checksum();
    if stored != computed {
        return Err(SegmentError::ChecksumMismatch {
            field: "commit_checksum",
            found: stored,
            expected: computed,
        });
    }
    if record.current_level > 1 {
        return Err(inconsistent(
            "current_level",
            record.current_level,
            "0 or 1",
        ));
    }
    if record.metadata_length > layout.metadata_capacity() {
        return Err(SegmentError::MetadataTooLong {
            found: record.metadata_length,
            expected: layout.metadata_capacity(),
        });
    }
    Ok(record)
}

/// Checks the metadata bytes (`record.metadata_length` of them) against the record.
pub fn verify_metadata(record: &CommitRecord, metadata: &[u8]) -> Result<(), SegmentError> {
    let computed = crc32c(metadata);
    if computed != record.metadata_checksum {
        return Err(SegmentError::ChecksumMismatch {
            field: "metadata_checksum",
            found: record.metadata_checksum,
            expected: computed,
        });
    }
    Ok(())
}

/// Checks that `layout` holds the configuration the caller expects.
pub fn check_expected(layout: &Layout, expected: &Expected) -> Result<(), SegmentError> {
    let mismatch = |field: String, found: String, expected: String| SegmentError::LayoutMismatch {
        field,
        found,
        expected,
    };
    if layout.dims() != expected.extents.len() {
        return Err(mismatch(
            "dims".into(),
            layout.dims().to_string(),
            expected.extents.len().to_string(),
        ));
    }
    let differing = layout
        .extents()
        .iter()
        .zip(&expected.extents)
        .position(|(found, wanted)| found != wanted);
    if let Some(axis) = differing {
        return Err(mismatch(
            format!("extents[{axis}]"),
            layout.extents()[axis].to_string(),
            expected.extents[axis].to_string(),
        ));
    }
    if layout.precision() != expected.precision {
        return Err(mismatch(
            "precision".into(),
            layout.precision().name().into(),
            expected.precision.name().into(),
        ));
    }
    Ok(())
}
