//! `ouroboros-kernel-host`: steps the live lattice with one untrusted kernel,
//! confined.
//!
//!   ouroboros-kernel-host --module k.so --courant2 R2 [--threads N]
//!     fd 3: the lattice's state segment (memfd), fd 4: the command channel,
//!     fd 5: the host's workspace (memfd, `workspace.rs`)
//!
//! Order: map the levels and the workspace (fds 3 and 5 closed), then every layer of the sandbox
//! but the PID namespace (rlimits, namespaces, Landlock with reads only
//! beneath the module and the system libraries, no_new_privs, the pool's
//! threads, no new processes, the loader's seccomp filter), dlopen, the run
//! filter, the kernel's entry, then a hello on the channel and one reply per
//! command (a step or a readout, of the live levels or the workspace's
//! copy) until the core closes it. Each layer is written to stderr as
//! `layer <name> <active|inactive> <detail>` for the engine's records, and
//! `ready` once the hello is sent.
//! Exit 0 when the core closes the channel, 2 for bad usage, 3 when
//! confinement or loading fails, 5 on a malformed command.
//!
//!   ouroboros-kernel-host --sandbox-worker <the worker's plan>
//!
//! is a sandbox worker instead (`ouroboros_sandbox::worker::WorkerHome`,
//! its channel on fd 3): the gauntlet's supervisor executes this program
//! for each kernel it checks, so a kernel that reads the code of the
//! program calling it finds the same program in the sandbox as live. Both
//! modes reach the kernel through one call from `main`,
//! `ouroboros_sandbox::call_path::host_kernel`, so it finds the same
//! callers too.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use ouroboros_kernel_host::levels::Levels;
use ouroboros_kernel_host::protocol::{decode_command, encode_hello, encode_reply, Command, Kind};
use ouroboros_kernel_host::rules::{
    host_loader_rules, host_run_rules, CHANNEL_FD, SEGMENT_FD, WORKSPACE_FD,
};
use ouroboros_sandbox::call_path::{
    host_kernel, Calls, FpChanges, Home, ReadoutCalls, StepCalls, MESSAGE_BUFFER_BYTES,
};
use ouroboros_sandbox::confine::{self, Layer, Limits};
use ouroboros_sandbox::pool::Pool;
use ouroboros_sandbox::protocol::{Reply, CHANNEL_FD as WORKER_CHANNEL_FD, MESSAGE_BYTES};
use ouroboros_sandbox::seccomp;
use ouroboros_sandbox::worker::{WorkerHome, WorkerPlan, SANDBOX_WORKER_MODE};

/// This program's name, as a sandbox worker's layers give it.
const KERNEL_HOST: &str = "ouroboros-kernel-host";

/// Room beside the mapped levels for the module, the pool's stacks and libc.
const ADDRESS_SPACE_SLACK_BYTES: u64 = 1 << 30;

struct Options {
    module: PathBuf,
    courant2: f64,
    threads: u32,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let get = |flag: &str| -> Option<String> {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1).cloned()
    };
    let module = get("--module").ok_or("--module <path to .so> is required")?;
    let courant2 = get("--courant2").ok_or("--courant2 <r^2> is required")?;
    let courant2 = match courant2.parse::<f64>() {
        Ok(r2) if r2 > 0.0 && r2 < 1.0 => r2,
        _ => {
            return Err(format!(
                "--courant2 = \"{courant2}\": must be a number in (0, 1)"
            ))
        }
    };
    let threads = get("--threads").unwrap_or_else(|| "1".into());
    let threads = match threads.parse::<u32>() {
        Ok(n) if (1..=256).contains(&n) => n,
        _ => {
            return Err(format!(
                "--threads = \"{threads}\": must be an integer in [1, 256]"
            ))
        }
    };
    Ok(Options {
        module: PathBuf::from(module),
        courant2,
        threads,
    })
}

fn report(layer: &Layer) {
    let state = if layer.active { "active" } else { "inactive" };
    eprintln!("layer {} {state} {}", layer.name, layer.detail);
}

fn own_pid() -> u32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() as u32 }
}

/// The sandbox's layers in the sandbox's order, with no CPU limit (the host
/// runs as long as the simulation) and an address space sized to the levels.
fn confine(options: &Options, levels: &Levels) -> Result<Pool, String> {
    let limits = Limits {
        cpu_seconds: libc::RLIM_INFINITY,
        address_space_bytes: levels.mapped_bytes() as u64 + ADDRESS_SPACE_SLACK_BYTES,
        open_files: 32,
        file_size_bytes: 0,
    };
    report(&confine::clear_initial_stack());
    report(&confine::find_clock_pages());
    report(&confine::apply_limits(&limits));
    confine::unshare_namespaces().iter().for_each(report);
    // No PID namespace: its init and the waiter outside it would stand
    // between the core and the process that maps the live levels, and the
    // core must kill that very process and see it gone (a pidfd on the pid
    // Node spawned) before it steps the state again. Seccomp allows signals
    // to this process only, so the namespace would hide nothing it can reach.
    report(&Layer {
        name: "pidns",
        active: false,
        detail: "not used: the core kills and waits for the host itself".to_owned(),
    });
    let mut readable = vec![options.module.clone(), PathBuf::from("/etc/ld.so.cache")];
    readable.extend(confine::library_directories());
    report(&confine::apply_landlock(&readable));
    let no_new_privs = confine::apply_no_new_privs();
    report(&no_new_privs);
    if !no_new_privs.active {
        return Err("no_new_privs could not be set: seccomp needs it".to_owned());
    }
    let pool = Pool::start(options.threads)?;
    report(&confine::limit_processes());
    seccomp::install(&host_loader_rules(own_pid()))?;
    eprintln!("layer seccomp active loader filter, then run filter after dlopen, every thread (TSYNC); kill on violation");
    Ok(pool)
}

fn write_message(bytes: &[u8]) -> bool {
    // SAFETY: writes a buffer we own to the channel.
    let written = unsafe {
        libc::write(
            CHANNEL_FD,
            bytes.as_ptr() as *const libc::c_void,
            bytes.len(),
        )
    };
    written == bytes.len() as isize
}

/// The live side of the call path: the mapped levels and workspace, the
/// core's commands on the channel and the replies to them.
struct LiveHome {
    options: Options,
    levels: Levels,
    /// The command being served.
    serving: Command,
    /// Where a readout writes its bad index, for the reply.
    bad_index: Box<u64>,
}

impl Home for LiveHome {
    fn confine(&mut self) -> Result<Pool, i32> {
        confine(&self.options, &self.levels).map_err(|message| {
            eprintln!("{KERNEL_HOST}: {message}");
            3
        })
    }

    fn module(&self) -> &Path {
        &self.options.module
    }

    fn opened(&mut self) -> Result<(), String> {
        seccomp::install(&host_run_rules(own_pid()))
    }

    fn load_failed(&mut self, reason: String) -> i32 {
        eprintln!("{KERNEL_HOST}: {reason}");
        3
    }

    fn ready(&mut self, name: &str) -> Result<(), i32> {
        if !write_message(&encode_hello(name)) {
            return Err(5);
        }
        // Lets the orchestrator wait for the hello without blocking its event loop.
        eprintln!("ready");
        Ok(())
    }

    fn next(&mut self, message: &mut [u8; MESSAGE_BUFFER_BYTES]) -> Result<Calls, i32> {
        // SAFETY: reads one message into a buffer we own.
        let read = unsafe {
            libc::read(
                CHANNEL_FD,
                message.as_mut_ptr() as *mut libc::c_void,
                message.len(),
            )
        };
        if read == 0 {
            return Err(0);
        }
        if read < 0 {
            return Err(5);
        }
        self.serving = decode_command(&message[..read as usize]).map_err(|_| 5)?;
        *self.bad_index = 0;
        Ok(self.calls())
    }

    fn answer(&mut self, outcome: Reply) -> Result<(), i32> {
        let status = match outcome {
            Reply::Done { status } | Reply::Status { status, .. } => status,
            other => unreachable!("a live call with FP changes restored ends in {other:?}"),
        };
        let bad_index = if self.serving.kind.is_step() {
            0
        } else {
            *self.bad_index
        };
        if !write_message(&encode_reply(self.serving.sequence, status, bad_index)) {
            return Err(5);
        }
        Ok(())
    }
}

impl LiveHome {
    /// The one call the command being served asks for.
    fn calls(&mut self) -> Calls {
        let bad_index: *mut u64 = &mut *self.bad_index;
        let levels = &self.levels;
        let command = &self.serving;
        let step = |state| {
            Calls::Step(StepCalls {
                geometry: levels.geometry,
                state,
                steps: command.steps,
                calls: 1,
                level_bytes: levels.level_bytes(),
                stride: levels.level_stride(),
                advice: libc::MADV_REMOVE,
                fp_changes: FpChanges::Restore,
            })
        };
        let readout = |field| {
            Calls::Readout(ReadoutCalls {
                geometry: levels.geometry,
                field,
                digits: levels.digits(),
                bad_index,
                calls: 1,
                fp_changes: FpChanges::Restore,
            })
        };
        match command.kind {
            Kind::StepLive => step(levels.state(command.current)),
            Kind::StepWorkspace => step(levels.workspace_state(command.current)),
            Kind::ReadoutLive => readout(levels.live_level(command.current)),
            Kind::ReadoutWorkspace => readout(levels.workspace_level(command.current)),
        }
    }
}

/// A sandbox worker's home in this program. A bad plan is said on the
/// worker's channel, where the supervisor reads it.
fn sandbox_worker(args: &[String]) -> Box<dyn Home> {
    match WorkerPlan::parse(KERNEL_HOST, args) {
        Ok(plan) => Box::new(WorkerHome::new(plan)),
        Err(reason) => {
            let reason = format!("{KERNEL_HOST} {SANDBOX_WORKER_MODE}: {reason}");
            let message = Reply::LoadFailed { reason }.encode(0);
            // SAFETY: writes a buffer we own to the worker's channel, if there is one.
            unsafe {
                libc::write(
                    WORKER_CHANNEL_FD,
                    message.as_ptr() as *const libc::c_void,
                    MESSAGE_BYTES,
                )
            };
            std::process::exit(2)
        }
    }
}

/// The live host's home: its options, and the levels and workspace mapped.
fn live(args: &[String]) -> Box<dyn Home> {
    let options = match parse(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{KERNEL_HOST}: {message}");
            std::process::exit(2);
        }
    };
    // SAFETY: fds 3 and 5 are the segment and the workspace by the spawn contract; we take ownership.
    let segment = unsafe { OwnedFd::from_raw_fd(SEGMENT_FD) };
    let workspace = unsafe { OwnedFd::from_raw_fd(WORKSPACE_FD) };
    match Levels::map(segment, workspace, options.courant2) {
        Ok(levels) => Box::new(LiveHome {
            options,
            levels,
            serving: Command {
                sequence: 0,
                current: 0,
                kind: Kind::StepLive,
                steps: 1,
            },
            bad_index: Box::new(0),
        }),
        Err(message) => {
            eprintln!("{KERNEL_HOST}: {message}");
            std::process::exit(3);
        }
    }
}

fn main() {
    // SAFETY: plain prctl; the host must not outlive the process that steps with it.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut home = if args.first().map(String::as_str) == Some(SANDBOX_WORKER_MODE) {
        sandbox_worker(&args)
    } else {
        live(&args)
    };
    // The one call both modes make: a kernel finds the same callers in the
    // sandbox as live (`call_path`).
    std::process::exit(host_kernel(home.as_mut()))
}
