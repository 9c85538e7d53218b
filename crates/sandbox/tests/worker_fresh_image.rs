//! A worker starts from a fresh image: nothing the supervisor held in
//! memory when it forked (the run's seed above all, from which every state,
//! r^2, extents and dojo wave of the run is drawn) is anywhere a kernel
//! could read it. This suite plays the supervisor: it holds a seed of its
//! own on its heap and stack, spawns a worker on the reference kernel, and
//! once the worker is loaded and stopped reads every readable and writable
//! mapping of every process in the worker's group (`process_vm_readv`, as
//! the supervisor copies buffers; `ouroboros_sandbox::testing`, which the
//! kernel host's worker suite shares) for the seed's bytes and its decimal
//! text. A worker that were only forked holds both.
//! One test in this file: the spawn must come from a process with no other
//! test's threads running.

// This suite builds its kernel but runs no supervisor: the rest of `common` is the other suites'.
#[allow(dead_code)]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use ouroboros_sandbox::remote::Worker;
use ouroboros_sandbox::shared::{Layout, PAGE_BYTES};
use ouroboros_sandbox::testing::{contains, group_processes, writable_memory, TEST_LIMITS};
use ouroboros_sandbox::worker::WorkerPlan;

fn random_seed() -> u64 {
    let mut seed = 0u64;
    // SAFETY: fills 8 bytes we own.
    let got = unsafe { libc::getrandom(&mut seed as *mut u64 as *mut libc::c_void, 8, 0) };
    assert_eq!(got, 8);
    // Twenty decimal digits, so its text cannot turn up by chance.
    seed | (1 << 63)
}

#[test]
fn a_stopped_worker_holds_nothing_of_the_supervisors_memory() {
    let seed = std::hint::black_box(Box::new(random_seed()));
    let seed_text = std::hint::black_box(seed.to_string());
    let seed_on_stack = std::hint::black_box(*seed);
    let scratch = common::scratch("fresh-image");
    let kernel = common::build_reference(&scratch);
    let plan = WorkerPlan {
        program: PathBuf::from(env!("CARGO_BIN_EXE_ouroboros-sandbox-worker")),
        kernel: kernel.clone(),
        threads: 2,
        limits: TEST_LIMITS,
        layout: Layout::for_bytes(3 * PAGE_BYTES),
    };
    let worker = Worker::spawn("candidate", &plan, Duration::from_secs(20)).unwrap();
    let (layers, loaded) = worker.start();
    assert_eq!(loaded.as_deref(), Ok("reference"));
    let fresh = layers
        .iter()
        .find(|layer| layer.name == "fresh-image")
        .expect("a fresh-image layer");
    assert!(fresh.active, "{}", fresh.detail);

    let processes = group_processes(worker.pid());
    assert!(
        processes.contains(&worker.kernel_pid()),
        "{processes:?} lacks the kernel's process"
    );
    for pid in processes {
        let memory = writable_memory(pid);
        // The scan reads what the worker holds: the kernel's path, which it was given.
        if pid == worker.kernel_pid() {
            assert!(
                contains(&memory, kernel.as_os_str().as_encoded_bytes()),
                "the scan of {pid} read nothing"
            );
        }
        assert!(
            !contains(&memory, &seed_on_stack.to_le_bytes()),
            "process {pid} holds the seed's bytes"
        );
        assert!(
            !contains(&memory, seed_text.as_bytes()),
            "process {pid} holds the seed's text {seed_text}"
        );
    }
    drop(worker);
    std::fs::remove_dir_all(&scratch).unwrap();
}
