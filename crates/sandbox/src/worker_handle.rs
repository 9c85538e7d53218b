//! The supervisor's handle on a worker: it forks it (the child at once
//! executes the worker program, `worker::exec`), reads its layers and its
//! load result, and drives it one command at a time. Between commands the
//! worker is stopped (SIGSTOP to its process group, and the supervisor waits
//! until every one of its threads is stopped), so no kernel runs while the
//! supervisor copies buffers into or out of it, reads them or times the
//! other worker.
//! A worker that dies, exits, times out, sends a malformed reply or replies
//! out of turn has ended: every later request fails with the same reason,
//! which the report carries as the verdict of the phase it was in.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::confine::Layer;
use crate::process_group::{group_tasks, innermost_process, stopped};
use crate::protocol::{Command, Reply, MESSAGE_BYTES};
use crate::shared::{SharedBuffers, Travel, REGIONS};
use crate::worker::{self, WorkerPlan};

/// How long the supervisor waits for a stopped worker's threads to show
/// it: far longer than any scheduler takes, short of hiding a hang.
const STOP_WAIT: Duration = Duration::from_secs(2);
/// The layer a worker sends last before it loads its kernel.
const LAST_LAYER: &str = "seccomp";

/// How a worker ended, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerEnd {
    pub role: &'static str,
    pub reason: String,
    pub signal: Option<String>,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

pub struct Worker {
    pub role: &'static str,
    /// The forked child, leader of the worker's process group.
    pid: libc::pid_t,
    channel: OwnedFd,
    timeout: Duration,
    /// /proc stat files of every thread in the group, read once it is loaded.
    tasks: RefCell<Vec<String>>,
    /// Where the worker's private buffers start, as it said before any
    /// kernel code ran, and the process that holds them (pid 2 of its PID
    /// namespace), found once it is loaded.
    private_base: Cell<Option<u64>>,
    kernel_pid: Cell<libc::pid_t>,
    end: RefCell<Option<WorkerEnd>>,
    nonces: RefCell<u64>,
    /// Wall time spent copying buffers into and out of the stopped worker,
    /// and the commands it was spent for (copy_in calls): what the split
    /// costs per command beside the channel's round trip.
    copy_spent: Cell<Duration>,
    copy_commands: Cell<u64>,
    /// Per region, the supervisor's generation and buffer size this worker's
    /// private copy holds, as far as the supervisor put it there or read it.
    holds: RefCell<[Option<(u64, usize, usize)>; REGIONS]>,
}

/// A buffer a command needs: its region, its bytes and what of it travels.
pub type Span = (usize, usize, Travel);

fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSYS => "SIGSYS",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGTERM => "SIGTERM",
        libc::SIGPIPE => "SIGPIPE",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

fn why_signal(signal: &str) -> &'static str {
    match signal {
        "SIGSYS" => " (a forbidden system call)",
        "SIGXCPU" => " (CPU time limit)",
        "SIGSEGV" | "SIGBUS" => " (a bad memory access)",
        _ => "",
    }
}

/// 64 bits from the kernel's random source, for command nonces: never from
/// the run's seed, so that nothing a worker sees is drawn from it.
fn random_u64() -> u64 {
    let mut value = 0u64;
    // SAFETY: fills 8 bytes we own.
    let got = unsafe { libc::getrandom(&mut value as *mut u64 as *mut libc::c_void, 8, 0) };
    assert_eq!(got, 8, "getrandom failed");
    value
}

impl Worker {
    /// Forks a worker for `plan`, which executes `plan.program`. Call
    /// before the supervisor starts any thread: the child, until its
    /// execve, must be a copy of a single-threaded process.
    pub fn spawn(role: &'static str, plan: &WorkerPlan, timeout: Duration) -> Result<Self, String> {
        let arguments = worker::ExecArguments::new(plan)?;
        let mut fds = [0; 2];
        // SAFETY: creates a socketpair into `fds`.
        if unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        } != 0
        {
            return Err(format!("socketpair: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: fresh fds we now own.
        let (ours, theirs) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: the supervisor is single-threaded here (see above).
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            drop(ours);
            worker::exec(&arguments, theirs.as_raw_fd());
        }
        // Either side may set the group first; the other's call then fails harmlessly.
        // SAFETY: plain call on our own child.
        unsafe { libc::setpgid(pid, pid) };
        Ok(Worker {
            role,
            pid,
            channel: ours,
            timeout,
            tasks: RefCell::new(Vec::new()),
            private_base: Cell::new(None),
            kernel_pid: Cell::new(pid),
            end: RefCell::new(None),
            nonces: RefCell::new(random_u64()),
            copy_spent: Cell::new(Duration::ZERO),
            copy_commands: Cell::new(0),
            holds: RefCell::new([None; REGIONS]),
        })
    }

    pub fn end(&self) -> Option<WorkerEnd> {
        self.end.borrow().clone()
    }

    fn ended(&self) -> String {
        let end = self.end.borrow();
        let end = end.as_ref().expect("called once ended");
        format!("the {}'s worker {}", self.role, end.reason)
    }

    /// Kills the group and records why; reaps the child for its status.
    pub(crate) fn finish(&self, reason: Option<String>, timed_out: bool) -> String {
        if self.end.borrow().is_none() {
            // SAFETY: signals and reaps our own child's group.
            let status = unsafe {
                if reason.is_some() {
                    libc::kill(-self.pid, libc::SIGKILL);
                }
                libc::kill(-self.pid, libc::SIGCONT);
                let mut status = 0;
                while libc::waitpid(self.pid, &mut status, 0) < 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
                {
                }
                reap_group(self.pid);
                status
            };
            let (signal, exit_code) = if libc::WIFSIGNALED(status) {
                (Some(signal_name(libc::WTERMSIG(status))), None)
            } else {
                (None, Some(libc::WEXITSTATUS(status)))
            };
            let reason = reason.unwrap_or_else(|| match (&signal, exit_code) {
                (Some(signal), _) if signal == "SIGSYS" && !self.tasks.borrow().is_empty() => {
                    self.seccomp_kill_reason()
                }
                (Some(signal), _) => format!("died of {signal}{}", why_signal(signal)),
                (None, Some(code)) => format!("exited with code {code} before it replied"),
                (None, None) => "ended".to_owned(),
            });
            *self.end.borrow_mut() = Some(WorkerEnd {
                role: self.role,
                reason,
                signal: if timed_out { None } else { signal },
                exit_code: if timed_out { None } else { exit_code },
                timed_out,
            });
        }
        self.ended()
    }

    /// The next message, or why there is none.
    fn receive(&self, nonce: u64, timeout: Duration) -> Result<Reply, String> {
        let mut poll = libc::pollfd {
            fd: self.channel.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_millis()
                .min(i32::MAX as u128) as i32;
            // SAFETY: polls one fd we own.
            let ready = unsafe { libc::poll(&mut poll, 1, left) };
            if ready < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            if ready == 0 {
                let seconds = timeout.as_secs_f64();
                return Err(self.finish(Some(format!("timed out after {seconds} s")), true));
            }
            break;
        }
        let mut message = [0u8; MESSAGE_BYTES + 1];
        // SAFETY: reads into a buffer we own.
        let read = unsafe {
            libc::read(
                self.channel.as_raw_fd(),
                message.as_mut_ptr() as *mut libc::c_void,
                message.len(),
            )
        };
        if read <= 0 {
            return Err(self.finish(None, false));
        }
        Reply::decode(&message[..read as usize], nonce)
            .map_err(|error| self.finish(Some(format!("sent {error}")), false))
    }

    /// A seccomp kill once the worker loaded, with the call the kernel's log
    /// names: the process that loaded the kernel is the one its filter
    /// kills (before that, which process it is is not known).
    fn seccomp_kill_reason(&self) -> String {
        match crate::denials::seccomp_kill(self.kernel_pid.get()) {
            Some(call) => format!("died of SIGSYS (a forbidden system call: {call})"),
            None => format!("died of SIGSYS{}", why_signal("SIGSYS")),
        }
    }

    /// Reads the worker's layers and its load result, then stops it.
    /// Ok(name) of the bound kernel, or Err(reason) of a failed load.
    pub fn start(&self) -> (Vec<Layer>, Result<String, String>) {
        let mut layers = Vec::new();
        let result = loop {
            match self.receive(0, self.timeout) {
                Ok(Reply::Private { base })
                    if layers.is_empty() && self.private_base.get().is_none() =>
                {
                    self.private_base.set(Some(base));
                }
                Ok(Reply::Layer {
                    name,
                    active,
                    detail,
                }) if layers.last().is_none_or(|l: &Layer| l.name != LAST_LAYER) => {
                    layers.push(Layer {
                        name: layer_name(&name),
                        active,
                        detail,
                    });
                }
                Ok(Reply::Ready { name }) => break Ok(name),
                Ok(Reply::LoadFailed { reason }) => break Err(reason),
                Ok(other) => {
                    break Err(self.finish(Some(format!("sent {other:?} while loading")), false))
                }
                Err(reason) => break Err(reason),
            }
        };
        let result = match result {
            Ok(_) if self.private_base.get().is_none() => {
                Err(self.finish(Some("never said where its buffers are".to_owned()), false))
            }
            other => other,
        };
        if result.is_ok() {
            *self.tasks.borrow_mut() = group_tasks(self.pid);
            self.kernel_pid
                .set(innermost_process(&self.tasks.borrow()).unwrap_or(self.pid));
            if let Err(reason) = self.pause() {
                return (layers, Err(reason));
            }
        }
        (layers, result)
    }

    /// Copies buffers `spans` into the stopped worker, for one command of
    /// slot `slot`: a whole buffer only when the worker does not hold its
    /// current content in that slot.
    pub fn copy_in(
        &self,
        shared: &SharedBuffers,
        slot: usize,
        spans: &[Span],
    ) -> Result<(), String> {
        self.copy_commands.set(self.copy_commands.get() + 1);
        let needed: Vec<Span> = spans
            .iter()
            .copied()
            .filter(|&(region, bytes, travel)| {
                travel != Travel::Whole
                    || self.holds.borrow()[region] != Some((shared.generation(region), bytes, slot))
            })
            .collect();
        self.copy(&needed, |pid, base, span| {
            shared.copy_to_worker(pid, base, slot, span)?;
            self.held(shared, slot, span);
            Ok(())
        })
    }

    /// Time spent copying into and out of this worker so far, and the commands copied in for.
    pub fn copying(&self) -> (Duration, u64) {
        (self.copy_spent.get(), self.copy_commands.get())
    }

    /// Copies buffers `spans` of a command of slot `slot` out of the stopped worker.
    pub fn copy_out(
        &self,
        shared: &SharedBuffers,
        slot: usize,
        spans: &[Span],
    ) -> Result<(), String> {
        self.copy(spans, |pid, base, span| {
            shared.copy_from_worker(pid, base, slot, span)?;
            self.held(shared, slot, span);
            Ok(())
        })
    }

    /// After a copy of `travel`: the worker holds the region's current
    /// generation in that slot when the whole buffer moved, and nothing known otherwise.
    fn held(&self, shared: &SharedBuffers, slot: usize, (region, bytes, travel): Span) {
        self.holds.borrow_mut()[region] =
            (travel == Travel::Whole).then(|| (shared.generation(region), bytes, slot));
    }

    fn copy(
        &self,
        spans: &[Span],
        copy: impl Fn(libc::pid_t, usize, Span) -> Result<(), String>,
    ) -> Result<(), String> {
        if self.end.borrow().is_some() {
            return Err(self.ended());
        }
        let base = self.private_base.get().expect("known once loaded") as usize;
        let started = Instant::now();
        for &span in spans {
            // A worker that unmapped or moved its buffers has ended.
            copy(self.kernel_pid.get(), base, span)
                .map_err(|reason| self.finish(Some(reason), false))?;
        }
        self.copy_spent
            .set(self.copy_spent.get() + started.elapsed());
        Ok(())
    }

    /// What backs the worker's private buffers: KiB of transparent huge
    /// pages in them, from the kernel's own accounting.
    pub fn huge_page_kib(&self, layout: &crate::shared::Layout) -> Option<u64> {
        let start = self.private_base.get()? as usize;
        let end = start + layout.private_span_bytes();
        crate::shared::anon_huge_kib(self.kernel_pid.get(), start, end)
    }

    fn pause(&self) -> Result<(), String> {
        // SAFETY: stops our own child's group.
        unsafe { libc::kill(-self.pid, libc::SIGSTOP) };
        let deadline = Instant::now() + STOP_WAIT;
        while !self.tasks.borrow().iter().all(|stat| stopped(stat)) {
            if Instant::now() > deadline {
                return Err(self.finish(Some("did not stop when told to".to_owned()), false));
            }
            std::thread::yield_now();
        }
        Ok(())
    }

    /// Sends `command` to the resumed worker and stops it again once it
    /// replies; the duration is the round trip alone, from the command's
    /// send to the reply's arrival.
    pub fn request(&self, mut command: Command) -> Result<(Reply, Duration), String> {
        if self.end.borrow().is_some() {
            return Err(self.ended());
        }
        let nonce = {
            let mut nonces = self.nonces.borrow_mut();
            *nonces = nonces.wrapping_add(0x9E37_79B9_7F4A_7C15);
            *nonces
        };
        command.nonce = nonce;
        let message = command.encode();
        // SAFETY: resumes our own child's group.
        unsafe { libc::kill(-self.pid, libc::SIGCONT) };
        let started = Instant::now();
        // SAFETY: writes a buffer we own.
        let written = unsafe {
            libc::write(
                self.channel.as_raw_fd(),
                message.as_ptr() as *const libc::c_void,
                MESSAGE_BYTES,
            )
        };
        if written != MESSAGE_BYTES as isize {
            return Err(self.finish(None, false));
        }
        let reply = self.receive(nonce, self.timeout)?;
        let elapsed = started.elapsed();
        self.pause()?;
        if self.pending() {
            return Err(self.finish(Some("sent a second reply to one command".to_owned()), false));
        }
        Ok((reply, elapsed))
    }

    fn pending(&self) -> bool {
        let mut poll = libc::pollfd {
            fd: self.channel.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polls one fd we own without waiting.
        unsafe { libc::poll(&mut poll, 1, 0) > 0 }
    }

    /// The process group id, for the report.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// The process that loaded the kernel (the group's leader until the
    /// worker is loaded), whose memory the supervisor copies into and out of.
    pub fn kernel_pid(&self) -> libc::pid_t {
        self.kernel_pid.get()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.end.borrow().is_none() && self.exits_when_told() {
            return;
        }
        self.finish(Some("was stopped at the end of the run".to_owned()), false);
    }
}

/// How long a worker has to exit once its channel is shut at the end of a run.
const EXIT_GRACE: Duration = Duration::from_secs(2);

impl Worker {
    /// Shuts the channel, on which the worker exits, and reaps it within
    /// `EXIT_GRACE`: every process of the group then ends by its parent's
    /// wait, which carries the worker's CPU time up to the supervisor (a
    /// group killed at once left it uncounted).
    fn exits_when_told(&self) -> bool {
        // SAFETY: shuts our own socket and signals our own child's group.
        unsafe {
            libc::shutdown(self.channel.as_raw_fd(), libc::SHUT_RDWR);
            libc::kill(-self.pid, libc::SIGCONT);
        }
        let deadline = Instant::now() + EXIT_GRACE;
        let mut status = 0;
        loop {
            // SAFETY: polls our own child.
            let reaped = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if reaped == self.pid {
                reap_group(self.pid);
                *self.end.borrow_mut() = Some(WorkerEnd {
                    role: self.role,
                    reason: "exited at the end of the run".to_owned(),
                    signal: None,
                    exit_code: Some(libc::WEXITSTATUS(status)),
                    timed_out: false,
                });
                return true;
            }
            if reaped < 0 || Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn layer_name(name: &str) -> &'static str {
    const KNOWN: [&str; 15] = [
        "fresh-image",
        "initial-stack",
        "clock-pages",
        "rlimits",
        "userns",
        "mountns",
        "netns",
        "ipcns",
        "utsns",
        "pidns",
        "landlock",
        "no_new_privs",
        "pool",
        "rlimit-nproc",
        "seccomp",
    ];
    KNOWN
        .iter()
        .find(|&&known| known == name)
        .copied()
        .unwrap_or("unknown")
}

/// Reaps what is left of a worker's process group once its leader is reaped.
/// The group dies at once when killed: the leader, the PID namespace's init
/// and the worker with the kernel. The leader no longer waits for the init,
/// which the supervisor, a child subreaper (`become_subreaper`), inherits; the
/// init's children (the worker) are reaped by the kernel as the namespace
/// ends. Reaping it here adds the worker's CPU time to the supervisor's
/// children, so the orchestrator, which counts its children's CPU time
/// (`cutime + cstime`), counts the kernel's: before, a run at 4096^2 showed
/// 5.2 s of its 10.5 s.
fn reap_group(leader: libc::pid_t) {
    let mut status = 0;
    loop {
        // SAFETY: waits only for children in the worker's own process group.
        if unsafe { libc::waitpid(-leader, &mut status, 0) } >= 0 {
            continue;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// Makes this process the reaper of its orphaned descendants, the workers'
/// PID-namespace inits among them (`reap_group`). Before the workers are forked.
pub fn become_subreaper() -> Result<(), String> {
    // SAFETY: sets a flag of this process.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
        return Err(format!(
            "prctl(PR_SET_CHILD_SUBREAPER): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
