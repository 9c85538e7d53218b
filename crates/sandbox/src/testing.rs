//! What the worker suites of this crate and of the kernel host share (the
//! `test-support` feature, enabled only as their dev-dependency): kernels
//! built as the gauntlet builds them, a test worker's limits, and reading
//! every readable and writable page of a worker's processes, as a kernel
//! or the supervisor could, to check that none holds what the supervisor
//! held when it forked (the run's seed above all).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::confine::Limits;

/// A test worker's limits: 20 s of CPU, 1 GiB of address space, 32 open files, no file written.
pub const TEST_LIMITS: Limits = Limits {
    cpu_seconds: 20,
    address_space_bytes: 1 << 30,
    open_files: 32,
    file_size_bytes: 0,
};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds `source` into `module` the way the gauntlet's compile gate does
/// (C++17, -O3, no fused multiply-adds), with `includes` searched after the
/// kernel ABI's headers; returns the module's canonical path.
pub fn compile_kernel(source: &Path, module: &Path, includes: &[PathBuf]) -> PathBuf {
    let mut compiler = Command::new("c++");
    compiler
        .args(["-std=c++17", "-O3", "-fPIC", "-shared", "-ffp-contract=off"])
        .arg("-I")
        .arg(root().join("cpp/include"));
    for include in includes {
        compiler.arg("-I").arg(include);
    }
    let built = compiler
        .arg(source)
        .arg("-o")
        .arg(module)
        .status()
        .expect("a C++ compiler (c++) is needed to build the test kernels");
    assert!(built.success(), "{} did not compile", source.display());
    module.canonicalize().unwrap()
}

/// The pids whose process group is `group`.
pub fn group_processes(group: libc::pid_t) -> Vec<libc::pid_t> {
    std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .filter_map(|entry| {
            entry
                .ok()?
                .file_name()
                .to_str()?
                .parse::<libc::pid_t>()
                .ok()
        })
        .filter(|&pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // After the command's closing parenthesis: state, ppid, pgrp.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(2) == Some(&group.to_string())
        })
        .collect()
}

/// Every readable and writable mapping of `pid`, as far as it can be read
/// (nothing of a process that has exited).
pub fn writable_memory(pid: libc::pid_t) -> Vec<Vec<u8>> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let mut blocks = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !perms.starts_with("rw") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let mut block = vec![0u8; end - start];
        let local = libc::iovec {
            iov_base: block.as_mut_ptr() as *mut libc::c_void,
            iov_len: block.len(),
        };
        let remote = libc::iovec {
            iov_base: start as *mut libc::c_void,
            iov_len: block.len(),
        };
        // SAFETY: reads another process's memory into a buffer we own.
        let read = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        if read > 0 {
            block.truncate(read as usize);
            blocks.push(block);
        }
    }
    blocks
}

/// Whether any of `blocks` holds `needle`.
pub fn contains(blocks: &[Vec<u8>], needle: &[u8]) -> bool {
    blocks
        .iter()
        .any(|block| block.windows(needle.len()).any(|window| window == needle))
}
