//! One `MAP_SHARED` mapping of a segment, addressed by offset.
//!
//! Another process may write this memory at any time, so no Rust reference
//! to its bytes (`&[u8]`, `&mut [u8]`) is ever created: bulk regions are
//! copied in and out through raw pointers, and the fields that change while
//! others look (step count, generation, current level, the commit record)
//! are accessed only as atomics.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use crate::error::SegmentError;

pub struct Mapping {
    base: NonNull<u8>,
    len: usize,
    /// The reservation the mapping lies in (start, length), unmapped whole.
    reservation: usize,
    reserved: usize,
}

// The mapping is plain memory addressed by raw pointers and atomics; nothing
// in it is tied to the thread that mapped it.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

/// Where every live path puts a lattice's level 0: on a transparent huge
/// page boundary, as the core's private block does (cpp/core/huge_pages.cpp),
/// so a kernel finds its levels laid out the same wherever it runs, the
/// sandbox's worker included (crates/sandbox/src/shared.rs).
pub const LEVEL_ALIGNMENT_BYTES: usize = 2 << 20;

/// A `MAP_SHARED` read-write mapping of `len` bytes of `fd` from
/// `file_offset`, placed so that the byte `aligned_at` bytes into it lies on
/// a [`LEVEL_ALIGNMENT_BYTES`] boundary, inside an inaccessible reservation
/// that leaves at least one guard page after it. Returns the reservation
/// (start, length), to unmap whole, and the mapping's start.
pub fn map_shared_aligned(
    fd: BorrowedFd<'_>,
    len: usize,
    file_offset: u64,
    aligned_at: usize,
) -> std::io::Result<(usize, usize, *mut u8)> {
    let reserved = len
        .checked_add(LEVEL_ALIGNMENT_BYTES + 4096)
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
    // SAFETY: a fresh inaccessible reservation; nothing aliases it.
    let reservation = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            reserved,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if reservation == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let start = reservation as usize;
    let aligned = (start + aligned_at).next_multiple_of(LEVEL_ALIGNMENT_BYTES) - aligned_at;
    // SAFETY: replaces part of our own reservation ([aligned, aligned + len)
    // lies inside it: aligned - start < LEVEL_ALIGNMENT_BYTES).
    let base = unsafe {
        libc::mmap(
            aligned as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd.as_raw_fd(),
            file_offset as libc::off_t,
        )
    };
    if base == libc::MAP_FAILED {
        let error = std::io::Error::last_os_error();
        // SAFETY: unmaps the reservation made above.
        unsafe { libc::munmap(reservation, reserved) };
        return Err(error);
    }
    Ok((start, reserved, base.cast::<u8>()))
}

impl Mapping {
    /// Maps `len` bytes of `fd` read-write and shared, with the byte at
    /// `level0_offset` on a [`LEVEL_ALIGNMENT_BYTES`] boundary.
    pub(crate) fn map(
        fd: BorrowedFd<'_>,
        len: u64,
        level0_offset: u64,
    ) -> Result<Self, SegmentError> {
        let len = usize::try_from(len)
            .map_err(|_| SegmentError::io("mmap", std::io::ErrorKind::OutOfMemory.into()))?;
        let (reservation, reserved, base) = map_shared_aligned(fd, len, 0, level0_offset as usize)
            .map_err(|error| SegmentError::io(format!("mmap of {len} bytes"), error))?;
        let base = NonNull::new(base).expect("mmap never returns null on success");
        Ok(Self {
            base,
            len,
            reservation,
            reserved,
        })
    }

    /// Start of the mapping; valid for `len()` bytes while `self` lives.
    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check_range(&self, offset: usize, len: usize) {
        assert!(
            offset.checked_add(len).is_some_and(|end| end <= self.len),
            "bytes {offset}..+{len} lie outside the {}-byte mapping",
            self.len
        );
    }

    /// Copies `dest.len()` bytes starting at `offset` out of the mapping.
    pub fn copy_out(&self, offset: usize, dest: &mut [u8]) {
        self.check_range(offset, dest.len());
        // SAFETY: in range (checked); `dest` is private memory, so the two
        // cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(self.as_ptr().add(offset), dest.as_mut_ptr(), dest.len())
        };
    }

    /// Copies `src` into the mapping at `offset`.
    pub fn copy_in(&self, offset: usize, src: &[u8]) {
        self.check_range(offset, src.len());
        // SAFETY: as in `copy_out`.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.as_ptr().add(offset), src.len())
        };
    }

    pub fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        self.check_range(offset, 8);
        assert_eq!(offset % 8, 0, "u64 field at {offset} is not 8-byte aligned");
        // SAFETY: in range, aligned (the base is page-aligned), and the
        // memory lives as long as `self`.
        unsafe { AtomicU64::from_ptr(self.as_ptr().add(offset).cast()) }
    }

    pub fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        self.check_range(offset, 4);
        assert_eq!(offset % 4, 0, "u32 field at {offset} is not 4-byte aligned");
        // SAFETY: as in `atomic_u64`.
        unsafe { AtomicU32::from_ptr(self.as_ptr().add(offset).cast()) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: reserved in `map` with this length; every view of it holds
        // an `Arc<Mapping>`, so none outlives this call.
        unsafe { libc::munmap(self.reservation as *mut libc::c_void, self.reserved) };
    }
}
