//! The lattice state in shared memory, and checkpoint files of it.
//!
//! - [`Layout`]: where the header, the metadata block and the time levels
//!   sit; the header offsets in [`offset`] are mirrored by
//!   `cpp/include/ouroboros/segment_layout.h`.
//! - [`Segment`]: a sealed memfd mapped once, which a successor process that
//!   inherits the descriptor attaches to ([`Segment::attach`]) without a copy.
//! - [`checkpoint`]: the segment written to a file atomically and read back.
//! - [`header`]: encoding and checking a header page as plain bytes.
//!
//! Every refusal is a [`SegmentError`] naming the field, the value found and
//! the value expected. The metadata block is opaque here: the TypeScript
//! side encodes it (protobuf, `proto/handoff.proto`).
//!
//! The crate knows nothing of Node: `ouroboros-segment-napi` converts and
//! forwards to it.

pub mod checkpoint;
mod crc32c;
mod error;
pub mod header;
mod layout;
mod mapping;
mod segment;
mod sys;

pub use crc32c::crc32c;
pub use error::SegmentError;
pub use header::Expected;
pub use layout::{
    offset, Layout, Precision, ALIGNMENT_BYTES, DEFAULT_METADATA_CAPACITY_BYTES, FORMAT_VERSION,
    HEADER_BYTES, MAGIC, MAX_DIMS, MAX_METADATA_CAPACITY_BYTES, MAX_SEGMENT_BYTES, MIN_EXTENT,
    PRECISION_F32, PRECISION_F64,
};
pub use mapping::{map_shared_aligned, Mapping, LEVEL_ALIGNMENT_BYTES};
pub use segment::Segment;
