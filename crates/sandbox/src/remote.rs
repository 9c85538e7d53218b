//! A kernel in a worker, driven from the supervisor on the shared buffers:
//! the buffers a step or a readout needs travel into the stopped worker, the
//! command runs, and what it wrote travels back and is checked for writes
//! outside the buffers. The worker itself (fork, stop, commands) is
//! `worker_handle.rs`.

use std::time::Duration;

use crate::abi::{Geometry, STATUS_NONFINITE, STATUS_OK};
use crate::float::Float;
use crate::fpenv::FpControl;
use crate::protocol::{Command, Op, Reply};
use crate::shared::{slot_bytes, SharedBuffers, Travel};
pub use crate::worker_handle::{Span, Worker, WorkerEnd};

/// Both levels after a call: `previous` is u^{n+k-1}, `current` u^{n+k}.
#[derive(Debug, Clone)]
pub struct Stepped<T> {
    pub previous: Vec<T>,
    pub current: Vec<T>,
}

/// What a readout call produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadoutResult {
    Digits(Vec<i8>),
    NonFinite { index: u64 },
}

/// The region of each buffer: the two levels and the scratch of a step;
/// the field, the digits and the bad index of a readout.
const LEVEL: [usize; 2] = [0, 1];
const SCRATCH: usize = 2;
const FIELD: usize = 0;
const DIGITS: usize = 1;
const BAD_INDEX: usize = 2;

/// A kernel in a worker, on the shared buffers: what the phases call.
pub struct Remote<'a> {
    pub worker: &'a Worker,
    pub shared: &'a SharedBuffers,
}

impl Remote<'_> {
    /// Puts (u^{n-1}, u^n) at level[1 - current] and level[current].
    pub fn load<T: Float>(&self, previous: &[T], current: &[T], current_index: u32) {
        self.shared.fill(LEVEL[current_index as usize], current);
        self.shared
            .fill(LEVEL[1 - current_index as usize], previous);
    }

    /// `calls` calls of `steps` steps each from level[current_index], in one
    /// command; the round trip's duration.
    pub fn step_calls(
        &self,
        geometry: &Geometry,
        calls: u32,
        steps: u64,
        current_index: u32,
    ) -> Result<Duration, String> {
        let bytes = geometry.cells as usize * geometry.value_bytes();
        let spans = [
            (LEVEL[0], bytes, Travel::Whole),
            (LEVEL[1], bytes, Travel::Whole),
            (SCRATCH, bytes, Travel::PaddingOnly),
        ];
        for (region, bytes, _) in spans {
            self.shared.arm(region, bytes);
        }
        let slot = slot_bytes(bytes);
        self.worker.copy_in(self.shared, slot, &spans)?;
        let (reply, elapsed) = self.worker.request(Command {
            nonce: 0,
            op: Op::Step {
                current: current_index,
                steps,
            },
            calls,
            geometry: *geometry,
        })?;
        self.worker.copy_out(self.shared, slot, &spans)?;
        for (name, region) in [
            ("level[0]", LEVEL[0]),
            ("level[1]", LEVEL[1]),
            ("scratch", SCRATCH),
        ] {
            if let Some(at) = self.shared.breach(region, bytes) {
                return Err(format!("wave_step wrote outside {name} (byte {at})"));
            }
        }
        match reply {
            Reply::Done { .. } => Ok(elapsed),
            other => Err(self.refusal("wave_step", other, STATUS_OK)),
        }
    }

    /// One call of `steps` steps.
    pub fn step(&self, geometry: &Geometry, steps: u64, current_index: u32) -> Result<(), String> {
        self.step_calls(geometry, 1, steps, current_index)
            .map(|_| ())
    }

    fn refusal(&self, function: &str, reply: Reply, expected: i32) -> String {
        match reply {
            Reply::Status { call, status } => {
                format!("{function} returned status {status} at call {call} (expected {expected})")
            }
            Reply::FpChanged {
                call,
                before,
                after,
            } => {
                let before = FpControl {
                    mxcsr: before.0,
                    x87: before.1,
                };
                let after = FpControl {
                    mxcsr: after.0,
                    x87: after.1,
                };
                let change = after
                    .changes_from(&before)
                    .unwrap_or_else(|| "nothing named".to_owned());
                format!("{function} call {call} left the floating-point control state changed: {change}")
            }
            other => self
                .worker
                .finish(Some(format!("sent {other:?} in reply to a call")), false),
        }
    }

    /// The levels as the ABI's contract places them after `steps` steps.
    pub fn levels_after<T: Float>(
        &self,
        cells: usize,
        current_index: u32,
        steps: u64,
    ) -> Stepped<T> {
        let newest = ((current_index as u64 + steps) % 2) as usize;
        Stepped {
            current: self.shared.read(LEVEL[newest], cells),
            previous: self.shared.read(LEVEL[1 - newest], cells),
        }
    }

    /// The values at `cells` of the level that holds u^{n+k} after `steps` steps.
    pub fn newest_at<T: Float>(
        &self,
        count: usize,
        current_index: u32,
        steps: u64,
        cells: &[usize],
    ) -> Vec<T> {
        let newest = ((current_index as u64 + steps) % 2) as usize;
        self.shared.read_cells(LEVEL[newest], count, cells)
    }

    /// `calls` readouts of the field already loaded; the round trip's duration and the result.
    pub fn readout_calls<T: Float>(
        &self,
        geometry: &Geometry,
        calls: u32,
    ) -> Result<(Duration, ReadoutResult), String> {
        let cells = geometry.cells as usize;
        let spans = [
            (FIELD, cells * std::mem::size_of::<T>(), Travel::Whole),
            (DIGITS, cells, Travel::Whole),
            (BAD_INDEX, 8, Travel::Whole),
        ];
        for (region, bytes, _) in spans {
            self.shared.arm(region, bytes);
        }
        let slot = slot_bytes(spans[0].1);
        self.worker.copy_in(self.shared, slot, &spans)?;
        let (reply, elapsed) = self.worker.request(Command {
            nonce: 0,
            op: Op::Readout,
            calls,
            geometry: *geometry,
        })?;
        self.worker.copy_out(self.shared, slot, &spans)?;
        for ((region, bytes, _), name) in spans.into_iter().zip(["field", "digits", "bad_index"]) {
            if let Some(at) = self.shared.breach(region, bytes) {
                return Err(format!("readout wrote outside {name} (byte {at})"));
            }
        }
        match reply {
            Reply::Done { status: STATUS_OK } => Ok((
                elapsed,
                ReadoutResult::Digits(self.shared.read(DIGITS, cells)),
            )),
            Reply::Done {
                status: STATUS_NONFINITE,
            } => Ok((
                elapsed,
                ReadoutResult::NonFinite {
                    index: self.shared.read::<u64>(BAD_INDEX, 1)[0],
                },
            )),
            other => Err(self.refusal("readout", other, STATUS_OK)),
        }
    }

    /// Loads `field` and reads it out once.
    pub fn readout<T: Float>(
        &self,
        geometry: &Geometry,
        field: &[T],
    ) -> Result<ReadoutResult, String> {
        self.shared.fill(FIELD, field);
        self.readout_calls::<T>(geometry, 1)
            .map(|(_, result)| result)
    }
}

/// Steps (previous, current) `steps` times with the kernel in one call.
pub fn run_steps<T: Float>(
    kernel: &Remote,
    geometry: &Geometry,
    previous: &[T],
    current: &[T],
    steps: u64,
    current_index: u32,
) -> Result<Stepped<T>, String> {
    kernel.load(previous, current, current_index);
    kernel.step(geometry, steps, current_index)?;
    Ok(kernel.levels_after(previous.len(), current_index, steps))
}
