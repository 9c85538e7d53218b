//! [`Segment`]: the lattice state in a sealed memfd, mapped once.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::crc32c::crc32c;
use crate::error::SegmentError;
use crate::header::{self, CommitRecord, Expected, HeaderPage};
use crate::layout::{offset, Layout, HEADER_BYTES};
use crate::mapping::Mapping;
use crate::sys;

/// Seals a segment carries: its size can never change, so no mapping of it
/// can fault past the end, and no one can add seals (such as F_SEAL_WRITE)
/// that would break the writable mappings.
const SEALS: libc::c_int = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;

/// A lattice state segment: a memfd of [`Layout::segment_bytes`] bytes,
/// sealed against resizing, mapped shared.
///
/// The commit record protocol: the owner stores the step count, current
/// level and generation as it runs (atomics, no checksum), and calls
/// [`Segment::commit`] at each freeze point (before a handoff or a
/// checkpoint). [`Segment::verify`] checks the record against its checksum,
/// so a successor never resumes from a half-written record.
pub struct Segment {
    fd: OwnedFd,
    mapping: Arc<Mapping>,
    layout: Layout,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("fd", &self.fd())
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl Segment {
    /// A new zeroed segment for `layout`, committed at step 0.
    pub fn create(layout: &Layout) -> Result<Self, SegmentError> {
        let fd = sys::memfd_create(c"ouroboros-state")?;
        sys::ftruncate(fd.as_fd(), layout.segment_bytes())?;
        sys::add_seals(fd.as_fd(), SEALS)?;
        let mapping = Mapping::map(fd.as_fd(), layout.segment_bytes(), layout.level0_offset())?;
        mapping.copy_in(0, &header::encode(layout));
        Ok(Self {
            fd,
            mapping: Arc::new(mapping),
            layout: layout.clone(),
        })
    }

    /// Attaches to the segment behind `fd` (which the caller keeps: the
    /// segment owns a duplicate) after checking the seals, the size, the
    /// header, the commit record, the metadata and, when given, `expected`.
    pub fn attach(fd: BorrowedFd<'_>, expected: Option<&Expected>) -> Result<Self, SegmentError> {
        let fd = sys::duplicate(fd)?;
        let seals = sys::seals(fd.as_fd());
        if seals.is_none_or(|seals| seals & libc::F_SEAL_SHRINK == 0) {
            return Err(SegmentError::NotSealed {
                found: match seals {
                    None => "none (not a memfd)".into(),
                    Some(seals) => format!("{seals:#x}"),
                },
            });
        }
        let size = sys::file_size(fd.as_fd())?;
        let layout = read_layout(fd.as_fd(), size, "segment")?;
        if size < layout.segment_bytes() {
            return Err(SegmentError::Truncated {
                what: "segment",
                found: size,
                expected: layout.segment_bytes(),
            });
        }
        if let Some(expected) = expected {
            header::check_expected(&layout, expected)?;
        }
        let mapping = Mapping::map(fd.as_fd(), layout.segment_bytes(), layout.level0_offset())?;
        let segment = Self {
            fd,
            mapping: Arc::new(mapping),
            layout,
        };
        segment.verify(None)?;
        Ok(segment)
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The segment's own descriptor (close-on-exec unless cleared).
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The mapping, for views that must keep it alive after the segment closes.
    pub fn mapping(&self) -> Arc<Mapping> {
        Arc::clone(&self.mapping)
    }

    /// Start of level `level` (0 or 1) in this process's mapping.
    pub fn level_ptr(&self, level: usize) -> *mut u8 {
        // The offset lies inside the mapping by construction of the layout.
        self.mapping
            .as_ptr()
            .wrapping_add(self.layout.level_offset(level) as usize)
    }

    /// A copy of level `level`'s bytes.
    pub fn read_level(&self, level: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; self.layout.level_bytes() as usize];
        self.mapping
            .copy_out(self.layout.level_offset(level) as usize, &mut bytes);
        bytes
    }

    /// Copies `bytes` (exactly one level's worth) into level `level`.
    pub fn write_level(&self, level: usize, bytes: &[u8]) {
        assert_eq!(
            bytes.len() as u64,
            self.layout.level_bytes(),
            "one level's bytes"
        );
        self.mapping
            .copy_in(self.layout.level_offset(level) as usize, bytes);
    }

    pub fn step_count(&self) -> u64 {
        self.mapping
            .atomic_u64(offset::STEP_COUNT)
            .load(Ordering::Acquire)
    }

    pub fn set_step_count(&self, steps: u64) {
        self.mapping
            .atomic_u64(offset::STEP_COUNT)
            .store(steps, Ordering::Release);
    }

    pub fn generation(&self) -> u64 {
        self.mapping
            .atomic_u64(offset::GENERATION)
            .load(Ordering::Acquire)
    }

    /// Adds one to the generation (done at each handoff); returns the new value.
    pub fn bump_generation(&self) -> u64 {
        self.mapping
            .atomic_u64(offset::GENERATION)
            .fetch_add(1, Ordering::AcqRel)
            + 1
    }

    pub fn current_level(&self) -> u32 {
        self.mapping
            .atomic_u32(offset::CURRENT_LEVEL)
            .load(Ordering::Acquire)
    }

    pub fn set_current_level(&self, level: u32) {
        assert!(level <= 1, "current level {level}: must be 0 or 1");
        self.mapping
            .atomic_u32(offset::CURRENT_LEVEL)
            .store(level, Ordering::Release);
    }

    /// Replaces the metadata block with `bytes`; commit to make it count.
    pub fn write_metadata(&self, bytes: &[u8]) -> Result<(), SegmentError> {
        if bytes.len() as u64 > self.layout.metadata_capacity() {
            return Err(SegmentError::MetadataTooLong {
                found: bytes.len() as u64,
                expected: self.layout.metadata_capacity(),
            });
        }
        self.mapping
            .copy_in(self.layout.metadata_offset() as usize, bytes);
        self.mapping
            .atomic_u64(offset::METADATA_LENGTH)
            .store(bytes.len() as u64, Ordering::Release);
        self.mapping
            .atomic_u32(offset::METADATA_CHECKSUM)
            .store(crc32c(bytes), Ordering::Release);
        Ok(())
    }

    /// A copy of the metadata block (its stored length, checksum unchecked).
    pub fn read_metadata(&self) -> Result<Vec<u8>, SegmentError> {
        let length = self
            .mapping
            .atomic_u64(offset::METADATA_LENGTH)
            .load(Ordering::Acquire);
        if length > self.layout.metadata_capacity() {
            return Err(SegmentError::MetadataTooLong {
                found: length,
                expected: self.layout.metadata_capacity(),
            });
        }
        let mut bytes = vec![0u8; length as usize];
        self.mapping
            .copy_out(self.layout.metadata_offset() as usize, &mut bytes);
        Ok(bytes)
    }

    fn commit_record(&self) -> CommitRecord {
        let u64_field = |at| self.mapping.atomic_u64(at).load(Ordering::Acquire);
        let u32_field = |at| self.mapping.atomic_u32(at).load(Ordering::Acquire);
        CommitRecord {
            step_count: u64_field(offset::STEP_COUNT),
            generation: u64_field(offset::GENERATION),
            current_level: u32_field(offset::CURRENT_LEVEL),
            metadata_checksum: u32_field(offset::METADATA_CHECKSUM),
            metadata_length: u64_field(offset::METADATA_LENGTH),
        }
    }

    /// Seals the current step count, level, generation and metadata with
    /// the commit checksum: the freeze point a successor resumes from.
    pub fn commit(&self) {
        let checksum = self.commit_record().checksum();
        self.mapping
            .atomic_u32(offset::COMMIT_CHECKSUM)
            .store(checksum, Ordering::Release);
    }

    /// CRC-32C of the levels by role: u^n (the level the commit record's
    /// current_level names), then u^{n-1}.
    fn level_checksums(&self) -> (u32, u32) {
        let current = self.current_level() as usize & 1;
        (
            crc32c(&self.read_level(current)),
            crc32c(&self.read_level(1 - current)),
        )
    }

    /// The checkpoint checksum: over the level checksums as stored, then the
    /// commit record's fields. Not over the commit checksum: a CRC taken over
    /// a message followed by its own CRC is the same constant for every
    /// message, so the record would drop out of it.
    fn checkpoint_checksum(&self) -> u32 {
        const LEVELS: usize = offset::CHECKPOINT_CHECKSUM - offset::CHECKPOINT_START;
        const RECORD: usize = offset::COMMIT_CHECKSUM - offset::COMMIT_START;
        let load = |at| self.mapping.atomic_u32(at).load(Ordering::Acquire);
        let mut page = [0u8; HEADER_BYTES as usize];
        self.commit_record().write(&mut page);
        let mut covered = [0u8; LEVELS + RECORD];
        covered[..4].copy_from_slice(&load(offset::LEVEL_CURRENT_CHECKSUM).to_le_bytes());
        covered[4..LEVELS].copy_from_slice(&load(offset::LEVEL_PREVIOUS_CHECKSUM).to_le_bytes());
        covered[LEVELS..].copy_from_slice(&page[offset::COMMIT_START..offset::COMMIT_CHECKSUM]);
        crc32c(&covered)
    }

    /// Commits, then writes the checkpoint record: the levels' checksums and
    /// the checkpoint checksum. Only for a segment about to be saved whole.
    pub(crate) fn seal_checkpoint(&self) {
        self.commit();
        let (current, previous) = self.level_checksums();
        let store = |at, value: u32| self.mapping.atomic_u32(at).store(value, Ordering::Release);
        store(offset::LEVEL_CURRENT_CHECKSUM, current);
        store(offset::LEVEL_PREVIOUS_CHECKSUM, previous);
        store(offset::CHECKPOINT_CHECKSUM, self.checkpoint_checksum());
    }

    /// Checks the checkpoint record a file brought: its own checksum, then each level against its checksum.
    pub(crate) fn verify_checkpoint(&self) -> Result<(), SegmentError> {
        let load = |at| self.mapping.atomic_u32(at).load(Ordering::Acquire);
        let stored = load(offset::CHECKPOINT_CHECKSUM);
        let computed = self.checkpoint_checksum();
        if stored != computed {
            return Err(SegmentError::ChecksumMismatch {
                field: "checkpoint_checksum",
                found: stored,
                expected: computed,
            });
        }
        let (current, previous) = self.level_checksums();
        for (field, at, computed) in [
            (
                "level_current_checksum",
                offset::LEVEL_CURRENT_CHECKSUM,
                current,
            ),
            (
                "level_previous_checksum",
                offset::LEVEL_PREVIOUS_CHECKSUM,
                previous,
            ),
        ] {
            if load(at) != computed {
                return Err(SegmentError::ChecksumMismatch {
                    field,
                    found: load(at),
                    expected: computed,
                });
            }
        }
        Ok(())
    }

    /// A private copy of the header page, the commit record read as atomics.
    fn header_snapshot(&self) -> HeaderPage {
        let mut page = [0u8; HEADER_BYTES as usize];
        self.mapping.copy_out(0, &mut page[..offset::COMMIT_START]);
        self.commit_record().write(&mut page);
        let checksum = self
            .mapping
            .atomic_u32(offset::COMMIT_CHECKSUM)
            .load(Ordering::Acquire);
        header::put_u32(&mut page, offset::COMMIT_CHECKSUM, checksum);
        page
    }

    /// Checks the header, the commit record and the metadata checksum, and
    /// when given that the layout is `expected`.
    pub fn verify(&self, expected: Option<&Expected>) -> Result<(), SegmentError> {
        let page = self.header_snapshot();
        let layout = header::decode(&page, "segment")?;
        if layout != self.layout {
            return Err(SegmentError::InconsistentLayout {
                field: "layout".into(),
                found: format!("{layout:?}"),
                expected: format!("{:?}", self.layout),
            });
        }
        if let Some(expected) = expected {
            header::check_expected(&layout, expected)?;
        }
        let record = header::verify_commit(&page, &layout)?;
        let mut metadata = vec![0u8; record.metadata_length as usize];
        self.mapping
            .copy_out(layout.metadata_offset() as usize, &mut metadata);
        header::verify_metadata(&record, &metadata)
    }

    /// Whether the descriptor stays open across `execve` (it does not by
    /// default; clear this right before exec to hand the segment over).
    pub fn set_close_on_exec(&self, close: bool) -> Result<(), SegmentError> {
        sys::set_close_on_exec(self.fd.as_fd(), close)
    }
}

/// Reads and decodes the header page at the start of `fd` (`size` bytes long).
pub(crate) fn read_layout(
    fd: BorrowedFd<'_>,
    size: u64,
    what: &'static str,
) -> Result<Layout, SegmentError> {
    let mut page = [0u8; HEADER_BYTES as usize];
    let available = size.min(HEADER_BYTES) as usize;
    // SAFETY: `page` is valid for `available` <= its length bytes.
    unsafe {
        sys::read_exact_at(fd, page.as_mut_ptr(), available, 0, || {
            format!("reading the {what} header")
        })?
    };
    header::decode(&page[..available], what)
}
