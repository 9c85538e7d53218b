//! The oracle differential: the candidate against `ouroboros_oracle` on
//! random states, every dimension count 1..=9, extents drawn from the run's
//! seed, both precisions and both `current` parities, with the step counts
//! per call that matter live: 1, 2, 3, the live runner's steps per call k
//! and k + 1 (so both parities of a batch), and a count drawn up to at least
//! 8 and beyond k; buffers reused across hundreds of calls of one step and
//! of k steps; and the live lattice itself, at its size, dimensions and
//! precision, from random states and from states of the live kind (a pulse
//! at rest, a low standing wave, `live_states.rs`) at the live r^2 when it
//! is known, and in the longer batches the live batch sizer grows to,
//! checked at sampled cells with `step_at_cells`. The readout slot's reads
//! noise on small lattices and fields of the live kind at the live size.

use ouroboros_oracle::{
    cone_scales_at_cells, cone_scales_through, readout, step, step_at_cells, Lattice, Levels,
    Readout,
};

use crate::abi::{Geometry, PRECISION_F64};
use crate::compare::compare_to_scales;
use crate::float::Float;
use crate::invariants::stateless_case;
use crate::lattices::differential_extents;
use crate::live_states::{self, LiveState};
use crate::phase::Phase;
use crate::remote::{run_steps, ReadoutResult, Remote, Stepped};
use crate::rng::Rng;

/// Finite cells may differ from the oracle by this many epsilons per step
/// of each cell's own scale (`ouroboros_oracle::cone_scales`: the largest
/// magnitude in its light cone of both input levels, times 3 + 4 N r^2,
/// which bounds an update's term sum there), or of its expected magnitude
/// where larger. One step's update is a sum of 3N + 2 terms; any evaluation
/// order rounds each partial sum, by at most half an epsilon of the terms'
/// magnitude, so two orders differ by a few epsilons of it however much the
/// terms cancel. The shipped rows kernel's order, which sums the neighbours
/// first, reaches at most 0.20 of this tolerance on the dojo's waves of
/// seeds 1..200, 0.98 on its "mixed" waves (huge values beside infinities);
/// a changed formula, an r^2 off by 1e-13 on a cancelling wave, does not
/// pass (`dojo::tests`).
pub const ULPS_PER_STEP: f64 = 4.0;
/// Calls on one set of buffers in the reuse case.
const REUSED_CALLS: u32 = 300;
/// Cells checked on the live lattice, each from its light cone.
const LIVE_CELLS: usize = 64;

fn lattice(extents: &[usize]) -> Result<Lattice, String> {
    Lattice::new(extents).map_err(|error| error.to_string())
}

/// One stepping case: both levels after `steps` steps must match the oracle.
pub fn step_case<T: Float>(
    kernel: &Remote,
    extents: &[usize],
    courant2: f64,
    previous: &[f64],
    current: &[f64],
    steps: u64,
    current_index: u32,
) -> Result<(), String> {
    let lattice = lattice(extents)?;
    let previous: Vec<T> = previous.iter().map(|&v| T::from_f64(v)).collect();
    let current: Vec<T> = current.iter().map(|&v| T::from_f64(v)).collect();
    let geometry = Geometry::new(extents, T::PRECISION, courant2);
    let got = run_steps(kernel, &geometry, &previous, &current, steps, current_index)?;
    matches_oracle(&lattice, &previous, &current, courant2, steps, &got)
}

/// `got`, both levels after `steps` steps from (previous, current), against
/// the oracle's, each cell to ulps of its own scale.
///
/// A field within tolerance of each expected cell's own magnitude is within
/// it of any larger scale; only one that is not is judged again against
/// each cell's cone scale (`cone_scales_through` of radius `steps`, over the
/// inputs and the oracle's outputs: one max filter, O(cells), rather than
/// weighing every step's terms).
pub fn matches_oracle<T: Float>(
    lattice: &Lattice,
    previous: &[T],
    current: &[T],
    courant2: f64,
    steps: u64,
    got: &Stepped<T>,
) -> Result<(), String> {
    let expected = step(
        lattice,
        previous,
        current,
        T::from_f64(courant2),
        steps as usize,
    )
    .map_err(|error| error.to_string())?;
    if levels_match(got, &expected, steps, &[]).is_ok() {
        return Ok(());
    }
    let scales = cone_scales_through(
        lattice,
        [previous, current],
        [&expected.previous, &expected.current],
        courant2,
        steps as usize,
    )
    .map_err(|error| error.to_string())?;
    levels_match(got, &expected, steps, &scales)
}

fn levels_match<T: Float>(
    got: &Stepped<T>,
    expected: &Levels<T>,
    steps: u64,
    scales: &[f64],
) -> Result<(), String> {
    compare_to_scales(
        "u^{n+k}",
        &got.current,
        &expected.current,
        steps,
        ULPS_PER_STEP,
        scales,
    )?;
    compare_to_scales(
        "u^{n+k-1}",
        &got.previous,
        &expected.previous,
        steps,
        ULPS_PER_STEP,
        scales,
    )
}

/// The oracle's readout of a field of either precision, widened exactly.
pub fn oracle_readout<T: Float>(field: &[T]) -> ReadoutResult {
    let widened: Vec<f64> = field.iter().map(|v| v.to_f64()).collect();
    match readout(&widened) {
        Readout::Digits(digits) => ReadoutResult::Digits(digits),
        Readout::NonFinite { index } => ReadoutResult::NonFinite {
            index: index as u64,
        },
    }
}

/// One readout case: digits (or the non-finite index) exactly the oracle's.
pub fn readout_case<T: Float>(
    kernel: &Remote,
    extents: &[usize],
    field: &[f64],
) -> Result<(), String> {
    let field: Vec<T> = field.iter().map(|&v| T::from_f64(v)).collect();
    let geometry = Geometry::new(extents, T::PRECISION, 0.0);
    let got = kernel.readout(&geometry, &field)?;
    let expected = oracle_readout(&field);
    if got == expected {
        return Ok(());
    }
    Err(match (got, expected) {
        (ReadoutResult::Digits(got), ReadoutResult::Digits(expected)) => {
            let cell = got
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            format!(
                "digit {cell} is {} where the oracle reads {} from {:e}",
                got[cell],
                expected[cell],
                field[cell].to_f64()
            )
        }
        (got, expected) => format!("readout gave {got:?}, the oracle {expected:?}"),
    })
}

fn precision_label<T: Float>(extents: &[usize]) -> String {
    format!("{} {extents:?}", T::NAME)
}

/// The least upper end of the drawn step count: fused kernels tile up to 8
/// steps deep.
const MIN_DRAWN_STEPS: u64 = 8;

/// Steps per call in turn: 1, 2, 3, the live runner's `live_steps` per call,
/// one more (the other parity), and a count drawn from 4 up to at least
/// `MIN_DRAWN_STEPS` and up to twice the live count, so a kernel whose
/// blocking breaks past the live batch is seen too.
fn steps_of(case: usize, live_steps: u64, rng: &mut Rng) -> u64 {
    match case % 6 {
        0 => 1,
        1 => 2,
        2 => 3,
        3 => live_steps,
        4 => live_steps + 1,
        _ => rng.int(4, MIN_DRAWN_STEPS.max(2 * live_steps) as usize) as u64,
    }
}

/// `REUSED_CALLS` calls of `steps` steps on one set of buffers in one command.
fn reused_case<T: Float>(kernel: &Remote, steps: u64, rng: &mut Rng) -> Result<(), String> {
    let extents = vec![rng.int(16, 40), rng.int(16, 40)];
    let lattice = lattice(&extents)?;
    let courant2 = rng.range(0.2, 0.95) / 2.0;
    let previous: Vec<T> = rng
        .field(lattice.cell_count(), 1.0)
        .into_iter()
        .map(T::from_f64)
        .collect();
    let current: Vec<T> = rng
        .field(lattice.cell_count(), 1.0)
        .into_iter()
        .map(T::from_f64)
        .collect();
    let parity = (rng.next_u64() % 2) as u32;
    let geometry = Geometry::new(&extents, T::PRECISION, courant2);
    kernel.load(&previous, &current, parity);
    kernel.step_calls(&geometry, REUSED_CALLS, steps, parity)?;
    let total = u64::from(REUSED_CALLS) * steps;
    let got = kernel.levels_after::<T>(lattice.cell_count(), parity, total);
    matches_oracle(&lattice, &previous, &current, courant2, total, &got)
}

/// How a live case starts: the kind of state and the r^2 (drawn when `None`).
#[derive(Clone, Copy)]
struct Start {
    state: LiveState,
    courant2: Option<f64>,
}

/// The live lattice at its size: `calls` calls of `steps` steps from
/// `start`, checked at `LIVE_CELLS` drawn cells against `step_at_cells`, or
/// for a single call at every cell where their light cones would cover the
/// lattice anyway.
fn live_case<T: Float>(
    kernel: &Remote,
    extents: &[usize],
    calls: u32,
    steps: u64,
    start: Start,
    rng: &mut Rng,
) -> Result<(), String> {
    let lattice = lattice(extents)?;
    let cells = lattice.cell_count();
    let courant2 = start
        .courant2
        .unwrap_or_else(|| rng.range(0.2, 0.95) / extents.len() as f64);
    let (previous, current) = start.state.draw(extents, courant2, rng);
    let previous: Vec<T> = previous.into_iter().map(T::from_f64).collect();
    let current: Vec<T> = current.into_iter().map(T::from_f64).collect();
    let parity = (rng.next_u64() % 2) as u32;
    let geometry = Geometry::new(extents, T::PRECISION, courant2);
    kernel.load(&previous, &current, parity);
    kernel.step_calls(&geometry, calls, steps, parity)?;
    let total = u64::from(calls) * steps;
    // A single call whose sampled light cones together hold more cells than the lattice (a long batch, or a small
    // live lattice) is checked at every cell: stepping the whole lattice once costs the oracle less. Several calls
    // in a row on the candidate's own output stay sampled here: the benchmark's last call, checked over the whole
    // state, is where a wrong cell the samples miss is judged (`wrong-cell-in-live-batches`).
    let cone_cells: usize = extents
        .iter()
        .map(|&extent| extent.min(2 * total as usize + 1))
        .product();
    if calls == 1 && LIVE_CELLS.saturating_mul(cone_cells) >= cells {
        let got = kernel.levels_after::<T>(cells, parity, total);
        return matches_oracle(&lattice, &previous, &current, courant2, total, &got);
    }
    let sampled: Vec<usize> = (0..LIVE_CELLS).map(|_| rng.int(0, cells - 1)).collect();
    let got: Vec<T> = kernel.newest_at(cells, parity, total, &sampled);
    let expected = step_at_cells(
        &lattice,
        &previous,
        &current,
        T::from_f64(courant2),
        total as usize,
        &sampled,
    )
    .map_err(|error| error.to_string())?;
    let scales = cone_scales_at_cells(
        &lattice,
        &previous,
        &current,
        courant2,
        total as usize,
        &sampled,
    )
    .map_err(|error| error.to_string())?;
    compare_to_scales(
        "u^{n+k} at the sampled cells",
        &got,
        &expected,
        total,
        ULPS_PER_STEP,
        &scales,
    )
}

/// The live lattice's cases in its precision (`live_states::live_cases`:
/// random starts at drawn r^2, states of the live kind at the live r^2 when
/// given); 7 steps against 3 + 4 bit for bit, which a count kept in the
/// field's low bits breaks; then the reuse cases, one step and k steps per
/// call.
fn live_cases<T: Float>(phase: &mut Phase, kernel: &Remote, live: &LiveLattice, rng: &mut Rng) {
    let label = format!("live lattice, {} dims, {}", live.extents.len(), T::NAME);
    let r2 = if live.courant2.is_some() {
        "the live"
    } else {
        "a drawn"
    };
    for case in live_states::live_cases(live.steps_per_call, live.longest_batch, rng) {
        let start = Start {
            state: case.state,
            courant2: live.courant2.filter(|_| case.keeps_live_courant()),
        };
        let at = if case.keeps_live_courant() {
            r2
        } else {
            "a drawn"
        };
        phase.case(
            &format!("{label}, {} at {at} r^2", case.label()),
            live_case::<T>(kernel, live.extents, case.calls, case.steps, start, rng),
        );
    }
    phase.case(
        &format!("{label}, 7 steps in one call and 3 + 4 in two, bit for bit"),
        stateless_case::<T>(kernel, live.extents, rng),
    );
    let mut reuse = vec![1];
    if live.steps_per_call > 1 {
        reuse.push(live.steps_per_call);
    }
    for steps in reuse {
        phase.case(
            &format!(
                "buffers reused over {REUSED_CALLS} calls of {steps} steps, {}",
                T::NAME
            ),
            reused_case::<T>(kernel, steps, rng),
        );
    }
}

/// What the differential knows of the live lattice.
pub struct LiveLattice<'a> {
    pub extents: &'a [usize],
    /// `abi::PRECISION_F64` or `abi::PRECISION_F32`.
    pub precision: u32,
    /// How many steps the live runner asks of each wave_step call.
    pub steps_per_call: u64,
    /// The longest batch the live runner may make (`lattice.maxBatchSteps`).
    pub longest_batch: u64,
    /// The live lattice's r^2, when known: a user's dt, c and h make round
    /// values no draw gives (`freezes-at-round-courant` in the hostile corpus).
    pub courant2: Option<f64>,
}

/// The step slot's differential: 9 dimension counts x 3 lattices x 2
/// precisions, then the live lattice in its precision.
pub fn phase_step(kernel: &Remote, rng: &mut Rng, live: &LiveLattice) -> Phase {
    let mut phase = Phase::start("differential");
    let mut case = 0;
    for dims in 1..=9 {
        for extents in differential_extents(dims, rng) {
            let cells = extents.iter().product();
            let courant2 = rng.range(0.2, 0.95) / dims as f64;
            let previous = rng.field(cells, 1.0);
            let current = rng.field(cells, 1.0);
            let parity = (rng.next_u64() % 2) as u32;
            let steps = steps_of(case, live.steps_per_call, rng);
            case += 1;
            phase.case(
                &precision_label::<f64>(&extents),
                step_case::<f64>(
                    kernel, &extents, courant2, &previous, &current, steps, parity,
                ),
            );
            phase.case(
                &precision_label::<f32>(&extents),
                step_case::<f32>(
                    kernel,
                    &extents,
                    courant2,
                    &previous,
                    &current,
                    steps,
                    1 - parity,
                ),
            );
        }
    }
    if live.precision == PRECISION_F64 {
        live_cases::<f64>(&mut phase, kernel, live, rng);
    } else {
        live_cases::<f32>(&mut phase, kernel, live, rng);
    }
    phase.finish()
}

/// The live lattice's readout cases in its precision: the current level of a pulse at rest and of a low standing
/// wave at its size, as a live job reads them (smooth fields, where noise is all the other cases draw:
/// `readout-skips-smooth-fields`).
fn live_readout_cases<T: Float>(
    phase: &mut Phase,
    kernel: &Remote,
    live: &LiveLattice,
    rng: &mut Rng,
) {
    let courant2 = live
        .courant2
        .unwrap_or_else(|| rng.range(0.2, 0.95) / live.extents.len() as f64);
    for state in [LiveState::PulseAtRest, LiveState::StandingWave] {
        let (_, field) = state.draw(live.extents, courant2, rng);
        phase.case(
            &format!(
                "live lattice, {} dims, {}, the readout of {}",
                live.extents.len(),
                T::NAME,
                state.label()
            ),
            readout_case::<T>(kernel, live.extents, &field),
        );
    }
}

/// The readout slot's differential: random fields spanning beyond -4..4,
/// then fields of the live kind at the live lattice's size.
pub fn phase_readout(kernel: &Remote, rng: &mut Rng, live: &LiveLattice) -> Phase {
    let mut phase = Phase::start("differential");
    for dims in 1..=9 {
        for extents in differential_extents(dims, rng) {
            let field = rng.field(extents.iter().product(), 6.0);
            phase.case(
                &precision_label::<f64>(&extents),
                readout_case::<f64>(kernel, &extents, &field),
            );
            phase.case(
                &precision_label::<f32>(&extents),
                readout_case::<f32>(kernel, &extents, &field),
            );
        }
    }
    if live.precision == PRECISION_F64 {
        live_readout_cases::<f64>(&mut phase, kernel, live, rng);
    } else {
        live_readout_cases::<f32>(&mut phase, kernel, live, rng);
    }
    phase.finish()
}
