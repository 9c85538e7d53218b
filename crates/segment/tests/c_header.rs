//! `cpp/include/ouroboros/segment_layout.h` and the Rust constants must
//! agree: every `#define` there has its Rust twin here with the same value,
//! and every Rust offset has its `#define`.

use std::collections::BTreeMap;

use ouroboros_segment::*;

fn c_defines() -> BTreeMap<String, String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../cpp/include/ouroboros/segment_layout.h"
    );
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("#define OURO_SEGMENT_"))
        .map(|rest| {
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap().to_owned();
            let value = words.next().unwrap_or_default().to_owned();
            (name, value)
        })
        .collect()
}

fn rust_values() -> BTreeMap<String, String> {
    let magic = std::str::from_utf8(&MAGIC[..7]).unwrap();
    assert_eq!(MAGIC[7], 0, "the C string literal supplies the final NUL");
    let mut values: BTreeMap<String, String> = [
        ("MAGIC", format!("\"{magic}\"")),
        ("FORMAT_VERSION", FORMAT_VERSION.to_string()),
        ("HEADER_BYTES", HEADER_BYTES.to_string()),
        ("ALIGNMENT_BYTES", ALIGNMENT_BYTES.to_string()),
        ("MAX_DIMS", MAX_DIMS.to_string()),
        ("MIN_EXTENT", MIN_EXTENT.to_string()),
        (
            "DEFAULT_METADATA_CAPACITY_BYTES",
            DEFAULT_METADATA_CAPACITY_BYTES.to_string(),
        ),
        (
            "MAX_METADATA_CAPACITY_BYTES",
            MAX_METADATA_CAPACITY_BYTES.to_string(),
        ),
        ("PRECISION_F64", PRECISION_F64.to_string()),
        ("PRECISION_F32", PRECISION_F32.to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let offsets = [
        ("MAGIC", offset::MAGIC),
        ("FORMAT_VERSION", offset::FORMAT_VERSION),
        ("HEADER_BYTES", offset::HEADER_BYTES),
        ("DIMS", offset::DIMS),
        ("PRECISION", offset::PRECISION),
        ("EXTENTS", offset::EXTENTS),
        ("CELLS", offset::CELLS),
        ("LEVEL_BYTES", offset::LEVEL_BYTES),
        ("METADATA_OFFSET", offset::METADATA_OFFSET),
        ("METADATA_CAPACITY", offset::METADATA_CAPACITY),
        ("LEVEL0_OFFSET", offset::LEVEL0_OFFSET),
        ("LEVEL1_OFFSET", offset::LEVEL1_OFFSET),
        ("SCRATCH_OFFSET", offset::SCRATCH_OFFSET),
        ("SEGMENT_BYTES", offset::SEGMENT_BYTES),
        ("HEADER_CHECKSUM", offset::HEADER_CHECKSUM),
        ("COMMIT_START", offset::COMMIT_START),
        ("STEP_COUNT", offset::STEP_COUNT),
        ("GENERATION", offset::GENERATION),
        ("CURRENT_LEVEL", offset::CURRENT_LEVEL),
        ("METADATA_CHECKSUM", offset::METADATA_CHECKSUM),
        ("METADATA_LENGTH", offset::METADATA_LENGTH),
        ("COMMIT_CHECKSUM", offset::COMMIT_CHECKSUM),
        ("COMMIT_END", offset::COMMIT_END),
        ("CHECKPOINT_START", offset::CHECKPOINT_START),
        ("LEVEL_CURRENT_CHECKSUM", offset::LEVEL_CURRENT_CHECKSUM),
        ("LEVEL_PREVIOUS_CHECKSUM", offset::LEVEL_PREVIOUS_CHECKSUM),
        ("CHECKPOINT_CHECKSUM", offset::CHECKPOINT_CHECKSUM),
        ("CHECKPOINT_END", offset::CHECKPOINT_END),
    ];
    for (name, at) in offsets {
        values.insert(format!("OFFSET_{name}"), at.to_string());
    }
    values
}

#[test]
fn c_header_defines_exactly_the_rust_constants() {
    let c = c_defines();
    let rust = rust_values();
    for (name, value) in &rust {
        assert_eq!(
            c.get(name),
            Some(value),
            "OURO_SEGMENT_{name}: segment_layout.h has {:?}, the Rust crate {value}",
            c.get(name)
        );
    }
    for name in c.keys() {
        assert!(
            rust.contains_key(name),
            "OURO_SEGMENT_{name} is in segment_layout.h but has no Rust constant checked here"
        );
    }
}

#[test]
fn header_fields_do_not_overlap_and_u64s_are_aligned() {
    let u64_fields = [
        offset::CELLS,
        offset::LEVEL_BYTES,
        offset::METADATA_OFFSET,
        offset::METADATA_CAPACITY,
        offset::LEVEL0_OFFSET,
        offset::LEVEL1_OFFSET,
        offset::SCRATCH_OFFSET,
        offset::SEGMENT_BYTES,
        offset::STEP_COUNT,
        offset::GENERATION,
        offset::METADATA_LENGTH,
    ];
    assert!(u64_fields.iter().all(|at| at.is_multiple_of(8)));
    const {
        assert!(offset::EXTENTS.is_multiple_of(8));
        assert!(offset::EXTENTS + 8 * MAX_DIMS == offset::CELLS);
        assert!(offset::HEADER_CHECKSUM + 4 <= offset::COMMIT_START);
        assert!(offset::COMMIT_CHECKSUM + 4 == offset::COMMIT_END);
        assert!(offset::COMMIT_END as u64 <= HEADER_BYTES);
    }
}
