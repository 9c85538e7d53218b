//! The live lattice's levels, mapped from its state segment, and the host's
//! workspace (`workspace.rs`). Only the two levels and the scratch are
//! mapped (from `level0_offset` to the end): the header page, with the
//! commit record the core stores every step, and the metadata block stay
//! out of the host's reach. Both fds are closed once mapped, so nothing
//! confined can map the rest later.

use std::ffi::c_void;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use ouroboros_sandbox::abi::{Geometry, State, PRECISION_F32, PRECISION_F64};
use ouroboros_segment::header::decode;
use ouroboros_segment::{map_shared_aligned, Layout, Precision, HEADER_BYTES};

use crate::workspace::WorkspaceLayout;

/// The mapped levels and workspace, and the geometry the kernel is called with.
pub struct Levels {
    base: *mut c_void,
    mapped_bytes: usize,
    level_offsets: [usize; 3],
    workspace: *mut c_void,
    workspace_layout: WorkspaceLayout,
    /// A level's bytes, without its padding.
    level_bytes: usize,
    pub geometry: Geometry,
}

/// A shared read-write mapping of `bytes` bytes of `fd` from `offset`, its
/// first byte on a 2 MiB boundary with a guard after it, as every live
/// path and the sandbox's worker lay level 0 out; its reservation is never
/// unmapped (the host maps once and exits).
fn map_shared(fd: &OwnedFd, bytes: usize, offset: u64, what: &str) -> Result<*mut c_void, String> {
    map_shared_aligned(fd.as_fd(), bytes, offset, 0)
        .map(|(_, _, base)| base as *mut c_void)
        .map_err(|error| format!("mmap of the {what}'s {bytes} bytes: {error}"))
}

fn file_bytes(fd: &OwnedFd) -> Result<u64, String> {
    // SAFETY: fstat into a zeroed struct we own.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) } != 0 {
        return Err(format!("fstat: {}", std::io::Error::last_os_error()));
    }
    Ok(stat.st_size as u64)
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
    /// Maps the levels of the segment open as `segment` and the workspace
    /// open as `workspace` (both then closed), for a lattice of Courant
    /// number squared `courant2`.
    pub fn map(segment: OwnedFd, workspace: OwnedFd, courant2: f64) -> Result<Levels, String> {
        let layout = read_header(&segment)?;
        let start = layout.level0_offset();
        let mapped_bytes = (layout.segment_bytes() - start) as usize;
        let base = map_shared(&segment, mapped_bytes, start, "segment's level")?;
        drop(segment);
        let extents: Vec<usize> = layout.extents().iter().map(|&n| n as usize).collect();
        let precision = match layout.precision() {
            Precision::F64 => PRECISION_F64,
            Precision::F32 => PRECISION_F32,
        };
        let geometry = Geometry::new(&extents, precision, courant2);
        let workspace_layout =
            WorkspaceLayout::new(layout.level_bytes() as usize, layout.cells() as usize);
        let found = file_bytes(&workspace)?;
        if found != workspace_layout.bytes as u64 {
            return Err(format!(
                "workspace: {found} bytes, the lattice's layout needs {}",
                workspace_layout.bytes
            ));
        }
        let workspace_base = map_shared(&workspace, workspace_layout.bytes, 0, "workspace")?;
        drop(workspace);
        Ok(Levels {
            base,
            mapped_bytes,
            level_offsets: [
                0,
                (layout.level1_offset() - start) as usize,
                (layout.scratch_offset() - start) as usize,
            ],
            workspace: workspace_base,
            workspace_layout,
            level_bytes: layout.level_bytes() as usize,
            geometry,
        })
    }

    /// The bytes mapped, for the address-space limit.
    pub fn mapped_bytes(&self) -> usize {
        self.mapped_bytes + self.workspace_layout.bytes
    }

    fn workspace_at(&self, offset: usize) -> *mut c_void {
        // SAFETY: every offset the layout gives is inside the workspace mapping.
        unsafe { (self.workspace as *mut u8).add(offset) as *mut c_void }
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

    /// The ABI's state on the workspace's copy, with u^n at its `level[current]`.
    pub fn workspace_state(&self, current: u32) -> State {
        let stride = self.workspace_layout.level_stride;
        State {
            level: [self.workspace_at(0), self.workspace_at(stride)],
            scratch: self.workspace_at(2 * stride),
            current,
        }
    }

    /// A level's bytes, without its padding.
    pub fn level_bytes(&self) -> usize {
        self.level_bytes
    }

    /// The bytes from one level to the next, in the segment as in the
    /// workspace: before every step call the padding after each level is
    /// cleared and the scratch's stride discarded (MADV_REMOVE frees the
    /// memfd's pages, so it reads zero), as the live core does
    /// (`ouroboros_sandbox::shared::prepare_call`, which the call path runs).
    pub fn level_stride(&self) -> usize {
        self.workspace_layout.level_stride
    }

    /// Live level `level` (0 or 1), for a readout.
    pub fn live_level(&self, level: u32) -> *const c_void {
        self.state(0).level[level as usize]
    }

    /// The workspace's level `level` (0 or 1), for a readout.
    pub fn workspace_level(&self, level: u32) -> *const c_void {
        self.workspace_state(0).level[level as usize]
    }

    /// Where a readout writes its digits: one per cell.
    pub fn digits(&self) -> *mut i8 {
        self.workspace_at(self.workspace_layout.digits_offset) as *mut i8
    }
}
