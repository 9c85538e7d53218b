//! The runner confines itself, in this order, before it loads a candidate:
//! resource limits, namespaces, Landlock, no_new_privs, the pool's threads
//! (`pool.rs`, started here so they inherit every layer so far), the process
//! limit, then the loader's seccomp filter on every thread (see `seccomp.rs`
//! for the second filter). Each layer is recorded as active or not, with
//! why; a layer the kernel refuses is skipped, never fatal, except seccomp,
//! without which no candidate runs.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, BitFlags, LandlockStatus, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

/// One isolation layer as it ended up on this machine.
#[derive(Debug, Clone)]
pub struct Layer {
    pub name: &'static str,
    pub active: bool,
    pub detail: String,
}

/// Resource limits, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub cpu_seconds: u64,
    pub address_space_bytes: u64,
    pub open_files: u64,
    pub file_size_bytes: u64,
}

fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: plain syscall on this process.
    if unsafe { libc::setrlimit(resource, &limit) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// CPU time, address space, open files, file size, no core dumps. The
/// process limit comes later (`limit_processes`): the PID namespace needs
/// two forks first.
pub fn apply_limits(limits: &Limits) -> Layer {
    let result = set_limit(libc::RLIMIT_CPU, limits.cpu_seconds)
        .and_then(|()| set_limit(libc::RLIMIT_AS, limits.address_space_bytes))
        .and_then(|()| set_limit(libc::RLIMIT_NOFILE, limits.open_files))
        .and_then(|()| set_limit(libc::RLIMIT_FSIZE, limits.file_size_bytes))
        .and_then(|()| set_limit(libc::RLIMIT_CORE, 0));
    match result {
        Ok(()) => Layer {
            name: "rlimits",
            active: true,
            detail: format!(
                "cpu {} s, address space {} MiB, {} open files, file size {} bytes, no core",
                limits.cpu_seconds,
                limits.address_space_bytes >> 20,
                limits.open_files,
                limits.file_size_bytes
            ),
        },
        Err(error) => Layer {
            name: "rlimits",
            active: false,
            detail: error.to_string(),
        },
    }
}

/// No more processes for this uid (enforced unless the runner is root in the
/// initial user namespace, where the kernel ignores it; seccomp still
/// forbids fork and clone). Threads count as processes here, so this comes
/// after the pool has started its threads.
pub fn limit_processes() -> Layer {
    match set_limit(libc::RLIMIT_NPROC, 0) {
        Ok(()) => Layer {
            name: "rlimit-nproc",
            active: true,
            detail: "0 new processes".to_owned(),
        },
        Err(error) => Layer {
            name: "rlimit-nproc",
            active: false,
            detail: error.to_string(),
        },
    }
}

/// New user, mount, network, IPC and UTS namespaces, each tried on its own
/// so that one the kernel refuses does not cost the others.
pub fn unshare_namespaces() -> Vec<Layer> {
    let kinds = [
        ("userns", libc::CLONE_NEWUSER),
        ("mountns", libc::CLONE_NEWNS),
        ("netns", libc::CLONE_NEWNET),
        ("ipcns", libc::CLONE_NEWIPC),
        ("utsns", libc::CLONE_NEWUTS),
    ];
    kinds
        .iter()
        .map(|&(name, flag)| {
            // SAFETY: unshare affects only this single-threaded process.
            if unsafe { libc::unshare(flag) } == 0 {
                Layer {
                    name,
                    active: true,
                    detail: "new namespace".to_owned(),
                }
            } else {
                Layer {
                    name,
                    active: false,
                    detail: format!("unshare refused: {}", std::io::Error::last_os_error()),
                }
            }
        })
        .collect()
}

fn exit_like(status: libc::c_int) -> ! {
    if libc::WIFSIGNALED(status) {
        std::process::exit(128 + libc::WTERMSIG(status));
    }
    std::process::exit(libc::WEXITSTATUS(status));
}

fn wait_for(child: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    // SAFETY: waits for our own child.
    while unsafe { libc::waitpid(child, &mut status, 0) } < 0 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 127 << 8;
        }
    }
    status
}

/// Re-raises the worker's fatal signal in the outermost process, so the
/// orchestrator sees the real signal; the init process cannot raise one on
/// itself (the kernel ignores signals an init sends itself).
fn reraise(code: i32) -> ! {
    if code > 128 && code < 128 + 65 {
        let signal = code - 128;
        // SAFETY: restores the default action and raises on ourselves.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
    std::process::exit(code)
}

/// Creates a PID namespace: this process stays outside and waits; its child
/// becomes the namespace's init and waits in turn for a grandchild, the
/// worker, which returns from this function with the layer it is in. Both waiters die with the
/// worker's status; the worker dies if its parent does.
pub fn enter_pid_namespace() -> Layer {
    // SAFETY: the runner is single-threaded, so fork is sound.
    unsafe {
        let outside = libc::getpid();
        if libc::unshare(libc::CLONE_NEWPID) != 0 {
            let detail = format!("unshare refused: {}", std::io::Error::last_os_error());
            return Layer {
                name: "pidns",
                active: false,
                detail,
            };
        }
        let init = libc::fork();
        if init < 0 {
            let detail = format!("fork failed: {}", std::io::Error::last_os_error());
            return Layer {
                name: "pidns",
                active: false,
                detail,
            };
        }
        if init > 0 {
            let status = wait_for(init);
            let code = if libc::WIFSIGNALED(status) {
                128 + libc::WTERMSIG(status)
            } else {
                libc::WEXITSTATUS(status)
            };
            reraise(code);
        }
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        number_from(outside);
        let worker = libc::fork();
        if worker < 0 {
            std::process::exit(126);
        }
        if worker > 0 {
            exit_like(wait_for(worker));
        }
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let pid = libc::getpid();
        let numbering = if pid == outside {
            "numbered from its pid outside it, as a kernel host's processes and threads are"
        } else {
            "numbered from 1: its pid and its threads' tell it from a kernel host"
        };
        Layer {
            name: "pidns",
            active: true,
            detail: format!("worker is pid {pid} of a new namespace, {numbering}"),
        }
    }
}

/// Makes the next pid of this (new) PID namespace `pid`, so that the worker forked next gets its own number from
/// outside and its pool threads the numbers after it. A kernel reads its thread's tid with no system call from the
/// TCB glibc puts at the top of a pool thread's stack (`pool-thread-reads-its-tid`): numbered from 1, the worker's
/// tids were below 16, and a kernel host, which has no PID namespace, has tids like any process's. Best effort: a
/// kernel that refuses leaves the numbering from 1, which the layer's detail then says.
fn number_from(pid: libc::pid_t) {
    let _ = std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string());
}

/// The directories of every shared library this process has mapped: the
/// candidate needs the same libc, libm, libgcc_s (and libstdc++ beside them).
pub fn library_directories() -> Vec<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| path.contains(".so"))
        .filter_map(|path| Path::new(path).parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// The newest Landlock ABI asked for; the crate's best-effort mode takes
/// what the running kernel has of it and reports what was enforced.
const LANDLOCK_ABI: ABI = ABI::V6;

/// Landlock, through the `landlock` crate: every filesystem right handled
/// (so no write anywhere), reads allowed beneath `readable` only (the paths
/// that exist); TCP bind/connect, abstract sockets and signals out of the
/// domain denied where the ABI knows them. The crate sets no_new_privs
/// itself, as an unprivileged restrict_self needs.
pub fn apply_landlock(readable: &[PathBuf]) -> Layer {
    let present: Vec<&PathBuf> = readable.iter().filter(|path| path.exists()).collect();
    let read: BitFlags<AccessFs> = AccessFs::ReadFile | AccessFs::ReadDir;
    let restricted = Ruleset::default()
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))
        .and_then(|ruleset| ruleset.handle_access(AccessNet::from_all(LANDLOCK_ABI)))
        .and_then(|ruleset| ruleset.scope(Scope::from_all(LANDLOCK_ABI)))
        .and_then(|ruleset| ruleset.create())
        .and_then(|ruleset| ruleset.add_rules(path_beneath_rules(&present, read)))
        .and_then(|ruleset| ruleset.restrict_self());
    let status = match restricted {
        Ok(status) => status,
        Err(error) => {
            return Layer {
                name: "landlock",
                active: false,
                detail: error.to_string(),
            }
        }
    };
    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => format!("ABI {}", effective_abi as i32),
        _ => "no ABI".to_owned(),
    };
    let enforced = match status.ruleset {
        RulesetStatus::FullyEnforced => "fully enforced",
        RulesetStatus::PartiallyEnforced => "partially enforced",
        RulesetStatus::NotEnforced => {
            return Layer {
                name: "landlock",
                active: false,
                detail: format!("not enforced by this kernel ({abi})"),
            }
        }
    };
    let granted: Vec<String> = present
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    Layer {
        name: "landlock",
        active: true,
        detail: format!(
            "{abi}, {enforced}: no writes, reads only beneath {}",
            granted.join(", ")
        ),
    }
}

extern "C" {
    static environ: *const *const libc::c_char;
}

/// Where the kernel put the argument and environment strings on the initial stack (`/proc/self/stat` fields 48 to
/// 51: arg_start, arg_end, env_start, env_end).
fn initial_strings() -> Result<(usize, usize, usize), String> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|error| error.to_string())?;
    let after_name = &stat[stat.rfind(')').ok_or("no name in /proc/self/stat")? + 1..];
    let field = |number: usize| -> Result<usize, String> {
        after_name
            .split_whitespace()
            .nth(number - 3)
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| format!("no field {number} in /proc/self/stat"))
    };
    Ok((field(48)?, field(49)?, field(51)?))
}

/// Empties the argument vector that precedes `environ` on the initial stack: its pointers into
/// [arg_start, arg_end) and argc, the word below them. Returns how many there were, or None when
/// the words below `environ` are not such a vector.
///
/// # Safety
/// Single-threaded, after the program has read its arguments: nothing reads them afterwards.
unsafe fn empty_argument_vector(arg_start: usize, arg_end: usize) -> Option<usize> {
    let terminator = environ.cast::<usize>().cast_mut().sub(1);
    if *terminator != 0 {
        return None;
    }
    let mut count = 0;
    while count < 4096 {
        let word = *terminator.sub(count + 1);
        if !(arg_start..arg_end).contains(&word) {
            break;
        }
        count += 1;
    }
    let argc = terminator.sub(count + 1);
    if count == 0 || *argc != count {
        return None;
    }
    std::ptr::write_bytes(argc, 0, count + 1);
    Some(count)
}

/// Clears what the initial stack says of the program before a kernel can read it: a kernel's code runs on
/// this stack, and from a local's address it can walk up to the argument vector and its strings (a worker's
/// are `ouroboros-kernel-host --sandbox-worker` and its plan, where a live kernel host's are its own; a worker
/// that was only forked had its supervisor's, `ouroboros-sandbox` and the run's `--seed`:
/// `reads-argv-off-its-stack` in the hostile corpus told the two apart with no system call). The argument and environment strings and the executable's name (`AT_EXECFN`) are overwritten
/// with zeros and the argument vector emptied, in the worker and in the kernel host alike, after each has
/// parsed its arguments. What the stack's frames and the program's code still tell a kernel that reads
/// them is not hidden (docs/ARCHITECTURE.md).
pub fn clear_initial_stack() -> Layer {
    let (arg_start, arg_end, env_end) = match initial_strings() {
        Ok(bounds) if bounds.0 < bounds.1 && bounds.1 <= bounds.2 => bounds,
        Ok(_) => {
            return inactive(
                "initial-stack",
                "/proc/self/stat gives no argument strings".to_owned(),
            )
        }
        Err(reason) => return inactive("initial-stack", reason),
    };
    // SAFETY: [arg_start, env_end) is this process's own writable initial stack, holding only the
    // strings, which nothing reads after the arguments were parsed; AT_EXECFN names a C string there.
    let arguments = unsafe {
        let arguments = empty_argument_vector(arg_start, arg_end);
        std::ptr::write_bytes(arg_start as *mut u8, 0, env_end - arg_start);
        let name = libc::getauxval(libc::AT_EXECFN) as *mut libc::c_char;
        if !name.is_null() {
            std::ptr::write_bytes(name, 0, libc::strlen(name));
        }
        arguments
    };
    Layer {
        name: "initial-stack",
        active: true,
        detail: format!(
            "argument and environment strings ({} bytes) and the executable's name zeroed, {}",
            env_end - arg_start,
            arguments.map_or("the argument vector not found".to_owned(), |count| format!(
                "the argument vector of {count} emptied"
            ))
        ),
    }
}

/// The mappings the kernel gives every process for its clock: the vDSO and the pages of time data it reads.
const CLOCK_MAPPINGS: [&str; 3] = ["[vvar]", "[vvar_vclock]", "[vdso]"];

/// The clock mappings `find_clock_pages` found, which `unmap_clock_pages` unmaps.
static CLOCK_PAGES: OnceLock<Vec<(usize, usize)>> = OnceLock::new();

/// Finds the vDSO and its data pages, which `Library::open` unmaps once the kernel is loaded (the loader reads the
/// vDSO's symbols while it links a module, and after that nothing in the worker or the kernel host reads a clock).
/// `[vvar]` holds the wall clock in seconds and the time stamp counter of the last tick, readable with no symbol or
/// system call by a kernel that finds the vDSO's address in the auxiliary vector on its stack: a clock no gate could
/// see, for a kernel that cheats from a date on (`reads-the-clock-in-vvar`). Once they are unmapped such a read
/// faults, in the sandbox as live. Read from /proc/self/maps, so before Landlock.
pub fn find_clock_pages() -> Layer {
    let maps = match std::fs::read_to_string("/proc/self/maps") {
        Ok(maps) => maps,
        Err(error) => return inactive("clock-pages", error.to_string()),
    };
    let mut ranges = Vec::new();
    let mut names = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let range = fields.next().unwrap_or("");
        let Some(name) = fields.nth(4).filter(|name| CLOCK_MAPPINGS.contains(name)) else {
            continue;
        };
        let bounds: Vec<usize> = range
            .split('-')
            .filter_map(|part| usize::from_str_radix(part, 16).ok())
            .collect();
        let [start, end] = bounds[..] else {
            return inactive(
                "clock-pages",
                format!("/proc/self/maps: cannot read the range of {name}"),
            );
        };
        ranges.push((start, end));
        names.push(name);
    }
    let detail = if names.is_empty() {
        "no vDSO or time data pages mapped".to_owned()
    } else {
        format!(
            "{} unmapped once the kernel is loaded: no clock readable without a system call",
            names.join(", ")
        )
    };
    if CLOCK_PAGES.set(ranges).is_err() {
        return inactive("clock-pages", "found twice".to_owned());
    }
    Layer {
        name: "clock-pages",
        active: true,
        detail,
    }
}

/// Unmaps what `find_clock_pages` found (nothing when it was not called).
pub fn unmap_clock_pages() -> Result<(), String> {
    for &(start, end) in CLOCK_PAGES.get().map_or(&[][..], Vec::as_slice) {
        // SAFETY: the kernel's clock pages, which nothing in this process reads once the kernel is linked.
        if unsafe { libc::munmap(start as *mut libc::c_void, end - start) } != 0 {
            return Err(format!(
                "unmapping the vDSO's pages: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

fn inactive(name: &'static str, detail: String) -> Layer {
    Layer {
        name,
        active: false,
        detail,
    }
}

fn set_no_new_privs() -> bool {
    // SAFETY: plain prctl on this process.
    unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 }
}

pub fn apply_no_new_privs() -> Layer {
    if set_no_new_privs() {
        Layer {
            name: "no_new_privs",
            active: true,
            detail: "set".to_owned(),
        }
    } else {
        Layer {
            name: "no_new_privs",
            active: false,
            detail: std::io::Error::last_os_error().to_string(),
        }
    }
}
