//! The runner confines itself, in this order, before it loads a candidate:
//! resource limits, namespaces, Landlock, no_new_privs, the pool's threads
//! (`pool.rs`, started here so they inherit every layer so far), the process
//! limit, then the loader's seccomp filter on every thread (see `seccomp.rs`
//! for the second filter). Each layer is recorded as active or not, with
//! why; a layer the kernel refuses is skipped, never fatal, except seccomp,
//! without which no candidate runs.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

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
        let worker = libc::fork();
        if worker < 0 {
            std::process::exit(126);
        }
        if worker > 0 {
            exit_like(wait_for(worker));
        }
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        Layer {
            name: "pidns",
            active: true,
            detail: "worker is pid 2 of a new namespace".to_owned(),
        }
    }
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

const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
const LANDLOCK_RULE_PATH_BENEATH: u32 = 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
/// Every filesystem right of Landlock ABI 1 (13 rights).
const FS_ALL_V1: u64 = (1 << 13) - 1;
const FS_REFER: u64 = 1 << 13;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
const NET_ALL: u64 = 0b11;
const SCOPE_ALL: u64 = 0b11;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

fn landlock_abi() -> i64 {
    // SAFETY: the version query takes no pointer.
    unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    }
}

/// Landlock: every filesystem right handled (so no write anywhere), reads
/// allowed beneath `readable` only; TCP bind/connect and abstract sockets
/// and signals out of the domain denied where the ABI knows them.
pub fn apply_landlock(readable: &[PathBuf]) -> Layer {
    let abi = landlock_abi();
    if abi < 1 {
        return Layer {
            name: "landlock",
            active: false,
            detail: format!("not available: {}", std::io::Error::last_os_error()),
        };
    }
    let mut fs = FS_ALL_V1;
    if abi >= 2 {
        fs |= FS_REFER;
    }
    if abi >= 3 {
        fs |= FS_TRUNCATE;
    }
    if abi >= 5 {
        fs |= FS_IOCTL_DEV;
    }
    let attr = RulesetAttr {
        handled_access_fs: fs,
        handled_access_net: if abi >= 4 { NET_ALL } else { 0 },
        scoped: if abi >= 6 { SCOPE_ALL } else { 0 },
    };
    let size = match abi {
        1..=3 => 8,
        4 | 5 => 16,
        _ => 24,
    };
    // SAFETY: `attr` is valid for `size` bytes.
    let ruleset = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size as usize,
            0u32,
        )
    };
    if ruleset < 0 {
        return Layer {
            name: "landlock",
            active: false,
            detail: format!("create_ruleset: {}", std::io::Error::last_os_error()),
        };
    }
    // SAFETY: a fresh fd we now own.
    let ruleset = unsafe { OwnedFd::from_raw_fd(ruleset as i32) };
    let mut granted = Vec::new();
    for path in readable {
        if let Some(granted_path) = allow_read(&ruleset, path) {
            granted.push(granted_path);
        }
    }
    // SAFETY: restricts this thread (the only one) with our ruleset.
    let mut result =
        unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32) };
    let mut note = "";
    if result != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
        // Without CAP_SYS_ADMIN in the current user namespace Landlock needs
        // no_new_privs first; it is set again, harmlessly, by the next layer.
        set_no_new_privs();
        // SAFETY: as above.
        result =
            unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32) };
        note = " (no_new_privs set early: no CAP_SYS_ADMIN)";
    }
    if result != 0 {
        return Layer {
            name: "landlock",
            active: false,
            detail: format!("restrict_self: {}", std::io::Error::last_os_error()),
        };
    }
    Layer {
        name: "landlock",
        active: true,
        detail: format!(
            "ABI {abi}: no writes, reads only beneath {}{note}",
            granted.join(", ")
        ),
    }
}

fn allow_read(ruleset: &OwnedFd, path: &Path) -> Option<String> {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: opens a path for use as a Landlock rule anchor.
    let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a fresh fd we now own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let is_dir = path.is_dir();
    let rule = PathBeneathAttr {
        allowed_access: if is_dir {
            FS_READ_FILE | FS_READ_DIR
        } else {
            FS_READ_FILE
        },
        parent_fd: fd.as_raw_fd(),
    };
    // SAFETY: `rule` is a valid path_beneath attribute.
    let added = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            LANDLOCK_RULE_PATH_BENEATH,
            &rule as *const PathBeneathAttr,
            0u32,
        )
    };
    (added == 0).then(|| path.display().to_string())
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
