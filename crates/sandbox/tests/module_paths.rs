//! The runner takes the modules' paths as given on its command line: a bare
//! file name or a relative path loads as an absolute one would, and a path
//! that names no file is refused before any worker starts.

// This suite runs the runner in a directory of its own.
#[allow(dead_code)]
mod common;

use std::process::Command;

use common::{assert_supervisor_finished, build_reference, scratch};

fn run_in(dir: &std::path::Path, candidate: &str, incumbent: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ouroboros-sandbox"))
        .current_dir(dir)
        .args(["--candidate", candidate, "--incumbent", incumbent])
        .args(["--bench-samples", "3", "--dojo-waves", "100"])
        .env_clear()
        .output()
        .unwrap()
}

#[test]
fn relative_module_paths_load_as_absolute_ones_do() {
    let dir = scratch("relative-paths");
    build_reference(&dir);
    // Before, the bare name failed dlopen's library search and the relative one died of SIGSYS in the worker.
    let output = run_in(&dir, "reference.so", "./reference.so");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let missing = run_in(&dir, "reference.so", "no-such.so");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_supervisor_finished(&output);
    for phase in ["differential", "invariants", "dojo", "bench"] {
        assert!(stderr.contains(&format!("phase {phase}")), "{stderr}");
    }
    assert_eq!(missing.status.code(), Some(2));
    let text = String::from_utf8_lossy(&missing.stderr);
    assert!(
        text.contains("--incumbent = \"no-such.so\": No such file or directory"),
        "{text}"
    );
}
