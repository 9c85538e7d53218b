//! The scheduling priority of a sandbox run. A run that only re-checks a
//! module already live (the engine's warm start re-verification) asks for
//! `SCHED_IDLE`: the kernel then gives its supervisor and workers (which
//! inherit the policy when forked) only CPU time no other thread wants, and
//! takes the core back as soon as one does, so the live simulation's
//! threads, which meet at a barrier every step, are not stalled behind it.

/// How a run is scheduled: as any process of its user, or idle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    Normal,
    Idle,
}

impl Priority {
    /// `--priority normal|idle`.
    pub fn parse(text: &str) -> Result<Priority, String> {
        match text {
            "normal" => Ok(Priority::Normal),
            "idle" => Ok(Priority::Idle),
            other => Err(format!("--priority = \"{other}\": must be normal or idle")),
        }
    }
}

/// Puts the calling thread, and what it forks or spawns from now on, under
/// `priority`. Any thread may lower itself to `SCHED_IDLE`; nothing is
/// changed for `Normal`.
pub fn apply(priority: Priority) -> Result<(), String> {
    if priority == Priority::Normal {
        return Ok(());
    }
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread, and `param` is a valid sched_param for SCHED_IDLE.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
        return Err(format!(
            "could not lower the run to SCHED_IDLE: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_priorities_and_names_a_bad_one() {
        assert_eq!(Priority::parse("normal"), Ok(Priority::Normal));
        assert_eq!(Priority::parse("idle"), Ok(Priority::Idle));
        assert_eq!(
            Priority::parse("low"),
            Err("--priority = \"low\": must be normal or idle".to_string())
        );
    }

    #[test]
    fn idle_puts_the_thread_and_its_children_under_sched_idle() {
        // On a thread of its own: the policy is per thread, and the test harness's threads keep theirs.
        let policies = std::thread::spawn(|| {
            apply(Priority::Normal).unwrap();
            // SAFETY: sched_getscheduler(0) reads the calling thread's policy.
            let before = unsafe { libc::sched_getscheduler(0) };
            apply(Priority::Idle).unwrap();
            let after = unsafe { libc::sched_getscheduler(0) };
            let child = std::thread::spawn(|| unsafe { libc::sched_getscheduler(0) })
                .join()
                .unwrap();
            (before, after, child)
        })
        .join()
        .unwrap();
        assert_eq!(
            policies,
            (libc::SCHED_OTHER, libc::SCHED_IDLE, libc::SCHED_IDLE)
        );
    }
}
