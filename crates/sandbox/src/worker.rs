//! A worker process: forked by the supervisor before any thread exists, it
//! keeps only its channel (fd 3), unmaps the supervisor's buffers, maps its
//! own private ones (`PrivateRegions`, which the supervisor fills and reads
//! while it is stopped), confines itself with the full stack, sends where
//! its buffers are and its layers (before any kernel code has run, so they
//! are true), loads its one kernel and serves commands on its buffers until
//! the channel closes. It never writes anywhere but its channel: fds 0-2
//! are /dev/null, and the seccomp filters kill it for a write to any other
//! fd.

use std::ffi::c_void;
use std::os::fd::RawFd;
use std::path::PathBuf;

use crate::abi::{State, PRECISION_F64, STATUS_NONFINITE, STATUS_OK};
use crate::confine::{self, Layer, Limits};
use crate::fpenv::FpControl;
use crate::kernel::{Kernel, Library};
use crate::pool::Pool;
use crate::protocol::{Command, Op, Reply, CHANNEL_FD, MESSAGE_BYTES};
use crate::seccomp;
use crate::shared::{slot_bytes, Layout, PrivateRegions};

/// Exit codes of a worker that ends on its own, never the kernel's doing.
const EXIT_SETUP: i32 = 71;
const EXIT_BAD_COMMAND: i32 = 72;

/// What one worker loads and how it is confined.
#[derive(Debug, Clone)]
pub struct WorkerPlan {
    pub kernel: PathBuf,
    pub threads: u32,
    pub limits: Limits,
    pub layout: Layout,
}

fn send(reply: &Reply, nonce: u64) {
    let message = reply.encode(nonce);
    // SAFETY: writes a buffer we own to our channel.
    let written =
        unsafe { libc::write(CHANNEL_FD, message.as_ptr() as *const c_void, MESSAGE_BYTES) };
    if written != MESSAGE_BYTES as isize {
        // The supervisor is gone or the channel is broken: nothing to serve.
        std::process::exit(EXIT_SETUP);
    }
}

/// Moves the channel to its fixed fd, points 0-2 at /dev/null and closes
/// everything else the supervisor had open.
fn settle_fds(channel: RawFd) -> Result<(), String> {
    // SAFETY: fd plumbing in a single-threaded child.
    unsafe {
        // Above every fixed fd first, so no dup2 clobbers it.
        let channel = libc::fcntl(channel, libc::F_DUPFD_CLOEXEC, 16);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if channel < 0 || null < 0 {
            return Err(format!("fd setup: {}", std::io::Error::last_os_error()));
        }
        for (from, to) in [(null, 0), (null, 1), (null, 2), (channel, CHANNEL_FD)] {
            if libc::dup2(from, to) != to {
                return Err(format!("dup2: {}", std::io::Error::last_os_error()));
            }
        }
        if libc::syscall(libc::SYS_close_range, CHANNEL_FD + 1, u32::MAX, 0) != 0 {
            return Err(format!("close_range: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// The full stack, in the order the issue fixes: rlimits, namespaces (which
/// need a single-threaded process), Landlock and no_new_privs (inherited by
/// threads started later), the pool's threads, the process limit (which
/// counts threads, so it follows them) and the loader's seccomp filter on
/// every thread at once.
fn confine(plan: &WorkerPlan) -> Result<(Vec<Layer>, Pool), String> {
    let mut readable = vec![plan.kernel.clone(), PathBuf::from("/etc/ld.so.cache")];
    readable.extend(confine::library_directories());
    let mut layers = vec![
        confine::clear_initial_stack(),
        confine::find_clock_pages(),
        confine::apply_limits(&plan.limits),
    ];
    layers.extend(confine::unshare_namespaces());
    layers.push(confine::enter_pid_namespace());
    layers.push(confine::apply_landlock(&readable));
    let no_new_privs = confine::apply_no_new_privs();
    if !no_new_privs.active {
        return Err(format!(
            "no_new_privs could not be set ({})",
            no_new_privs.detail
        ));
    }
    layers.push(no_new_privs);
    let pool = Pool::start(plan.threads)
        .map_err(|reason| format!("--threads = {}: {reason}", plan.threads))?;
    layers.push(Layer {
        name: "pool",
        active: true,
        detail: format!(
            "threads: {} workers, the caller included; started after landlock and no_new_privs, seccomp TSYNC",
            pool.threads()
        ),
    });
    layers.push(confine::limit_processes());
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u32;
    seccomp::install(&seccomp::loader_rules(pid, CHANNEL_FD as u32))?;
    layers.push(Layer {
        name: "seccomp",
        active: true,
        detail: "loader filter, then run filter after dlopen, on every thread (TSYNC); writes to the channel only; kill on violation".to_owned(),
    });
    Ok((layers, pool))
}

/// dlopen under the loader filter, the run filter, then the table check.
fn load<'pool>(plan: &WorkerPlan, pool: &'pool Pool) -> Result<Kernel<'pool>, String> {
    let library = Library::open(&plan.kernel)?;
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u32;
    seccomp::install(&seccomp::run_rules(pid, CHANNEL_FD as u32))?;
    library.bind(pool)
}

/// The forked child's whole life; never returns. `supervisor_mapping`
/// (address, length) is the supervisor's buffers, which fork copied in.
pub fn run(plan: &WorkerPlan, channel: RawFd, supervisor_mapping: (usize, usize)) -> ! {
    // SAFETY: plain process calls in a single-threaded child; the unmapped
    // range is the supervisor's, which nothing in this process uses.
    unsafe {
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::munmap(supervisor_mapping.0 as *mut c_void, supervisor_mapping.1);
    }
    if settle_fds(channel).is_err() {
        std::process::exit(EXIT_SETUP);
    }
    let regions = match PrivateRegions::map(plan.layout) {
        Ok(regions) => regions,
        Err(reason) => {
            send(&Reply::LoadFailed { reason }, 0);
            std::process::exit(EXIT_SETUP);
        }
    };
    send(
        &Reply::Private {
            base: regions.base(),
        },
        0,
    );
    let (layers, pool) = match confine(plan) {
        Ok(confined) => confined,
        Err(reason) => {
            send(&Reply::LoadFailed { reason }, 0);
            std::process::exit(EXIT_SETUP);
        }
    };
    for layer in &layers {
        send(
            &Reply::Layer {
                name: layer.name.to_owned(),
                active: layer.active,
                detail: layer.detail.clone(),
            },
            0,
        );
    }
    match load(plan, &pool) {
        Ok(kernel) => {
            send(
                &Reply::Ready {
                    name: kernel.name.clone(),
                },
                0,
            );
            serve(&kernel, &pool, &regions)
        }
        Err(reason) => {
            send(&Reply::LoadFailed { reason }, 0);
            std::process::exit(0)
        }
    }
}

fn serve(kernel: &Kernel, pool: &Pool, regions: &PrivateRegions) -> ! {
    let mut message = [0u8; MESSAGE_BYTES + 1];
    loop {
        // SAFETY: reads into a buffer we own.
        let read = unsafe {
            libc::read(
                CHANNEL_FD,
                message.as_mut_ptr() as *mut c_void,
                message.len(),
            )
        };
        if read == 0 {
            std::process::exit(0);
        }
        if read < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            std::process::exit(EXIT_SETUP);
        }
        let Some(command) = Command::decode(&message[..read as usize]) else {
            std::process::exit(EXIT_BAD_COMMAND);
        };
        let Some(reply) = execute(kernel, pool, regions, &command) else {
            std::process::exit(EXIT_BAD_COMMAND);
        };
        send(&reply, command.nonce);
    }
}

/// Runs one call between two reads of the FP control state, on this thread
/// and (through the pool) on every pool thread that ran a chunk; a change
/// is undone at once and reported.
fn checked_call(pool: &Pool, call: u32, run: impl FnOnce() -> i32) -> Result<i32, Reply> {
    let before = FpControl::read();
    let status = run();
    let after = FpControl::read();
    let changed = |before: FpControl, after: FpControl| Reply::FpChanged {
        call,
        before: (before.mxcsr, before.x87),
        after: (after.mxcsr, after.x87),
    };
    if after != before {
        before.restore();
        if after.changes_from(&before).is_some() {
            return Err(changed(before, after));
        }
    }
    if let Some(change) = pool.take_fp_change() {
        return Err(changed(change.before, change.after));
    }
    Ok(status)
}

fn execute(
    kernel: &Kernel,
    pool: &Pool,
    regions: &PrivateRegions,
    command: &Command,
) -> Option<Reply> {
    let geometry = &command.geometry;
    let cells = geometry.cells as usize;
    let value_bytes = if geometry.precision == PRECISION_F64 {
        8
    } else {
        4
    };
    let field_bytes = cells.checked_mul(value_bytes)?;
    let slot = slot_bytes(field_bytes);
    let buffers = [
        regions.buffer(0, slot)?,
        regions.buffer(1, slot)?,
        regions.buffer(2, slot)?,
    ];
    regions.fence(slot).ok()?;
    let reply = match command.op {
        Op::Step { current, steps } => {
            let start = (current, steps);
            step_calls(kernel, pool, regions, command, buffers, field_bytes, start)
        }
        Op::Readout => readout_calls(kernel, pool, command, buffers),
    };
    regions.unfence(slot).ok()?;
    Some(reply)
}

/// The command's calls of `steps` steps each, every one on a freshly
/// discarded scratch and cleared padding, as the live core makes them.
fn step_calls(
    kernel: &Kernel,
    pool: &Pool,
    regions: &PrivateRegions,
    command: &Command,
    [level0, level1, scratch]: [*mut c_void; 3],
    level_bytes: usize,
    (current, steps): (u32, u64),
) -> Reply {
    let geometry = &command.geometry;
    for call in 0..command.calls {
        let state = State {
            level: [level0, level1],
            scratch,
            current: ((u64::from(current) + u64::from(call) * steps) % 2) as u32,
        };
        regions.prepare_call(slot_bytes(level_bytes), level_bytes);
        // SAFETY: every pointer refers to a mapped buffer of `cells` values.
        match checked_call(pool, call, || unsafe {
            kernel.wave_step(geometry, &state, steps)
        }) {
            Err(reply) => return reply,
            Ok(STATUS_OK) => {}
            Ok(status) => return Reply::Status { call, status },
        }
    }
    Reply::Done { status: STATUS_OK }
}

/// The command's readouts: the field in the first slot, the digits in the
/// second, the bad index in the third.
fn readout_calls(
    kernel: &Kernel,
    pool: &Pool,
    command: &Command,
    [field, digits, bad_index]: [*mut c_void; 3],
) -> Reply {
    let mut last = STATUS_OK;
    for call in 0..command.calls {
        // SAFETY: every pointer refers to a mapped buffer of the right size.
        match checked_call(pool, call, || unsafe {
            kernel.readout(
                &command.geometry,
                field,
                digits as *mut i8,
                bad_index as *mut u64,
            )
        }) {
            Err(reply) => return reply,
            Ok(status @ (STATUS_OK | STATUS_NONFINITE)) => last = status,
            Ok(status) => return Reply::Status { call, status },
        }
    }
    Reply::Done { status: last }
}
