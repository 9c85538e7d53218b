//! Where each region sits, and the shapes a layout refuses.

mod support;

use ouroboros_segment::{crc32c, Layout, Precision, SegmentError, ALIGNMENT_BYTES, HEADER_BYTES};
use support::layout;

#[test]
fn crc32c_matches_the_standard_check_value() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(&[]), 0);
}

#[test]
fn regions_follow_the_header_each_on_a_page_boundary() {
    // 5 * 7 * 3 = 105 cells of 8 bytes = 840 bytes, padded to one page.
    let layout = layout(&[5, 7, 3], Precision::F64);
    assert_eq!(layout.cells(), 105);
    assert_eq!(layout.level_bytes(), 840);
    assert_eq!(layout.metadata_offset(), HEADER_BYTES);
    assert_eq!(layout.level0_offset(), 4096 + 65536);
    assert_eq!(layout.level1_offset(), layout.level0_offset() + 4096);
    assert_eq!(layout.scratch_offset(), layout.level0_offset() + 2 * 4096);
    assert_eq!(layout.segment_bytes(), layout.level0_offset() + 3 * 4096);
    assert_eq!(layout.checkpoint_bytes(), layout.scratch_offset());
    for offset in [
        layout.level0_offset(),
        layout.level1_offset(),
        layout.scratch_offset(),
    ] {
        assert_eq!(offset % ALIGNMENT_BYTES, 0);
    }
}

#[test]
fn f32_levels_take_half_the_bytes_and_exact_pages_get_no_padding() {
    let layout = Layout::new(&[32, 32], Precision::F32, 8192).unwrap();
    assert_eq!(layout.level_bytes(), 4096);
    assert_eq!(layout.level0_offset(), 4096 + 8192);
    assert_eq!(layout.level1_offset() - layout.level0_offset(), 4096);
}

#[test]
fn refuses_impossible_shapes_naming_the_field() {
    let message = |result: Result<Layout, SegmentError>| result.unwrap_err().to_string();
    assert_eq!(
        message(Layout::new(&[], Precision::F64, 65536)),
        "dims = 0: must be 1..=9"
    );
    assert_eq!(
        message(Layout::new(&[3; 10], Precision::F64, 65536)),
        "dims = 10: must be 1..=9"
    );
    assert_eq!(
        message(Layout::new(&[3, 2], Precision::F64, 65536)),
        "extents[1] = 2: must be >= 3"
    );
    assert_eq!(
        message(Layout::new(&[3], Precision::F64, 1000)),
        "metadata_capacity = 1000: must be a positive multiple of 4096 up to 67108864"
    );
    let huge = Layout::new(&[1 << 20, 1 << 20, 1 << 20], Precision::F64, 65536).unwrap_err();
    assert_eq!(huge.kind(), "invalid-layout");
    assert_eq!(huge.field().as_deref(), Some("segment_bytes"));
    let overflow = Layout::new(&[u64::MAX, 3], Precision::F64, 65536).unwrap_err();
    assert_eq!(overflow.field().as_deref(), Some("cells"));
}
