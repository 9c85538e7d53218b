//! What the runner's end-to-end suites share: the repository root, a
//! scratch directory per test, and kernels built with the system C++
//! compiler as the gauntlet's compile gate builds them.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A new directory for `test`, named by this process so parallel suites never share one.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ouroboros-sandbox-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds `source` as a kernel module the way the gauntlet's compile gate
/// does (C++17, -O3, no fused multiply-adds) into `scratch`.
pub fn build_kernel(source: &Path, scratch: &Path, name: &str) -> PathBuf {
    let module = scratch.join(format!("{name}.so"));
    let built = Command::new("c++")
        .args(["-std=c++17", "-O3", "-fPIC", "-shared", "-ffp-contract=off"])
        .arg("-I")
        .arg(root().join("cpp/include"))
        .arg(source)
        .arg("-o")
        .arg(&module)
        .status()
        .expect("a C++ compiler (c++) is needed to build the test kernels");
    assert!(built.success(), "{} did not compile", source.display());
    module.canonicalize().unwrap()
}
