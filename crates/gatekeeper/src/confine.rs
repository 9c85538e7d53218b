//! The confinement the gauntlet's tools (g++, clang-tidy, cppcheck) run
//! under. A candidate's source decides what these tools open (`#include`
//! through a macro, a digraph or `__has_include`), so they get only what a
//! compile needs: rlimits on memory, CPU, output and open files; new user,
//! network and IPC namespaces where the kernel allows them; `no_new_privs`;
//! and a Landlock domain in which only the scratch directory is writable
//! and only the toolchain and header directories are readable. Every layer
//! is best effort and reported, as one JSON line on stderr before the tool
//! starts, so that the orchestrator records what was enforced.

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use serde_json::json;
use std::ffi::CString;
use std::path::PathBuf;
use std::process::ExitCode;

/// The newest Landlock ABI this crate is asked for; the kernel's own may be
/// older, and the crate then enforces what it has (best effort).
const LANDLOCK_ABI: ABI = ABI::V6;

/// The first word of the line the orchestrator reads and strips from stderr.
pub const REPORT_PREFIX: &str = "ouroboros-gatekeeper:";

/// What `run` confines and starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Readable and executable, with everything beneath them.
    pub read: Vec<PathBuf>,
    /// The one writable directory.
    pub write: PathBuf,
    pub memory_mib: u64,
    pub cpu_seconds: u64,
    pub file_mib: u64,
    pub open_files: u64,
    /// The tool and its arguments.
    pub command: Vec<String>,
}

fn number(flag: &str, value: Option<&String>) -> Result<u64, String> {
    value
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("{flag} needs a positive integer"))
}

impl Plan {
    /// Parses `--read d... --write d [--memory-mib n] [--cpu-seconds n]
    /// [--file-mib n] [--open-files n] -- tool args...`.
    pub fn parse(args: &[String]) -> Result<Plan, String> {
        let mut plan = Plan {
            read: Vec::new(),
            write: PathBuf::new(),
            memory_mib: 1024,
            cpu_seconds: 60,
            file_mib: 64,
            open_files: 64,
            command: Vec::new(),
        };
        let mut index = 0;
        while index < args.len() {
            let flag = args[index].as_str();
            let value = args.get(index + 1);
            match flag {
                "--" => {
                    plan.command = args[index + 1..].to_vec();
                    break;
                }
                "--read" => plan.read.push(value.ok_or("--read needs a path")?.into()),
                "--write" => plan.write = value.ok_or("--write needs a path")?.into(),
                "--memory-mib" => plan.memory_mib = number(flag, value)?,
                "--cpu-seconds" => plan.cpu_seconds = number(flag, value)?,
                "--file-mib" => plan.file_mib = number(flag, value)?,
                "--open-files" => plan.open_files = number(flag, value)?,
                other => return Err(format!("unknown option {other}")),
            }
            index += 2;
        }
        if plan.write.as_os_str().is_empty() {
            return Err("--write <scratch directory> is required".into());
        }
        if plan.command.is_empty() {
            return Err("no tool after --".into());
        }
        Ok(plan)
    }
}

fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> bool {
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: setrlimit reads a valid rlimit struct.
    unsafe { libc::setrlimit(resource, &limit) == 0 }
}

fn write_file(path: &str, text: &str) -> bool {
    std::fs::write(path, text).is_ok()
}

/// A user namespace first (it lends the capability the others need when
/// unprivileged), mapping this process's ids onto themselves; then network
/// and IPC, each tried alone. Returns the namespaces entered.
fn enter_namespaces() -> Vec<&'static str> {
    let mut entered = Vec::new();
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: unshare takes flags only; this process is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } == 0 {
        let mapped = write_file("/proc/self/setgroups", "deny")
            && write_file("/proc/self/uid_map", &format!("{uid} {uid} 1"))
            && write_file("/proc/self/gid_map", &format!("{gid} {gid} 1"));
        entered.push(if mapped { "user" } else { "user-unmapped" });
    }
    for (flag, name) in [(libc::CLONE_NEWNET, "network"), (libc::CLONE_NEWIPC, "ipc")] {
        // SAFETY: as above.
        if unsafe { libc::unshare(flag) } == 0 {
            entered.push(name);
        }
    }
    entered
}

fn landlock(plan: &Plan) -> Result<(RulesetStatus, Option<i32>), String> {
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))
        .and_then(|r| r.handle_access(AccessNet::from_all(LANDLOCK_ABI)))
        .and_then(|r| r.scope(Scope::from_all(LANDLOCK_ABI)))
        .and_then(|r| r.create())
        .and_then(|r| {
            r.add_rules(path_beneath_rules(
                &plan.read,
                AccessFs::from_read(LANDLOCK_ABI),
            ))
        })
        .and_then(|r| {
            r.add_rules(path_beneath_rules(
                [&plan.write],
                AccessFs::from_all(LANDLOCK_ABI),
            ))
        })
        .and_then(|r| r.restrict_self())
        .map_err(|error| error.to_string())?;
    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => Some(effective_abi as i32),
        _ => None,
    };
    Ok((status.ruleset, abi))
}

fn status_name(status: RulesetStatus) -> &'static str {
    match status {
        RulesetStatus::FullyEnforced => "fully-enforced",
        RulesetStatus::PartiallyEnforced => "partially-enforced",
        RulesetStatus::NotEnforced => "not-enforced",
    }
}

/// Confines this process by `plan` and executes the tool in its place; returns
/// only if that fails (exit 126, with the reason on stderr).
pub fn run(plan: Plan) -> ExitCode {
    const MIB: u64 = 1 << 20;
    let limits = [
        (libc::RLIMIT_AS, plan.memory_mib * MIB),
        (libc::RLIMIT_CPU, plan.cpu_seconds),
        (libc::RLIMIT_FSIZE, plan.file_mib * MIB),
        (libc::RLIMIT_NOFILE, plan.open_files),
        (libc::RLIMIT_CORE, 0),
    ];
    let rlimits = limits
        .iter()
        .all(|&(resource, value)| set_limit(resource, value));
    let namespaces = enter_namespaces();
    // SAFETY: prctl with integer arguments.
    let no_new_privs = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } == 0;
    let (landlock_status, landlock_abi, landlock_error) = match landlock(&plan) {
        Ok((status, abi)) => (status_name(status), abi, None),
        Err(error) => ("failed", None, Some(error)),
    };
    let report = json!({
        "rlimits": rlimits,
        "memoryMiB": plan.memory_mib,
        "cpuSeconds": plan.cpu_seconds,
        "fileMiB": plan.file_mib,
        "openFiles": plan.open_files,
        "namespaces": namespaces,
        "noNewPrivs": no_new_privs,
        "landlock": landlock_status,
        "landlockAbi": landlock_abi,
        "landlockError": landlock_error,
    });
    eprintln!("{REPORT_PREFIX} {report}");
    if !rlimits || !no_new_privs || landlock_error.is_some() {
        eprintln!("{REPORT_PREFIX} refusing to run the tool: a required layer failed");
        return ExitCode::from(126);
    }
    let Ok(arguments) = plan
        .command
        .iter()
        .map(|arg| CString::new(arg.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
    else {
        eprintln!("{REPORT_PREFIX} an argument holds a NUL byte");
        return ExitCode::from(126);
    };
    let mut pointers: Vec<*const libc::c_char> = arguments.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    // SAFETY: a NULL-terminated array of valid C strings that outlive the call.
    unsafe { libc::execvp(pointers[0], pointers.as_ptr()) };
    eprintln!(
        "{REPORT_PREFIX} cannot start {}: {}",
        plan.command[0],
        std::io::Error::last_os_error()
    );
    ExitCode::from(126)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn parses_a_plan() {
        let plan = Plan::parse(&args(
            "--read /usr --read /lib --write /tmp/x --memory-mib 512 -- g++ -c a.cpp",
        ))
        .unwrap();
        assert_eq!(
            plan.read,
            vec![PathBuf::from("/usr"), PathBuf::from("/lib")]
        );
        assert_eq!(plan.write, PathBuf::from("/tmp/x"));
        assert_eq!(plan.memory_mib, 512);
        assert_eq!(plan.command, args("g++ -c a.cpp"));
    }

    #[test]
    fn refuses_a_plan_without_scratch_tool_or_valid_limit() {
        assert!(Plan::parse(&args("--read /usr -- g++")).is_err());
        assert!(Plan::parse(&args("--write /tmp/x --")).is_err());
        assert!(Plan::parse(&args("--write /tmp/x --cpu-seconds 0 -- g++")).is_err());
        assert!(Plan::parse(&args("--write /tmp/x --bogus 1 -- g++")).is_err());
    }
}
