//! The system call a worker's seccomp filter killed it for. The kill is
//! immediate, so the worker cannot say; the kernel logs each such kill as
//! an audit record (type 1326, SECCOMP: the process's pid and the call's
//! number) whenever `kernel.seccomp.actions_logged` holds `kill_process`
//! (the default), printed to its log by the audit thread a little after the
//! kill even with no audit daemon. The supervisor reads it from /dev/kmsg,
//! which needs CAP_SYSLOG or `kernel.dmesg_restrict = 0`; where it cannot,
//! the call stays unnamed. `ts/modules/kernel-log.ts` does the same for a
//! kernel host.
//!
//! Landlock denials cannot be read this way: Landlock (Linux 6.15+) logs
//! them only while the audit subsystem is enabled (`audit=1` at boot or
//! `auditctl -e 1`, which takes CAP_AUDIT_CONTROL in the initial user
//! namespace), and inside the worker a denied open just fails with EACCES in
//! the kernel's own code, which only the loader phase can meet (the run
//! filter kills any open at all). Landlock ABI 7's flags
//! (`LANDLOCK_RESTRICT_SELF_LOG_*`) only choose which denials are logged;
//! they log nothing while the audit subsystem is off. Checked on a 6.18
//! kernel as root with CAP_AUDIT_CONTROL and no audit daemon: `AUDIT_GET`
//! over the audit netlink socket answers enabled 0, so no record exists to
//! read. The supervisor could switch auditing on (`AUDIT_SET`), but that
//! turns it on for the whole machine, every process's audit events into the
//! kernel log, and leaves it on after the run: not a side effect a sandbox
//! run may have. On a machine booted with audit on and no audit daemon, the
//! audit thread would print them to the kernel log as it does the seccomp
//! records (not tried here).

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

/// The audit thread prints the record after the kill is reported: look this long.
const RECORD_WAIT: Duration = Duration::from_millis(500);
const RECORD_POLL: Duration = Duration::from_millis(10);
/// One kmsg record is at most this long (1 KiB of text and its prefix).
const RECORD_BYTES: usize = 8192;
/// x86-64 in an audit record.
const AUDIT_ARCH_X86_64: &str = "arch=c000003e";

/// x86-64 names of the calls a hostile kernel is likeliest to try.
fn syscall_name(number: u64) -> String {
    let name = match number {
        0 => "read",
        1 => "write",
        2 => "open",
        9 => "mmap",
        10 => "mprotect",
        41 => "socket",
        42 => "connect",
        56 => "clone",
        57 => "fork",
        59 => "execve",
        62 => "kill",
        82 => "rename",
        87 => "unlink",
        101 => "ptrace",
        257 => "openat",
        310 => "process_vm_readv",
        311 => "process_vm_writev",
        435 => "clone3",
        _ => return format!("syscall {number}"),
    };
    name.to_owned()
}

/// The value after ` key=` in `record`, when it is a number.
fn field(record: &str, key: &str) -> Option<u64> {
    let at = record.find(&format!(" {key}="))? + key.len() + 2;
    let digits: String = record[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The call named by the last seccomp record of process `pid` among `records`.
pub fn seccomp_kill_in<'a>(
    records: impl IntoIterator<Item = &'a str>,
    pid: libc::pid_t,
) -> Option<String> {
    records
        .into_iter()
        .filter(|record| record.contains("audit: type=1326 ") && record.contains(AUDIT_ARCH_X86_64))
        .filter(|record| field(record, "pid") == Some(pid as u64))
        .filter_map(|record| field(record, "syscall"))
        .last()
        .map(syscall_name)
}

/// Every record in the kernel's log now, or none where it cannot be read.
fn kernel_log() -> Vec<String> {
    let Ok(mut kmsg) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
    else {
        return Vec::new();
    };
    let mut records = Vec::new();
    let mut buffer = vec![0u8; RECORD_BYTES];
    loop {
        match kmsg.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => records.push(String::from_utf8_lossy(&buffer[..read]).into_owned()),
            // A record overwritten while we read: the next read goes on from the oldest left.
            Err(error) if error.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(_) => break,
        }
    }
    records
}

/// The system call process `pid`, just killed by SIGSYS, was killed for,
/// from the kernel's log; None where the log cannot be read or holds no
/// record of it within half a second.
pub fn seccomp_kill(pid: libc::pid_t) -> Option<String> {
    let started = Instant::now();
    loop {
        let records = kernel_log();
        if records.is_empty() {
            return None;
        }
        if let Some(name) = seccomp_kill_in(records.iter().map(String::as_str), pid) {
            return Some(name);
        }
        if started.elapsed() >= RECORD_WAIT {
            return None;
        }
        std::thread::sleep(RECORD_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_call_of_the_killed_process_and_no_other() {
        let records = [
            "6,100,5,-;audit: type=1326 audit(1.0:1): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=41 comm=\"k\" exe=\"/x\" sig=31 arch=c000003e syscall=257 compat=0 ip=0x1 code=0x80000000",
            "6,101,5,-;audit: type=1326 audit(1.0:2): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=4100 comm=\"k\" exe=\"/x\" sig=31 arch=c000003e syscall=41 compat=0 ip=0x1 code=0x80000000",
            "6,102,5,-;audit: type=1326 audit(1.0:3): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=4100 comm=\"k\" exe=\"/x\" sig=31 arch=c000003e syscall=999 compat=0 ip=0x1 code=0x80000000",
        ];
        assert_eq!(
            seccomp_kill_in(records[..2].iter().copied(), 41).as_deref(),
            Some("openat")
        );
        assert_eq!(
            seccomp_kill_in(records[..2].iter().copied(), 4100).as_deref(),
            Some("socket")
        );
        assert_eq!(
            seccomp_kill_in(records.iter().copied(), 4100).as_deref(),
            Some("syscall 999")
        );
        assert_eq!(seccomp_kill_in(records.iter().copied(), 410), None);
    }
}
