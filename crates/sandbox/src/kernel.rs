//! Loading a kernel module and calling it through the ABI on guarded memory.
//!
//! Every buffer handed to a kernel starts on a page boundary (the ABI
//! promises 4096-byte alignment), has an inaccessible page on each side and
//! a canary pattern in the slack between its end and the next page, checked
//! after every call: an out-of-bounds write either faults at once or is
//! found by the canary.
//!
//! A buffer of a huge page or more starts on a 2 MiB boundary and is advised
//! MADV_HUGEPAGE, as the live lattice's levels are (cpp/core/huge_pages.h):
//! where transparent huge pages are in "madvise" mode, a kernel streaming
//! 4 KiB pages here and 2 MiB pages live would be ranked on memory it will
//! not run on.

use std::ffi::{c_void, CStr, CString};
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::NonNull;

use crate::abi::{
    EntryFn, Geometry, Host, KernelTable, ReadoutFn, State, WaveStepFn, ABI_VERSION, ENTRY_SYMBOL,
    STATUS_NONFINITE, STATUS_OK,
};
use crate::float::Float;
use crate::pool::Pool;

const PAGE_BYTES: usize = 4096;
const HUGE_PAGE_BYTES: usize = 2 << 20;
const CANARY: u8 = 0xA5;

/// One page-aligned, guard-paged allocation.
pub struct GuardedBuffer {
    base: NonNull<u8>,
    mapped_bytes: usize,
    data: *mut u8,
    bytes: usize,
    capacity: usize,
}

impl GuardedBuffer {
    /// `bytes` usable bytes between two inaccessible pages.
    pub fn new(bytes: usize) -> Result<Self, String> {
        let capacity = bytes.max(1).div_ceil(PAGE_BYTES) * PAGE_BYTES;
        let huge = capacity >= HUGE_PAGE_BYTES;
        // Room for the leading guard page and, for a huge buffer, for moving
        // its start up to the next 2 MiB boundary; then the trailing guard.
        let lead = if huge { HUGE_PAGE_BYTES } else { PAGE_BYTES };
        let mapped_bytes = lead + capacity + PAGE_BYTES;
        // SAFETY: a fresh anonymous mapping; nothing else refers to it.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                mapped_bytes,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(format!("mmap of {mapped_bytes} bytes failed"));
            }
            let first = base as usize + PAGE_BYTES;
            let start = if huge {
                first.next_multiple_of(HUGE_PAGE_BYTES)
            } else {
                first
            };
            // Within the mapping: start - base <= lead, so the trailing guard page fits.
            let data = (base as *mut u8).add(start - base as usize);
            if libc::mprotect(
                data as *mut c_void,
                capacity,
                libc::PROT_READ | libc::PROT_WRITE,
            ) != 0
            {
                libc::munmap(base, mapped_bytes);
                return Err(format!("mprotect of {capacity} bytes failed"));
            }
            if huge {
                // Advice only: where huge pages are off it changes nothing.
                libc::madvise(data as *mut c_void, capacity, libc::MADV_HUGEPAGE);
            }
            let buffer = GuardedBuffer {
                base: NonNull::new_unchecked(base as *mut u8),
                mapped_bytes,
                data,
                bytes,
                capacity,
            };
            std::ptr::write_bytes(data, CANARY, capacity);
            Ok(buffer)
        }
    }

    pub fn as_mut_ptr(&self) -> *mut c_void {
        self.data as *mut c_void
    }

    /// Copies `values` to the start of the buffer.
    pub fn fill<T: Copy>(&mut self, values: &[T]) {
        let bytes = std::mem::size_of_val(values);
        assert!(
            bytes <= self.bytes,
            "fill of {bytes} bytes into a buffer of {}",
            self.bytes
        );
        // SAFETY: the destination holds at least `bytes` writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr() as *const u8, self.data, bytes) }
    }

    /// Reads `count` values from the start of the buffer.
    pub fn read<T: Copy + Default>(&self, count: usize) -> Vec<T> {
        let mut values = vec![T::default(); count];
        let bytes = std::mem::size_of_val(values.as_slice());
        assert!(
            bytes <= self.bytes,
            "read of {bytes} bytes from a buffer of {}",
            self.bytes
        );
        // SAFETY: the source holds at least `bytes` readable bytes.
        unsafe { std::ptr::copy_nonoverlapping(self.data, values.as_mut_ptr() as *mut u8, bytes) }
        values
    }

    /// The first slack byte past the end that lost its canary, if any.
    pub fn canary_breach(&self) -> Option<usize> {
        // SAFETY: [bytes, capacity) is mapped read-write.
        let slack = unsafe {
            std::slice::from_raw_parts(self.data.add(self.bytes), self.capacity - self.bytes)
        };
        slack
            .iter()
            .position(|&b| b != CANARY)
            .map(|i| self.bytes + i)
    }
}

impl Drop for GuardedBuffer {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe {
            libc::munmap(self.base.as_ptr() as *mut c_void, self.mapped_bytes);
        }
    }
}

/// A loaded kernel module: its dlopen handle, validated table, and the
/// host it is lent on every call (the pool it borrows).
pub struct Kernel<'pool> {
    /// Kept open for the life of the process: the table points into it.
    _handle: NonNull<c_void>,
    table: *const KernelTable,
    host: Host,
    _pool: PhantomData<&'pool Pool>,
    pub name: String,
}

fn dl_error() -> String {
    // SAFETY: dlerror returns null or a thread-local NUL-terminated string.
    unsafe {
        let message = libc::dlerror();
        if message.is_null() {
            "unknown dlopen error".to_owned()
        } else {
            CStr::from_ptr(message).to_string_lossy().into_owned()
        }
    }
}

/// A dlopened module whose entry has not been called yet: its constructors
/// have run, none of its functions has.
pub struct Library {
    handle: NonNull<c_void>,
    path: String,
}

impl Library {
    /// dlopens `path`, which runs its constructors.
    pub fn open(path: &Path) -> Result<Self, String> {
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| format!("kernel path {} contains a NUL byte", path.display()))?;
        // SAFETY: loading untrusted code is the point; the process is confined.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        let handle = NonNull::new(handle)
            .ok_or_else(|| format!("dlopen {}: {}", path.display(), dl_error()))?;
        Ok(Library {
            handle,
            path: path.display().to_string(),
        })
    }

    /// Calls `ouro_kernel_entry`, checks the table it returns, and binds the
    /// kernel to the pool every later call lends it.
    pub fn bind(self, pool: &Pool) -> Result<Kernel<'_>, String> {
        let path = &self.path;
        // SAFETY: looks a symbol up in a handle we own.
        let entry = unsafe {
            libc::dlsym(
                self.handle.as_ptr(),
                ENTRY_SYMBOL.as_ptr() as *const libc::c_char,
            )
        };
        if entry.is_null() {
            return Err(format!("{path} does not export ouro_kernel_entry"));
        }
        // SAFETY: the ABI gives the entry this signature.
        let entry: EntryFn = unsafe { std::mem::transmute::<*mut c_void, EntryFn>(entry) };
        // SAFETY: calling candidate code is the point; a fault ends the runner.
        let table = unsafe { entry() };
        // SAFETY: checked non-null before any field is read.
        let checked = unsafe { table.as_ref() }.ok_or("ouro_kernel_entry returned a null table")?;
        if checked.abi_version != ABI_VERSION {
            return Err(format!(
                "table abi_version = {}: the host speaks {ABI_VERSION}",
                checked.abi_version
            ));
        }
        if (checked.table_bytes as usize) < std::mem::size_of::<KernelTable>() {
            return Err(format!(
                "table table_bytes = {}: must be >= {}",
                checked.table_bytes,
                std::mem::size_of::<KernelTable>()
            ));
        }
        if checked.wave_step.is_none() || checked.readout.is_none() {
            return Err("table has a null wave_step or readout".to_owned());
        }
        if checked.name.is_null() {
            return Err("table name is null".to_owned());
        }
        // SAFETY: the ABI makes `name` a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(checked.name) }
            .to_string_lossy()
            .chars()
            .take(64)
            .collect();
        Ok(Kernel {
            _handle: self.handle,
            table,
            host: pool.host(),
            _pool: PhantomData,
            name,
        })
    }
}

impl Kernel<'_> {
    fn wave_step_fn(&self) -> WaveStepFn {
        // SAFETY: `open` checked the table and that the pointer is non-null.
        unsafe { (*self.table).wave_step.expect("checked in open") }
    }

    fn readout_fn(&self) -> ReadoutFn {
        // SAFETY: as above.
        unsafe { (*self.table).readout.expect("checked in open") }
    }

    /// Calls `wave_step` on state the caller owns (the kernel host steps the
    /// live segment in place), lending the pool; returns the kernel's status.
    ///
    /// # Safety
    /// Both levels and the scratch of `state` must be live, writable buffers
    /// of `geometry.cells` values of the geometry's precision.
    pub unsafe fn wave_step(&self, geometry: &Geometry, state: &State, steps: u64) -> i32 {
        (self.wave_step_fn())(&self.host, geometry, state, steps)
    }
}

/// Both levels after a call: `previous` is u^{n+k-1}, `current` u^{n+k}.
#[derive(Debug, Clone)]
pub struct Stepped<T> {
    pub previous: Vec<T>,
    pub current: Vec<T>,
}

/// The three state buffers of one lattice, reused across calls.
pub struct StepBuffers {
    levels: [GuardedBuffer; 2],
    scratch: GuardedBuffer,
}

impl StepBuffers {
    pub fn new<T: Float>(geometry: &Geometry) -> Result<Self, String> {
        let bytes = geometry.cells as usize * std::mem::size_of::<T>();
        Ok(StepBuffers {
            levels: [GuardedBuffer::new(bytes)?, GuardedBuffer::new(bytes)?],
            scratch: GuardedBuffer::new(bytes)?,
        })
    }

    /// Puts (u^{n-1}, u^n) at level[1 - current] and level[current].
    pub fn load<T: Float>(&mut self, previous: &[T], current: &[T], current_index: u32) {
        self.levels[current_index as usize].fill(current);
        self.levels[1 - current_index as usize].fill(previous);
    }

    fn state(&self, current_index: u32) -> State {
        State {
            level: [self.levels[0].as_mut_ptr(), self.levels[1].as_mut_ptr()],
            scratch: self.scratch.as_mut_ptr(),
            current: current_index,
        }
    }

    fn breach(&self) -> Option<String> {
        let named = [
            ("level[0]", &self.levels[0]),
            ("level[1]", &self.levels[1]),
            ("scratch", &self.scratch),
        ];
        named.iter().find_map(|(name, buffer)| {
            buffer
                .canary_breach()
                .map(|at| format!("wrote past the end of {name} (byte {at})"))
        })
    }

    /// Runs `steps` steps from level[current_index] without copying state in.
    pub fn step(
        &mut self,
        kernel: &Kernel,
        geometry: &Geometry,
        steps: u64,
        current_index: u32,
    ) -> Result<(), String> {
        let state = self.state(current_index);
        // SAFETY: every pointer refers to a live buffer of `cells` values.
        let status = unsafe { (kernel.wave_step_fn())(&kernel.host, geometry, &state, steps) };
        if let Some(breach) = self.breach() {
            return Err(format!("wave_step {breach}"));
        }
        if status != STATUS_OK {
            return Err(format!(
                "wave_step returned status {status} (expected OURO_OK)"
            ));
        }
        Ok(())
    }

    /// The levels as the ABI's contract places them after `steps` steps.
    pub fn levels_after<T: Float>(
        &self,
        cells: usize,
        current_index: u32,
        steps: u64,
    ) -> Stepped<T> {
        let newest = ((current_index as u64 + steps) % 2) as usize;
        Stepped {
            current: self.levels[newest].read(cells),
            previous: self.levels[1 - newest].read(cells),
        }
    }
}

/// Steps (previous, current) `steps` times with the kernel on fresh buffers.
pub fn run_steps<T: Float>(
    kernel: &Kernel,
    geometry: &Geometry,
    previous: &[T],
    current: &[T],
    steps: u64,
    current_index: u32,
) -> Result<Stepped<T>, String> {
    let mut buffers = StepBuffers::new::<T>(geometry)?;
    buffers.load(previous, current, current_index);
    buffers.step(kernel, geometry, steps, current_index)?;
    Ok(buffers.levels_after(previous.len(), current_index, steps))
}

/// What a readout call produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadoutResult {
    Digits(Vec<i8>),
    NonFinite { index: u64 },
}

/// Calls the kernel's readout on `field`.
pub fn run_readout<T: Float>(
    kernel: &Kernel,
    geometry: &Geometry,
    field: &[T],
) -> Result<ReadoutResult, String> {
    let mut input = GuardedBuffer::new(std::mem::size_of_val(field))?;
    input.fill(field);
    let digits = GuardedBuffer::new(field.len())?;
    let bad_index = GuardedBuffer::new(8)?;
    // SAFETY: every pointer refers to a live buffer of the right size.
    let status = unsafe {
        (kernel.readout_fn())(
            &kernel.host,
            geometry,
            input.as_mut_ptr(),
            digits.as_mut_ptr() as *mut i8,
            bad_index.as_mut_ptr() as *mut u64,
        )
    };
    for (name, buffer) in [
        ("field", &input),
        ("digits", &digits),
        ("bad_index", &bad_index),
    ] {
        if let Some(at) = buffer.canary_breach() {
            return Err(format!("readout wrote past the end of {name} (byte {at})"));
        }
    }
    match status {
        STATUS_OK => Ok(ReadoutResult::Digits(digits.read(field.len()))),
        STATUS_NONFINITE => Ok(ReadoutResult::NonFinite {
            index: bad_index.read::<u64>(1)[0],
        }),
        other => Err(format!(
            "readout returned status {other} (expected OURO_OK or OURO_ERR_NONFINITE)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{GuardedBuffer, HUGE_PAGE_BYTES, PAGE_BYTES};

    /// The VmFlags of the mapping in /proc/self/smaps that contains `address`.
    fn vm_flags_of(address: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("/proc/self/smaps");
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().unwrap_or("");
            if let Some((begin, end)) = range.split_once('-') {
                if let (Ok(begin), Ok(end)) = (
                    usize::from_str_radix(begin, 16),
                    usize::from_str_radix(end, 16),
                ) {
                    inside = begin <= address && address < end;
                    continue;
                }
            }
            if inside && line.starts_with("VmFlags:") {
                return line.to_string();
            }
        }
        String::new()
    }

    #[test]
    fn a_small_buffer_starts_on_a_page_and_keeps_its_canary() {
        let mut buffer = GuardedBuffer::new(100).unwrap();
        assert_eq!(buffer.as_mut_ptr() as usize % PAGE_BYTES, 0);
        buffer.fill(&[1u8; 100]);
        assert_eq!(buffer.canary_breach(), None);
        // SAFETY: byte 100 is slack inside the writable page.
        unsafe { *(buffer.as_mut_ptr() as *mut u8).add(100) = 0 };
        assert_eq!(buffer.canary_breach(), Some(100));
    }

    #[test]
    fn a_huge_buffer_starts_on_a_huge_page_and_is_advised() {
        let bytes = 3 * HUGE_PAGE_BYTES + 8;
        let mut buffer = GuardedBuffer::new(bytes).unwrap();
        let start = buffer.as_mut_ptr() as usize;
        assert_eq!(start % HUGE_PAGE_BYTES, 0);
        let values: Vec<f64> = (0..bytes / 8).map(|i| i as f64).collect();
        buffer.fill(&values);
        assert_eq!(buffer.read::<f64>(values.len()), values);
        assert_eq!(buffer.canary_breach(), None);
        let flags = vm_flags_of(start);
        let kernel_has_them =
            std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists();
        assert_eq!(flags.contains(" hg"), kernel_has_them, "{flags}");
        // The guard pages on either side are still inaccessible.
        assert!(vm_flags_of(start - PAGE_BYTES)
            .split_whitespace()
            .all(|flag| flag != "rd"));
        let end = start + bytes.next_multiple_of(PAGE_BYTES);
        assert!(vm_flags_of(end).split_whitespace().all(|flag| flag != "rd"));
    }
}
