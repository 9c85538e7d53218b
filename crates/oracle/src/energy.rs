use crate::summation::CompensatedLanes;
use crate::{Lattice, OracleError};

/// The physical scales behind a lattice: wave speed, cell size, time step.
///
/// Any consistent units; the Courant number is `c * dt / h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaveParameters {
    /// Wave speed c.
    pub c: f64,
    /// Cell edge length h, the same along every axis.
    pub h: f64,
    /// Time step dt.
    pub dt: f64,
}

/// The discrete energy leapfrog conserves, for levels u^{n-1} = `previous`
/// and u^n = `current`:
///
/// `E = h^N [ 1/2 sum_x ((u^n - u^{n-1}) / dt)^2
///          + c^2 / (2 h^2) sum_a sum_x (D+u^n)(D+u^{n-1}) ]`
///
/// with the periodic forward difference `D+u[x] = u[x + e_a] - u[x]`.
///
/// This staggered-time energy is exactly invariant under [`crate::step`] in
/// exact arithmetic whenever `c dt / h < 1 / sqrt(N)`; it is then positive
/// unless both levels are the same constant field. A central-gradient energy
/// would oscillate instead. Both sums are compensated, so roundoff in the sum stays near one
/// ulp of the result.
pub fn energy(
    lattice: &Lattice,
    previous: &[f64],
    current: &[f64],
    parameters: WaveParameters,
) -> Result<f64, OracleError> {
    lattice.check_field("previous", previous)?;
    lattice.check_field("current", current)?;
    let WaveParameters { c, h, dt } = parameters;
    let (kinetic, gradient) = kinetic_and_gradient_sums(lattice, previous, current, dt);
    let cell_volume = h.powi(lattice.dims() as i32);
    Ok(cell_volume * (0.5 * kinetic + c * c / (2.0 * h * h) * gradient))
}

/// Compensated lanes per sum: the watchdog sums a whole live lattice every
/// few steps, on a core the kernel would otherwise have.
const LANES: usize = 4;

/// Adds `term(i)` for i in 0..count, term i to lane i % LANES, in blocks of
/// LANES so that each lane stays in registers.
fn add_terms(sum: &mut CompensatedLanes<LANES>, count: usize, term: impl Fn(usize) -> f64) {
    // A local copy: through the reference, every addition would be stored back.
    let mut lanes = *sum;
    let blocked = count - count % LANES;
    for base in (0..blocked).step_by(LANES) {
        for lane in 0..LANES {
            lanes.add(lane, term(base + lane));
        }
    }
    for i in blocked..count {
        lanes.add(i, term(i));
    }
    *sum = lanes;
}

/// `sum_x ((current - previous) / dt)^2` and `sum_a sum_x (D+current)(D+previous)`
/// over every axis of the torus, in one pass: a row is read once for both.
fn kinetic_and_gradient_sums(
    lattice: &Lattice,
    previous: &[f64],
    current: &[f64],
    dt: f64,
) -> (f64, f64) {
    let n = lattice.row_len();
    let mut kinetic = CompensatedLanes::default();
    let mut gradient = CompensatedLanes::default();
    lattice.for_each_row(|row| {
        let (cur, prev) = (&current[row.start..][..n], &previous[row.start..][..n]);
        add_terms(&mut kinetic, n, |i| {
            let velocity = (cur[i] - prev[i]) / dt;
            velocity * velocity
        });
        for &plus in row.plus {
            let (cur_up, prev_up) = (&current[plus..][..n], &previous[plus..][..n]);
            add_terms(&mut gradient, n, |i| {
                (cur_up[i] - cur[i]) * (prev_up[i] - prev[i])
            });
        }
        // Along the last axis: the neighbour of the last cell is the row's first.
        add_terms(&mut gradient, n - 1, |i| {
            (cur[i + 1] - cur[i]) * (prev[i + 1] - prev[i])
        });
        gradient.add(n - 1, (cur[0] - cur[n - 1]) * (prev[0] - prev[n - 1]));
    });
    (kinetic.total(), gradient.total())
}
