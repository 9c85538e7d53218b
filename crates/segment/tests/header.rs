//! Header pages as bytes: each damaged field is refused with its own error
//! naming the field, the value found and the value expected.

mod support;

use ouroboros_segment::header::{self, CommitRecord, Expected};
use ouroboros_segment::{offset, Layout, Precision, SegmentError, FORMAT_VERSION, HEADER_BYTES};
use support::{layout, put_u32, put_u64, reseal_commit, reseal_header, u32_at};

fn page() -> (Layout, Vec<u8>) {
    let layout = layout(&[4, 5, 6], Precision::F32);
    let page = header::encode(&layout).to_vec();
    (layout, page)
}

fn decode(bytes: &[u8]) -> Result<Layout, SegmentError> {
    header::decode(bytes, "segment")
}

#[test]
fn an_encoded_header_decodes_to_its_layout_with_a_committed_empty_record() {
    let (layout, page) = page();
    assert_eq!(&page[..8], b"OUROSEG\0");
    assert_eq!(u32_at(&page, offset::FORMAT_VERSION), FORMAT_VERSION);
    assert_eq!(decode(&page).unwrap(), layout);
    let record = header::verify_commit(&page, &layout).unwrap();
    assert_eq!(record, CommitRecord::default());
    header::verify_metadata(&record, &[]).unwrap();
}

#[test]
fn wrong_magic_is_refused_first_even_when_short() {
    let (_, mut page) = page();
    page[0] = b'X';
    let error = decode(&page).unwrap_err();
    assert_eq!(error.kind(), "bad-magic");
    assert_eq!(
        error.to_string(),
        "magic = \"XUROSEG\\0\": expected \"OUROSEG\\0\"; this is not an Ouroboros state segment or checkpoint"
    );
    assert_eq!(
        decode(b"PK\x03\x04 a zip file").unwrap_err().kind(),
        "bad-magic"
    );
}

#[test]
fn a_short_header_is_truncated() {
    let (_, page) = page();
    let error = decode(&page[..100]).unwrap_err();
    assert_eq!(error.kind(), "truncated");
    assert_eq!(
        error.found_expected(),
        Some(("100".into(), HEADER_BYTES.to_string()))
    );
    assert_eq!(decode(&page[..3]).unwrap_err().kind(), "truncated");
}

#[test]
fn an_unknown_version_is_refused_before_the_checksum() {
    let (_, mut page) = page();
    put_u32(&mut page, offset::FORMAT_VERSION, 7);
    let error = decode(&page).unwrap_err();
    assert_eq!(error.kind(), "unknown-version");
    assert_eq!(
        error.to_string(),
        "format_version = 7: this build reads version 2; use the build that wrote it"
    );
}

#[test]
fn any_changed_layout_byte_fails_the_header_checksum() {
    let (_, clean) = page();
    for at in [
        offset::DIMS,
        offset::EXTENTS + 8,
        offset::CELLS,
        offset::LEVEL1_OFFSET,
    ] {
        let mut page = clean.clone();
        page[at] ^= 1;
        let error = decode(&page).unwrap_err();
        assert_eq!(error.kind(), "header-checksum", "byte {at}");
        assert_eq!(error.field().as_deref(), Some("header_checksum"));
    }
    let mut page = clean.clone();
    page[offset::HEADER_CHECKSUM] ^= 0xFF;
    assert_eq!(decode(&page).unwrap_err().kind(), "header-checksum");
}

#[test]
fn a_checksummed_but_inconsistent_layout_names_the_field() {
    let (layout, clean) = page();
    let cases: [(&str, usize, u64); 4] = [
        (
            "level1_offset",
            offset::LEVEL1_OFFSET,
            layout.level1_offset() + 4096,
        ),
        ("cells", offset::CELLS, 121),
        ("segment_bytes", offset::SEGMENT_BYTES, 1 << 40),
        ("extents[5]", offset::EXTENTS + 40, 3),
    ];
    for (field, at, value) in cases {
        let mut page = clean.clone();
        put_u64(&mut page, at, value);
        reseal_header(&mut page);
        let error = decode(&page).unwrap_err();
        assert_eq!(error.kind(), "inconsistent-layout", "{field}");
        assert_eq!(error.field().as_deref(), Some(field));
        assert_eq!(error.found_expected().unwrap().0, value.to_string());
    }
    let mut page = clean.clone();
    put_u32(&mut page, offset::PRECISION, 9);
    reseal_header(&mut page);
    assert_eq!(
        decode(&page).unwrap_err().to_string(),
        "precision = 9: the rest of the header implies 1 (f64) or 2 (f32); the header is corrupt"
    );
    let mut page = clean;
    put_u32(&mut page, offset::HEADER_BYTES, 8192);
    assert_eq!(
        decode(&page).unwrap_err().field().as_deref(),
        Some("header_bytes")
    );
}

#[test]
fn the_commit_record_is_checked_against_its_checksum() {
    let (layout, mut page) = page();
    put_u64(&mut page, offset::STEP_COUNT, 41);
    let error = header::verify_commit(&page, &layout).unwrap_err();
    assert_eq!(error.kind(), "commit-checksum");
    reseal_commit(&mut page);
    assert_eq!(
        header::verify_commit(&page, &layout).unwrap().step_count,
        41
    );

    put_u32(&mut page, offset::CURRENT_LEVEL, 2);
    reseal_commit(&mut page);
    let error = header::verify_commit(&page, &layout).unwrap_err();
    assert_eq!(error.field().as_deref(), Some("current_level"));

    put_u32(&mut page, offset::CURRENT_LEVEL, 1);
    put_u64(
        &mut page,
        offset::METADATA_LENGTH,
        layout.metadata_capacity() + 1,
    );
    reseal_commit(&mut page);
    let error = header::verify_commit(&page, &layout).unwrap_err();
    assert_eq!(error.kind(), "metadata-too-long");
}

#[test]
fn metadata_that_differs_from_its_checksum_is_refused() {
    let record = CommitRecord {
        metadata_checksum: ouroboros_segment::crc32c(b"config"),
        metadata_length: 6,
        ..CommitRecord::default()
    };
    header::verify_metadata(&record, b"config").unwrap();
    let error = header::verify_metadata(&record, b"cOnfig").unwrap_err();
    assert_eq!(error.kind(), "metadata-checksum");
    assert_eq!(error.field().as_deref(), Some("metadata_checksum"));
}

#[test]
fn a_layout_other_than_the_expected_one_names_the_field() {
    let (layout, _) = page();
    let expect = |extents: &[u64], precision| Expected {
        extents: extents.to_vec(),
        precision,
    };
    header::check_expected(&layout, &expect(&[4, 5, 6], Precision::F32)).unwrap();
    let error = header::check_expected(&layout, &expect(&[4, 5], Precision::F32)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "dims = 3: the lattice expects 2; this state belongs to a different configuration"
    );
    let error = header::check_expected(&layout, &expect(&[4, 9, 6], Precision::F32)).unwrap_err();
    assert_eq!(error.kind(), "layout-mismatch");
    assert_eq!(error.field().as_deref(), Some("extents[1]"));
    assert_eq!(error.found_expected(), Some(("5".into(), "9".into())));
    let error = header::check_expected(&layout, &expect(&[4, 5, 6], Precision::F64)).unwrap_err();
    assert_eq!(error.found_expected(), Some(("f32".into(), "f64".into())));
}
