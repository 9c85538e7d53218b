//! Node binding of `ouroboros-segment`, the `SegmentAddon` of
//! `native/addon-types.ts`. Each export converts its arguments, forwards to
//! the pure crate and converts the result. A refused segment or file comes
//! back as a `SegmentFault` object, not an exception; malformed arguments
//! are `InvalidArg` errors and a panic becomes a JS error (`catch_unwind`).

mod convert;

use std::ffi::c_void;
use std::path::Path;
use std::sync::Arc;

use napi::bindgen_prelude::{ArrayBuffer, Either, Uint8Array, Unknown};
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use ouroboros_segment::{checkpoint, Layout, Mapping, Segment, SegmentError};

use convert::{expected, layout, whole_number, ExpectedInput, LayoutInput, SegmentFault};

/// Where everything sits in a segment, in bytes.
#[napi(object, object_from_js = false)]
pub struct SegmentLayoutInfo {
    pub extents: Vec<f64>,
    #[napi(ts_type = "'f64' | 'f32'")]
    pub precision: String,
    pub cells: f64,
    pub level_bytes: f64,
    pub metadata_offset: f64,
    pub metadata_capacity_bytes: f64,
    pub level0_offset: f64,
    pub level1_offset: f64,
    pub scratch_offset: f64,
    pub segment_bytes: f64,
    pub checkpoint_bytes: f64,
}

/// The crate's limits, so TypeScript validates against the same numbers.
#[napi(object, object_from_js = false)]
pub struct SegmentLimits {
    pub format_version: u32,
    pub header_bytes: f64,
    pub alignment_bytes: f64,
    pub default_metadata_capacity_bytes: f64,
    pub max_metadata_capacity_bytes: f64,
    pub max_segment_bytes: f64,
    pub max_dims: u32,
    pub min_extent: f64,
}

/// One mapped segment. `close()` closes its descriptor; the mapping lives
/// on until its buffer (`mapping_buffer`) is garbage-collected.
#[napi]
pub struct SegmentHandle {
    segment: Option<Segment>,
}

type Outcome = Either<SegmentHandle, SegmentFault>;

/// Finaliser of `mapping_external`: drops the external's hold on the mapping.
unsafe extern "C" fn release_mapping(
    _env: napi::sys::napi_env,
    _data: *mut c_void,
    hint: *mut c_void,
) {
    // SAFETY: `hint` is the `Arc::into_raw` of `mapping_external`, released only here.
    drop(unsafe { Arc::from_raw(hint.cast::<Mapping>()) });
}

fn outcome(result: std::result::Result<Segment, SegmentError>) -> Outcome {
    match result {
        Ok(segment) => Either::A(SegmentHandle {
            segment: Some(segment),
        }),
        Err(error) => Either::B(error.into()),
    }
}

fn fault(result: std::result::Result<(), SegmentError>) -> Option<SegmentFault> {
    result.err().map(SegmentFault::from)
}

fn layout_info(layout: &Layout) -> SegmentLayoutInfo {
    SegmentLayoutInfo {
        extents: layout
            .extents()
            .iter()
            .map(|&extent| extent as f64)
            .collect(),
        precision: layout.precision().name().to_owned(),
        cells: layout.cells() as f64,
        level_bytes: layout.level_bytes() as f64,
        metadata_offset: layout.metadata_offset() as f64,
        metadata_capacity_bytes: layout.metadata_capacity() as f64,
        level0_offset: layout.level0_offset() as f64,
        level1_offset: layout.level1_offset() as f64,
        scratch_offset: layout.scratch_offset() as f64,
        segment_bytes: layout.segment_bytes() as f64,
        checkpoint_bytes: layout.checkpoint_bytes() as f64,
    }
}

#[napi]
impl SegmentHandle {
    fn segment(&self) -> Result<&Segment> {
        self.segment
            .as_ref()
            .ok_or_else(|| Error::new(Status::GenericFailure, "the segment is closed"))
    }

    /// The segment's descriptor in this process.
    #[napi(catch_unwind)]
    pub fn fd(&self) -> Result<i32> {
        Ok(self.segment()?.fd())
    }

    #[napi(catch_unwind)]
    pub fn layout(&self) -> Result<SegmentLayoutInfo> {
        Ok(layout_info(self.segment()?.layout()))
    }

    /// The whole segment as one external ArrayBuffer over this process's
    /// only mapping of it, no copy, for the level views. The buffer holds
    /// the mapping alive. Call once: the TypeScript wrapper caches it.
    #[napi(catch_unwind)]
    pub fn mapping_buffer<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let mapping = self.segment()?.mapping();
        // SAFETY: the buffer covers exactly the mapping, and the finaliser
        // owns an `Arc` of it, so the memory outlives the buffer.
        unsafe {
            ArrayBuffer::from_external(
                env,
                mapping.as_ptr(),
                mapping.len(),
                mapping,
                |_, mapping| drop(mapping),
            )
        }
    }

    /// The mapping as an opaque external value whose data pointer is the
    /// segment's first byte: how the C++ core steps the levels in this same
    /// mapping. Unlike an ArrayBuffer, V8 does not count it as memory, so
    /// handing a large segment to the core starts no garbage collection. It
    /// holds the mapping alive.
    #[napi(catch_unwind, ts_return_type = "{ readonly __segmentMapping: never }")]
    pub fn mapping_external<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let mapping = self.segment()?.mapping();
        let base = mapping.as_ptr().cast::<c_void>();
        let hint = Arc::into_raw(mapping).cast_mut().cast::<c_void>();
        let mut value = std::ptr::null_mut();
        // SAFETY: a valid env; `release_mapping` takes back the Arc leaked
        // into `hint`, once, when the external is collected.
        let status = unsafe {
            napi::sys::napi_create_external(
                env.raw(),
                base,
                Some(release_mapping),
                hint,
                &mut value,
            )
        };
        if status != napi::sys::Status::napi_ok {
            // SAFETY: no finaliser was registered, so the Arc is still ours.
            drop(unsafe { Arc::from_raw(hint.cast::<Mapping>()) });
            return Err(Error::new(
                Status::GenericFailure,
                format!("napi_create_external of the segment mapping failed with status {status}"),
            ));
        }
        // SAFETY: `value` was just created in this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), value) })
    }

    #[napi(catch_unwind)]
    pub fn step_count(&self) -> Result<f64> {
        Ok(self.segment()?.step_count() as f64)
    }

    #[napi(catch_unwind)]
    pub fn set_step_count(&self, steps: f64) -> Result<()> {
        self.segment()?
            .set_step_count(whole_number("steps", steps)?);
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn generation(&self) -> Result<f64> {
        Ok(self.segment()?.generation() as f64)
    }

    /// Adds one to the generation; returns the new value.
    #[napi(catch_unwind)]
    pub fn bump_generation(&self) -> Result<f64> {
        Ok(self.segment()?.bump_generation() as f64)
    }

    #[napi(catch_unwind)]
    pub fn current_level(&self) -> Result<u32> {
        Ok(self.segment()?.current_level())
    }

    #[napi(catch_unwind)]
    pub fn set_current_level(&self, level: u32) -> Result<()> {
        self.segment()?.set_current_level(level);
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn write_metadata(&self, bytes: Uint8Array) -> Result<Option<SegmentFault>> {
        Ok(fault(self.segment()?.write_metadata(&bytes)))
    }

    #[napi(catch_unwind)]
    pub fn read_metadata(&self) -> Result<Either<Uint8Array, SegmentFault>> {
        Ok(match self.segment()?.read_metadata() {
            Ok(bytes) => Either::A(bytes.into()),
            Err(error) => Either::B(error.into()),
        })
    }

    /// Seals step count, level, generation and metadata with the commit checksum.
    #[napi(catch_unwind)]
    pub fn commit(&self) -> Result<()> {
        self.segment()?.commit();
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn verify(&self, expected_layout: Option<ExpectedInput>) -> Result<Option<SegmentFault>> {
        let expected_layout = expected(expected_layout.as_ref())?;
        Ok(fault(self.segment()?.verify(expected_layout.as_ref())))
    }

    /// Commits, then writes the checkpoint file atomically.
    #[napi(catch_unwind)]
    pub fn write_checkpoint(&self, path: String) -> Result<Option<SegmentFault>> {
        Ok(fault(checkpoint::write(self.segment()?, Path::new(&path))))
    }

    #[napi(catch_unwind)]
    pub fn set_close_on_exec(&self, close: bool) -> Result<Option<SegmentFault>> {
        Ok(fault(self.segment()?.set_close_on_exec(close)))
    }

    /// Closes the descriptor and drops this handle's hold on the mapping.
    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        self.segment = None;
    }
}

/// A new zeroed segment committed at step 0.
#[napi(catch_unwind, ts_return_type = "SegmentHandle | SegmentFault")]
pub fn create(layout_input: LayoutInput) -> Result<Outcome> {
    Ok(outcome(Segment::create(&layout(&layout_input)?)))
}

/// Attaches to the segment behind `fd` (duplicated; the caller keeps its own).
#[napi(catch_unwind, ts_return_type = "SegmentHandle | SegmentFault")]
pub fn attach(fd: i32, expected_layout: Option<ExpectedInput>) -> Result<Outcome> {
    let expected_layout = expected(expected_layout.as_ref())?;
    // SAFETY: TypeScript passes a descriptor number; an invalid one makes
    // the duplication fail with EBADF, reported as a fault.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    Ok(outcome(Segment::attach(fd, expected_layout.as_ref())))
}

/// Reads a checkpoint file into a new segment.
#[napi(catch_unwind, ts_return_type = "SegmentHandle | SegmentFault")]
pub fn read_checkpoint(path: String, expected_layout: Option<ExpectedInput>) -> Result<Outcome> {
    let expected_layout = expected(expected_layout.as_ref())?;
    Ok(outcome(checkpoint::read(
        Path::new(&path),
        expected_layout.as_ref(),
    )))
}

#[napi(catch_unwind)]
pub fn limits() -> SegmentLimits {
    SegmentLimits {
        format_version: ouroboros_segment::FORMAT_VERSION,
        header_bytes: ouroboros_segment::HEADER_BYTES as f64,
        alignment_bytes: ouroboros_segment::ALIGNMENT_BYTES as f64,
        default_metadata_capacity_bytes: ouroboros_segment::DEFAULT_METADATA_CAPACITY_BYTES as f64,
        max_metadata_capacity_bytes: ouroboros_segment::MAX_METADATA_CAPACITY_BYTES as f64,
        max_segment_bytes: ouroboros_segment::MAX_SEGMENT_BYTES as f64,
        max_dims: ouroboros_segment::MAX_DIMS as u32,
        min_extent: ouroboros_segment::MIN_EXTENT as f64,
    }
}
