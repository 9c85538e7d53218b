//! A kernel cannot tell the sandbox from live by the frames that call it:
//! the kernel host calls every kernel entry through the same functions at
//! the same return addresses whether it serves the live lattice or runs as
//! the gauntlet's sandbox worker. The test module
//! (tests/fixtures/kernel-host/records-its-callers.cpp) unwinds from
//! `ouro_kernel_entry` and from `wave_step` and writes the return addresses
//! it passed in the host's program, as offsets from its load address, where
//! a step's result goes; this suite runs it once each way and compares.
//! One test in this file: the worker's spawn forks this process.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ouroboros_kernel_host::protocol::{encode_command, Command as HostCommand, Kind, HELLO_BYTES};
use ouroboros_kernel_host::rules::{CHANNEL_FD, SEGMENT_FD, WORKSPACE_FD};
use ouroboros_kernel_host::workspace::WorkspaceLayout;
use ouroboros_sandbox::abi::{Geometry, PRECISION_F64};
use ouroboros_sandbox::remote::{Remote, Worker};
use ouroboros_sandbox::shared::{Layout, SharedBuffers};
use ouroboros_sandbox::testing::{compile_kernel, root, TEST_LIMITS};
use ouroboros_sandbox::worker::WorkerPlan;
use ouroboros_segment::DEFAULT_METADATA_CAPACITY_BYTES;
use ouroboros_segment::{Layout as SegmentLayout, Precision, Segment};

const EXTENTS: [usize; 2] = [16, 16];
const CELLS: usize = 256;
const COURANT2: f64 = 0.25;

fn host_program() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ouroboros-kernel-host"))
}

fn build_module(scratch: &Path) -> PathBuf {
    compile_kernel(
        &root().join("tests/fixtures/kernel-host/records-its-callers.cpp"),
        &scratch.join("records-its-callers.so"),
        &[],
    )
}

/// The entry's and the step's return addresses, as the module wrote them.
fn frames(words: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let entry_count = words[0] as usize;
    let entry = words[1..1 + entry_count].to_vec();
    let step_count = words[1 + entry_count] as usize;
    let step = words[2 + entry_count..2 + entry_count + step_count].to_vec();
    (entry, step)
}

/// The module run as the gauntlet runs it: in a sandbox worker executing the kernel host.
fn as_sandbox_worker(module: &Path) -> Vec<u64> {
    let layout = Layout::for_bytes(CELLS * 8);
    let plan = WorkerPlan {
        program: host_program(),
        kernel: module.to_owned(),
        threads: 2,
        limits: TEST_LIMITS,
        layout,
    };
    let worker = Worker::spawn("candidate", &plan, Duration::from_secs(20)).unwrap();
    let (_, loaded) = worker.start();
    assert_eq!(loaded.as_deref(), Ok("records-its-callers"));
    let shared = SharedBuffers::new(layout).unwrap();
    let remote = Remote {
        worker: &worker,
        shared: &shared,
    };
    let geometry = Geometry::new(&EXTENTS, PRECISION_F64, COURANT2);
    remote.step(&geometry, 1, 0).unwrap();
    shared.read::<u64>(1, CELLS)
}

fn memfd(name: &std::ffi::CStr, bytes: usize) -> OwnedFd {
    // SAFETY: creates a memfd we own and sizes it.
    unsafe {
        let fd = libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC);
        assert!(fd >= 0);
        assert_eq!(libc::ftruncate(fd, bytes as libc::off_t), 0);
        OwnedFd::from_raw_fd(fd)
    }
}

/// The module run as the engine runs it live: the kernel host on a state
/// segment, one step of the live levels.
fn live(module: &Path) -> Vec<u64> {
    let extents = EXTENTS.map(|n| n as u64);
    let layout =
        SegmentLayout::new(&extents, Precision::F64, DEFAULT_METADATA_CAPACITY_BYTES).unwrap();
    let segment = Segment::create(&layout).unwrap();
    let workspace = memfd(
        c"workspace",
        WorkspaceLayout::new(layout.level_bytes() as usize, CELLS).bytes,
    );
    // A seqpacket pair, as the core makes it: one message per read.
    let mut fds = [0; 2];
    // SAFETY: creates a socketpair into `fds`.
    assert_eq!(
        unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        },
        0
    );
    // SAFETY: fresh fds we now own.
    let (mut ours, theirs) = unsafe {
        (
            UnixStream::from_raw_fd(fds[0]),
            UnixStream::from_raw_fd(fds[1]),
        )
    };
    let given = [
        (segment.fd(), SEGMENT_FD),
        (theirs.as_raw_fd(), CHANNEL_FD),
        (workspace.as_raw_fd(), WORKSPACE_FD),
    ];
    let mut host = Command::new(host_program());
    host.args(["--module"])
        .arg(module)
        .args(["--courant2", &COURANT2.to_string(), "--threads", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only fcntl and dup2 between fork and exec.
    unsafe {
        host.pre_exec(move || {
            let mut high = [0; 3];
            for (at, (from, _)) in given.iter().enumerate() {
                high[at] = libc::fcntl(*from, libc::F_DUPFD, 16);
            }
            for (at, (_, to)) in given.iter().enumerate() {
                if libc::dup2(high[at], *to) != *to {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        })
    };
    let mut child = host.spawn().unwrap();
    drop(theirs);
    let mut hello = [0u8; HELLO_BYTES];
    assert_eq!(ours.read(&mut hello).unwrap(), HELLO_BYTES);
    let command = HostCommand {
        sequence: 1,
        current: 0,
        kind: Kind::StepLive,
        steps: 1,
    };
    ours.write_all(&encode_command(&command)).unwrap();
    let mut reply = [0u8; 24];
    assert_eq!(ours.read(&mut reply).unwrap(), 24);
    assert_eq!(i32::from_le_bytes(reply[8..12].try_into().unwrap()), 0);
    drop(ours);
    assert!(child.wait().unwrap().success());
    segment
        .read_level(1)
        .chunks_exact(8)
        .map(|word| u64::from_le_bytes(word.try_into().unwrap()))
        .collect()
}

#[test]
fn a_kernel_is_called_through_the_same_frames_live_and_in_the_sandbox() {
    let scratch = std::env::temp_dir().join(format!(
        "ouroboros-kernel-host-frames-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&scratch).unwrap();
    let module = build_module(&scratch);
    let (sandbox_entry, sandbox_step) = frames(&as_sandbox_worker(&module));
    let (live_entry, live_step) = frames(&live(&module));
    // Frames from the module's caller to main and the runtime below it: a
    // walk that stopped early would compare nothing.
    assert!(live_step.len() >= 5, "{live_step:x?}");
    assert!(live_entry.len() >= 5, "{live_entry:x?}");
    assert_eq!(sandbox_entry, live_entry, "ouro_kernel_entry's callers");
    assert_eq!(sandbox_step, live_step, "wave_step's callers");
    std::fs::remove_dir_all(&scratch).unwrap();
}
