//! Node binding of `ouroboros-oracle`, the `OracleAddon` of
//! `native/addon-types.ts`. Each export converts its arguments, forwards to
//! the pure crate and converts the result; malformed arguments become
//! `InvalidArg` errors and a panic becomes a JS error (`catch_unwind`).
//!
//! Arrays arrive as owned typed-array handles rather than borrowed `&[T]`:
//! napi-rs then names the expected and the actual array type when a caller
//! passes the wrong one.

mod convert;
// Public so that the test configuration (built by `cargo clippy
// --all-targets`), where napi-rs registers no exports, still sees them used.
pub mod invariants;
pub mod nonary;

use napi::bindgen_prelude::{AsyncTask, Float32Array, Float64Array, Int8Array};
use napi::{Env, Result, Task};
use napi_derive::napi;
use ouroboros_oracle::{Readout, WaveParameters};

use convert::{cell_indices, invalid_arg, lattice, signed_whole_number, whole_number};

/// Two consecutive time levels of an `f64` field.
#[napi(object, object_from_js = false)]
pub struct StepResultF64 {
    pub previous: Float64Array,
    pub current: Float64Array,
}

/// Two consecutive time levels of an `f32` field.
#[napi(object, object_from_js = false)]
pub struct StepResultF32 {
    pub previous: Float32Array,
    pub current: Float32Array,
}

/// Balanced nonary digits of a field, or the lowest non-finite cell.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct OracleReadout {
    pub digits: Option<Int8Array>,
    pub bad_index: Option<f64>,
}

/// Discrete energy leapfrog conserves, in f64, including the cell volume h^N.
#[napi(catch_unwind)]
pub fn energy(
    previous: Float64Array,
    current: Float64Array,
    extents: Vec<f64>,
    c: f64,
    h: f64,
    dt: f64,
) -> Result<f64> {
    let lattice = lattice(&extents)?;
    ouroboros_oracle::energy(&lattice, &previous, &current, WaveParameters { c, h, dt })
        .map_err(invalid_arg)
}

/// `energy` on a libuv thread: the energy of a 4096^2 lattice takes about
/// 100 ms, which `energyAsync` keeps off the event loop. The arrays are held
/// by reference until it resolves; the caller must not write them meanwhile.
pub struct EnergyTask {
    previous: Float64Array,
    current: Float64Array,
    lattice: ouroboros_oracle::Lattice,
    parameters: WaveParameters,
}

impl Task for EnergyTask {
    type Output = f64;
    type JsValue = f64;

    fn compute(&mut self) -> Result<f64> {
        ouroboros_oracle::energy(
            &self.lattice,
            &self.previous,
            &self.current,
            self.parameters,
        )
        .map_err(invalid_arg)
    }

    fn resolve(&mut self, _env: Env, energy: f64) -> Result<f64> {
        Ok(energy)
    }
}

/// `energy`, computed off the event loop; arguments are checked at once.
#[napi(catch_unwind, ts_return_type = "Promise<number>")]
pub fn energy_async(
    previous: Float64Array,
    current: Float64Array,
    extents: Vec<f64>,
    c: f64,
    h: f64,
    dt: f64,
) -> Result<AsyncTask<EnergyTask>> {
    let lattice = lattice(&extents)?;
    Ok(AsyncTask::new(EnergyTask {
        previous,
        current,
        lattice,
        parameters: WaveParameters { c, h, dt },
    }))
}

/// Advances (previous, current) by `steps` leapfrog steps in f64; returns new arrays.
#[napi(catch_unwind)]
pub fn step_f64(
    previous: Float64Array,
    current: Float64Array,
    extents: Vec<f64>,
    courant2: f64,
    steps: f64,
) -> Result<StepResultF64> {
    let lattice = lattice(&extents)?;
    let steps = whole_number("steps", steps)?;
    let levels = ouroboros_oracle::step(&lattice, &previous, &current, courant2, steps)
        .map_err(invalid_arg)?;
    Ok(StepResultF64 {
        previous: levels.previous.into(),
        current: levels.current.into(),
    })
}

/// Advances (previous, current) by `steps` leapfrog steps in f32 arithmetic,
/// with `courant2` rounded to f32 first; returns new arrays.
#[napi(catch_unwind)]
pub fn step_f32(
    previous: Float32Array,
    current: Float32Array,
    extents: Vec<f64>,
    courant2: f64,
    steps: f64,
) -> Result<StepResultF32> {
    let lattice = lattice(&extents)?;
    let steps = whole_number("steps", steps)?;
    let levels = ouroboros_oracle::step(&lattice, &previous, &current, courant2 as f32, steps)
        .map_err(invalid_arg)?;
    Ok(StepResultF32 {
        previous: levels.previous.into(),
        current: levels.current.into(),
    })
}

/// Each cell rounded (ties away from zero) and clamped to -4..=4; a field
/// with a non-finite cell gives `digits: null` and the lowest such index.
#[napi(catch_unwind)]
pub fn readout(field: Float64Array) -> OracleReadout {
    match ouroboros_oracle::readout(&field) {
        Readout::Digits(digits) => OracleReadout {
            digits: Some(digits.into()),
            bad_index: None,
        },
        Readout::NonFinite { index } => OracleReadout {
            digits: None,
            bad_index: Some(index as f64),
        },
    }
}

/// Returns the field shifted by `by` cells along `axis` (periodic).
#[napi(catch_unwind)]
pub fn shift(field: Float64Array, extents: Vec<f64>, axis: f64, by: f64) -> Result<Float64Array> {
    let lattice = lattice(&extents)?;
    let axis = whole_number("axis", axis)?;
    let by = signed_whole_number("by", by)?;
    let shifted = ouroboros_oracle::shift(&lattice, &field, axis, by).map_err(invalid_arg)?;
    Ok(shifted.into())
}

/// The values of u^{n+steps} at `cells` (flat indices) from (previous,
/// current) = (u^{n-1}, u^n) in f64, bitwise equal to `stepF64` there; costs
/// about (2 steps + 1)^dims updates per cell instead of a whole lattice's.
#[napi(catch_unwind)]
pub fn step_at_cells_f64(
    previous: Float64Array,
    current: Float64Array,
    extents: Vec<f64>,
    courant2: f64,
    steps: f64,
    cells: Float64Array,
) -> Result<Float64Array> {
    let lattice = lattice(&extents)?;
    let steps = whole_number("steps", steps)?;
    let cells = cell_indices(&cells)?;
    let values =
        ouroboros_oracle::step_at_cells(&lattice, &previous, &current, courant2, steps, &cells)
            .map_err(invalid_arg)?;
    Ok(values.into())
}

/// Each of `cells`' own error scale for `steps` steps
/// (`ouroboros_oracle::cone_scales_at_cells`: the largest magnitude in its
/// light cone of either level, times what an update's terms can weigh
/// against it): the unit of the tolerance a correct kernel, summing in its
/// own order, keeps to there.
#[napi(catch_unwind)]
pub fn cells_cone_scales_f64(
    previous: Float64Array,
    current: Float64Array,
    extents: Vec<f64>,
    courant2: f64,
    steps: f64,
    cells: Float64Array,
) -> Result<Float64Array> {
    let lattice = lattice(&extents)?;
    let steps = whole_number("steps", steps)?;
    let cells = cell_indices(&cells)?;
    let scales = ouroboros_oracle::cone_scales_at_cells(
        &lattice, &previous, &current, courant2, steps, &cells,
    )
    .map_err(invalid_arg)?;
    Ok(scales.into())
}

/// The same for an f32 lattice.
#[napi(catch_unwind)]
pub fn cells_cone_scales_f32(
    previous: Float32Array,
    current: Float32Array,
    extents: Vec<f64>,
    courant2: f64,
    steps: f64,
    cells: Float64Array,
) -> Result<Float64Array> {
    let lattice = lattice(&extents)?;
    let steps = whole_number("steps", steps)?;
    let cells = cell_indices(&cells)?;
    let scales = ouroboros_oracle::cone_scales_at_cells(
        &lattice, &previous, &current, courant2, steps, &cells,
    )
    .map_err(invalid_arg)?;
    Ok(scales.into())
}

/// The same in f32 arithmetic, with `courant2` rounded to f32 first, bitwise equal to `stepF32` there.
#[napi(catch_unwind)]
pub fn step_at_cells_f32(
    previous: Float32Array,
    current: Float32Array,
    extents: Vec<f64>,
    courant2: f64,
    steps: f64,
    cells: Float64Array,
) -> Result<Float32Array> {
    let lattice = lattice(&extents)?;
    let steps = whole_number("steps", steps)?;
    let cells = cell_indices(&cells)?;
    let values = ouroboros_oracle::step_at_cells(
        &lattice,
        &previous,
        &current,
        courant2 as f32,
        steps,
        &cells,
    )
    .map_err(invalid_arg)?;
    Ok(values.into())
}

/// Where a kernel's whole newest level first disagrees with the oracle's.
#[napi(object, object_from_js = false)]
pub struct FullCheckMismatch {
    /// How many cells disagree.
    pub cells: f64,
    pub first_cell: f64,
    pub actual: f64,
    pub expected: f64,
    pub tolerance: f64,
}

/// The levels a full check steps from, in the lattice's precision.
pub enum CheckedLevels {
    F64(Float64Array, Float64Array),
    F32(Float32Array, Float32Array),
}

/// `ouroboros_oracle::check_step` on a libuv thread: at 4096^2 the oracle's
/// steps of the whole lattice take seconds. The arrays are held by
/// reference until it resolves; the caller must not write them meanwhile.
pub struct FullCheckTask {
    levels: CheckedLevels,
    actual: Float64Array,
    lattice: ouroboros_oracle::Lattice,
    courant2: f64,
    steps: usize,
    ulps_per_step: f64,
}

impl Task for FullCheckTask {
    type Output = Option<ouroboros_oracle::StepMismatch>;
    type JsValue = Option<FullCheckMismatch>;

    fn compute(&mut self) -> Result<Self::Output> {
        let (lattice, steps, ulps) = (&self.lattice, self.steps, self.ulps_per_step);
        match &self.levels {
            CheckedLevels::F64(previous, current) => ouroboros_oracle::check_step(
                lattice,
                previous,
                current,
                self.courant2,
                steps,
                &self.actual,
                ulps,
                f64::EPSILON,
            ),
            CheckedLevels::F32(previous, current) => {
                // Widened exactly from f32 by the core: narrowing is exact.
                let actual: Vec<f32> = self.actual.iter().map(|&v| v as f32).collect();
                ouroboros_oracle::check_step(
                    lattice,
                    previous,
                    current,
                    self.courant2 as f32,
                    steps,
                    &actual,
                    ulps,
                    f64::from(f32::EPSILON),
                )
            }
        }
        .map_err(invalid_arg)
    }

    fn resolve(&mut self, _env: Env, found: Self::Output) -> Result<Self::JsValue> {
        Ok(found.map(|m| FullCheckMismatch {
            cells: m.cells as f64,
            first_cell: m.first_cell as f64,
            actual: m.actual,
            expected: m.expected,
            tolerance: m.tolerance,
        }))
    }
}

fn full_check(
    levels: CheckedLevels,
    extents: &[f64],
    courant2: f64,
    steps: f64,
    actual: Float64Array,
    ulps_per_step: f64,
) -> Result<AsyncTask<FullCheckTask>> {
    Ok(AsyncTask::new(FullCheckTask {
        levels,
        actual,
        lattice: lattice(extents)?,
        courant2,
        steps: whole_number("steps", steps)?,
        ulps_per_step,
    }))
}

/// Off the event loop: the oracle steps (previous, current) `steps` times
/// over the whole f64 lattice and compares u^{n+steps} with `actual`, NaN
/// for NaN, infinities exactly, finite cells to `ulpsPerStep` epsilons per
/// step of each one's cone scale; null when every cell agrees.
#[napi(catch_unwind, ts_return_type = "Promise<FullCheckMismatch | null>")]
pub fn full_check_f64_async(
    previous: Float64Array,
    current: Float64Array,
    extents: Vec<f64>,
    courant2: f64,
    steps: f64,
    actual: Float64Array,
    ulps_per_step: f64,
) -> Result<AsyncTask<FullCheckTask>> {
    let levels = CheckedLevels::F64(previous, current);
    full_check(levels, &extents, courant2, steps, actual, ulps_per_step)
}

/// The same in f32 arithmetic, with `courant2` rounded to f32 first;
/// `actual` holds the f32 values widened.
#[napi(catch_unwind, ts_return_type = "Promise<FullCheckMismatch | null>")]
pub fn full_check_f32_async(
    previous: Float32Array,
    current: Float32Array,
    extents: Vec<f64>,
    courant2: f64,
    steps: f64,
    actual: Float64Array,
    ulps_per_step: f64,
) -> Result<AsyncTask<FullCheckTask>> {
    let levels = CheckedLevels::F32(previous, current);
    full_check(levels, &extents, courant2, steps, actual, ulps_per_step)
}

/// The oracle's values at the centres of a cone probe's cones, and each
/// centre's own scale, from the largest value of its cone (the unit of
/// `compareProbe`'s tolerance there).
#[napi(object, object_from_js = false)]
pub struct SteppedCones {
    /// u^{n+steps} at each cone's centre, widened to f64 for an f32 lattice.
    pub values: Float64Array,
    pub scales: Float64Array,
    /// The CPU time the oracle's thread spent stepping them, in ns: its share of a core, waits for one aside.
    pub cpu_ns: f64,
}

/// The calling thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID).
fn thread_cpu_ns() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer; this clock always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as f64 * 1e9 + now.tv_nsec as f64
}

/// One probe of a cone batch: `count` cones of radius `radius`, stepped
/// `steps` times (at most `radius`).
#[napi(object)]
pub struct ConeGroupInput {
    pub count: u32,
    pub radius: u32,
    pub steps: u32,
}

/// `ouroboros_oracle::step_cone_groups` on a libuv thread: the cones of many
/// probes in one call, so that the watchdog pays a call's fixed cost (the
/// thread hop, the promise) once for thousands of cells. The arrays are held
/// by reference until it resolves; the caller must not write them meanwhile.
pub struct StepConeGroupsTask {
    older: Float64Array,
    newer: Float64Array,
    dims: usize,
    groups: Vec<ouroboros_oracle::ConeGroup>,
    courant2: f64,
    f32: bool,
}

impl StepConeGroupsTask {
    fn step(&self) -> Result<(Vec<f64>, Vec<f64>)> {
        let (dims, groups) = (self.dims, &self.groups);
        if !self.f32 {
            return ouroboros_oracle::step_cone_groups(
                dims,
                groups,
                &self.older,
                &self.newer,
                self.courant2,
            )
            .map_err(invalid_arg);
        }
        // Widened exactly from f32 by the core: narrowing is exact.
        let narrow = |values: &[f64]| values.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let (older, newer) = (narrow(&self.older), narrow(&self.newer));
        let (values, scales) =
            ouroboros_oracle::step_cone_groups(dims, groups, &older, &newer, self.courant2 as f32)
                .map_err(invalid_arg)?;
        Ok((values.into_iter().map(f64::from).collect(), scales))
    }
}

impl Task for StepConeGroupsTask {
    type Output = (Vec<f64>, Vec<f64>, f64);
    type JsValue = SteppedCones;

    fn compute(&mut self) -> Result<Self::Output> {
        let started = thread_cpu_ns();
        let (values, scales) = self.step()?;
        Ok((values, scales, thread_cpu_ns() - started))
    }

    fn resolve(
        &mut self,
        _env: Env,
        (values, scales, cpu_ns): Self::Output,
    ) -> Result<SteppedCones> {
        Ok(SteppedCones {
            values: values.into(),
            scales: scales.into(),
            cpu_ns,
        })
    }
}

/// Off the event loop: the oracle steps the gathered cones of (u^{n-1}, u^n)
/// of several cone probes, `older` and `newer` holding each group's cones
/// one group after another, and gives u^{n+steps} at their centres in the
/// same order; `f32`: in f32 arithmetic with `courant2` rounded to f32, the
/// cones holding f32 values widened. Bitwise what `stepAtCells` gives.
#[napi(catch_unwind, ts_return_type = "Promise<SteppedCones>")]
pub fn step_cone_groups_async(
    older: Float64Array,
    newer: Float64Array,
    dims: f64,
    groups: Vec<ConeGroupInput>,
    courant2: f64,
    f32: bool,
) -> Result<AsyncTask<StepConeGroupsTask>> {
    let groups = groups
        .iter()
        .map(|group| ouroboros_oracle::ConeGroup {
            count: group.count as usize,
            radius: group.radius as usize,
            steps: group.steps as usize,
        })
        .collect();
    Ok(AsyncTask::new(StepConeGroupsTask {
        older,
        newer,
        dims: whole_number("dims", dims)?,
        groups,
        courant2,
        f32,
    }))
}
