//! What /proc says about a worker's process group: every thread in it, the
//! process that loads the kernel, and whether a thread is stopped.

/// Every thread of every process in process group `group`, as stat paths.
pub fn group_tasks(group: libc::pid_t) -> Vec<String> {
    let mut tasks = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return tasks;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let in_group = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat_field(&stat, 4).and_then(|pgrp| pgrp.parse::<i32>().ok()))
            == Some(group);
        if !in_group {
            continue;
        }
        if let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for thread in threads.flatten() {
                tasks.push(format!(
                    "/proc/{pid}/task/{}/stat",
                    thread.file_name().to_string_lossy()
                ));
            }
        }
    }
    tasks
}

/// The process of `tasks` deepest in PID namespaces (the one that loads
/// the kernel: pid 2 of the worker's namespace, or the worker itself when it
/// has none), from the `NSpid` line of its status.
pub fn innermost_process(tasks: &[String]) -> Option<libc::pid_t> {
    let mut pids: Vec<libc::pid_t> = tasks
        .iter()
        .filter_map(|task| task.split('/').nth(2)?.parse().ok())
        .collect();
    pids.dedup();
    pids.into_iter().max_by_key(|pid| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let nested: Vec<u64> = status
            .lines()
            .find_map(|line| line.strip_prefix("NSpid:"))
            .map(|ids| {
                ids.split_whitespace()
                    .filter_map(|id| id.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        // Deepest first; of the namespace's init (1) and its child (2), the child.
        (nested.len(), nested.last().copied().unwrap_or(0))
    })
}

/// Field `index` (0-based, after the command name) of a /proc stat line:
/// 0 is the state, 2 the process group.
fn stat_field(stat: &str, index: usize) -> Option<&str> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(index - 2)
}

/// Stopped, traced, dead or gone.
pub fn stopped(stat_path: &str) -> bool {
    match std::fs::read_to_string(stat_path) {
        Ok(stat) => matches!(stat_field(&stat, 2), Some("T" | "t" | "Z" | "X") | None),
        Err(_) => true,
    }
}
