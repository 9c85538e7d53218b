//! The only memory the supervisor shares with a worker: one memfd holding
//! three regions (the two levels and the scratch of a step; the field, the
//! digits and the bad index of a readout). Both workers map the same memfd,
//! so candidate and incumbent step the same pages, as they stepped the same
//! buffers when they shared a process.
//!
//! A buffer of `bytes` sits at the end of its region, on a page boundary
//! (the ABI promises 4096-byte alignment): in the worker an inaccessible
//! page follows every region, so a write past the end faults at once or
//! lands in the slack before the region's end, where the supervisor checks
//! a canary after every command; so does the page just below the buffer.
//! The supervisor maps the memfd without guards: it runs no kernel.

use std::ffi::c_void;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub const PAGE_BYTES: usize = 4096;
pub const REGIONS: usize = 3;
const CANARY: u8 = 0xA5;

/// Where each region starts in the memfd and how large they all are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub region_bytes: usize,
}

impl Layout {
    /// Regions large enough for `max_bytes` each.
    pub fn for_bytes(max_bytes: usize) -> Self {
        Layout {
            region_bytes: max_bytes.max(1).next_multiple_of(PAGE_BYTES),
        }
    }

    pub fn memfd_bytes(&self) -> usize {
        REGIONS * self.region_bytes
    }

    /// The offset in a region of a buffer of `bytes`: its last page ends the region.
    pub fn placement(&self, bytes: usize) -> Option<usize> {
        let used = bytes.max(1).next_multiple_of(PAGE_BYTES);
        (used <= self.region_bytes).then(|| self.region_bytes - used)
    }
}

fn os_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// The supervisor's side: the memfd and its own mapping of it.
pub struct SharedBuffers {
    fd: OwnedFd,
    base: *mut u8,
    pub layout: Layout,
}

impl SharedBuffers {
    pub fn new(layout: Layout) -> Result<Self, String> {
        let name = c"ouroboros-sandbox-lattice";
        // SAFETY: creates a fresh anonymous file.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(os_error("memfd_create"));
        }
        // SAFETY: a fresh fd we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let bytes = layout.memfd_bytes();
        // SAFETY: sizes the file we own.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), bytes as libc::off_t) } != 0 {
            return Err(os_error("ftruncate of the lattice memfd"));
        }
        // SAFETY: maps the whole file shared; unmapped in Drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(os_error("mmap of the lattice memfd"));
        }
        Ok(SharedBuffers {
            fd,
            base: base as *mut u8,
            layout,
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn buffer(&self, region: usize, bytes: usize) -> *mut u8 {
        let offset = self
            .layout
            .placement(bytes)
            .unwrap_or_else(|| panic!("{bytes} bytes do not fit a region"));
        // SAFETY: region < REGIONS and offset + bytes <= region_bytes.
        unsafe { self.base.add(region * self.layout.region_bytes + offset) }
    }

    /// Copies `values` into buffer `region`.
    pub fn fill<T: Copy>(&self, region: usize, values: &[T]) {
        let bytes = std::mem::size_of_val(values);
        // SAFETY: the buffer holds `bytes` bytes; no worker runs meanwhile.
        unsafe {
            std::ptr::copy_nonoverlapping(
                values.as_ptr() as *const u8,
                self.buffer(region, bytes),
                bytes,
            )
        }
    }

    /// Reads `count` values of buffer `region`.
    pub fn read<T: Copy + Default>(&self, region: usize, count: usize) -> Vec<T> {
        let mut values = vec![T::default(); count];
        let bytes = std::mem::size_of_val(values.as_slice());
        // SAFETY: as in `fill`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.buffer(region, bytes),
                values.as_mut_ptr() as *mut u8,
                bytes,
            )
        }
        values
    }

    /// Reads the values at `cells` of buffer `region` holding `count` values.
    pub fn read_cells<T: Copy>(&self, region: usize, count: usize, cells: &[usize]) -> Vec<T> {
        let start = self.buffer(region, count * std::mem::size_of::<T>()) as *const T;
        // SAFETY: every cell is below `count`, checked by the caller's sampling.
        cells
            .iter()
            .map(|&cell| {
                assert!(cell < count);
                unsafe { start.add(cell).read_unaligned() }
            })
            .collect()
    }

    fn guard_spans(&self, region: usize, bytes: usize) -> [(usize, usize); 2] {
        let region_start = region * self.layout.region_bytes;
        let offset = self.layout.placement(bytes).expect("checked by the caller");
        let below = offset.min(PAGE_BYTES);
        let start = region_start + offset;
        [
            (start - below, below),
            (start + bytes, self.layout.region_bytes - offset - bytes),
        ]
    }

    /// Writes the canary around buffer `region` of `bytes`.
    pub fn arm(&self, region: usize, bytes: usize) {
        for (at, len) in self.guard_spans(region, bytes) {
            // SAFETY: inside the mapping; no worker runs meanwhile.
            unsafe { std::ptr::write_bytes(self.base.add(at), CANARY, len) };
        }
    }

    /// The first byte around buffer `region` that lost its canary, as an
    /// offset from the buffer's start.
    pub fn breach(&self, region: usize, bytes: usize) -> Option<i64> {
        let start = region * self.layout.region_bytes + self.layout.placement(bytes)?;
        self.guard_spans(region, bytes)
            .iter()
            .find_map(|&(at, len)| {
                // SAFETY: inside the mapping.
                let span = unsafe { std::slice::from_raw_parts(self.base.add(at), len) };
                span.iter().position(|&b| b != CANARY).map(|i| at + i)
            })
            .map(|at| at as i64 - start as i64)
    }
}

impl Drop for SharedBuffers {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.base as *mut c_void, self.layout.memfd_bytes()) };
    }
}

/// The worker's side: each region mapped from the memfd between
/// inaccessible pages.
pub struct WorkerRegions {
    starts: [*mut u8; REGIONS],
    pub layout: Layout,
}

impl WorkerRegions {
    /// Maps the memfd at `fd`; the mapping lives as long as the worker.
    pub fn map(fd: RawFd, layout: Layout) -> Result<Self, String> {
        let stride = layout.region_bytes + PAGE_BYTES;
        let reserved = PAGE_BYTES + REGIONS * stride;
        // SAFETY: a fresh inaccessible reservation the regions are placed in.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserved,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(os_error("reserving the worker's lattice mapping"));
        }
        let mut starts = [std::ptr::null_mut(); REGIONS];
        for (region, start) in starts.iter_mut().enumerate() {
            // SAFETY: replaces part of our own reservation with the memfd region.
            let at = unsafe { (base as *mut u8).add(PAGE_BYTES + region * stride) };
            let mapped = unsafe {
                libc::mmap(
                    at as *mut c_void,
                    layout.region_bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    fd,
                    (region * layout.region_bytes) as libc::off_t,
                )
            };
            if mapped == libc::MAP_FAILED {
                return Err(os_error("mapping the lattice memfd"));
            }
            *start = at;
        }
        Ok(WorkerRegions { starts, layout })
    }

    /// Buffer `region` of `bytes`, or None when it does not fit.
    pub fn buffer(&self, region: usize, bytes: usize) -> Option<*mut c_void> {
        let offset = self.layout.placement(bytes)?;
        // SAFETY: offset + bytes <= region_bytes.
        Some(unsafe { self.starts[region].add(offset) } as *mut c_void)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_ends_its_region_on_a_page_boundary() {
        let layout = Layout::for_bytes(10_000);
        assert_eq!(layout.region_bytes, 12_288);
        assert_eq!(layout.placement(100), Some(8192));
        assert_eq!(layout.placement(12_288), Some(0));
        assert_eq!(layout.placement(12_289), None);
    }

    #[test]
    fn the_canary_names_a_write_on_either_side() {
        let shared = SharedBuffers::new(Layout::for_bytes(3 * PAGE_BYTES)).unwrap();
        shared.fill(1, &[1.0f64; 10]);
        shared.arm(1, 80);
        assert_eq!(shared.breach(1, 80), None);
        let worker = WorkerRegions::map(shared.raw_fd(), shared.layout).unwrap();
        let buffer = worker.buffer(1, 80).unwrap() as *mut u8;
        // SAFETY: byte 80 is slack inside the region, byte -1 the page below.
        unsafe { *buffer.add(80) = 0 };
        assert_eq!(shared.breach(1, 80), Some(80));
        shared.arm(1, 80);
        unsafe { *buffer.sub(1) = 0 };
        assert_eq!(shared.breach(1, 80), Some(-1));
        assert_eq!(shared.read::<f64>(1, 10), vec![1.0; 10]);
    }
}
