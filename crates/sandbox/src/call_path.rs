//! The one path from a kernel host's `main` to every kernel entry. A kernel
//! runs in two homes: a sandbox worker (`worker.rs`, the supervisor's
//! commands on private buffers) and, live, the confined kernel host
//! (`ouroboros-kernel-host`, the core's commands on the state segment), and
//! the gauntlet executes the kernel host's own program as its worker. A
//! kernel that walks its return addresses must find the same frames in
//! both, so both modes call `host_kernel` from the same place in `main`,
//! and it opens the module (its constructors), calls its entry, then loops
//! over commands calling `wave_step` and `readout` through the same
//! functions. What differs (how the process is confined, where commands
//! come from and replies go, which buffers a call gets) is a `Home`,
//! called through a vtable between kernel calls, never around one, and the
//! `Calls` it returns: data, not another caller.

use std::ffi::c_void;
use std::path::Path;

use crate::abi::{Geometry, State, STATUS_NONFINITE, STATUS_OK};
use crate::fpenv::FpControl;
use crate::kernel::{Kernel, Library};
use crate::pool::Pool;
use crate::protocol::Reply;
use crate::shared::prepare_call;

/// What a call that leaves the floating-point control state changed gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FpChanges {
    /// Undone, and the command ends with `Reply::FpChanged` (the sandbox: a verdict).
    Refuse,
    /// Undone, and the call's status stands (live: the host's own arithmetic
    /// stays as it was, as the in-process core restores it).
    Restore,
}

/// `calls` calls of wave_step, `steps` steps each, from `state.current`
/// (advancing by `steps` after each call); before each, the scratch is
/// discarded with `advice` and the padding after each level (from
/// `level_bytes` to `stride`) cleared.
pub struct StepCalls {
    pub geometry: Geometry,
    pub state: State,
    pub steps: u64,
    pub calls: u32,
    pub level_bytes: usize,
    pub stride: usize,
    pub advice: libc::c_int,
    pub fp_changes: FpChanges,
}

/// `calls` readouts of `field` into `digits`, the bad index at `bad_index`.
pub struct ReadoutCalls {
    pub geometry: Geometry,
    pub field: *const c_void,
    pub digits: *mut i8,
    pub bad_index: *mut u64,
    pub calls: u32,
    pub fp_changes: FpChanges,
}

/// The kernel calls one command asks for, on buffers the home owns.
pub enum Calls {
    Step(StepCalls),
    Readout(ReadoutCalls),
}

/// What a kernel host does differently in each mode. Every method runs
/// between kernel calls; an `Err` is the exit code, the reason already said
/// where the mode says things.
pub trait Home {
    /// Maps the buffers and confines the process, before any kernel code
    /// runs; the pool the kernel is lent.
    fn confine(&mut self) -> Result<Pool, i32>;
    /// The module to load.
    fn module(&self) -> &Path;
    /// After dlopen (the module's constructors have run), before its entry:
    /// the run filter.
    fn opened(&mut self) -> Result<(), String>;
    /// The module could not be loaded, for `reason`: says so; the exit code.
    fn load_failed(&mut self, reason: String) -> i32;
    /// The kernel named `name` is bound and ready for commands.
    fn ready(&mut self, name: &str) -> Result<(), i32>;
    /// The next command's calls, its message read into `message`; `Err`
    /// when the process should end.
    fn next(&mut self, message: &mut [u8; MESSAGE_BUFFER_BYTES]) -> Result<Calls, i32>;
    /// Sends what the calls `next` gave came to.
    fn answer(&mut self, outcome: Reply) -> Result<(), i32>;
}

/// A kernel host's life after its mode is chosen, in either mode: confine,
/// load, then one answer per command until the home says stop. The exit code.
pub fn host_kernel(home: &mut dyn Home) -> i32 {
    let pool = match home.confine() {
        Ok(pool) => pool,
        Err(code) => return code,
    };
    let library = match Library::open(home.module()) {
        Ok(library) => library,
        Err(reason) => return home.load_failed(reason),
    };
    if let Err(reason) = home.opened() {
        return home.load_failed(reason);
    }
    let kernel = match library.bind(&pool) {
        Ok(kernel) => kernel,
        Err(reason) => return home.load_failed(reason),
    };
    if let Err(code) = home.ready(&kernel.name) {
        return code;
    }
    serve(&kernel, &pool, home)
}

/// Room for the longest command of either mode and a byte more, so that a
/// longer message reads as too long.
pub const MESSAGE_BUFFER_BYTES: usize = 512;

/// The command's message lies in this frame, above every kernel call, in
/// both modes (what a kernel reading its callers' frames finds: the
/// supervisor stops a worker that forges a reply from it, see
/// `tests/supervisor_stops.rs`).
fn serve(kernel: &Kernel, pool: &Pool, home: &mut dyn Home) -> i32 {
    let mut message = [0u8; MESSAGE_BUFFER_BYTES];
    loop {
        let calls = match home.next(&mut message) {
            Ok(calls) => calls,
            Err(code) => return code,
        };
        let outcome = match &calls {
            Calls::Step(step) => step_calls(kernel, pool, step),
            Calls::Readout(readout) => readout_calls(kernel, pool, readout),
        };
        if let Err(code) = home.answer(outcome) {
            return code;
        }
    }
}

/// Runs one call between two reads of the FP control state, on this thread
/// and (through the pool) on every pool thread that ran a chunk; a change
/// is undone at once and, when `fp_changes` refuses it, reported.
fn checked_call(
    pool: &Pool,
    call: u32,
    fp_changes: FpChanges,
    run: impl FnOnce() -> i32,
) -> Result<i32, Reply> {
    let before = FpControl::read();
    let status = run();
    let after = FpControl::read();
    let changed = |before: FpControl, after: FpControl| Reply::FpChanged {
        call,
        before: (before.mxcsr, before.x87),
        after: (after.mxcsr, after.x87),
    };
    let mut refused = None;
    if after != before {
        before.restore();
        if after.changes_from(&before).is_some() {
            refused = Some(changed(before, after));
        }
    }
    if let Some(change) = pool.take_fp_change() {
        refused = refused.or(Some(changed(change.before, change.after)));
    }
    match (refused, fp_changes) {
        (Some(reply), FpChanges::Refuse) => Err(reply),
        _ => Ok(status),
    }
}

/// The command's step calls, every one on a freshly discarded scratch and
/// cleared padding, as the live core makes them.
fn step_calls(kernel: &Kernel, pool: &Pool, step: &StepCalls) -> Reply {
    for call in 0..step.calls {
        let state = State {
            level: step.state.level,
            scratch: step.state.scratch,
            current: ((u64::from(step.state.current) + u64::from(call) * step.steps) % 2) as u32,
        };
        // SAFETY: the home gave buffers of `stride` bytes each.
        unsafe { prepare_call(&state, step.level_bytes, step.stride, step.advice) };
        // SAFETY: every pointer refers to a mapped buffer of `cells` values.
        match checked_call(pool, call, step.fp_changes, || unsafe {
            kernel.wave_step(&step.geometry, &state, step.steps)
        }) {
            Err(reply) => return reply,
            Ok(STATUS_OK) => {}
            Ok(status) => return Reply::Status { call, status },
        }
    }
    Reply::Done { status: STATUS_OK }
}

/// The command's readouts; the last status when each says OK or non-finite.
fn readout_calls(kernel: &Kernel, pool: &Pool, readout: &ReadoutCalls) -> Reply {
    let mut last = STATUS_OK;
    for call in 0..readout.calls {
        // SAFETY: every pointer refers to a mapped buffer of the right size.
        match checked_call(pool, call, readout.fp_changes, || unsafe {
            kernel.readout(
                &readout.geometry,
                readout.field,
                readout.digits,
                readout.bad_index,
            )
        }) {
            Err(reply) => return reply,
            Ok(status @ (STATUS_OK | STATUS_NONFINITE)) => last = status,
            Ok(status) => return Reply::Status { call, status },
        }
    }
    Reply::Done { status: last }
}
