//! A worker process. The supervisor forks it before any thread exists;
//! the forked child keeps only its channel (fd 3, with 0-2 on /dev/null)
//! and at once re-executes a fresh image, `ouroboros-sandbox-worker`
//! (`exec`), so nothing of the supervisor's memory (its options, the run's
//! seed and draws, its heap, the oracle) survives into the process a kernel
//! runs in. The program is given only what a worker needs: its kernel's
//! path, threads, limits and buffer layout (`WorkerPlan::arguments`). In the
//! new image (`run`) it maps its own private buffers (`PrivateRegions`,
//! which the supervisor fills and reads while it is stopped), confines
//! itself with the full stack, sends where its buffers are and its layers
//! (before any kernel code has run, so they are true), loads its one kernel
//! and serves commands on its buffers until the channel closes: its
//! `WorkerHome` on the call path every kernel host shares (`call_path.rs`).
//! It never writes anywhere but its channel: the seccomp filters kill it
//! for a write to any other fd.

use std::ffi::{c_void, CString};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::abi::State;
use crate::call_path::{
    host_kernel, Calls, FpChanges, Home, ReadoutCalls, StepCalls, MESSAGE_BUFFER_BYTES,
};
use crate::confine::{self, Layer, Limits};
use crate::pool::Pool;
use crate::protocol::{Command, Op, Reply, CHANNEL_FD, MESSAGE_BYTES};
use crate::seccomp;
use crate::shared::{slot_bytes, Layout, PrivateRegions};

/// Exit codes of a worker that ends on its own, never the kernel's doing.
const EXIT_SETUP: i32 = 71;
const EXIT_BAD_COMMAND: i32 = 72;

/// The worker program's name, staged beside the supervisor's binary: the
/// program a worker executes unless the supervisor is given another (the
/// gauntlet gives the kernel host's, which serves as a worker when its
/// first argument is `SANDBOX_WORKER_MODE`).
pub const WORKER_PROGRAM: &str = "ouroboros-sandbox-worker";
/// The first argument of every worker program's command line.
pub const SANDBOX_WORKER_MODE: &str = "--sandbox-worker";

/// What one worker loads and how it is confined; `program` is the fresh
/// image the forked child executes.
#[derive(Debug, Clone)]
pub struct WorkerPlan {
    pub program: PathBuf,
    pub kernel: PathBuf,
    pub threads: u32,
    pub limits: Limits,
    pub layout: Layout,
}

/// The flags of the worker program's command line, in order.
const PLAN_FLAGS: [&str; 7] = [
    "--kernel",
    "--threads",
    "--cpu-seconds",
    "--address-space-bytes",
    "--open-files",
    "--file-size-bytes",
    "--region-bytes",
];

impl WorkerPlan {
    /// The worker program's argument vector (its file name first, then
    /// `SANDBOX_WORKER_MODE`): everything a worker needs and nothing else of the run.
    pub fn arguments(&self) -> Vec<CString> {
        let values = [
            self.kernel.as_os_str().as_bytes().to_vec(),
            self.threads.to_string().into_bytes(),
            self.limits.cpu_seconds.to_string().into_bytes(),
            self.limits.address_space_bytes.to_string().into_bytes(),
            self.limits.open_files.to_string().into_bytes(),
            self.limits.file_size_bytes.to_string().into_bytes(),
            self.layout.region_bytes.to_string().into_bytes(),
        ];
        let name = self.program.file_name().unwrap_or(self.program.as_os_str());
        let mut arguments = vec![
            CString::new(name.as_bytes()).expect("a path from the command line has no NUL"),
            CString::new(SANDBOX_WORKER_MODE).expect("no NUL"),
        ];
        for (flag, value) in PLAN_FLAGS.iter().zip(values) {
            arguments.push(CString::new(*flag).expect("no NUL"));
            arguments.push(CString::new(value).expect("a path from the command line has no NUL"));
        }
        arguments
    }

    /// The plan the worker program `program` was given (`args` without its
    /// name, `SANDBOX_WORKER_MODE` first), as `arguments` wrote it.
    pub fn parse(program: &str, args: &[String]) -> Result<WorkerPlan, String> {
        let args = match args.split_first() {
            Some((mode, rest)) if mode == SANDBOX_WORKER_MODE => rest,
            _ => return Err(format!("the first argument must be {SANDBOX_WORKER_MODE}")),
        };
        if args.len() != 2 * PLAN_FLAGS.len() {
            return Err(format!(
                "{} arguments after {SANDBOX_WORKER_MODE}: a worker takes {}",
                args.len(),
                2 * PLAN_FLAGS.len()
            ));
        }
        let mut values = Vec::with_capacity(PLAN_FLAGS.len());
        for (pair, flag) in args.chunks(2).zip(PLAN_FLAGS) {
            if pair[0] != flag {
                return Err(format!("argument \"{}\": expected {flag}", pair[0]));
            }
            values.push(pair[1].as_str());
        }
        let number = |at: usize| {
            values[at].parse::<u64>().map_err(|_| {
                format!(
                    "{} = \"{}\": must be an integer",
                    PLAN_FLAGS[at], values[at]
                )
            })
        };
        Ok(WorkerPlan {
            program: PathBuf::from(program),
            kernel: PathBuf::from(values[0]),
            threads: u32::try_from(number(1)?)
                .map_err(|_| format!("--threads = {}: must be at most {}", values[1], u32::MAX))?,
            limits: Limits {
                cpu_seconds: number(2)?,
                address_space_bytes: number(3)?,
                open_files: number(4)?,
                file_size_bytes: number(5)?,
            },
            layout: Layout {
                region_bytes: number(6)? as usize,
            },
        })
    }
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

/// The worker program's arguments, made before the fork so that the child
/// allocates nothing before its execve.
pub struct ExecArguments {
    program: CString,
    arguments: Vec<CString>,
}

impl ExecArguments {
    pub fn new(plan: &WorkerPlan) -> Result<Self, String> {
        let program = CString::new(plan.program.as_os_str().as_bytes()).map_err(|_| {
            format!(
                "worker program {}: a NUL in its path",
                plan.program.display()
            )
        })?;
        Ok(ExecArguments {
            program,
            arguments: plan.arguments(),
        })
    }
}

/// The forked child's whole life: its fds settled, it executes the worker
/// program with an empty environment. Never returns; a failed execve is its
/// load's failure, said on the channel.
pub fn exec(exec: &ExecArguments, channel: RawFd) -> ! {
    // SAFETY: plain process calls in a single-threaded child.
    unsafe {
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    if settle_fds(channel).is_err() {
        std::process::exit(EXIT_SETUP);
    }
    let mut argv = [std::ptr::null(); 2 * PLAN_FLAGS.len() + 3];
    for (at, argument) in exec.arguments.iter().enumerate() {
        argv[at] = argument.as_ptr();
    }
    let envp = [std::ptr::null()];
    // SAFETY: NUL-terminated strings and vectors that outlive the call.
    unsafe { libc::execve(exec.program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    let reason = format!(
        "could not execute the worker program {}: {}",
        exec.program.to_string_lossy(),
        std::io::Error::last_os_error()
    );
    send(&Reply::LoadFailed { reason }, 0);
    std::process::exit(EXIT_SETUP)
}

/// The fresh image's layer: said first, since it is what every later layer
/// runs in.
fn fresh_image(plan: &WorkerPlan) -> Layer {
    Layer {
        name: "fresh-image",
        active: true,
        detail: format!(
            "forked, then re-executed as {} with only its kernel's path, threads, limits and layout, fds 0-3 and no environment: none of the supervisor's memory (options, seed, heap, oracle)",
            plan.program.display()
        ),
    }
}

/// The worker program's whole life, in its fresh image; never returns.
/// A program that is also something else (the kernel host) calls
/// `call_path::host_kernel` with a `WorkerHome` itself, from where it
/// calls it in its other mode.
pub fn run(plan: &WorkerPlan) -> ! {
    std::process::exit(host_kernel(&mut WorkerHome::new(plan.clone())))
}

/// A sandbox worker's side of the call path: its private buffers, the
/// supervisor's commands on its channel, and its replies.
pub struct WorkerHome {
    plan: WorkerPlan,
    regions: Option<PrivateRegions>,
    /// The command being served: its nonce and slot, for the answer.
    serving: (u64, usize),
}

impl WorkerHome {
    pub fn new(plan: WorkerPlan) -> Self {
        WorkerHome {
            plan,
            regions: None,
            serving: (0, 0),
        }
    }

    fn regions(&self) -> &PrivateRegions {
        self.regions.as_ref().expect("mapped by confine")
    }

    /// The calls `command` asks for, on the buffers of its slot, fenced.
    fn calls(&mut self, command: &Command) -> Option<Calls> {
        let geometry = command.geometry;
        let level_bytes = (geometry.cells as usize).checked_mul(geometry.value_bytes())?;
        let slot = slot_bytes(level_bytes);
        let regions = self.regions();
        let buffers = [
            regions.buffer(0, slot)?,
            regions.buffer(1, slot)?,
            regions.buffer(2, slot)?,
        ];
        regions.fence(slot).ok()?;
        self.serving = (command.nonce, slot);
        let fp_changes = FpChanges::Refuse;
        Some(match command.op {
            Op::Step { current, steps } => Calls::Step(StepCalls {
                geometry,
                state: State {
                    level: [buffers[0], buffers[1]],
                    scratch: buffers[2],
                    current,
                },
                steps,
                calls: command.calls,
                level_bytes,
                stride: slot,
                advice: libc::MADV_DONTNEED,
                fp_changes,
            }),
            // The field in the first slot, the digits in the second, the bad index in the third.
            Op::Readout => Calls::Readout(ReadoutCalls {
                geometry,
                field: buffers[0],
                digits: buffers[1] as *mut i8,
                bad_index: buffers[2] as *mut u64,
                calls: command.calls,
                fp_changes,
            }),
        })
    }
}

impl Home for WorkerHome {
    fn confine(&mut self) -> Result<Pool, i32> {
        let regions = PrivateRegions::map(self.plan.layout).map_err(|reason| {
            send(&Reply::LoadFailed { reason }, 0);
            EXIT_SETUP
        })?;
        send(
            &Reply::Private {
                base: regions.base(),
            },
            0,
        );
        self.regions = Some(regions);
        let (layers, pool) = confine(&self.plan).map_err(|reason| {
            send(&Reply::LoadFailed { reason }, 0);
            EXIT_SETUP
        })?;
        for layer in std::iter::once(&fresh_image(&self.plan)).chain(&layers) {
            send(
                &Reply::Layer {
                    name: layer.name.to_owned(),
                    active: layer.active,
                    detail: layer.detail.clone(),
                },
                0,
            );
        }
        Ok(pool)
    }

    fn module(&self) -> &Path {
        &self.plan.kernel
    }

    fn opened(&mut self) -> Result<(), String> {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() } as u32;
        seccomp::install(&seccomp::run_rules(pid, CHANNEL_FD as u32))
    }

    fn load_failed(&mut self, reason: String) -> i32 {
        send(&Reply::LoadFailed { reason }, 0);
        0
    }

    fn ready(&mut self, name: &str) -> Result<(), i32> {
        send(
            &Reply::Ready {
                name: name.to_owned(),
            },
            0,
        );
        Ok(())
    }

    fn next(&mut self, message: &mut [u8; MESSAGE_BUFFER_BYTES]) -> Result<Calls, i32> {
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
                return Err(0);
            }
            if read < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(EXIT_SETUP);
            }
            let command = Command::decode(&message[..read as usize]).ok_or(EXIT_BAD_COMMAND)?;
            return self.calls(&command).ok_or(EXIT_BAD_COMMAND);
        }
    }

    fn answer(&mut self, outcome: Reply) -> Result<(), i32> {
        let (nonce, slot) = self.serving;
        self.regions().unfence(slot).map_err(|_| EXIT_BAD_COMMAND)?;
        send(&outcome, nonce);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> WorkerPlan {
        WorkerPlan {
            program: PathBuf::from("/opt/x/ouroboros-sandbox-worker"),
            kernel: PathBuf::from("/tmp/scratch/candidate.so"),
            threads: 3,
            limits: Limits {
                cpu_seconds: 20,
                address_space_bytes: 1 << 30,
                open_files: 32,
                file_size_bytes: 0,
            },
            layout: Layout::for_bytes(5 * 4096),
        }
    }

    fn texts(plan: &WorkerPlan) -> Vec<String> {
        plan.arguments()
            .iter()
            .map(|argument| argument.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_worker_program_is_given_its_plan_and_nothing_else() {
        let given = texts(&plan());
        assert_eq!(given[..2], [WORKER_PROGRAM, SANDBOX_WORKER_MODE]);
        let parsed = WorkerPlan::parse("ouroboros-kernel-host", &given[1..]).unwrap();
        assert_eq!(parsed.program, PathBuf::from("ouroboros-kernel-host"));
        assert_eq!(parsed.kernel, plan().kernel);
        assert_eq!(parsed.threads, 3);
        assert_eq!(parsed.limits.address_space_bytes, 1 << 30);
        assert_eq!(parsed.limits.open_files, 32);
        assert_eq!(parsed.layout, plan().layout);
        assert_eq!(given.len(), 16, "{given:?}");
    }

    #[test]
    fn a_bad_worker_command_line_names_the_argument() {
        let mut given = texts(&plan());
        given[5] = "many".to_owned();
        let parse = |args: &[String]| WorkerPlan::parse(WORKER_PROGRAM, args).unwrap_err();
        assert_eq!(
            parse(&given[1..]),
            "--threads = \"many\": must be an integer"
        );
        assert!(parse(&given[1..4]).contains("a worker takes 14"));
        assert!(parse(&given[2..]).contains("must be --sandbox-worker"));
    }
}
