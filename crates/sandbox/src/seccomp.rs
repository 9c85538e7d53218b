//! Seccomp allowlists as classic BPF, built by hand (no libseccomp).
//!
//! Two filters stack. The loader filter goes on before the candidate is
//! dlopened, so a hostile constructor already runs under it: it allows what
//! the dynamic loader needs (read-only `openat`, `mmap` with execute) and
//! nothing that makes a process, a socket or a writable file. The run
//! filter goes on after dlopen and before the first call into the candidate:
//! no `openat` at all and no executable mappings. Anything else kills the
//! whole process with SIGSYS, which the orchestrator reports. Both filters
//! go on every thread at once, the pool's workers included; idle workers
//! wait in `futex`, which both allow.

use libc::sock_filter;

// BPF_LD | BPF_W | BPF_ABS (0x00 | 0x00 | 0x20), BPF_JMP | BPF_JEQ | BPF_K, ...
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JSET_K: u16 = 0x05 | 0x40;
const BPF_RET_K: u16 = 0x06;

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

fn arg_offset(arg: u32) -> u32 {
    16 + 8 * arg
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// One allowed system call and the condition on its arguments.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// Allowed with any arguments.
    Any(i64),
    /// Allowed when the low 32 bits of `arg` share no bit with `mask`.
    ArgClear { nr: i64, arg: u32, mask: u32 },
    /// Allowed when the low 32 bits of `arg` equal one of `values`.
    ArgIn {
        nr: i64,
        arg: u32,
        values: &'static [u32],
    },
    /// Allowed when the low 32 bits of `arg` equal `value` (known at runtime).
    ArgEq { nr: i64, arg: u32, value: u32 },
}

/// The BPF program for `rules`; every other call kills the process.
pub fn program(rules: &[Rule]) -> Vec<sock_filter> {
    let mut code = vec![
        stmt(BPF_LD_W_ABS, OFFSET_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFFSET_NR),
        jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
    ];
    for rule in rules {
        code.extend(block(*rule));
    }
    code.push(stmt(BPF_RET_K, RET_KILL_PROCESS));
    code
}

/// A self-contained block: entered with the syscall number in A, it either
/// returns or falls through to the next block with A unchanged.
fn block(rule: Rule) -> Vec<sock_filter> {
    match rule {
        Rule::Any(nr) => vec![
            jump(BPF_JMP_JEQ_K, nr as u32, 0, 1),
            stmt(BPF_RET_K, RET_ALLOW),
        ],
        Rule::ArgClear { nr, arg, mask } => vec![
            jump(BPF_JMP_JEQ_K, nr as u32, 0, 4),
            stmt(BPF_LD_W_ABS, arg_offset(arg)),
            jump(BPF_JMP_JSET_K, mask, 0, 1),
            stmt(BPF_RET_K, RET_KILL_PROCESS),
            stmt(BPF_RET_K, RET_ALLOW),
        ],
        Rule::ArgEq { nr, arg, value } => block_arg_in(nr, arg, &[value]),
        Rule::ArgIn { nr, arg, values } => block_arg_in(nr, arg, values),
    }
}

fn block_arg_in(nr: i64, arg: u32, values: &[u32]) -> Vec<sock_filter> {
    let count = values.len();
    // After the JEQ on nr: LD, one JEQ per value, RET KILL, RET ALLOW.
    let mut code = vec![
        jump(BPF_JMP_JEQ_K, nr as u32, 0, (count + 3) as u8),
        stmt(BPF_LD_W_ABS, arg_offset(arg)),
    ];
    for (i, &value) in values.iter().enumerate() {
        // Jump over the remaining comparisons and the RET KILL to RET ALLOW.
        code.push(jump(BPF_JMP_JEQ_K, value, (count - i) as u8, 0));
    }
    code.push(stmt(BPF_RET_K, RET_KILL_PROCESS));
    code.push(stmt(BPF_RET_K, RET_ALLOW));
    code
}

const WRITE_FLAGS: u32 =
    (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) as u32;
const STDIO: &[u32] = &[1, 2];

/// What both filters allow: memory, the report and progress on fds 1 and 2,
/// the clock, and signals to this process only (so abort() reports SIGABRT).
fn common(own_pid: u32) -> Vec<Rule> {
    vec![
        Rule::ArgIn {
            nr: libc::SYS_write,
            arg: 0,
            values: STDIO,
        },
        Rule::Any(libc::SYS_munmap),
        Rule::Any(libc::SYS_brk),
        Rule::Any(libc::SYS_mremap),
        Rule::Any(libc::SYS_madvise),
        Rule::Any(libc::SYS_futex),
        Rule::Any(libc::SYS_clock_gettime),
        Rule::Any(libc::SYS_sched_yield),
        Rule::Any(libc::SYS_getpid),
        Rule::Any(libc::SYS_gettid),
        Rule::Any(libc::SYS_rt_sigaction),
        Rule::Any(libc::SYS_rt_sigprocmask),
        Rule::Any(libc::SYS_rt_sigreturn),
        Rule::Any(libc::SYS_sigaltstack),
        Rule::ArgEq {
            nr: libc::SYS_tgkill,
            arg: 0,
            value: own_pid,
        },
        Rule::Any(libc::SYS_exit),
        Rule::Any(libc::SYS_exit_group),
    ]
}

/// The filter dlopen runs under: read-only file access and executable maps.
pub fn loader_rules(own_pid: u32) -> Vec<Rule> {
    let mut rules = common(own_pid);
    rules.extend([
        Rule::ArgClear {
            nr: libc::SYS_openat,
            arg: 2,
            mask: WRITE_FLAGS,
        },
        Rule::Any(libc::SYS_read),
        Rule::Any(libc::SYS_pread64),
        Rule::Any(libc::SYS_close),
        Rule::Any(libc::SYS_fstat),
        Rule::Any(libc::SYS_newfstatat),
        Rule::Any(libc::SYS_lseek),
        Rule::Any(libc::SYS_mmap),
        Rule::Any(libc::SYS_mprotect),
        // Only to stack the run filter on top: a filter can add restrictions,
        // never lift them.
        Rule::Any(libc::SYS_seccomp),
    ]);
    rules
}

/// The filter candidate code runs under: no files, no executable memory.
pub fn run_rules(own_pid: u32) -> Vec<Rule> {
    let mut rules = common(own_pid);
    rules.extend([
        Rule::ArgClear {
            nr: libc::SYS_mmap,
            arg: 2,
            mask: libc::PROT_EXEC as u32,
        },
        Rule::ArgClear {
            nr: libc::SYS_mprotect,
            arg: 2,
            mask: libc::PROT_EXEC as u32,
        },
    ]);
    rules
}

/// Installs `rules` on every thread of the process at once
/// (`SECCOMP_FILTER_FLAG_TSYNC`), so the pool's workers, started before,
/// run under the same filter as the thread that dlopens and calls the
/// candidate. Needs no_new_privs, which the caller sets first.
pub fn install(rules: &[Rule]) -> Result<(), String> {
    let filter = program(rules);
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut sock_filter,
    };
    // SAFETY: `prog` points at `filter`, alive for the call.
    let result = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &prog as *const libc::sock_fprog,
        )
    };
    match result {
        0 => Ok(()),
        // TSYNC names the first thread it could not move onto the filter,
        // and then installs it on none.
        thread if thread > 0 => Err(format!(
            "seccomp(SET_MODE_FILTER, TSYNC): thread {thread} could not take the filter, so no thread has it"
        )),
        _ => Err(format!(
            "seccomp(SET_MODE_FILTER, TSYNC): {}",
            std::io::Error::last_os_error()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_lands_inside_the_program() {
        for rules in [loader_rules(1), run_rules(1)] {
            let code = program(&rules);
            for (i, instruction) in code.iter().enumerate() {
                if instruction.code & 0x07 == 0x05 {
                    assert!(i + 1 + (instruction.jt as usize) < code.len());
                    assert!(i + 1 + (instruction.jf as usize) < code.len());
                }
            }
            assert_eq!(code.last().map(|i| i.k), Some(RET_KILL_PROCESS));
        }
    }

    #[test]
    fn the_run_filter_allows_no_file_or_process_calls() {
        let forbidden = [
            libc::SYS_openat,
            libc::SYS_open,
            libc::SYS_clone,
            libc::SYS_fork,
            libc::SYS_execve,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_kill,
        ];
        for rule in run_rules(1) {
            let nr = match rule {
                Rule::Any(nr)
                | Rule::ArgClear { nr, .. }
                | Rule::ArgIn { nr, .. }
                | Rule::ArgEq { nr, .. } => nr,
            };
            assert!(!forbidden.contains(&nr), "syscall {nr} is allowed");
        }
    }
}
