//! What the runner's end-to-end suites share: the repository root, a
//! scratch directory per test, kernels built with the system C++ compiler
//! as the gauntlet's compile gate builds them, and the built runner run on
//! two of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ouroboros_sandbox::testing::compile_kernel;
pub use ouroboros_sandbox::testing::root;

/// A new directory for `test`, named by this process so parallel suites never share one.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ouroboros-sandbox-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds `source` as a kernel module the way the gauntlet's compile gate
/// does (C++17, -O3, no fused multiply-adds) into `scratch`.
pub fn build_kernel(source: &Path, scratch: &Path, name: &str) -> PathBuf {
    build_kernel_including(source, scratch, name, &[])
}

/// As `build_kernel`, with `includes` searched after the kernel ABI's headers
/// (a kernel source written outside cpp/kernels that includes its headers).
pub fn build_kernel_including(
    source: &Path,
    scratch: &Path,
    name: &str,
    includes: &[PathBuf],
) -> PathBuf {
    compile_kernel(source, &scratch.join(format!("{name}.so")), includes)
}

/// The reference kernel (cpp/kernels/reference.cpp), built into `scratch`.
pub fn build_reference(scratch: &Path) -> PathBuf {
    build_kernel(
        &root().join("cpp/kernels/reference.cpp"),
        scratch,
        "reference",
    )
}

/// The hostile fixture `name` (tests/fixtures/hostile/), built into `scratch`.
pub fn build_hostile(name: &str, scratch: &Path) -> PathBuf {
    build_kernel(
        &root().join(format!("tests/fixtures/hostile/{name}.cpp")),
        scratch,
        name,
    )
}

/// Runs the built runner on `candidate` against `incumbent` with `args`, in an empty environment.
pub fn run_sandbox(candidate: &Path, incumbent: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ouroboros-sandbox"))
        .arg("--candidate")
        .arg(candidate)
        .arg("--incumbent")
        .arg(incumbent)
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

/// The supervisor itself ended well, whatever its verdict on the kernels.
pub fn assert_supervisor_finished(output: &Output) {
    assert!(
        output.status.success(),
        "the supervisor ended with {:?}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
