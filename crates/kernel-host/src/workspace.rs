//! The host's workspace: a memfd the core creates per host (sealed against
//! resizing) and both map. It holds a copy of both levels and a scratch,
//! which the core fills for a step that must not touch the live state (the
//! canary's candidate, a self-test) and reads back afterwards, and the
//! digits a readout writes. The core validates every digit it reads back.
//!
//! Layout, each part page-aligned (`cpp/core/remote_kernel.cpp`'s
//! `host_workspace_layout` computes the same):
//!
//!   [0, stride)            level 0      stride = level bytes rounded up to a page
//!   [stride, 2 stride)     level 1
//!   [2 stride, 3 stride)   scratch
//!   [3 stride, bytes)      digits       one i8 per cell, rounded up to a page

/// The page size both sides round to.
pub const PAGE_BYTES: usize = 4096;

fn round_up_to_page(bytes: usize) -> usize {
    bytes.div_ceil(PAGE_BYTES) * PAGE_BYTES
}

/// Where each part of the workspace lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkspaceLayout {
    pub level_stride: usize,
    pub digits_offset: usize,
    pub bytes: usize,
}

impl WorkspaceLayout {
    /// The layout for levels of `level_bytes` bytes and `cells` cells.
    pub fn new(level_bytes: usize, cells: usize) -> WorkspaceLayout {
        let level_stride = round_up_to_page(level_bytes);
        let digits_offset = 3 * level_stride;
        WorkspaceLayout {
            level_stride,
            digits_offset,
            bytes: digits_offset + round_up_to_page(cells),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_is_page_aligned_and_the_core_computes_the_same() {
        // 48 x 40 f64: the value cpp/tests/remote_kernel_test.cpp expects too.
        let layout = WorkspaceLayout::new(48 * 40 * 8, 48 * 40);
        assert_eq!(
            layout,
            WorkspaceLayout {
                level_stride: 16384,
                digits_offset: 49152,
                bytes: 53248
            }
        );
        let exact = WorkspaceLayout::new(4 * PAGE_BYTES, PAGE_BYTES);
        assert_eq!(exact.bytes, 13 * PAGE_BYTES);
    }
}
