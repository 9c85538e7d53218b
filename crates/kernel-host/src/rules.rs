//! The host's seccomp filters: the sandbox's loader and run filters with the
//! command channel added. Both filters stay stacked, so each must allow the
//! channel; neither allows anything else the sandbox's does not (no files,
//! sockets, processes or executable memory once the run filter is on).
//!
//! The first rule naming a system call decides it (a rule on arguments
//! kills when they do not match, it does not fall through), so the channel's
//! rules go first and repeat what the sandbox's rule for the same call
//! allows: writes to stdout and stderr as well as the channel.

use ouroboros_sandbox::seccomp::{loader_rules, run_rules, Rule};

/// The channel to the core: the host's fd 4 (Node's spawn puts it there).
pub const CHANNEL_FD: i32 = 4;
/// The state segment's memfd: fd 3, closed once the levels are mapped.
pub const SEGMENT_FD: i32 = 3;
/// The host's workspace memfd: fd 5, closed once mapped.
pub const WORKSPACE_FD: i32 = 5;

/// stdout, stderr (the layers and messages), the channel.
const WRITABLE_FDS: &[u32] = &[1, 2, CHANNEL_FD as u32];

fn channel_writes() -> Rule {
    Rule::ArgIn {
        nr: libc::SYS_write,
        arg: 0,
        values: WRITABLE_FDS,
    }
}

/// What dlopen runs under (constructors included): the loader already reads any fd it opened.
pub fn host_loader_rules(own_pid: u32) -> Vec<Rule> {
    let mut rules = vec![channel_writes()];
    rules.extend(loader_rules(own_pid, CHANNEL_FD as u32));
    rules
}

/// What the kernel steps under: the sandbox's run filter reads from the channel only.
pub fn host_run_rules(own_pid: u32) -> Vec<Rule> {
    let mut rules = vec![channel_writes()];
    rules.extend(run_rules(own_pid, CHANNEL_FD as u32));
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(rules: &[Rule]) -> Vec<i64> {
        rules
            .iter()
            .map(|rule| match *rule {
                Rule::Any(nr)
                | Rule::ArgClear { nr, .. }
                | Rule::ArgIn { nr, .. }
                | Rule::ArgEq { nr, .. }
                | Rule::ArgNotAll { nr, .. } => nr,
            })
            .collect()
    }

    #[test]
    fn the_channel_rules_come_first_and_the_run_filter_opens_nothing() {
        for rules in [host_loader_rules(1), host_run_rules(1)] {
            let nrs = numbers(&rules);
            assert_eq!(nrs[0], libc::SYS_write);
            for forbidden in [
                libc::SYS_socket,
                libc::SYS_connect,
                libc::SYS_clone,
                libc::SYS_execve,
            ] {
                assert!(!nrs.contains(&forbidden), "syscall {forbidden} allowed");
            }
        }
        let run = numbers(&host_run_rules(1));
        assert!(!run.contains(&libc::SYS_openat));
        assert_eq!(run.iter().filter(|&&nr| nr == libc::SYS_read).count(), 1);
    }
}
