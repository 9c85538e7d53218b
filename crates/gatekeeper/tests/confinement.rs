//! The confinement itself: a tool run under `ouroboros-gatekeeper run` can
//! read only the directories it is given and write only its scratch
//! directory. Where the kernel has no Landlock the layer reports so, and the
//! file checks are skipped (the report is what the orchestrator records).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GATEKEEPER: &str = env!("CARGO_BIN_EXE_ouroboros-gatekeeper");

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("confine-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("scratch")).unwrap();
    dir
}

fn confined(dir: &Path, script: &str) -> Output {
    Command::new(GATEKEEPER)
        .args([
            "run", "--read", "/usr", "--read", "/lib", "--read", "/lib64", "--read", "/bin",
        ])
        .arg("--write")
        .arg(dir.join("scratch"))
        .args(["--", "/bin/sh", "-c", script])
        .output()
        .unwrap()
}

fn landlock_enforced(output: &Output) -> bool {
    String::from_utf8_lossy(&output.stderr).contains("\"landlock\":\"fully-enforced\"")
}

#[test]
fn a_confined_tool_cannot_read_outside_the_allowed_directories() {
    let dir = scratch("read");
    std::fs::write(dir.join("secret.txt"), "the-secret-text").unwrap();
    let output = confined(&dir, &format!("cat {}", dir.join("secret.txt").display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("ouroboros-gatekeeper: {"), "{stderr}");
    if landlock_enforced(&output) {
        assert!(!output.status.success());
        assert!(!String::from_utf8_lossy(&output.stdout).contains("the-secret-text"));
    }
}

#[test]
fn a_confined_tool_writes_only_its_scratch_directory() {
    let dir = scratch("write");
    let outside = dir.join("escaped.txt");
    let inside = dir.join("scratch").join("kept.txt");
    let output = confined(
        &dir,
        &format!(
            "echo x > {}; echo y > {}",
            outside.display(),
            inside.display()
        ),
    );
    assert!(
        inside.exists(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    if landlock_enforced(&output) {
        assert!(!outside.exists());
    }
}

#[test]
fn the_memory_limit_holds() {
    let dir = scratch("memory");
    let allocate = |mib: u32| {
        Command::new(GATEKEEPER)
            .args([
                "run",
                "--read",
                "/usr",
                "--read",
                "/lib",
                "--read",
                "/lib64",
                "--read",
                "/bin",
                "--memory-mib",
                "256",
            ])
            .arg("--write")
            .arg(dir.join("scratch"))
            .args([
                "--",
                "/usr/bin/python3",
                "-c",
                &format!("b = bytearray({mib} << 20)"),
            ])
            .status()
            .unwrap()
            .success()
    };
    assert!(allocate(8));
    assert!(!allocate(512));
}

#[test]
fn a_bad_plan_is_a_usage_error() {
    let output = Command::new(GATEKEEPER)
        .args(["run", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}
