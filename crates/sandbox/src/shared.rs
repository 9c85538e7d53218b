//! The lattice buffers, on both sides of the split. The supervisor keeps
//! three regions (the two levels and the scratch of a step; the field, the
//! digits and the bad index of a readout) in memory of its own; a worker
//! keeps the same three in private anonymous memory advised MADV_HUGEPAGE,
//! as the live core keeps its levels (cpp/core/huge_pages.cpp), because a
//! kernel must be timed on the pages it will run on: a memfd is shmem, on
//! 4 KiB pages wherever `shmem_enabled` is `never`, and 4 KiB pages cost
//! the fastest kernel about 10% at 4096^2 (the workers once stepped a
//! memfd they shared with the supervisor). The supervisor moves the data
//! itself, with process_vm_writev before a command and process_vm_readv
//! after it, while every thread of the worker is stopped: no worker code
//! runs while data moves, so none of a kernel's work can hide in an
//! untimed copy, and the supervisor's oracle checks read its own memory.
//!
//! A buffer of `bytes` sits at the end of its region, on a page boundary
//! (the ABI promises 4096-byte alignment): in the worker an inaccessible
//! stretch follows every region, so a write past the end faults at once or
//! lands in the slack before the region's end, where the supervisor checks
//! a canary after every command; so does the page just below the buffer.
//! Both travel with the buffer.
//!
//! Only what a command needs travels (`Travel`). Every change the supervisor
//! makes to a region (a fill, a canary rewritten, a worker's buffer read
//! back) gives it a new generation, and a worker that already holds a
//! region's current generation at the same size is not sent it again (the
//! second command of a benchmark sample, after its probe only read). A
//! scratch's body never travels, only its canaries: its content means
//! nothing at a call's entry (kernels keep no state between calls), and a
//! scratch that travelled carried one kernel's leftovers to the other.

use std::cell::Cell;
use std::ffi::c_void;

pub const PAGE_BYTES: usize = 4096;
/// A transparent huge page: only whole aligned ones can back memory.
pub const HUGE_PAGE_BYTES: usize = 2 << 20;
pub const REGIONS: usize = 3;
const CANARY: u8 = 0xA5;

/// What of a buffer moves between the supervisor and a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Travel {
    /// The buffer with the page below it and its slack.
    Whole,
    /// Only the page below it and its slack, where the canaries are.
    CanariesOnly,
}

/// How large each region is; the supervisor's regions follow one another.
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

    pub fn total_bytes(&self) -> usize {
        REGIONS * self.region_bytes
    }

    /// The offset in a region of a buffer of `bytes`: its last page ends the region.
    pub fn placement(&self, bytes: usize) -> Option<usize> {
        let used = bytes.max(1).next_multiple_of(PAGE_BYTES);
        (used <= self.region_bytes).then(|| self.region_bytes - used)
    }

    /// A worker's private region: whole huge pages.
    pub fn private_region_bytes(&self) -> usize {
        self.region_bytes.next_multiple_of(HUGE_PAGE_BYTES)
    }

    /// From one private region's start to the next: the region, then a huge
    /// page's worth of inaccessible guard, so every region starts aligned.
    pub fn private_stride(&self) -> usize {
        self.private_region_bytes() + HUGE_PAGE_BYTES
    }

    /// Where buffer `region` of `bytes` starts in a worker whose private
    /// regions start at `base`: its last page ends the region, as in the supervisor's.
    pub fn private_buffer(&self, base: usize, region: usize, bytes: usize) -> Option<usize> {
        let used = bytes.max(1).next_multiple_of(PAGE_BYTES);
        (used <= self.region_bytes)
            .then(|| base + region * self.private_stride() + self.private_region_bytes() - used)
    }
}

fn os_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// The supervisor's side: its own copy of the three regions.
pub struct SharedBuffers {
    base: *mut u8,
    pub layout: Layout,
    /// Each region's generation: a new one whenever the supervisor's copy changes.
    generations: [Cell<u64>; REGIONS],
}

impl SharedBuffers {
    pub fn new(layout: Layout) -> Result<Self, String> {
        // SAFETY: a fresh private mapping; unmapped in Drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                layout.total_bytes(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(os_error("mapping the supervisor's lattice buffers"));
        }
        Ok(SharedBuffers {
            base: base as *mut u8,
            layout,
            generations: Default::default(),
        })
    }

    /// The generation of region `region`'s content in the supervisor's copy.
    pub fn generation(&self, region: usize) -> u64 {
        self.generations[region].get()
    }

    fn changed(&self, region: usize) {
        self.generations[region].set(self.generations[region].get() + 1);
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
        self.changed(region);
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

    /// What of buffer `region` of `bytes` travels to and from a worker, as
    /// (offset in the supervisor's mapping, offset from the buffer's start,
    /// length): the page below the buffer, the buffer and its slack to the
    /// region's end, or without the buffer when only the canaries travel.
    fn travelling(
        &self,
        region: usize,
        bytes: usize,
        travel: Travel,
    ) -> Option<Vec<(usize, isize, usize)>> {
        let offset = self.layout.placement(bytes)?;
        let start = region * self.layout.region_bytes + offset;
        let spans = match travel {
            Travel::Whole => {
                let below = offset.min(PAGE_BYTES);
                vec![(
                    start - below,
                    -(below as isize),
                    self.layout.region_bytes - offset + below,
                )]
            }
            Travel::CanariesOnly => self
                .guard_spans(region, bytes)
                .into_iter()
                .filter(|&(_, len)| len > 0)
                .map(|(at, len)| (at, at as isize - start as isize, len))
                .collect(),
        };
        Some(spans)
    }

    /// Copies `travel` of buffer `region` of `bytes` into the private
    /// regions at `base` of process `pid`, which must be stopped.
    pub fn copy_to_worker(
        &self,
        pid: libc::pid_t,
        base: usize,
        region: usize,
        bytes: usize,
        travel: Travel,
    ) -> Result<(), String> {
        self.transfer(pid, base, region, bytes, travel, true)
    }

    /// Copies `travel` of buffer `region` of `bytes` back from the private
    /// regions at `base` of process `pid`, which must be stopped.
    pub fn copy_from_worker(
        &self,
        pid: libc::pid_t,
        base: usize,
        region: usize,
        bytes: usize,
        travel: Travel,
    ) -> Result<(), String> {
        self.changed(region);
        self.transfer(pid, base, region, bytes, travel, false)
    }

    fn transfer(
        &self,
        pid: libc::pid_t,
        base: usize,
        region: usize,
        bytes: usize,
        travel: Travel,
        to_worker: bool,
    ) -> Result<(), String> {
        let spans = self
            .travelling(region, bytes, travel)
            .ok_or_else(|| format!("{bytes} bytes do not fit a region"))?;
        let remote_buffer = self
            .layout
            .private_buffer(base, region, bytes)
            .expect("fits, as checked above");
        for (start, from_buffer, length) in spans {
            let local = libc::iovec {
                // SAFETY: inside the mapping.
                iov_base: unsafe { self.base.add(start) } as *mut c_void,
                iov_len: length,
            };
            let remote = libc::iovec {
                iov_base: remote_buffer.wrapping_add_signed(from_buffer) as *mut c_void,
                iov_len: length,
            };
            // SAFETY: `local` lies inside our mapping; the kernel checks `remote`
            // against the other process's mappings.
            let moved = unsafe {
                if to_worker {
                    libc::process_vm_writev(pid, &local, 1, &remote, 1, 0)
                } else {
                    libc::process_vm_readv(pid, &local, 1, &remote, 1, 0)
                }
            };
            if moved != length as isize {
                return Err(format!(
                    "its buffers could not be {} ({})",
                    if to_worker { "filled" } else { "read" },
                    if moved < 0 {
                        std::io::Error::last_os_error().to_string()
                    } else {
                        format!("{moved} of {length} bytes")
                    }
                ));
            }
        }
        Ok(())
    }

    /// The supervisor's mapping, which a forked worker unmaps: it shares
    /// nothing with the supervisor.
    pub fn mapping(&self) -> (usize, usize) {
        (self.base as usize, self.layout.total_bytes())
    }

    /// Writes the canary around buffer `region` of `bytes`; a canary still
    /// in place is left alone, so the region keeps its generation.
    pub fn arm(&self, region: usize, bytes: usize) {
        for (at, len) in self.guard_spans(region, bytes) {
            // SAFETY: inside the mapping; no worker runs meanwhile.
            let span = unsafe { std::slice::from_raw_parts_mut(self.base.add(at), len) };
            if span.iter().any(|&b| b != CANARY) {
                self.changed(region);
                span.fill(CANARY);
            }
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
        unsafe { libc::munmap(self.base as *mut c_void, self.layout.total_bytes()) };
    }
}

/// The worker's side: three private regions, each of whole huge pages,
/// 2 MiB-aligned, advised MADV_HUGEPAGE and followed by an inaccessible
/// guard. Mapped before the worker forks into its PID namespace, so the
/// process that loads the kernel inherits them at the same address.
pub struct PrivateRegions {
    base: *mut u8,
    pub layout: Layout,
}

impl PrivateRegions {
    pub fn map(layout: Layout) -> Result<Self, String> {
        let reserved = HUGE_PAGE_BYTES + REGIONS * layout.private_stride();
        // SAFETY: a fresh inaccessible reservation the regions are cut from;
        // it lives as long as the worker.
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
            return Err(os_error("reserving the worker's lattice buffers"));
        }
        let base = (reservation as usize).next_multiple_of(HUGE_PAGE_BYTES) as *mut u8;
        for region in 0..REGIONS {
            // SAFETY: inside the reservation.
            let start = unsafe { base.add(region * layout.private_stride()) } as *mut c_void;
            let bytes = layout.private_region_bytes();
            // SAFETY: changes the protection of part of our own reservation.
            if unsafe { libc::mprotect(start, bytes, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
                return Err(os_error("opening the worker's lattice buffers"));
            }
            // Advice, not a requirement: where THP is off the buffers stay on
            // 4 KiB pages, as the live core's would, and the report says so.
            // SAFETY: advice on our own mapping.
            unsafe { libc::madvise(start, bytes, libc::MADV_HUGEPAGE) };
        }
        Ok(PrivateRegions { base, layout })
    }

    /// The first region's start, which the supervisor copies relative to.
    pub fn base(&self) -> u64 {
        self.base as u64
    }

    /// Buffer `region` of `bytes`, or None when it does not fit.
    pub fn buffer(&self, region: usize, bytes: usize) -> Option<*mut c_void> {
        self.layout
            .private_buffer(self.base as usize, region, bytes)
            .map(|at| at as *mut c_void)
    }
}

/// The transparent huge page mode (`always`, `madvise` or `never`), or None
/// where the kernel has no THP.
pub fn huge_page_mode() -> Option<String> {
    let text = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(text[start..end].to_owned())
}

/// KiB of `AnonHugePages` in process `pid`'s mappings that start within
/// [start, end), from /proc/<pid>/smaps.
pub fn anon_huge_kib(pid: libc::pid_t, start: usize, end: usize) -> Option<u64> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let mut inside = false;
    let mut kib = 0;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((low, _)) = first.split_once('-') {
            if let Ok(low) = usize::from_str_radix(low, 16) {
                inside = (start..end).contains(&low);
                continue;
            }
        }
        if inside && first == "AnonHugePages:" {
            kib += fields
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Some(kib)
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

    /// Three pages of shared buffers with `region` holding ten 1.0s, armed
    /// for 80 bytes, and this process's own private regions standing in for a
    /// worker's (its pid and their base address with them).
    fn armed_with_worker(region: usize) -> (SharedBuffers, PrivateRegions, libc::pid_t, usize) {
        let shared = SharedBuffers::new(Layout::for_bytes(3 * PAGE_BYTES)).unwrap();
        shared.fill(region, &[1.0f64; 10]);
        shared.arm(region, 80);
        let worker = PrivateRegions::map(shared.layout).unwrap();
        let pid = std::process::id() as libc::pid_t;
        let base = worker.base() as usize;
        (shared, worker, pid, base)
    }

    #[test]
    fn the_canary_travels_with_the_buffer_and_names_a_write_on_either_side() {
        let (shared, worker, pid, base) = armed_with_worker(1);
        assert_eq!(shared.breach(1, 80), None);
        shared
            .copy_to_worker(pid, base, 1, 80, Travel::Whole)
            .unwrap();
        let buffer = worker.buffer(1, 80).unwrap() as *mut u8;
        // SAFETY: byte 80 is slack inside the region, byte -1 the page below.
        unsafe {
            assert_eq!(*(buffer as *const f64), 1.0);
            *(buffer as *mut f64) = 2.0;
            *buffer.add(80) = 0;
        }
        shared
            .copy_from_worker(pid, base, 1, 80, Travel::Whole)
            .unwrap();
        assert_eq!(shared.breach(1, 80), Some(80));
        assert_eq!(shared.read::<f64>(1, 2), vec![2.0, 1.0]);
        shared.arm(1, 80);
        shared
            .copy_to_worker(pid, base, 1, 80, Travel::Whole)
            .unwrap();
        unsafe { *buffer.sub(1) = 0 };
        shared
            .copy_from_worker(pid, base, 1, 80, Travel::Whole)
            .unwrap();
        assert_eq!(shared.breach(1, 80), Some(-1));
    }

    #[test]
    fn canaries_only_leaves_the_buffer_where_it_is_and_still_names_a_write_around_it() {
        let (shared, worker, pid, base) = armed_with_worker(2);
        shared
            .copy_to_worker(pid, base, 2, 80, Travel::CanariesOnly)
            .unwrap();
        let buffer = worker.buffer(2, 80).unwrap() as *mut u8;
        // SAFETY: inside the worker's region: the body, then the slack after it.
        unsafe {
            assert_eq!(*(buffer as *const f64), 0.0, "the body did not travel in");
            *(buffer as *mut f64) = 3.0;
            *buffer.add(100) = 0;
        }
        shared
            .copy_from_worker(pid, base, 2, 80, Travel::CanariesOnly)
            .unwrap();
        assert_eq!(shared.read::<f64>(2, 1), vec![1.0], "nor back out");
        assert_eq!(shared.breach(2, 80), Some(100));
    }

    #[test]
    fn a_region_changes_generation_when_its_content_may_have_changed_and_only_then() {
        let shared = SharedBuffers::new(Layout::for_bytes(3 * PAGE_BYTES)).unwrap();
        let first = shared.generation(0);
        shared.arm(0, 80);
        let armed = shared.generation(0);
        assert_ne!(armed, first);
        shared.arm(0, 80);
        assert_eq!(
            shared.generation(0),
            armed,
            "a canary in place is not rewritten"
        );
        shared.fill(0, &[1.0f64; 10]);
        assert_ne!(shared.generation(0), armed);
        assert_eq!(shared.generation(1), first);
    }

    #[test]
    fn private_buffers_sit_on_huge_pages_where_the_machine_has_them() {
        let bytes = 8 * HUGE_PAGE_BYTES;
        let regions = PrivateRegions::map(Layout::for_bytes(bytes)).unwrap();
        let buffer = regions.buffer(0, bytes).unwrap() as *mut u8;
        assert_eq!(buffer as usize % HUGE_PAGE_BYTES, 0);
        // SAFETY: the buffer holds `bytes` bytes.
        unsafe { std::ptr::write_bytes(buffer, 1, bytes) };
        let start = regions.base() as usize;
        let pid = std::process::id() as libc::pid_t;
        let kib = anon_huge_kib(
            pid,
            start,
            start + REGIONS * regions.layout.private_stride(),
        )
        .unwrap();
        match huge_page_mode().as_deref() {
            Some("always" | "madvise") => assert!(kib >= 2048, "{kib} KiB on huge pages"),
            // Without THP the buffers are on 4 KiB pages, as the live core's are.
            _ => assert_eq!(kib, 0),
        }
    }
}
