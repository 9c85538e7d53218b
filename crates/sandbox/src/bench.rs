//! The benchmark: candidate and incumbent, each in its own worker,
//! interleaved by the supervisor on the target lattice and on a held-out
//! one, alternating which goes first each round, in the live lattice's
//! precision and with r^2 drawn from the run's seed. A step sample is an
//! even number of calls of `steps_per_call` steps each, with `current`
//! advancing between calls, because that is how the live runner calls
//! wave_step (batches of k steps, cpp/core/lattice_runner.cpp): a kernel is
//! ranked on the fusing it gets to do live, no more and no less. Both
//! kernels step the same shared buffers, one after the other, so how fresh
//! memory happens to be backed cannot decide the ratio. The supervisor
//! times each sample as the round trips of its commands while the other
//! worker is stopped; only raw times are reported, the orchestrator does
//! the statistics.
//!
//! The incumbent is timed in the first `incumbent_samples` rounds only: the
//! orchestrator asks for fewer when it already holds the supervisor's own
//! figure for this incumbent, lattice and call pattern from an earlier run
//! and only re-checks it, and the later rounds time (and check) the
//! candidate alone. At 4096^2 the reference incumbent's samples are most of
//! the benchmark's wall time. With `incumbent_stop_ratio` the incumbent's
//! samples also stop, after the first, once every candidate sample so far
//! took at most that fraction of every incumbent sample: a screen, which
//! only stops a candidate clearly slower, has its answer then.
//!
//! Every candidate sample is checked: its last call runs as a command of its
//! own, and `Probe` compares sampled cells of its result with the oracle, so
//! a kernel that skips work when timed, after the k-th call, on reused
//! buffers, on this r^2, at this size or when batched fails here. The last
//! candidate sample of each lattice is checked over the whole state instead:
//! the supervisor keeps both levels as they were before that sample's last
//! call, and the oracle steps the whole lattice from them, so a kernel wrong
//! at a single cell of the timed lattice, only on the state a timed run has
//! evolved, is caught where 32 sampled cells would miss it. That call's k
//! steps are the cheapest full check of a timed run (the rounds before it
//! interleave both kernels on the same buffers, so a check of the whole run
//! would step the incumbent's samples too).
//!
//! A kernel can keep state across calls (in the scratch buffer, or in the
//! low bits of the field) and go wrong only from the n-th call in a row on
//! its own output, as every live batch after the first is. So the fully
//! checked sample follows an untimed chain of candidate calls on the same
//! buffers, of 1 to `MAX_CHAIN_CALLS` calls drawn from the run's seed for
//! each lattice: its last call is at least the third in a row on the
//! candidate's own output whatever the incumbent's sampling, and a kernel
//! cannot tell from the call count where the checked call falls. This
//! bounds, and does not close, what the benchmark can see: a kernel that
//! counts its calls and goes wrong only after more calls in a row than the
//! chain and the sample make passes here, and the live watchdog's full
//! check of the whole lattice is the defence against it. After the rounds
//! the candidate is rechecked on extent-3 lattices.

use std::time::{Duration, Instant};

use crate::abi::Geometry;
use crate::differential::{matches_oracle, oracle_readout, readout_case, step_case};
use crate::float::Float;
use crate::phase::Phase;
use crate::probe::Probe;
use crate::remote::Remote;
use crate::rng::Rng;

const WARMUP_ROUNDS: usize = 1;
const CANDIDATE: usize = 0;
/// The most untimed calls before the fully checked sample: with a sample of
/// two calls at 4096^2 and k = 8, the chain adds at most twice a sample's
/// stepping to the candidate's 16 timed samples.
const MAX_CHAIN_CALLS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Step,
    Readout,
}

#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub slot: Slot,
    pub target: Vec<usize>,
    pub held_out: Vec<usize>,
    pub steps: u64,
    pub samples: usize,
    /// Timed incumbent samples per lattice, in [1, samples].
    pub incumbent_samples: usize,
    /// Stop timing the incumbent once the candidate is clearly faster (see
    /// `clearly_faster`); None: never early.
    pub incumbent_stop_ratio: Option<f64>,
    /// Steps per wave_step call, as the live runner makes them.
    pub steps_per_call: u64,
}

impl BenchPlan {
    /// Calls per step sample: an even number (so `current` is back at 0
    /// after every sample) of `steps_per_call` steps, covering at least
    /// `2 * steps` steps.
    pub fn calls_per_sample(&self) -> u32 {
        (2 * self.steps.div_ceil(self.steps_per_call)) as u32
    }
}

/// The raw times of one lattice.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub lattice: &'static str,
    pub extents: Vec<usize>,
    pub steps: u64,
    pub steps_per_call: u64,
    pub courant2: f64,
    pub candidate_ns: Vec<f64>,
    pub incumbent_ns: Vec<f64>,
    /// The median round trip of an empty command to the candidate's worker:
    /// what the channel adds to every timed command.
    pub round_trip_ns: f64,
    /// The supervisor's time per candidate sample for the check that ends
    /// it (the probe's record and check, and for the last sample the
    /// untimed chain of calls before it, the copy of both levels and the
    /// oracle's steps of the whole lattice), outside the timed round trips.
    pub check_ns_per_sample: f64,
    /// The mean wall time per command of copying the buffers into and out
    /// of the candidate's stopped worker (all three levels each way for a
    /// step), outside the timed round trips.
    pub copy_ns_per_command: f64,
}

/// Empty commands timed to measure the channel.
const ROUND_TRIPS: usize = 9;
/// The lattice of the empty commands: every command copies its geometry's
/// buffers into and out of the worker (three 128 MiB levels each way at
/// 4096^2 f64), and an empty one reads none of them.
const ROUND_TRIP_EXTENTS: [usize; 1] = [3];

/// Whether every candidate time so far is at most `ratio` times every
/// incumbent time: the candidate cannot come out slower.
pub fn clearly_faster(candidate_ns: &[f64], incumbent_ns: &[f64], ratio: f64) -> bool {
    let slowest = candidate_ns
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let fastest = incumbent_ns.iter().copied().fold(f64::INFINITY, f64::min);
    !candidate_ns.is_empty() && !incumbent_ns.is_empty() && slowest <= ratio * fastest
}

fn nanos(duration: Duration) -> f64 {
    duration.as_nanos() as f64
}

/// How a sample's last call is checked: not at all (the incumbent's), at
/// sampled cells, or over the whole state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    Probe,
    FullState,
}

/// What a full-state check keeps of the state before the call it checks.
struct Before<T> {
    previous: Vec<T>,
    current: Vec<T>,
}

impl<T: Float> Before<T> {
    fn record(kernel: &Remote, cells: usize, current_index: u32) -> Self {
        let levels = kernel.levels_after::<T>(cells, current_index, 0);
        Before {
            previous: levels.previous,
            current: levels.current,
        }
    }

    /// Both levels after the call of `steps` steps against the oracle's
    /// steps of the whole lattice from the recorded levels.
    fn check(
        &self,
        kernel: &Remote,
        extents: &[usize],
        courant2: f64,
        current_index: u32,
        steps: u64,
    ) -> Result<(), String> {
        let lattice = ouroboros_oracle::Lattice::new(extents).map_err(|e| e.to_string())?;
        let got = kernel.levels_after::<T>(lattice.cell_count(), current_index, steps);
        matches_oracle(
            &lattice,
            &self.previous,
            &self.current,
            courant2,
            steps,
            &got,
        )
    }
}

/// One step sample of `calls` calls of `steps` steps from
/// level[first_current]; the last call is checked as `check` says, and
/// `checking` gets the check's time.
#[allow(clippy::too_many_arguments)]
fn step_sample<T: Float>(
    kernel: &Remote,
    check: Check,
    geometry: &Geometry,
    extents: &[usize],
    calls: u32,
    steps: u64,
    first_current: u32,
    rng: &mut Rng,
    checking: &mut Duration,
) -> Result<Duration, String> {
    let before_last = kernel.step_calls(geometry, calls - 1, steps, first_current)?;
    let last_current = ((u64::from(first_current) + u64::from(calls - 1) * steps) % 2) as u32;
    let cells = geometry.cells as usize;
    let started = Instant::now();
    let (probe, before) = match check {
        Check::None => (None, None),
        Check::Probe => (
            Some(Probe::<T>::record(
                kernel,
                extents,
                geometry.courant2,
                last_current,
                steps,
                rng,
            )?),
            None,
        ),
        Check::FullState => (None, Some(Before::<T>::record(kernel, cells, last_current))),
    };
    *checking += started.elapsed();
    let last = kernel.step_calls(geometry, 1, steps, last_current)?;
    let started = Instant::now();
    if let Some(probe) = probe {
        probe
            .check(kernel, cells)
            .map_err(|reason| format!("a timed sample's last call: {reason}"))?;
    }
    if let Some(before) = before {
        before
            .check(kernel, extents, geometry.courant2, last_current, steps)
            .map_err(|reason| {
                format!("the last timed sample's last call, over the whole state: {reason}")
            })?;
    }
    *checking += started.elapsed();
    Ok(before_last + last)
}

/// The median round trip of an empty step command.
fn round_trip(kernel: &Remote, precision: u32) -> Result<f64, String> {
    let geometry = Geometry::new(&ROUND_TRIP_EXTENTS, precision, 0.25);
    let mut times = (0..ROUND_TRIPS)
        .map(|_| kernel.step_calls(&geometry, 0, 1, 0).map(nanos))
        .collect::<Result<Vec<f64>, String>>()?;
    times.sort_by(f64::total_cmp);
    Ok(times[ROUND_TRIPS / 2])
}

fn measure<T: Float>(
    plan: &BenchPlan,
    lattice: &'static str,
    extents: &[usize],
    kernels: [&Remote; 2],
    rng: &mut Rng,
) -> Result<Comparison, String> {
    let cells: usize = extents.iter().product();
    let courant2 = rng.range(0.2, 0.95) / extents.len() as f64;
    let geometry = Geometry::new(extents, T::PRECISION, courant2);
    let to_t = |values: Vec<f64>| -> Vec<T> { values.into_iter().map(T::from_f64).collect() };
    // Only the readout slot reads a field: at 4096^2 drawing one and reading it with the oracle costs a step sample.
    let readout_input = (plan.slot == Slot::Readout).then(|| {
        let field: Vec<T> = to_t(rng.field(cells, 6.0));
        let digits = oracle_readout(&field);
        (field, digits)
    });
    let previous = to_t(rng.field(cells, 1.0));
    let current = to_t(rng.field(cells, 1.0));
    kernels[CANDIDATE].load(&previous, &current, 0);
    let calls = plan.calls_per_sample();
    let chain_calls = rng.int(1, MAX_CHAIN_CALLS) as u32;
    let round_trip_ns = round_trip(kernels[CANDIDATE], T::PRECISION)?;
    let (copy_before, commands_before) = kernels[CANDIDATE].worker.copying();
    let mut checking = Duration::ZERO;
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut incumbent_done = false;
    for round in 0..plan.samples + WARMUP_ROUNDS {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for who in order {
            if who != CANDIDATE
                && (incumbent_done || round >= WARMUP_ROUNDS + plan.incumbent_samples)
            {
                continue;
            }
            let elapsed = match plan.slot {
                Slot::Step => {
                    let check = match (who == CANDIDATE, round + 1 == plan.samples + WARMUP_ROUNDS)
                    {
                        (false, _) => Check::None,
                        (true, false) => Check::Probe,
                        (true, true) => Check::FullState,
                    };
                    let started = Instant::now();
                    if check == Check::FullState {
                        kernels[CANDIDATE].step_calls(
                            &geometry,
                            chain_calls,
                            plan.steps_per_call,
                            0,
                        )?;
                    }
                    checking += started.elapsed();
                    // A sample makes an even number of calls, so it ends at the level it started from.
                    let first_current = match check {
                        Check::FullState => {
                            ((u64::from(chain_calls) * plan.steps_per_call) % 2) as u32
                        }
                        _ => 0,
                    };
                    step_sample::<T>(
                        kernels[who],
                        check,
                        &geometry,
                        extents,
                        calls,
                        plan.steps_per_call,
                        first_current,
                        rng,
                        &mut checking,
                    )?
                }
                Slot::Readout => {
                    let (field, expected_digits) =
                        readout_input.as_ref().expect("drawn for the readout slot");
                    // A kernel may write its input: every sample reads the same field.
                    kernels[who].shared.fill(0, field);
                    let (elapsed, digits) =
                        kernels[who].readout_calls::<T>(&geometry, plan.steps as u32)?;
                    if who == CANDIDATE && digits != *expected_digits {
                        return Err("a timed sample's readout differs from the oracle's".to_owned());
                    }
                    elapsed
                }
            };
            if round >= WARMUP_ROUNDS {
                times[who].push(nanos(elapsed));
            }
        }
        incumbent_done = incumbent_done
            || plan.incumbent_stop_ratio.is_some_and(|ratio| {
                clearly_faster(&times[CANDIDATE], &times[1 - CANDIDATE], ratio)
            });
    }
    let [candidate_ns, incumbent_ns] = times;
    let checked_samples = (plan.samples + WARMUP_ROUNDS) as f64;
    let (copy_after, commands_after) = kernels[CANDIDATE].worker.copying();
    let commands = (commands_after - commands_before).max(1) as f64;
    Ok(Comparison {
        round_trip_ns,
        check_ns_per_sample: nanos(checking) / checked_samples,
        copy_ns_per_command: nanos(copy_after - copy_before) / commands,
        lattice,
        extents: extents.to_vec(),
        steps: match plan.slot {
            Slot::Step => u64::from(calls) * plan.steps_per_call,
            Slot::Readout => plan.steps,
        },
        steps_per_call: match plan.slot {
            Slot::Step => plan.steps_per_call,
            Slot::Readout => 1,
        },
        courant2,
        candidate_ns,
        incumbent_ns,
    })
}

/// Extent-3 lattices of every dimension count after the benchmark: a kernel
/// whose result changes with the call count or the time fails here too.
fn recheck<T: Float>(phase: &mut Phase, plan: &BenchPlan, candidate: &Remote, rng: &mut Rng) {
    for dims in 1..=9 {
        let extents = vec![3; dims];
        let cells: usize = extents.iter().product();
        let label = format!("recheck after the benchmark, {dims} dims");
        let outcome = match plan.slot {
            Slot::Step => {
                let courant2 = rng.range(0.2, 0.95) / dims as f64;
                step_case::<T>(
                    candidate,
                    &extents,
                    courant2,
                    &rng.field(cells, 1.0),
                    &rng.field(cells, 1.0),
                    3,
                    1,
                )
            }
            Slot::Readout => readout_case::<T>(candidate, &extents, &rng.field(cells, 6.0)),
        };
        phase.case(&label, outcome);
    }
}

pub fn run<T: Float>(
    plan: &BenchPlan,
    candidate: &Remote,
    incumbent: &Remote,
    rng: &mut Rng,
) -> (Phase, Vec<Comparison>) {
    let mut phase = Phase::start("bench");
    let mut comparisons = Vec::new();
    for (lattice, extents) in [("target", &plan.target), ("held-out", &plan.held_out)] {
        match measure::<T>(plan, lattice, extents, [candidate, incumbent], rng) {
            Ok(comparison) => {
                phase.case(lattice, Ok(()));
                comparisons.push(comparison);
            }
            Err(reason) => phase.case(lattice, Err(reason)),
        }
    }
    recheck::<T>(&mut phase, plan, candidate, rng);
    (phase.finish(), comparisons)
}

#[cfg(test)]
mod tests {
    use super::clearly_faster;

    #[test]
    fn the_incumbent_stops_only_when_every_candidate_sample_is_clearly_faster() {
        assert!(clearly_faster(&[40.0, 45.0], &[100.0], 0.5));
        assert!(!clearly_faster(&[40.0, 51.0], &[100.0], 0.5));
        assert!(!clearly_faster(&[40.0], &[100.0, 70.0], 0.5));
        assert!(!clearly_faster(&[], &[100.0], 0.5));
        assert!(!clearly_faster(&[40.0], &[], 0.5));
    }
}
