//! The kernels' CPU time reaches whoever runs the sandbox: the orchestrator
//! charges an evaluation what its children used (`cutime + cstime`), and the
//! workers, which run the kernels, are the supervisor's grandchildren and
//! further. A worker group killed at once at the end of a run left its CPU
//! time uncounted: at 4096^2, 5.2 s of the 10.5 s `perf stat` saw.

// This suite builds no hostile fixture.
#[allow(dead_code)]
mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    assert_supervisor_finished, build_kernel, build_reference, root, run_sandbox, scratch,
};

/// Iterations of a store-to-load chain the spinning kernel runs per call on the live lattice.
const SPIN: u64 = 400_000_000;
/// The live lattice: no other lattice of the run has its cell count.
const LIVE: &str = "320,320";
const LIVE_CELLS: u64 = 320 * 320;
/// Calls at the live size in a run: at least 2 + 1 + 1 + 2 + 1 + 1 + 1 live cases and the 7 and 3 + 4 steps.
const LIVE_CALLS_AT_LEAST: u32 = 12;

/// User and system time of `who` (`RUSAGE_CHILDREN`, `RUSAGE_THREAD`).
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: fills a struct we own.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(who, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn children_cpu() -> Duration {
    cpu(libc::RUSAGE_CHILDREN)
}

fn own_cpu() -> Duration {
    cpu(libc::RUSAGE_THREAD)
}

/// The CPU time this thread takes for the kernel's spin: the same chain of volatile stores and loads.
fn spin_cost() -> Duration {
    let before = own_cpu();
    let mut sink = 0u64;
    for _ in 0..SPIN {
        // SAFETY: a local's address.
        unsafe { std::ptr::write_volatile(&mut sink, std::ptr::read_volatile(&sink) + 1) };
    }
    assert_eq!(sink, SPIN);
    own_cpu() - before
}

/// The reference kernel, spinning `SPIN` iterations first in every call on the live lattice.
fn spinning_kernel(dir: &Path) -> std::path::PathBuf {
    let kernels = root().join("cpp/kernels").canonicalize().unwrap();
    let reference = std::fs::read_to_string(kernels.join("reference.cpp")).unwrap();
    let spinning = reference
        .replace(
            "#include \"reference_math.h\"",
            &format!("#include \"{}/reference_math.h\"", kernels.display()),
        )
        .replace(
            "  return ouro::reference::wave_step(",
            &format!(
                "  if (geometry->cells == {LIVE_CELLS}u) {{ volatile uint64_t sink = 0; \
                 for (uint64_t i = 0; i < {SPIN}u; ++i) sink = sink + 1; }}\n  \
                 return ouro::reference::wave_step("
            ),
        );
    assert!(spinning.contains("sink"), "reference.cpp changed shape");
    let source = dir.join("spinning.cpp");
    std::fs::write(&source, spinning).unwrap();
    build_kernel(&source, dir, "spinning")
}

/// The CPU time a sandbox run of `candidate` added to this process's children.
fn run_cpu(candidate: &Path, incumbent: &Path) -> Duration {
    let before = children_cpu();
    let output = run_sandbox(
        candidate,
        incumbent,
        &[
            "--live",
            LIVE,
            "--seed",
            "3",
            "--bench-samples",
            "3",
            "--dojo-waves",
            "100",
        ],
    );
    assert_supervisor_finished(&output);
    children_cpu() - before
}

#[test]
fn the_workers_cpu_time_is_counted_in_the_runners_children() {
    let dir = scratch("accounting");
    let spinning = spinning_kernel(&dir);
    let reference = build_reference(&dir);
    let plain = run_cpu(&reference, &reference);
    let spun = run_cpu(&spinning, &reference);
    let spin = spin_cost();
    std::fs::remove_dir_all(&dir).unwrap();
    // The same seed draws the same cases: the spinning run differs by its spins, at least one per live call. Half
    // of them leaves room for a spin that runs faster in the worker than here.
    let at_least = spin * LIVE_CALLS_AT_LEAST / 2;
    assert!(
        spun >= plain + at_least,
        "the spinning run's children used {spun:?}, the plain run's {plain:?}: the {LIVE_CALLS_AT_LEAST} or more \
         spins of {spin:?} each went uncounted"
    );
}
