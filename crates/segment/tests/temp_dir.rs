//! The tests' temporary directories: each goes with its guard, also when the
//! test that made it fails, so a test run leaves nothing in the system's
//! temporary directory.

mod support;

use std::path::PathBuf;

use support::{temp_dir, TEMP_PREFIX};

/// This process's directories of `name` still in the system's temporary one.
fn left_in_tmp(name: &str) -> Vec<PathBuf> {
    let own = format!("{TEMP_PREFIX}{name}-{}-", std::process::id());
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&own))
        .map(|entry| entry.path())
        .collect()
}

#[test]
fn a_temporary_directory_and_what_it_holds_go_when_its_guard_drops() {
    let dir = temp_dir("guard-drop");
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    std::fs::write(dir.join("nested").join("state.ouro"), b"bytes").unwrap();
    assert_eq!(left_in_tmp("guard-drop"), vec![dir.path().to_path_buf()]);
    drop(dir);
    assert_eq!(left_in_tmp("guard-drop"), Vec::<PathBuf>::new());
}

#[test]
fn a_failing_test_removes_its_temporary_directory_while_unwinding() {
    let failed = std::panic::catch_unwind(|| {
        let dir = temp_dir("guard-panic");
        std::fs::write(dir.join("state.ouro"), b"bytes").unwrap();
        assert_eq!(left_in_tmp("guard-panic").len(), 1);
        panic!("a failing assertion in a test that holds a temporary directory");
    });
    assert!(failed.is_err());
    assert_eq!(left_in_tmp("guard-panic"), Vec::<PathBuf>::new());
}
