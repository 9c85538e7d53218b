//! Seccomp allowlists, compiled to classic BPF by the `seccompiler` crate.
//!
//! Two filters stack. The loader filter goes on before the candidate is
//! dlopened, so a hostile constructor already runs under it: it allows what
//! the dynamic loader needs (read-only `openat`, `mmap` with execute but
//! never writable and executable at once) and nothing that makes a process,
//! a socket or a writable file. The run filter goes on after dlopen and
//! before the first call into the candidate: no `openat` at all, no
//! executable mappings, and reads and writes on the one channel fd only.
//! Anything else kills the whole process with SIGSYS, which the supervisor
//! reports. Both filters go on every thread at once, the pool's workers
//! included; idle workers wait in `futex`, which both allow.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

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
    /// Allowed unless the low 32 bits of `arg` hold every bit of `mask`.
    ArgNotAll { nr: i64, arg: u32, mask: u32 },
}

/// The low 32 bits of argument `arg`, compared with `op` against `value`.
fn condition(arg: u32, op: SeccompCmpOp, value: u32) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg as u8, SeccompCmpArgLen::Dword, op, u64::from(value))
        .map_err(|error| format!("seccomp rule on argument {arg}: {error}"))
}

/// The argument conditions under which `rule` allows its call: any one of
/// them (an empty list allows every call).
fn alternatives(rule: Rule) -> Result<Vec<SeccompRule>, String> {
    let one = |conditions: Vec<SeccompCondition>| {
        SeccompRule::new(conditions).map_err(|error| format!("seccomp rule: {error}"))
    };
    match rule {
        Rule::Any(_) => Ok(Vec::new()),
        Rule::ArgClear { arg, mask, .. } => Ok(vec![one(vec![condition(
            arg,
            SeccompCmpOp::MaskedEq(u64::from(mask)),
            0,
        )?])?]),
        Rule::ArgEq { arg, value, .. } => {
            Ok(vec![one(vec![condition(arg, SeccompCmpOp::Eq, value)?])?])
        }
        Rule::ArgIn { arg, values, .. } => values
            .iter()
            .map(|&value| one(vec![condition(arg, SeccompCmpOp::Eq, value)?]))
            .collect(),
        // Every proper subset of the mask's bits: two bits (W|X) give three rules.
        Rule::ArgNotAll { arg, mask, .. } => subsets_below(mask)
            .into_iter()
            .map(|bits| {
                one(vec![condition(
                    arg,
                    SeccompCmpOp::MaskedEq(u64::from(mask)),
                    bits,
                )?])
            })
            .collect(),
    }
}

/// Every subset of `mask`'s bits except `mask` itself.
fn subsets_below(mask: u32) -> Vec<u32> {
    assert!(mask.count_ones() <= 4, "mask {mask:#x}: at most 4 bits");
    let mut subsets = Vec::new();
    let mut subset = 0u32;
    loop {
        if subset != mask {
            subsets.push(subset);
        }
        if subset == mask {
            return subsets;
        }
        // The next subset of `mask` in increasing order.
        subset = (subset.wrapping_sub(mask)) & mask;
    }
}

fn number(rule: Rule) -> i64 {
    match rule {
        Rule::Any(nr)
        | Rule::ArgClear { nr, .. }
        | Rule::ArgIn { nr, .. }
        | Rule::ArgEq { nr, .. }
        | Rule::ArgNotAll { nr, .. } => nr,
    }
}

/// Compiles `rules` with seccompiler (the rust-vmm crate Firecracker uses):
/// a call on the x86-64 ABI that a rule allows is allowed, anything else
/// (another architecture, the x32 ABI, an unlisted call, arguments no rule
/// accepts) kills the process. The first rule naming a call decides it;
/// later ones for the same call are ignored, so that a caller can put a
/// narrower rule first.
pub fn program(rules: &[Rule]) -> Result<BpfProgram, String> {
    let mut by_call: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &rule in rules {
        if let std::collections::btree_map::Entry::Vacant(entry) = by_call.entry(number(rule)) {
            entry.insert(alternatives(rule)?);
        }
    }
    let filter = SeccompFilter::new(
        by_call,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .map_err(|error| format!("seccomp filter: {error}"))?;
    filter
        .try_into()
        .map_err(|error: seccompiler::BackendError| format!("seccomp filter: {error}"))
}

const WRITE_FLAGS: u32 =
    (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND) as u32;
const WRITE_AND_EXEC: u32 = (libc::PROT_WRITE | libc::PROT_EXEC) as u32;

/// What both filters allow: memory, writes to `channel_fd` only (the
/// worker's replies), the clock, and signals to this process only (so
/// abort() reports SIGABRT).
fn common(own_pid: u32, channel_fd: u32) -> Vec<Rule> {
    vec![
        Rule::ArgEq {
            nr: libc::SYS_write,
            arg: 0,
            value: channel_fd,
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

/// The filter dlopen runs under: read-only file access and executable
/// maps, never writable and executable together (W^X).
pub fn loader_rules(own_pid: u32, channel_fd: u32) -> Vec<Rule> {
    let mut rules = common(own_pid, channel_fd);
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
        Rule::ArgNotAll {
            nr: libc::SYS_mmap,
            arg: 2,
            mask: WRITE_AND_EXEC,
        },
        Rule::ArgNotAll {
            nr: libc::SYS_mprotect,
            arg: 2,
            mask: WRITE_AND_EXEC,
        },
        // Only to stack the run filter on top: a filter can add restrictions,
        // never lift them.
        Rule::Any(libc::SYS_seccomp),
    ]);
    rules
}

/// The filter candidate code runs under: no files, no executable memory,
/// commands read from `channel_fd` only.
pub fn run_rules(own_pid: u32, channel_fd: u32) -> Vec<Rule> {
    let mut rules = common(own_pid, channel_fd);
    rules.extend([
        Rule::ArgEq {
            nr: libc::SYS_read,
            arg: 0,
            value: channel_fd,
        },
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
    let filter = program(rules)?;
    // Not seccompiler::apply_filter_all_threads: it calls prctl(NO_NEW_PRIVS)
    // first, which the loader filter, already installed when the run filter
    // is stacked, forbids. The caller has set no_new_privs.
    let prog = libc::sock_fprog {
        len: u16::try_from(filter.len()).map_err(|_| "seccomp filter: too long".to_owned())?,
        // seccompiler's sock_filter is #[repr(C)] with linux/filter.h's fields.
        filter: filter.as_ptr() as *mut libc::sock_filter,
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

    const CHANNEL: u32 = 3;

    use seccompiler::sock_filter;

    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_ALU_AND_K: u16 = 0x54;
    const BPF_JMP_JA: u16 = 0x05;
    const BPF_JMP_JEQ_K: u16 = 0x15;
    const BPF_JMP_JGT_K: u16 = 0x25;
    const BPF_JMP_JGE_K: u16 = 0x35;
    const BPF_JMP_JSET_K: u16 = 0x45;
    const BPF_RET_K: u16 = 0x06;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_KILL_PROCESS: u32 = 0x8000_0000;
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const AUDIT_ARCH_I386: u32 = 0x4000_0003;

    /// Runs a filter the way the kernel does on one `seccomp_data`, with the
    /// instructions seccompiler emits (anything else fails the test), every
    /// path ending in a return.
    fn evaluate_on(code: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, arg) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
        }
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let op = &code[pc];
            pc += 1;
            let taken = match op.code {
                BPF_LD_W_ABS => {
                    let at = op.k as usize;
                    a = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
                    continue;
                }
                BPF_ALU_AND_K => {
                    a &= op.k;
                    continue;
                }
                BPF_JMP_JA => {
                    pc += op.k as usize;
                    continue;
                }
                BPF_JMP_JEQ_K => a == op.k,
                BPF_JMP_JGT_K => a > op.k,
                BPF_JMP_JGE_K => a >= op.k,
                BPF_JMP_JSET_K => a & op.k != 0,
                BPF_RET_K => return op.k,
                other => panic!("instruction {other:#x} is not one seccompiler emits"),
            };
            pc += usize::from(if taken { op.jt } else { op.jf });
        }
    }

    fn evaluate(code: &[sock_filter], nr: i64, args: [u64; 6]) -> u32 {
        evaluate_on(code, AUDIT_ARCH_X86_64, nr as u32, args)
    }

    fn allowed(rules: &[Rule], nr: i64, args: [u64; 6]) -> bool {
        evaluate(&program(rules).unwrap(), nr, args) == RET_ALLOW
    }

    #[test]
    fn every_jump_lands_inside_the_program() {
        for rules in [loader_rules(1, CHANNEL), run_rules(1, CHANNEL)] {
            let code = program(&rules).unwrap();
            for (i, instruction) in code.iter().enumerate() {
                if instruction.code == BPF_JMP_JA {
                    assert!(i + 1 + (instruction.k as usize) < code.len());
                } else if instruction.code & 0x07 == 0x05 {
                    assert!(i + 1 + (instruction.jt as usize) < code.len());
                    assert!(i + 1 + (instruction.jf as usize) < code.len());
                }
            }
            assert_eq!(code.last().map(|i| i.k), Some(RET_KILL_PROCESS));
        }
    }

    #[test]
    fn another_architecture_or_the_x32_abi_is_killed() {
        let code = program(&run_rules(1, CHANNEL)).unwrap();
        let futex = libc::SYS_futex as u32;
        assert_eq!(
            evaluate_on(&code, AUDIT_ARCH_X86_64, futex, [0; 6]),
            RET_ALLOW
        );
        assert_eq!(
            evaluate_on(&code, AUDIT_ARCH_I386, futex, [0; 6]),
            RET_KILL_PROCESS
        );
        assert_eq!(
            evaluate_on(&code, AUDIT_ARCH_X86_64, futex | 0x4000_0000, [0; 6]),
            RET_KILL_PROCESS
        );
    }

    #[test]
    fn the_first_rule_naming_a_call_decides_it() {
        let rules = [
            Rule::ArgEq {
                nr: libc::SYS_write,
                arg: 0,
                value: 9,
            },
            Rule::Any(libc::SYS_write),
        ];
        assert!(allowed(&rules, libc::SYS_write, [9, 0, 0, 0, 0, 0]));
        assert!(!allowed(&rules, libc::SYS_write, [1, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn no_filter_maps_memory_writable_and_executable_at_once() {
        let rwx = (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) as u64;
        let rx = (libc::PROT_READ | libc::PROT_EXEC) as u64;
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        let loader = loader_rules(1, CHANNEL);
        let run = run_rules(1, CHANNEL);
        for nr in [libc::SYS_mmap, libc::SYS_mprotect] {
            assert!(!allowed(&loader, nr, [0, 4096, rwx, 0, 0, 0]));
            assert!(allowed(&loader, nr, [0, 4096, rx, 0, 0, 0]));
            assert!(allowed(&loader, nr, [0, 4096, rw, 0, 0, 0]));
            assert!(!allowed(&run, nr, [0, 4096, rwx, 0, 0, 0]));
            assert!(!allowed(&run, nr, [0, 4096, rx, 0, 0, 0]));
            assert!(allowed(&run, nr, [0, 4096, rw, 0, 0, 0]));
        }
        assert!(!allowed(
            &loader,
            libc::SYS_pkey_mprotect,
            [0, 4096, rwx, 0, 0, 0]
        ));
        assert!(!allowed(
            &run,
            libc::SYS_pkey_mprotect,
            [0, 4096, rw, 0, 0, 0]
        ));
    }

    #[test]
    fn a_worker_writes_only_to_its_channel() {
        for rules in [loader_rules(1, CHANNEL), run_rules(1, CHANNEL)] {
            assert!(allowed(&rules, libc::SYS_write, [3, 0, 1, 0, 0, 0]));
            for fd in [0, 1, 2, 4] {
                assert!(
                    !allowed(&rules, libc::SYS_write, [fd, 0, 1, 0, 0, 0]),
                    "fd {fd}"
                );
            }
        }
        let run = run_rules(1, CHANNEL);
        assert!(allowed(&run, libc::SYS_read, [3, 0, 1, 0, 0, 0]));
        assert!(!allowed(&run, libc::SYS_read, [0, 0, 1, 0, 0, 0]));
    }

    #[test]
    fn the_run_filter_allows_no_file_or_process_calls() {
        let run = run_rules(7, CHANNEL);
        for nr in [
            libc::SYS_openat,
            libc::SYS_open,
            libc::SYS_clone,
            libc::SYS_clone3,
            libc::SYS_fork,
            libc::SYS_execve,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_kill,
            libc::SYS_ptrace,
            libc::SYS_process_vm_writev,
        ] {
            assert!(!allowed(&run, nr, [0; 6]), "syscall {nr} is allowed");
        }
        assert!(allowed(&run, libc::SYS_tgkill, [7, 7, 6, 0, 0, 0]));
        assert!(!allowed(&run, libc::SYS_tgkill, [8, 8, 9, 0, 0, 0]));
        assert!(allowed(&run, libc::SYS_futex, [0; 6]));
    }

    #[test]
    fn the_loader_filter_opens_files_read_only() {
        let loader = loader_rules(1, CHANNEL);
        assert!(allowed(
            &loader,
            libc::SYS_openat,
            [0, 0, libc::O_RDONLY as u64, 0, 0, 0]
        ));
        let write = (libc::O_WRONLY | libc::O_CREAT) as u64;
        assert!(!allowed(&loader, libc::SYS_openat, [0, 0, write, 0, 0, 0]));
    }
}
