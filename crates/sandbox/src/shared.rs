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
//! In the worker the three buffers lie exactly as every live path lays a
//! lattice out (the core's block, `cpp/core/state_buffer.cpp`; a state
//! segment, `crates/segment/src/layout.rs`; a kernel host's workspace,
//! `crates/kernel-host/src/workspace.rs`): back to back from a 2 MiB
//! boundary, each `slot` bytes apart, the slot being the level's bytes
//! rounded up to a page, and an inaccessible guard from the end of the
//! third slot. A kernel that measures where its buffers lie (the
//! `live-recognises-the-layout` fixture) finds what it would find live. The
//! padding from a buffer's end to its slot's end reads zero at every call's
//! entry, live and here; the supervisor checks that it is still zero after
//! every command (a write past a buffer's end), and a write past the third
//! slot faults on the guard.
//!
//! Only what a command needs travels (`Travel`). Every change the supervisor
//! makes to a region (a fill, a padding cleared, a worker's buffer read
//! back) gives it a new generation, and a worker that already holds a
//! region's current generation at the same size and slot is not sent it
//! again (the second command of a benchmark sample, after its probe only
//! read). A scratch's body never travels, only its padding: the worker
//! discards its scratch before every call (`prepare_call`),
//! as the live core and the kernel host do, so no kernel can keep state in
//! it, and a scratch that travelled carried one kernel's leftovers to the
//! other.

use std::cell::Cell;
use std::ffi::c_void;

use crate::abi::State;

pub const PAGE_BYTES: usize = 4096;
/// A transparent huge page: only whole aligned ones can back memory.
pub const HUGE_PAGE_BYTES: usize = 2 << 20;
pub const REGIONS: usize = 3;
/// What the padding after every buffer holds at a call's entry, live too.
const PADDING: u8 = 0;

/// What of a buffer moves between the supervisor and a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Travel {
    /// The buffer with its padding.
    Whole,
    /// Only its padding.
    PaddingOnly,
}

/// The bytes from one buffer's start to the next's, for buffers of `bytes`:
/// rounded up to a page, as every live layout rounds a level.
pub fn slot_bytes(bytes: usize) -> usize {
    bytes.max(1).next_multiple_of(PAGE_BYTES)
}

/// How large each region is: the largest slot a command may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub region_bytes: usize,
}

impl Layout {
    /// Regions large enough for `max_bytes` each.
    pub fn for_bytes(max_bytes: usize) -> Self {
        Layout {
            region_bytes: slot_bytes(max_bytes),
        }
    }

    pub fn total_bytes(&self) -> usize {
        REGIONS * self.region_bytes
    }

    /// A worker's large block: room for three of the largest slots, in
    /// whole huge pages.
    pub fn private_block_bytes(&self) -> usize {
        self.total_bytes().next_multiple_of(HUGE_PAGE_BYTES)
    }

    /// Where the block a command of slot `slot` uses starts, from the
    /// worker's first block: commands whose three slots fit one huge page
    /// (the small lattices of most checks) use a block of their own, so
    /// their fences and discards never split the huge pages the live-sized
    /// lattices are timed on; each block starts on a 2 MiB boundary, as
    /// level 0 does live, and a huge page of guard lies between them.
    pub fn block_offset(slot: usize) -> usize {
        if REGIONS * slot <= HUGE_PAGE_BYTES {
            0
        } else {
            2 * HUGE_PAGE_BYTES
        }
    }

    /// The end of a worker's blocks, from the first one's start.
    pub fn private_span_bytes(&self) -> usize {
        2 * HUGE_PAGE_BYTES + self.private_block_bytes()
    }

    /// Where buffer `region` starts in a worker whose blocks start at
    /// `base`, for a command whose slot is `slot`; None when it does not fit.
    pub fn private_buffer(&self, base: usize, region: usize, slot: usize) -> Option<usize> {
        (slot.is_multiple_of(PAGE_BYTES) && slot <= self.region_bytes && region < REGIONS)
            .then(|| base + Self::block_offset(slot) + region * slot)
    }
}

fn os_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// The supervisor's side: its own copy of the three regions, each buffer at
/// its region's start.
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

    fn start(&self, region: usize, bytes: usize) -> usize {
        assert!(
            slot_bytes(bytes) <= self.layout.region_bytes,
            "{bytes} bytes do not fit a region"
        );
        region * self.layout.region_bytes
    }

    fn buffer(&self, region: usize, bytes: usize) -> *mut u8 {
        // SAFETY: region < REGIONS and bytes fit the region (asserted).
        unsafe { self.base.add(self.start(region, bytes)) }
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

    /// The padding after buffer `region` of `bytes`, as (offset in the
    /// supervisor's mapping, length): up to the end of its slot.
    fn padding(&self, region: usize, bytes: usize) -> (usize, usize) {
        (self.start(region, bytes) + bytes, slot_bytes(bytes) - bytes)
    }

    /// What of buffer `region` of `bytes` travels to and from a worker, as
    /// (offset in the supervisor's mapping, offset from the buffer's start,
    /// length).
    fn travelling(&self, region: usize, bytes: usize, travel: Travel) -> (usize, usize, usize) {
        match travel {
            Travel::Whole => (self.start(region, bytes), 0, slot_bytes(bytes)),
            Travel::PaddingOnly => {
                let (at, len) = self.padding(region, bytes);
                (at, bytes, len)
            }
        }
    }

    /// Copies `travel` of buffer `region` of `bytes` into the private block
    /// at `base` of process `pid`, which must be stopped, for a command of
    /// slot `slot`.
    pub fn copy_to_worker(
        &self,
        pid: libc::pid_t,
        base: usize,
        slot: usize,
        span: (usize, usize, Travel),
    ) -> Result<(), String> {
        self.transfer(pid, base, slot, span, true)
    }

    /// Copies `travel` of buffer `region` of `bytes` back from the private
    /// block at `base` of process `pid`, which must be stopped.
    pub fn copy_from_worker(
        &self,
        pid: libc::pid_t,
        base: usize,
        slot: usize,
        span: (usize, usize, Travel),
    ) -> Result<(), String> {
        self.changed(span.0);
        self.transfer(pid, base, slot, span, false)
    }

    fn transfer(
        &self,
        pid: libc::pid_t,
        base: usize,
        slot: usize,
        (region, bytes, travel): (usize, usize, Travel),
        to_worker: bool,
    ) -> Result<(), String> {
        let remote_buffer = self
            .layout
            .private_buffer(base, region, slot)
            .filter(|_| slot_bytes(bytes) <= slot)
            .ok_or_else(|| format!("{bytes} bytes do not fit a {slot}-byte slot"))?;
        let (start, from_buffer, length) = self.travelling(region, bytes, travel);
        if length == 0 {
            return Ok(());
        }
        let local = libc::iovec {
            // SAFETY: inside the mapping.
            iov_base: unsafe { self.base.add(start) } as *mut c_void,
            iov_len: length,
        };
        let remote = libc::iovec {
            iov_base: (remote_buffer + from_buffer) as *mut c_void,
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
        Ok(())
    }

    /// Clears the padding after buffer `region` of `bytes`; padding already
    /// clear is left alone, so the region keeps its generation.
    pub fn arm(&self, region: usize, bytes: usize) {
        let (at, len) = self.padding(region, bytes);
        // SAFETY: inside the mapping; no worker runs meanwhile.
        let span = unsafe { std::slice::from_raw_parts_mut(self.base.add(at), len) };
        if span.iter().any(|&b| b != PADDING) {
            self.changed(region);
            span.fill(PADDING);
        }
    }

    /// The first byte of the padding after buffer `region` that a call
    /// wrote, as an offset from the buffer's start.
    pub fn breach(&self, region: usize, bytes: usize) -> Option<i64> {
        let (at, len) = self.padding(region, bytes);
        // SAFETY: inside the mapping.
        let span = unsafe { std::slice::from_raw_parts(self.base.add(at), len) };
        span.iter()
            .position(|&b| b != PADDING)
            .map(|i| (bytes + i) as i64)
    }
}

impl Drop for SharedBuffers {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.base as *mut c_void, self.layout.total_bytes()) };
    }
}

/// The worker's side: two private blocks of whole huge pages, a small one
/// and one for the largest slots (`Layout::block_offset`), each 2 MiB-aligned,
/// advised MADV_HUGEPAGE, with an inaccessible guard before and after it.
/// Mapped before the worker forks into its PID namespace, so the process
/// that loads the kernel inherits them at the same address.
pub struct PrivateRegions {
    base: *mut u8,
    pub layout: Layout,
}

impl PrivateRegions {
    pub fn map(layout: Layout) -> Result<Self, String> {
        let reserved = 2 * HUGE_PAGE_BYTES + layout.private_span_bytes();
        // SAFETY: a fresh inaccessible reservation the blocks are cut from;
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
        let base = (reservation as usize + 1).next_multiple_of(HUGE_PAGE_BYTES) as *mut u8;
        let regions = PrivateRegions { base, layout };
        for (start, bytes) in [
            (0, HUGE_PAGE_BYTES),
            (2 * HUGE_PAGE_BYTES, layout.private_block_bytes()),
        ] {
            regions.protect(start, start + bytes, true)?;
            // Advice, not a requirement: where THP is off the buffers stay on
            // 4 KiB pages, as the live core's would, and the report says so.
            // SAFETY: advice on our own mapping.
            unsafe { libc::madvise(base.add(start) as *mut c_void, bytes, libc::MADV_HUGEPAGE) };
        }
        Ok(regions)
    }

    fn protect(&self, from: usize, to: usize, open: bool) -> Result<(), String> {
        if from >= to {
            return Ok(());
        }
        let protection = if open {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_NONE
        };
        // SAFETY: changes the protection of part of our own blocks; mprotect
        // keeps the pages' content.
        let done =
            unsafe { libc::mprotect(self.base.add(from) as *mut c_void, to - from, protection) };
        if done != 0 {
            return Err(os_error("protecting the worker's lattice buffers"));
        }
        Ok(())
    }

    /// The block a command of slot `slot` uses, as (start, end) from the base.
    fn block(&self, slot: usize) -> (usize, usize) {
        let start = Layout::block_offset(slot);
        let bytes = if start == 0 {
            HUGE_PAGE_BYTES
        } else {
            self.layout.private_block_bytes()
        };
        (start, start + bytes)
    }

    /// Puts the guard right after the three slots of `slot` bytes, for one
    /// command, as the live mappings end there; `unfence` opens it again,
    /// so the supervisor can copy any slot in before the next command.
    pub fn fence(&self, slot: usize) -> Result<(), String> {
        let (start, end) = self.block(slot);
        self.protect(start + REGIONS * slot, end, false)
    }

    pub fn unfence(&self, slot: usize) -> Result<(), String> {
        let (start, end) = self.block(slot);
        self.protect(start + REGIONS * slot, end, true)
    }

    /// The first block's start, which the supervisor copies relative to.
    pub fn base(&self) -> u64 {
        self.base as u64
    }

    /// Buffer `region` of a command whose slot is `slot`, or None when it does not fit.
    pub fn buffer(&self, region: usize, slot: usize) -> Option<*mut c_void> {
        self.layout
            .private_buffer(self.base as usize, region, slot)
            .map(|at| at as *mut c_void)
    }
}

/// What the live core does before every step call (cpp/core/state_buffer.cpp,
/// `prepare_call`), and so the sandbox's worker and the kernel host: the
/// padding after each level (from `level_bytes` to `stride`) is cleared and
/// the scratch's `stride` bytes are discarded with `advice` (MADV_DONTNEED
/// for private anonymous memory, MADV_REMOVE for a memfd's shared pages), so
/// it reads zero, or zeroed where the advice fails: no kernel can keep
/// state in either between calls.
///
/// # Safety
/// Each of `state`'s three buffers must be `stride` writable bytes, and
/// `level_bytes <= stride`.
pub unsafe fn prepare_call(state: &State, level_bytes: usize, stride: usize, advice: libc::c_int) {
    for level in state.level {
        // SAFETY: the padding lies inside the level's stride (the caller's promise).
        unsafe {
            std::ptr::write_bytes(
                (level as *mut u8).add(level_bytes),
                PADDING,
                stride - level_bytes,
            )
        };
    }
    // SAFETY: the scratch is `stride` writable bytes (the caller's promise).
    if unsafe { libc::madvise(state.scratch, stride, advice) } != 0 {
        // SAFETY: as above.
        unsafe { std::ptr::write_bytes(state.scratch as *mut u8, 0, stride) };
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
    fn a_slot_is_the_buffer_rounded_up_to_a_page() {
        assert_eq!(slot_bytes(10_000), 12_288);
        assert_eq!(slot_bytes(8192), 8192);
        let layout = Layout::for_bytes(10_000);
        assert_eq!(layout.region_bytes, 12_288);
        assert_eq!(layout.private_buffer(0, 2, 8192), Some(16_384));
        assert_eq!(
            layout.private_buffer(0, 1, 16_384),
            None,
            "larger than a region"
        );
        assert_eq!(layout.private_buffer(0, 1, 100), None, "not a whole page");
        let large = Layout::for_bytes(HUGE_PAGE_BYTES);
        assert_eq!(
            large.private_buffer(0, 1, HUGE_PAGE_BYTES),
            Some(3 * HUGE_PAGE_BYTES),
            "three slots beyond a huge page go to the large block"
        );
    }

    #[test]
    fn the_buffers_lie_back_to_back_a_slot_apart_from_a_huge_page_boundary_as_live() {
        let regions = PrivateRegions::map(Layout::for_bytes(3 * PAGE_BYTES)).unwrap();
        let slot = 2 * PAGE_BYTES;
        let at = |region| regions.buffer(region, slot).unwrap() as usize;
        assert_eq!(at(0) % HUGE_PAGE_BYTES, 0);
        assert_eq!(at(1) - at(0), slot);
        assert_eq!(at(2) - at(1), slot);
    }

    /// Three pages of shared buffers with `region` holding ten 1.0s, its
    /// padding cleared for 80 bytes, and this process's own private block
    /// standing in for a worker's (its pid and its base address with it).
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
    fn the_padding_travels_with_the_buffer_and_names_a_write_past_its_end() {
        let (shared, worker, pid, base) = armed_with_worker(1);
        assert_eq!(shared.breach(1, 80), None);
        let span = (1, 80, Travel::Whole);
        shared.copy_to_worker(pid, base, PAGE_BYTES, span).unwrap();
        let buffer = worker.buffer(1, PAGE_BYTES).unwrap() as *mut u8;
        // SAFETY: byte 80 is padding inside the slot.
        unsafe {
            assert_eq!(*(buffer as *const f64), 1.0);
            *(buffer as *mut f64) = 2.0;
            *buffer.add(80) = 1;
        }
        shared
            .copy_from_worker(pid, base, PAGE_BYTES, span)
            .unwrap();
        assert_eq!(shared.breach(1, 80), Some(80));
        assert_eq!(shared.read::<f64>(1, 2), vec![2.0, 1.0]);
        shared.arm(1, 80);
        assert_eq!(shared.breach(1, 80), None);
    }

    #[test]
    fn padding_only_leaves_the_buffer_where_it_is_and_still_names_a_write_after_it() {
        let (shared, worker, pid, base) = armed_with_worker(2);
        let span = (2, 80, Travel::PaddingOnly);
        shared.copy_to_worker(pid, base, PAGE_BYTES, span).unwrap();
        let buffer = worker.buffer(2, PAGE_BYTES).unwrap() as *mut u8;
        // SAFETY: inside the worker's block: the body, then the padding after it.
        unsafe {
            assert_eq!(*(buffer as *const f64), 0.0, "the body did not travel in");
            *(buffer as *mut f64) = 3.0;
            *buffer.add(100) = 1;
        }
        shared
            .copy_from_worker(pid, base, PAGE_BYTES, span)
            .unwrap();
        assert_eq!(shared.read::<f64>(2, 1), vec![1.0], "nor back out");
        assert_eq!(shared.breach(2, 80), Some(100));
    }

    #[test]
    fn a_region_changes_generation_when_its_content_may_have_changed_and_only_then() {
        let shared = SharedBuffers::new(Layout::for_bytes(3 * PAGE_BYTES)).unwrap();
        let first = shared.generation(0);
        shared.fill(0, &[1.0f64; 10]);
        let filled = shared.generation(0);
        assert_ne!(filled, first);
        shared.arm(0, 80);
        assert_eq!(
            shared.generation(0),
            filled,
            "padding already clear is not rewritten"
        );
        shared.fill(0, &[f64::from_bits(u64::MAX); 11]);
        let wide = shared.generation(0);
        shared.arm(0, 80);
        assert_ne!(shared.generation(0), wide, "byte 80 had to be cleared");
        assert_eq!(shared.generation(1), first);
    }

    #[test]
    fn every_step_call_finds_the_scratch_and_the_padding_zero_whatever_the_last_one_left() {
        let regions = PrivateRegions::map(Layout::for_bytes(3 * PAGE_BYTES)).unwrap();
        let slot = 2 * PAGE_BYTES;
        let level_bytes = slot - 40;
        for region in 0..REGIONS {
            let buffer = regions.buffer(region, slot).unwrap() as *mut u8;
            // SAFETY: the slot is `slot` bytes of the block.
            unsafe { std::ptr::write_bytes(buffer, 7, slot) };
        }
        let buffer = |region| regions.buffer(region, slot).unwrap();
        let state = State {
            level: [buffer(0), buffer(1)],
            scratch: buffer(2),
            current: 0,
        };
        // SAFETY: each buffer is a whole slot of the block.
        unsafe { prepare_call(&state, level_bytes, slot, libc::MADV_DONTNEED) };
        let bytes = |region: usize| {
            let buffer = regions.buffer(region, slot).unwrap() as *const u8;
            // SAFETY: as above.
            unsafe { std::slice::from_raw_parts(buffer, slot) }.to_vec()
        };
        for level in 0..2 {
            let level = bytes(level);
            assert!(
                level[..level_bytes].iter().all(|&b| b == 7),
                "the level stays"
            );
            assert!(
                level[level_bytes..].iter().all(|&b| b == 0),
                "its padding is cleared"
            );
        }
        assert!(bytes(2).iter().all(|&b| b == 0), "the scratch reads zero");
    }

    #[test]
    fn a_write_past_the_third_slot_faults_on_the_guard_while_a_command_runs() {
        let regions = PrivateRegions::map(Layout::for_bytes(3 * PAGE_BYTES)).unwrap();
        let slot = PAGE_BYTES;
        let past = regions.buffer(2, slot).unwrap() as usize + slot;
        // SAFETY: the child only writes memory and exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let fenced = regions.fence(slot).is_ok();
            // SAFETY: the write is the test: it must fault.
            unsafe {
                std::ptr::write_volatile(past as *mut u8, 1);
                libc::_exit(if fenced { 0 } else { 2 });
            }
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert!(libc::WIFSIGNALED(status), "status {status}");
        assert_eq!(libc::WTERMSIG(status), libc::SIGSEGV);
        regions.fence(slot).unwrap();
        regions.unfence(slot).unwrap();
        // SAFETY: open again for the supervisor's copies.
        unsafe { std::ptr::write_volatile(past as *mut u8, 1) };
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
        let kib = anon_huge_kib(pid, start, start + regions.layout.private_span_bytes()).unwrap();
        match huge_page_mode().as_deref() {
            Some("always" | "madvise") => assert!(kib >= 2048, "{kib} KiB on huge pages"),
            // Without THP the buffers are on 4 KiB pages, as the live core's are.
            _ => assert_eq!(kib, 0),
        }
    }
}
