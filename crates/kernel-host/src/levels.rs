//! The live lattice's levels, mapped from its state segment. Only the two
//! levels and the scratch are mapped (from `level0_offset` to the end): the
//! header page, with the commit record the core stores every step, and the
//! metadata block stay out of the host's reach. The segment's fd is closed
//! once mapped, so nothing confined can map the rest later.

use std::ffi::c_void;
use std::os::fd::{AsRawFd, OwnedFd};

use ouroboros_sandbox::abi::{Geometry, State, PRECISION_F32, PRECISION_F64};
use ouroboros_segment::header::decode;
use ouroboros_segment::{Layout, Precision, HEADER_BYTES};

/// The mapped levels and the geometry the kernel is called with.
pub struct Levels {
    base: *mut c_void,
    mapped_bytes: usize,
    level_offsets: [usize; 3],
    pub geometry: Geometry,
}

fn read_header(segment: &OwnedFd) -> Result<Layout, String> {
    let mut page = vec![0u8; HEADER_BYTES as usize];
    // SAFETY: reads into a buffer of exactly that size.
    let read = unsafe {
        libc::pread(
            segment.as_raw_fd(),
            page.as_mut_ptr() as *mut c_void,
            page.len(),
            0,
        )
    };
    if read != page.len() as isize {
        return Err(format!(
            "segment header: read {read} of {HEADER_BYTES} bytes ({})",
            std::io::Error::last_os_error()
        ));
    }
    decode(&page, "segment header").map_err(|error| format!("segment header: {error}"))
}

impl Levels {
    /// Maps the levels of the segment open as `segment` (then closed) for a
    /// lattice of Courant number squared `courant2`.
    pub fn map(segment: OwnedFd, courant2: f64) -> Result<Levels, String> {
        let layout = read_header(&segment)?;
        let start = layout.level0_offset();
        let mapped_bytes = (layout.segment_bytes() - start) as usize;
        // SAFETY: a shared mapping of the memfd's own pages, inside its sealed size.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                segment.as_raw_fd(),
                start as libc::off_t,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(format!(
                "mmap of the segment's {mapped_bytes} level bytes: {}",
                std::io::Error::last_os_error()
            ));
        }
        drop(segment);
        let extents: Vec<usize> = layout.extents().iter().map(|&n| n as usize).collect();
        let precision = match layout.precision() {
            Precision::F64 => PRECISION_F64,
            Precision::F32 => PRECISION_F32,
        };
        Ok(Levels {
            base,
            mapped_bytes,
            level_offsets: [
                0,
                (layout.level1_offset() - start) as usize,
                (layout.scratch_offset() - start) as usize,
            ],
            geometry: Geometry::new(&extents, precision, courant2),
        })
    }

    /// The bytes mapped, for the address-space limit.
    pub fn mapped_bytes(&self) -> usize {
        self.mapped_bytes
    }

    /// The ABI's state with u^n at `level[current]`.
    pub fn state(&self, current: u32) -> State {
        // SAFETY: every offset is inside the mapping (the header's layout was checked).
        let at = |offset: usize| unsafe { (self.base as *mut u8).add(offset) as *mut c_void };
        State {
            level: [at(self.level_offsets[0]), at(self.level_offsets[1])],
            scratch: at(self.level_offsets[2]),
            current,
        }
    }
}
