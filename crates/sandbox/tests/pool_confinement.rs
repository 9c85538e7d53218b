//! The runner end to end with a pool: kernels compiled here with the system
//! C++ compiler, run by the built `ouroboros-sandbox` with `--threads`.

mod common;

use std::path::Path;
use std::process::Output;

use common::{
    assert_supervisor_finished, build_hostile, build_kernel, build_reference, root, run_sandbox,
    scratch,
};

/// Runs the built runner with a pool of `threads`.
fn run_pool(candidate: &Path, incumbent: &Path, threads: &str) -> Output {
    run_sandbox(
        candidate,
        incumbent,
        &["--threads", threads, "--cpu-seconds", "30"],
    )
}

fn last_phase(output: &Output) -> Option<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|line| line.strip_prefix("phase "))
        .next_back()
        .map(str::to_owned)
}

#[test]
fn a_forbidden_syscall_on_a_pool_thread_kills_the_worker_with_sigsys() {
    let dir = scratch("sigsys");
    let hostile = build_hostile("worker-socket", &dir);
    let reference = build_reference(&dir);
    let output = run_pool(&hostile, &reference, "2");
    std::fs::remove_dir_all(&dir).unwrap();
    // The worker dies; the supervisor survives and reports it as the
    // verdict of the first phase that calls wave_step.
    assert_supervisor_finished(&output);
    let report = String::from_utf8_lossy(&output.stdout);
    // Named where the supervisor may read the kernel's log (denials.rs).
    assert!(
        report.contains("the candidate's worker died of SIGSYS (a forbidden system call)")
            || report.contains(
                "the candidate's worker died of SIGSYS (a forbidden system call: socket)"
            ),
        "{report}"
    );
    assert!(report.contains("differential"));
    assert_eq!(last_phase(&output).as_deref(), Some("report"));
}

#[test]
fn the_report_records_the_pool_and_seccomp_on_every_thread() {
    let dir = scratch("report");
    let reference = build_reference(&dir);
    let output = run_pool(&reference, &reference, "3");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    // Both workers loaded their kernel under the stacked filters and the run went on to the benchmark.
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("phase bench"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(!report.contains("died of"), "{report}");
    assert!(report.contains("threads: 3 workers, the caller included"));
    assert!(report.contains("on every thread (TSYNC)"));
}

#[test]
fn threads_outside_1_to_256_are_refused_with_the_flag_value_and_limit() {
    for threads in ["0", "257", "two"] {
        let output = run_pool(Path::new("/none.so"), Path::new("/none.so"), threads);
        assert_eq!(output.status.code(), Some(2));
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim(),
            format!("ouroboros-sandbox: --threads = \"{threads}\": must be an integer in [1, 256]")
        );
    }
}

#[test]
fn a_constructor_cannot_read_a_file_beside_the_candidate() {
    let dir = scratch("landlock");
    let secret = dir.join("secret.txt");
    std::fs::write(&secret, "the secret").unwrap();
    // The reference kernel with a constructor that opens the secret
    // read-only (the loader's seccomp filter allows that; Landlock must not),
    // after which wave_step refuses every call.
    let kernels = root().join("cpp/kernels").canonicalize().unwrap();
    let reference = std::fs::read_to_string(kernels.join("reference.cpp")).unwrap();
    let peeking = reference
        .replace(
            "#include \"reference_math.h\"",
            &format!("#include \"{}/reference_math.h\"", kernels.display()),
        )
        .replace(
            "  return ouro::reference::wave_step(",
            "  if (peeked) return OURO_ERR_UNSUPPORTED;\n  return ouro::reference::wave_step(",
        );
    assert!(
        peeking.contains("if (peeked)"),
        "reference.cpp changed shape"
    );
    let source = dir.join("peek.cpp");
    std::fs::write(
        &source,
        format!(
            "#include <fcntl.h>\n#include <unistd.h>\nstatic int peeked = 0;\n\
             __attribute__((constructor)) static void peek() {{ int fd = open(\"{}\", O_RDONLY); \
             if (fd >= 0) {{ peeked = 1; close(fd); }} }}\n{peeking}",
            secret.display()
        ),
    )
    .unwrap();
    let peek = build_kernel(&source, &dir, "peek");
    let reference = build_kernel(&kernels.join("reference.cpp"), &dir, "reference");
    let output = run_pool(&peek, &reference, "1");
    std::fs::remove_dir_all(&dir).unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{:?}", output.status);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("phase bench"),
        "the constructor read the secret: {report}"
    );
    assert!(
        report.contains("fully enforced: no writes, reads only beneath"),
        "{report}"
    );
}
