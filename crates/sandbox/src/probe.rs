//! The check that ends every timed batch: just before the candidate's last
//! call of the batch, the supervisor (with every worker stopped) records a
//! seeded random set of cells with their stencil neighbours, computes what
//! one step makes of them with the oracle, and after the call compares the
//! candidate's values there. One step of a cell depends only on u^{n-1} at
//! the cell and u^n at the cell and its two neighbours along each axis, so
//! the oracle steps each cell at the centre of a 3^N torus holding exactly
//! those values: the same expression on the same numbers, with no copy of
//! the lattice.

use ouroboros_oracle::Lattice;

use crate::compare::compare;
use crate::differential::ULPS_PER_STEP;
use crate::float::Float;
use crate::remote::Remote;
use crate::rng::Rng;

/// Cells sampled per batch: enough that a kernel skipping a fraction f of
/// the lattice escapes a batch with probability (1 - f)^32.
pub const PROBE_CELLS: usize = 32;

pub struct Probe<T> {
    cells: Vec<usize>,
    expected: Vec<T>,
    current_index: u32,
}

fn coords(extents: &[usize], mut cell: usize) -> Vec<usize> {
    let mut coords = vec![0; extents.len()];
    for axis in (0..extents.len()).rev() {
        coords[axis] = cell % extents[axis];
        cell /= extents[axis];
    }
    coords
}

fn flat(extents: &[usize], coords: &[usize]) -> usize {
    coords
        .iter()
        .zip(extents)
        .fold(0, |index, (&x, &n)| index * n + x)
}

impl<T: Float> Probe<T> {
    /// Records the inputs of the next single-step call from level[current_index].
    pub fn record(
        kernel: &Remote,
        extents: &[usize],
        courant2: f64,
        current_index: u32,
        rng: &mut Rng,
    ) -> Result<Self, String> {
        let count: usize = extents.iter().product();
        let dims = extents.len();
        let mini = Lattice::new(&vec![3; dims]).map_err(|e| e.to_string())?;
        let centre = flat(&vec![3; dims], &vec![1; dims]);
        let cells: Vec<usize> = (0..PROBE_CELLS).map(|_| rng.int(0, count - 1)).collect();
        let mut expected = Vec::with_capacity(cells.len());
        for &cell in &cells {
            let at = coords(extents, cell);
            let mut neighbours = vec![cell];
            for axis in 0..dims {
                for delta in [1, extents[axis] - 1] {
                    let mut moved = at.clone();
                    moved[axis] = (at[axis] + delta) % extents[axis];
                    neighbours.push(flat(extents, &moved));
                }
            }
            let values: Vec<T> = kernel.newest_at(count, current_index, 0, &neighbours);
            let previous: Vec<T> = kernel.newest_at(count, 1 - current_index, 0, &[cell]);
            let mut mini_current = vec![T::from_f64(0.0); mini.cell_count()];
            let mut mini_previous = mini_current.clone();
            mini_current[centre] = values[0];
            mini_previous[centre] = previous[0];
            for axis in 0..dims {
                for (slot, side) in [(1, 2), (2, 0)] {
                    let mut moved = vec![1; dims];
                    moved[axis] = side;
                    mini_current[flat(&vec![3; dims], &moved)] = values[1 + 2 * axis + slot - 1];
                }
            }
            let stepped = ouroboros_oracle::step(
                &mini,
                &mini_previous,
                &mini_current,
                T::from_f64(courant2),
                1,
            )
            .map_err(|e| e.to_string())?;
            expected.push(stepped.current[centre]);
        }
        Ok(Probe {
            cells,
            expected,
            current_index,
        })
    }

    /// The candidate's values at the recorded cells after its one-step call.
    pub fn check(&self, kernel: &Remote, count: usize) -> Result<(), String> {
        let got: Vec<T> = kernel.newest_at(count, self.current_index, 1, &self.cells);
        compare(
            "u^{n+1} at the sampled cells",
            &got,
            &self.expected,
            1,
            ULPS_PER_STEP,
        )
    }
}
