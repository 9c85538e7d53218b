//! `checkInvariants`: the JS input and report objects around
//! `ouroboros_oracle::check_invariants`.

use napi::bindgen_prelude::{AsyncTask, Float64Array, Int8Array};
use napi::{Env, Result, Task};
use napi_derive::napi;
use ouroboros_oracle::WaveParameters;

use crate::convert::{extents, invalid_arg};

/// A kernel's state and outputs to check. `readout`, `stepped` and
/// `shiftedStepped` accept `null` or `undefined` (or may be left out).
///
/// Those three are `Option<Option<_>>` because napi-rs reads an optional
/// field as `None` only when it is absent or `undefined`; the inner `Option`
/// turns `null` into `None` as well.
#[napi(object, object_to_js = false)]
pub struct InvariantInput {
    /// 1..9 extents, each an integer >= 3, last axis fastest.
    pub extents: Vec<f64>,
    pub c: f64,
    pub h: f64,
    pub dt: f64,
    /// Live levels, widened to f64 exactly when the lattice is f32.
    pub previous: Float64Array,
    pub current: Float64Array,
    pub initial_energy: f64,
    pub drift_tolerance: f64,
    /// The kernel's readout of `current`, checked for range and against the oracle's.
    pub readout: Option<Option<Int8Array>>,
    /// Wrap probe: the kernel's current level after one step from (previous, current).
    pub stepped: Option<Option<Float64Array>>,
    /// Wrap probe: `shiftedStepped[axis]` is the kernel's current level after
    /// one step from the state shifted by +1 cell along `axis`.
    pub shifted_stepped: Option<Option<Vec<Float64Array>>>,
}

/// What `checkInvariants` found; checks not asked for are `null`.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct InvariantReport {
    pub ok: bool,
    pub energy: f64,
    pub initial_energy: f64,
    /// |E - E0| / |E0| (or |E - E0| when E0 is 0).
    pub energy_drift: f64,
    pub drift_tolerance: f64,
    pub all_finite: bool,
    /// Lowest non-finite index in `current`, else in `previous`; the
    /// violation sentence names the level.
    pub first_non_finite: Option<f64>,
    pub readout_in_range: Option<bool>,
    pub readout_matches_oracle: Option<bool>,
    pub wrap_exact: Option<bool>,
    pub wrap_failed_axes: Vec<u32>,
    pub violations: Vec<String>,
}

/// Checks energy drift, finiteness, and when given the readout and the wrap
/// probe. Wrong lengths are `InvalidArg` errors; failed checks are reported.
#[napi(catch_unwind)]
pub fn check_invariants(input: InvariantInput) -> Result<InvariantReport> {
    let extents = extents(&input.extents)?;
    report(&input, &extents)
}

/// `checkInvariants` on a libuv thread (about 100 ms at 4096^2, most of it
/// the energy sum). The arrays are held by reference until it resolves; the
/// caller must not write them meanwhile.
pub struct CheckInvariantsTask {
    input: InvariantInput,
    extents: Vec<usize>,
}

impl Task for CheckInvariantsTask {
    type Output = InvariantReport;
    type JsValue = InvariantReport;

    fn compute(&mut self) -> Result<InvariantReport> {
        report(&self.input, &self.extents)
    }

    fn resolve(&mut self, _env: Env, report: InvariantReport) -> Result<InvariantReport> {
        Ok(report)
    }
}

/// `checkInvariants`, computed off the event loop; the extents are checked at once.
#[napi(catch_unwind, ts_return_type = "Promise<InvariantReport>")]
pub fn check_invariants_async(input: InvariantInput) -> Result<AsyncTask<CheckInvariantsTask>> {
    let extents = extents(&input.extents)?;
    Ok(AsyncTask::new(CheckInvariantsTask { input, extents }))
}

fn report(input: &InvariantInput, extents: &[usize]) -> Result<InvariantReport> {
    let shifted_stepped: Option<Vec<&[f64]>> = input
        .shifted_stepped
        .as_ref()
        .and_then(Option::as_ref)
        .map(|fields| fields.iter().map(|field| &field[..]).collect());
    let report = ouroboros_oracle::check_invariants(&ouroboros_oracle::InvariantInput {
        extents,
        parameters: WaveParameters {
            c: input.c,
            h: input.h,
            dt: input.dt,
        },
        previous: &input.previous,
        current: &input.current,
        initial_energy: input.initial_energy,
        drift_tolerance: input.drift_tolerance,
        readout: input.readout.as_ref().and_then(Option::as_deref),
        stepped: input.stepped.as_ref().and_then(Option::as_deref),
        shifted_stepped: shifted_stepped.as_deref(),
    })
    .map_err(invalid_arg)?;
    Ok(InvariantReport {
        ok: report.ok,
        energy: report.energy,
        initial_energy: report.initial_energy,
        energy_drift: report.energy_drift,
        drift_tolerance: report.drift_tolerance,
        all_finite: report.all_finite,
        first_non_finite: report.first_non_finite.map(|index| index as f64),
        readout_in_range: report.readout_in_range,
        readout_matches_oracle: report.readout_matches_oracle,
        wrap_exact: report.wrap_exact,
        wrap_failed_axes: report
            .wrap_failed_axes
            .iter()
            .map(|&axis| axis as u32)
            .collect(),
        violations: report.violations,
    })
}
