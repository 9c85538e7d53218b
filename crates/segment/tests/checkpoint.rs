//! Checkpoint files: a round trip is bitwise exact, every damaged file is
//! refused with its own error, and a failed write leaves the old file.

mod support;

use std::path::{Path, PathBuf};

use ouroboros_segment::{checkpoint, offset, Expected, Layout, Precision, Segment, SegmentError};
use support::{layout, put_u32, put_u64, reseal_commit, temp_dir, TempDir};

fn filled_segment(layout: &Layout) -> Segment {
    let segment = Segment::create(layout).unwrap();
    for level in 0..2 {
        let bytes: Vec<u8> = (0..layout.level_bytes())
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(level as u8))
            .collect();
        segment.write_level(level, &bytes);
    }
    segment.set_step_count(1234);
    segment.set_current_level(1);
    segment.bump_generation();
    segment.write_metadata(b"\x0a\x03abc").unwrap();
    segment
}

/// A checkpoint written in a fresh directory, which goes with the guard.
fn written(name: &str) -> (Layout, PathBuf, TempDir) {
    let layout = layout(&[7, 9, 5], Precision::F64);
    let dir = temp_dir(name);
    let path = dir.join("state.ouro");
    checkpoint::write(&filled_segment(&layout), &path).unwrap();
    (layout, path, dir)
}

/// Changes a checkpoint file's bytes in place.
type Damage = Box<dyn FnOnce(&mut Vec<u8>)>;

/// Applies `damage` to the file's bytes and reads it back.
fn read_damaged(path: &Path, damage: impl FnOnce(&mut Vec<u8>)) -> SegmentError {
    let mut bytes = std::fs::read(path).unwrap();
    damage(&mut bytes);
    let damaged = path.with_extension("damaged");
    std::fs::write(&damaged, bytes).unwrap();
    match checkpoint::read(&damaged, None) {
        Ok(_) => panic!("a damaged checkpoint was accepted"),
        Err(error) => error,
    }
}

#[test]
fn a_round_trip_restores_every_bit_and_the_commit_record() {
    let layout = layout(&[7, 9, 5], Precision::F64);
    let original = filled_segment(&layout);
    let dir = temp_dir("round-trip");
    let path = dir.join("state.ouro");
    checkpoint::write(&original, &path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        layout.checkpoint_bytes()
    );

    let expected = Expected {
        extents: vec![7, 9, 5],
        precision: Precision::F64,
    };
    let restored = checkpoint::read(&path, Some(&expected)).unwrap();
    assert_eq!(restored.layout(), &layout);
    for level in 0..2 {
        assert_eq!(restored.read_level(level), original.read_level(level));
    }
    assert_eq!(restored.step_count(), 1234);
    assert_eq!(restored.current_level(), 1);
    assert_eq!(restored.generation(), 1);
    assert_eq!(restored.read_metadata().unwrap(), b"\x0a\x03abc");
    restored.verify(Some(&expected)).unwrap();
    let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
}

#[test]
fn damaged_files_are_refused_each_with_its_own_error() {
    let (layout, path, _dir) = written("damaged");
    let cases: Vec<(&str, Damage)> = vec![
        ("bad-magic", Box::new(|bytes| bytes[1] = b'x')),
        (
            "unknown-version",
            Box::new(|bytes| put_u32(bytes, offset::FORMAT_VERSION, 1)),
        ),
        (
            "truncated",
            Box::new(|bytes| bytes.truncate(bytes.len() - 1)),
        ),
        ("truncated", Box::new(|bytes| bytes.truncate(2000))),
        ("trailing-bytes", Box::new(|bytes| bytes.push(0))),
        (
            "header-checksum",
            Box::new(|bytes| bytes[offset::EXTENTS] ^= 4),
        ),
        (
            "commit-checksum",
            Box::new(|bytes| put_u64(bytes, offset::STEP_COUNT, 1233)),
        ),
        ("metadata-checksum", Box::new(|bytes| bytes[4096 + 2] ^= 1)),
        (
            "checkpoint-checksum",
            Box::new(|bytes| bytes[offset::LEVEL_PREVIOUS_CHECKSUM] ^= 1),
        ),
        (
            "metadata-too-long",
            Box::new(move |bytes| {
                put_u64(
                    bytes,
                    offset::METADATA_LENGTH,
                    layout.metadata_capacity() + 8,
                );
                reseal_commit(bytes);
            }),
        ),
    ];
    for (kind, damage) in cases {
        let error = read_damaged(&path, damage);
        assert_eq!(error.kind(), kind, "{error}");
    }
}

/// The byte `index` of level `level`'s region in a checkpoint file of `layout`.
fn level_byte(layout: &Layout, level: u64, index: u64) -> usize {
    let start = if level == 0 {
        layout.level0_offset()
    } else {
        layout.level1_offset()
    };
    (start + index) as usize
}

#[test]
fn a_damaged_level_is_refused_naming_which() {
    let (layout, path, _dir) = written("levels");
    // The filled segment's current level is 1: u^n is level 1, u^{n-1} level 0.
    let flipped = read_damaged(&path, |bytes| bytes[level_byte(&layout, 1, 17)] ^= 0x01);
    assert_eq!(flipped.kind(), "level-checksum", "{flipped}");
    assert_eq!(flipped.field().as_deref(), Some("level_current_checksum"));
    let zeroed = read_damaged(&path, |bytes| {
        let start = level_byte(&layout, 0, 0);
        bytes[start..start + layout.level_bytes() as usize].fill(0);
    });
    assert_eq!(
        zeroed.field().as_deref(),
        Some("level_previous_checksum"),
        "{zeroed}"
    );
}

#[test]
fn a_swapped_current_level_is_refused_even_with_its_commit_checksum_redone() {
    let (_, path, _dir) = written("time-reversed");
    let error = read_damaged(&path, |bytes| {
        put_u32(bytes, offset::CURRENT_LEVEL, 0);
        reseal_commit(bytes);
    });
    assert_eq!(error.kind(), "checkpoint-checksum", "{error}");
}

#[test]
fn only_a_regular_file_is_read_and_a_fifo_does_not_block() {
    let dir = temp_dir("not-a-file");
    let fifo = dir.join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    for (path, found) in [
        (fifo, "a FIFO"),
        (dir.path().to_path_buf(), "a directory"),
        ("/dev/zero".into(), "a device"),
    ] {
        match checkpoint::read(&path, None) {
            Err(error) => {
                assert_eq!(error.kind(), "not-a-regular-file", "{error}");
                assert_eq!(
                    error.to_string(),
                    format!(
                        "{} is {found}: a checkpoint is a regular file that `checkpoint()` wrote",
                        path.display()
                    )
                );
            }
            Ok(_) => panic!("{} was read as a checkpoint", path.display()),
        }
    }
}

#[test]
fn a_checkpoint_of_another_configuration_is_a_layout_mismatch() {
    let (_, path, _dir) = written("mismatch");
    let expected = Expected {
        extents: vec![7, 9, 6],
        precision: Precision::F64,
    };
    let error = checkpoint::read(&path, Some(&expected)).err().unwrap();
    assert_eq!(
        error.to_string(),
        "extents[2] = 5: the lattice expects 6; this state belongs to a different configuration"
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_the_path() {
    let dir = temp_dir("missing");
    let path = dir.join("nothing-here");
    let error = checkpoint::read(&path, None).err().unwrap();
    assert_eq!(error.kind(), "io");
    assert!(error
        .to_string()
        .starts_with(&format!("opening {}: ", path.display())));
}

#[test]
fn a_failed_write_leaves_the_old_checkpoint_and_no_temporary_file() {
    let (layout, path, _dir) = written("failed");
    let before = std::fs::read(&path).unwrap();
    // The rename cannot replace a non-empty directory: the write fails after
    // the temporary file was fully written.
    let blocked = path.with_file_name("blocked");
    std::fs::create_dir_all(blocked.join("inside")).unwrap();
    let error = checkpoint::write(&filled_segment(&layout), &blocked).unwrap_err();
    assert_eq!(error.kind(), "io");
    assert!(
        error.to_string().contains("renaming the temporary file to"),
        "{error}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "only the checkpoint and the blocking directory: {names:?}"
    );
}
