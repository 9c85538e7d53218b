//! The kernel C ABI of `cpp/include/ouroboros/kernel_abi.h`, mirrored with
//! `#[repr(C)]`. `tests/abi_layout.rs` compiles the header and checks every
//! size and offset against these definitions.

use std::ffi::c_void;

/// `OURO_KERNEL_ABI_VERSION`.
pub const ABI_VERSION: u32 = 1;
/// `OURO_MAX_DIMS`.
pub const MAX_DIMS: usize = 9;
/// `OURO_KERNEL_ENTRY_SYMBOL`, NUL-terminated for dlsym.
pub const ENTRY_SYMBOL: &[u8] = b"ouro_kernel_entry\0";

pub const PRECISION_F64: u32 = 0;
pub const PRECISION_F32: u32 = 1;

pub const STATUS_OK: i32 = 0;
pub const STATUS_NONFINITE: i32 = 1;
pub const STATUS_UNSUPPORTED: i32 = 2;

/// `ouro_geometry`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub dims: u32,
    pub precision: u32,
    pub cells: u64,
    pub extents: [u64; MAX_DIMS],
    pub strides: [u64; MAX_DIMS],
    pub courant2: f64,
}

/// `ouro_range_fn`.
pub type RangeFn = unsafe extern "C" fn(ctx: *mut c_void, begin: u64, end: u64);

/// `ouro_host`.
#[repr(C)]
pub struct Host {
    pub threads: u32,
    pub pool: *mut c_void,
    pub parallel_for: unsafe extern "C" fn(
        pool: *mut c_void,
        count: u64,
        grain: u64,
        function: RangeFn,
        ctx: *mut c_void,
    ),
}

/// `ouro_state`.
#[repr(C)]
pub struct State {
    pub level: [*mut c_void; 2],
    pub scratch: *mut c_void,
    pub current: u32,
}

/// `ouro_wave_step_fn`.
pub type WaveStepFn = unsafe extern "C" fn(
    host: *const Host,
    geometry: *const Geometry,
    state: *const State,
    steps: u64,
) -> i32;

/// `ouro_readout_fn`.
pub type ReadoutFn = unsafe extern "C" fn(
    host: *const Host,
    geometry: *const Geometry,
    field: *const c_void,
    digits: *mut i8,
    bad_index: *mut u64,
) -> i32;

/// `ouro_kernel_table`. The function pointers are `Option`s because a
/// hostile table may hold nulls; the loader rejects those before any call.
#[repr(C)]
pub struct KernelTable {
    pub abi_version: u32,
    pub table_bytes: u32,
    pub name: *const libc::c_char,
    pub wave_step: Option<WaveStepFn>,
    pub readout: Option<ReadoutFn>,
}

/// `ouro_kernel_entry_fn`.
pub type EntryFn = unsafe extern "C" fn() -> *const KernelTable;

impl Geometry {
    /// Row-major geometry for `extents` (last axis fastest).
    pub fn new(extents: &[usize], precision: u32, courant2: f64) -> Self {
        let mut geometry = Geometry {
            dims: extents.len() as u32,
            precision,
            cells: extents.iter().map(|&n| n as u64).product(),
            extents: [0; MAX_DIMS],
            strides: [0; MAX_DIMS],
            courant2,
        };
        let mut stride = 1u64;
        for axis in (0..extents.len()).rev() {
            geometry.extents[axis] = extents[axis] as u64;
            geometry.strides[axis] = stride;
            stride *= extents[axis] as u64;
        }
        geometry
    }

    /// Bytes per value of this geometry's precision.
    pub fn value_bytes(&self) -> usize {
        if self.precision == PRECISION_F64 {
            8
        } else {
            4
        }
    }
}
