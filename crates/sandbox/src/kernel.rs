//! Loading a kernel module and calling it through the ABI. Only a worker
//! process (`worker.rs`) loads one; the supervisor never does.

use std::ffi::{c_void, CStr, CString};
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::NonNull;

use crate::abi::{EntryFn, Geometry, Host, KernelTable, State, ABI_VERSION, ENTRY_SYMBOL};
use crate::pool::Pool;

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
        // The module is linked (RTLD_NOW) and its entry found: the loader is done with the vDSO, and no
        // candidate code has run yet. From here a read of the clock's pages faults (`confine::find_clock_pages`).
        crate::confine::unmap_clock_pages()?;
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
    /// Calls wave_step on `state`.
    ///
    /// # Safety
    /// Every pointer of `state` must refer to a live buffer of `geometry.cells` values.
    pub unsafe fn wave_step(&self, geometry: &Geometry, state: &State, steps: u64) -> i32 {
        // SAFETY: `bind` checked the table and that the pointer is non-null.
        let wave_step = unsafe { (*self.table).wave_step.expect("checked in bind") };
        unsafe { wave_step(&self.host, geometry, state, steps) }
    }

    /// Calls readout on `field`.
    ///
    /// # Safety
    /// `field` must hold `geometry.cells` values, `digits` as many bytes, `bad_index` one u64.
    pub unsafe fn readout(
        &self,
        geometry: &Geometry,
        field: *const c_void,
        digits: *mut i8,
        bad_index: *mut u64,
    ) -> i32 {
        // SAFETY: as above.
        let readout = unsafe { (*self.table).readout.expect("checked in bind") };
        unsafe { readout(&self.host, geometry, field, digits, bad_index) }
    }
}
