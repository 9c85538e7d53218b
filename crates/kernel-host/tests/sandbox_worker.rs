//! The kernel host serves as the sandbox's worker program: the supervisor
//! forks and executes `ouroboros-kernel-host --sandbox-worker`, which
//! confines itself as every worker does and loads its kernel, so a kernel
//! reading its caller's code finds the same program in the sandbox as live,
//! and none of the supervisor's memory: this test holds a seed as the
//! supervisor does and reads the loaded worker's writable memory for it
//! with the scan crates/sandbox/tests/worker_fresh_image.rs runs on the
//! sandbox's own worker program (`ouroboros_sandbox::testing`).

use std::path::PathBuf;
use std::time::Duration;

use ouroboros_sandbox::remote::Worker;
use ouroboros_sandbox::shared::{Layout, PAGE_BYTES};
use ouroboros_sandbox::testing::{
    compile_kernel, contains, group_processes, root, writable_memory, TEST_LIMITS,
};
use ouroboros_sandbox::worker::WorkerPlan;

fn plan(kernel: PathBuf) -> WorkerPlan {
    WorkerPlan {
        program: PathBuf::from(env!("CARGO_BIN_EXE_ouroboros-kernel-host")),
        kernel,
        threads: 2,
        limits: TEST_LIMITS,
        layout: Layout::for_bytes(3 * PAGE_BYTES),
    }
}

/// Every readable and writable mapping of every process in group `group`, as far as it can be read.
fn group_memory(group: libc::pid_t) -> Vec<Vec<u8>> {
    group_processes(group)
        .into_iter()
        .flat_map(writable_memory)
        .collect()
}

#[test]
fn the_kernel_host_loads_a_kernel_as_a_confined_sandbox_worker() {
    let scratch = std::env::temp_dir().join(format!(
        "ouroboros-kernel-host-worker-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&scratch).unwrap();
    let kernel = compile_kernel(
        &root().join("cpp/kernels/reference.cpp"),
        &scratch.join("reference.so"),
        &[],
    );

    // Twenty decimal digits, from the clock's nanoseconds: no text of it turns up by chance.
    let seed = std::hint::black_box(Box::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1 << 63,
    ));
    let seed_text = std::hint::black_box(seed.to_string());
    let worker =
        Worker::spawn("candidate", &plan(kernel.clone()), Duration::from_secs(20)).unwrap();
    let (layers, loaded) = worker.start();
    assert_eq!(loaded.as_deref(), Ok("reference"));
    let fresh = layers
        .iter()
        .find(|layer| layer.name == "fresh-image")
        .unwrap();
    assert!(
        fresh.detail.contains("ouroboros-kernel-host"),
        "{}",
        fresh.detail
    );
    for name in ["landlock", "no_new_privs", "seccomp"] {
        assert!(
            layers
                .iter()
                .any(|layer| layer.name == name && layer.active),
            "{name} missing: {layers:?}"
        );
    }
    let memory = group_memory(worker.pid());
    assert!(
        contains(&memory, kernel.as_os_str().as_encoded_bytes()),
        "the scan read nothing"
    );
    assert!(
        !contains(&memory, &seed.to_le_bytes()),
        "the worker holds the seed's bytes"
    );
    assert!(
        !contains(&memory, seed_text.as_bytes()),
        "the worker holds the seed's text"
    );
    drop(worker);

    // A bad plan is the load's failure, said on the channel.
    let mut bad = plan(scratch.join("reference.so"));
    bad.program = PathBuf::from("/nonexistent/ouroboros-kernel-host");
    let worker = Worker::spawn("candidate", &bad, Duration::from_secs(20)).unwrap();
    let (_, loaded) = worker.start();
    assert!(loaded
        .unwrap_err()
        .contains("could not execute the worker program /nonexistent/ouroboros-kernel-host"));
    drop(worker);
    std::fs::remove_dir_all(&scratch).unwrap();
}
