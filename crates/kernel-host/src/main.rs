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
//! is a sandbox worker instead (`ouroboros_sandbox::worker::run`, its
//! channel on fd 3): the gauntlet's supervisor executes this program for
//! each kernel it checks, so a kernel that reads the code of the program
//! calling it finds the same program in the sandbox as live.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

use ouroboros_kernel_host::levels::Levels;
use ouroboros_kernel_host::protocol::{
    decode_command, encode_hello, encode_reply, Command, Kind, COMMAND_BYTES,
};
use ouroboros_kernel_host::rules::{
    host_loader_rules, host_run_rules, CHANNEL_FD, SEGMENT_FD, WORKSPACE_FD,
};
use ouroboros_sandbox::confine::{self, Layer, Limits};
use ouroboros_sandbox::kernel::{Kernel, Library};
use ouroboros_sandbox::pool::Pool;
use ouroboros_sandbox::protocol::{Reply, CHANNEL_FD as WORKER_CHANNEL_FD, MESSAGE_BYTES};
use ouroboros_sandbox::seccomp;
use ouroboros_sandbox::worker::{self, WorkerPlan, SANDBOX_WORKER_MODE};

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

fn load<'pool>(options: &Options, pool: &'pool Pool) -> Result<Kernel<'pool>, String> {
    let library = Library::open(&options.module)?;
    seccomp::install(&host_run_rules(own_pid()))?;
    library.bind(pool)
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

/// Runs one command: the kernel's status and, for a readout, its bad index.
fn run(kernel: &Kernel, levels: &Levels, command: &Command) -> (i32, u64) {
    let geometry = &levels.geometry;
    let step = |state| {
        levels.prepare_call(&state);
        // SAFETY: the state's buffers are mapped levels of `cells` values each.
        (
            unsafe { kernel.wave_step(geometry, &state, command.steps) },
            0,
        )
    };
    let readout = |field| {
        let mut bad_index = 0u64;
        // SAFETY: `field` is a mapped level of `cells` values; the digits hold `cells` bytes.
        let status = unsafe { kernel.readout(geometry, field, levels.digits(), &mut bad_index) };
        (status, bad_index)
    };
    match command.kind {
        Kind::StepLive => step(levels.state(command.current)),
        Kind::StepWorkspace => step(levels.workspace_state(command.current)),
        Kind::ReadoutLive => readout(levels.live_level(command.current)),
        Kind::ReadoutWorkspace => readout(levels.workspace_level(command.current)),
    }
}

/// One reply per command until the core closes the channel.
fn serve(kernel: &Kernel, levels: &Levels) -> i32 {
    let mut buffer = [0u8; 2 * COMMAND_BYTES];
    loop {
        // SAFETY: reads one message into a buffer we own.
        let read = unsafe {
            libc::read(
                CHANNEL_FD,
                buffer.as_mut_ptr() as *mut libc::c_void,
                buffer.len(),
            )
        };
        if read == 0 {
            return 0;
        }
        if read < 0 {
            return 5;
        }
        let command = match decode_command(&buffer[..read as usize]) {
            Ok(command) => command,
            Err(_) => return 5,
        };
        let (status, bad_index) = run(kernel, levels, &command);
        if !write_message(&encode_reply(command.sequence, status, bad_index)) {
            return 5;
        }
    }
}

/// The sandbox worker's life in this program; never returns. A bad plan is
/// said on the worker's channel, where the supervisor reads it.
fn sandbox_worker(args: &[String]) -> ! {
    match WorkerPlan::parse(KERNEL_HOST, args) {
        Ok(plan) => worker::run(&plan),
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

fn main() {
    // SAFETY: plain prctl; the host must not outlive the process that steps with it.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(SANDBOX_WORKER_MODE) {
        sandbox_worker(&args);
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("ouroboros-kernel-host: {message}");
            std::process::exit(2);
        }
    };
    // SAFETY: fds 3 and 5 are the segment and the workspace by the spawn contract; we take ownership.
    let segment = unsafe { OwnedFd::from_raw_fd(SEGMENT_FD) };
    let workspace = unsafe { OwnedFd::from_raw_fd(WORKSPACE_FD) };
    let levels = match Levels::map(segment, workspace, options.courant2) {
        Ok(levels) => levels,
        Err(message) => {
            eprintln!("ouroboros-kernel-host: {message}");
            std::process::exit(3);
        }
    };
    let pool = match confine(&options, &levels) {
        Ok(pool) => pool,
        Err(message) => {
            eprintln!("ouroboros-kernel-host: {message}");
            std::process::exit(3);
        }
    };
    let kernel = match load(&options, &pool) {
        Ok(kernel) => kernel,
        Err(message) => {
            eprintln!("ouroboros-kernel-host: {message}");
            std::process::exit(3);
        }
    };
    if !write_message(&encode_hello(&kernel.name)) {
        std::process::exit(5);
    }
    // Lets the orchestrator wait for the hello without blocking its event loop.
    eprintln!("ready");
    std::process::exit(serve(&kernel, &levels));
}
