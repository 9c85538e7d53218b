//! The check that ends every timed batch: just before the candidate's last
//! call of the batch, the supervisor (with every worker stopped) records a
//! seeded random set of cells with their light cones, computes what the
//! call's k steps make of them with the oracle, and after the call compares
//! the candidate's values there. After k steps a cell depends only on the
//! cells within k of it along every axis, so the oracle steps each cell at
//! the centre of a (2k+1)^N torus holding exactly those values (copies of a
//! cell where the lattice is smaller than the patch, which evolve as it
//! does): the same expression on the same numbers, with no copy of the
//! lattice.

use ouroboros_oracle::{gathered_cone_scale, Lattice};

use crate::compare::compare_to_scales;
use crate::differential::ULPS_PER_STEP;
use crate::float::Float;
use crate::lattices::{coords, flat};
use crate::remote::Remote;
use crate::rng::Rng;

/// Cells sampled per batch: enough that a kernel skipping a fraction f of
/// the lattice escapes a batch with probability (1 - f)^32.
pub const PROBE_CELLS: usize = 32;
/// The oracle's cell updates a probe may spend (a few ms): deep batches
/// on many axes sample fewer cells, never fewer than one.
const PROBE_UPDATES: usize = 1 << 22;

/// How many cells a probe of `steps` steps on `dims` axes samples.
pub fn probe_cells(dims: usize, steps: u64) -> usize {
    let side = 2 * steps as usize + 1;
    let per_cell = side
        .checked_pow(dims as u32)
        .and_then(|cells| cells.checked_mul(steps as usize))
        .unwrap_or(usize::MAX);
    (PROBE_UPDATES / per_cell).clamp(1, PROBE_CELLS)
}

pub struct Probe<T> {
    cells: Vec<usize>,
    expected: Vec<T>,
    current_index: u32,
    steps: u64,
    /// Each cell's own scale, from the largest value of its light cone: the
    /// tolerance's unit, as for every other oracle comparison (compare.rs).
    scales: Vec<f64>,
}

impl<T: Float> Probe<T> {
    /// Records the inputs of the next call of `steps` steps from level[current_index].
    pub fn record(
        kernel: &Remote,
        extents: &[usize],
        courant2: f64,
        current_index: u32,
        steps: u64,
        rng: &mut Rng,
    ) -> Result<Self, String> {
        let count: usize = extents.iter().product();
        let dims = extents.len();
        let reach = steps as usize;
        let side = 2 * reach + 1;
        let patch_extents = vec![side; dims];
        let patch = Lattice::new(&patch_extents).map_err(|e| e.to_string())?;
        let centre = flat(&patch_extents, &vec![reach; dims]);
        let cells: Vec<usize> = (0..probe_cells(dims, steps))
            .map(|_| rng.int(0, count - 1))
            .collect();
        let mut expected = Vec::with_capacity(cells.len());
        let mut scales = Vec::with_capacity(cells.len());
        for &cell in &cells {
            let at = coords(extents, cell);
            // The lattice cell under each patch cell, wrapping as the torus does.
            let cone: Vec<usize> = (0..patch.cell_count())
                .map(|index| {
                    let offset = coords(&patch_extents, index);
                    let moved: Vec<usize> = (0..dims)
                        .map(|axis| {
                            let n = extents[axis];
                            (at[axis] + offset[axis] % n + n - reach % n) % n
                        })
                        .collect();
                    flat(extents, &moved)
                })
                .collect();
            let current: Vec<T> = kernel.newest_at(count, current_index, 0, &cone);
            let previous: Vec<T> = kernel.newest_at(count, 1 - current_index, 0, &cone);
            let stepped =
                ouroboros_oracle::step(&patch, &previous, &current, T::from_f64(courant2), reach)
                    .map_err(|e| e.to_string())?;
            scales.push(gathered_cone_scale(dims, courant2, &previous, &current));
            expected.push(stepped.current[centre]);
        }
        Ok(Probe {
            cells,
            expected,
            current_index,
            steps,
            scales,
        })
    }

    /// The candidate's values at the recorded cells after its call.
    pub fn check(&self, kernel: &Remote, count: usize) -> Result<(), String> {
        let got: Vec<T> = kernel.newest_at(count, self.current_index, self.steps, &self.cells);
        compare_to_scales(
            "u^{n+k} at the sampled cells",
            &got,
            &self.expected,
            self.steps,
            ULPS_PER_STEP,
            &self.scales,
        )
    }
}
