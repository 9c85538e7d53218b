use crate::lattice::wrap_next;
use crate::summation::CompensatedSum;
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
    let kinetic = kinetic_sum(previous, current, dt);
    let gradient = gradient_product_sum(lattice, previous, current);
    let cell_volume = h.powi(lattice.dims() as i32);
    Ok(cell_volume * (0.5 * kinetic + c * c / (2.0 * h * h) * gradient))
}

/// `sum_x ((current - previous) / dt)^2`.
fn kinetic_sum(previous: &[f64], current: &[f64], dt: f64) -> f64 {
    let mut sum = CompensatedSum::default();
    for (&older, &newer) in previous.iter().zip(current) {
        let velocity = (newer - older) / dt;
        sum.add(velocity * velocity);
    }
    sum.total()
}

/// `sum_a sum_x (D+current)(D+previous)` over every axis of the torus.
fn gradient_product_sum(lattice: &Lattice, previous: &[f64], current: &[f64]) -> f64 {
    let row_len = lattice.row_len();
    let mut sum = CompensatedSum::default();
    lattice.for_each_row(|row| {
        for i in 0..row_len {
            let x = row.start + i;
            for &plus in row.plus {
                sum.add((current[plus + i] - current[x]) * (previous[plus + i] - previous[x]));
            }
            let next = row.start + wrap_next(i, row_len);
            sum.add((current[next] - current[x]) * (previous[next] - previous[x]));
        }
    });
    sum.total()
}
