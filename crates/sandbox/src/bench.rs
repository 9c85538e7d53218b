//! The benchmark: candidate and incumbent interleaved in this process, on
//! the target lattice and on a held-out one, alternating which goes first
//! each round. A step sample is `steps * 2` calls of one step each, with
//! `current` flipping between calls, because that is how the live runner
//! calls wave_step (runner_step in cpp/core/lattice_runner.cpp): a kernel
//! that fuses several steps per call (temporal blocking) never gets to fuse
//! them live, so it must not look faster here. Both kernels step the same
//! buffers, one after the other: with a pair each, the two kernels' memory
//! could differ in how it is backed (on this project's VM, fresh 32 MiB
//! mappings ran the same kernel at 1x or 2x from one run to the next), and
//! that difference, not the kernels, decided the ratio. Only raw times are reported;
//! the orchestrator does the statistics. Afterwards the candidate is checked
//! again on both lattices and on the first differential cases, so a result
//! that changes with the call count, or only at the benchmark's size, fails
//! here.

use std::time::Instant;

use crate::abi::{Geometry, PRECISION_F64};
use crate::differential::{readout_case, step_case};
use crate::kernel::{run_readout, Kernel, StepBuffers};
use crate::phase::Phase;
use crate::rng::Rng;

/// Lattices above this size are not rechecked against the oracle (its
/// single-threaded step would dominate the run).
const MAX_RECHECK_CELLS: usize = 1 << 20;
const WARMUP_ROUNDS: usize = 1;

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
}

/// The raw times of one lattice.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub lattice: &'static str,
    pub extents: Vec<usize>,
    pub steps: u64,
    pub candidate_ns: Vec<f64>,
    pub incumbent_ns: Vec<f64>,
}

fn time_ns(run: impl FnOnce() -> Result<(), String>) -> Result<f64, String> {
    let start = Instant::now();
    run()?;
    Ok(start.elapsed().as_nanos() as f64)
}

fn measure(
    plan: &BenchPlan,
    lattice: &'static str,
    extents: &[usize],
    kernels: [&Kernel; 2],
    rng: &mut Rng,
) -> Result<Comparison, String> {
    let cells: usize = extents.iter().product();
    let geometry = Geometry::new(extents, PRECISION_F64, 0.5 / extents.len() as f64);
    let (previous, current) = (rng.field(cells, 1.0), rng.field(cells, 1.0));
    let mut buffers = StepBuffers::new::<f64>(&geometry)?;
    buffers.load(&previous, &current, 0);
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..plan.samples + WARMUP_ROUNDS {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for who in order {
            let elapsed = match plan.slot {
                // An even number of calls keeps `current` at 0 round after round.
                Slot::Step => time_ns(|| {
                    (0..plan.steps * 2).try_for_each(|call| {
                        buffers.step(kernels[who], &geometry, 1, (call % 2) as u32)
                    })
                })?,
                Slot::Readout => time_ns(|| {
                    for _ in 0..plan.steps {
                        run_readout(kernels[who], &geometry, &current)?;
                    }
                    Ok(())
                })?,
            };
            if round >= WARMUP_ROUNDS {
                times[who].push(elapsed);
            }
        }
    }
    let [candidate_ns, incumbent_ns] = times;
    Ok(Comparison {
        lattice,
        extents: extents.to_vec(),
        steps: plan.steps * if plan.slot == Slot::Step { 2 } else { 1 },
        candidate_ns,
        incumbent_ns,
    })
}

fn recheck(phase: &mut Phase, plan: &BenchPlan, candidate: &Kernel, rng: &mut Rng) {
    let mut lattices = vec![plan.target.clone(), plan.held_out.clone()];
    lattices.extend((1..=9).map(|dims| vec![3; dims]));
    for extents in lattices {
        let cells: usize = extents.iter().product();
        if cells > MAX_RECHECK_CELLS {
            continue;
        }
        let label = format!("recheck after the benchmark {extents:?}");
        let outcome = match plan.slot {
            Slot::Step => {
                let courant2 = 0.7 / extents.len() as f64;
                step_case::<f64>(
                    candidate,
                    &extents,
                    courant2,
                    &rng.field(cells, 1.0),
                    &rng.field(cells, 1.0),
                    3,
                    1,
                )
            }
            Slot::Readout => readout_case::<f64>(candidate, &extents, &rng.field(cells, 6.0)),
        };
        phase.case(&label, outcome);
    }
}

pub fn run(
    plan: &BenchPlan,
    candidate: &Kernel,
    incumbent: &Kernel,
    rng: &mut Rng,
) -> (Phase, Vec<Comparison>) {
    let mut phase = Phase::start("bench");
    let mut comparisons = Vec::new();
    for (lattice, extents) in [("target", &plan.target), ("held-out", &plan.held_out)] {
        match measure(plan, lattice, extents, [candidate, incumbent], rng) {
            Ok(comparison) => {
                phase.case(lattice, Ok(()));
                comparisons.push(comparison);
            }
            Err(reason) => phase.case(lattice, Err(reason)),
        }
    }
    recheck(&mut phase, plan, candidate, rng);
    (phase.finish(), comparisons)
}
