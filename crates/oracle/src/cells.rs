use crate::cone_scale::gathered_cone_scale;
use crate::{step, Lattice, OracleError, Real, MAX_DIMS};

/// The values of u^{n+steps} at `cells` (flat indices), from
/// (previous, current) = (u^{n-1}, u^n), bitwise equal to what [`step`]
/// gives at those cells.
///
/// A cell after k steps depends only on the cells within k of it along
/// every axis (its light cone), so each cell is stepped on its own patch of
/// (2k+1)^N values, shrinking the region it updates by one cell per side per
/// step, with the same expression in the same order as [`step`]. On a small
/// lattice a patch can hold a torus cell more than once; each copy evolves
/// exactly as that cell does, so the result is still exact. When one patch
/// would be larger than the lattice, the whole lattice is stepped instead.
///
/// This makes a differential check of a kernel at the live lattice's size
/// cost a few thousand cell updates instead of a full oracle step.
pub fn step_at_cells<T: Real>(
    lattice: &Lattice,
    previous: &[T],
    current: &[T],
    courant2: T,
    steps: usize,
    cells: &[usize],
) -> Result<Vec<T>, OracleError> {
    lattice.check_field("previous", previous)?;
    lattice.check_field("current", current)?;
    if let Some(&cell) = cells.iter().find(|&&cell| cell >= lattice.cell_count()) {
        return Err(OracleError::CellOutOfRange {
            cell,
            cell_count: lattice.cell_count(),
        });
    }
    let side = 2 * steps + 1;
    let patch_cells = side
        .checked_pow(lattice.dims() as u32)
        .unwrap_or(usize::MAX);
    if steps == 0 {
        return Ok(cells.iter().map(|&cell| current[cell]).collect());
    }
    if patch_cells >= lattice.cell_count()
        || cells.len().saturating_mul(patch_cells) >= lattice.cell_count()
    {
        let levels = step(lattice, previous, current, courant2, steps)?;
        return Ok(cells.iter().map(|&cell| levels.current[cell]).collect());
    }
    let mut patch = Patch::new(lattice.dims(), steps);
    Ok(cells
        .iter()
        .map(|&cell| patch.step_cell(lattice, previous, current, courant2, cell))
        .collect())
}

/// The values of u^{n+steps} at the centres of cones gathered around a few
/// cells, from the cones of (previous, current) = (u^{n-1}, u^n) alone, and
/// each centre's own scale ([`gathered_cone_scale`] of its cone): what
/// the watchdog's cone probe checks a kernel with, where the runner gathered
/// the cones and no whole level was copied.
///
/// `older` and `newer` hold one cone per cell, cell after cell: the box of
/// side 2 `radius` + 1 centred on the cell, row-major with the last axis
/// fastest (the torus wrapped by whoever gathered it). `steps` must not
/// exceed `radius`; each step updates the box shrunk by one more cell per
/// side, so the centre is exact, bitwise equal to [`step_at_cells`] there.
pub fn step_cones<T: Real>(
    dims: usize,
    radius: usize,
    older: &[T],
    newer: &[T],
    courant2: T,
    steps: usize,
) -> Result<(Vec<T>, Vec<f64>), OracleError> {
    if dims == 0 || dims > MAX_DIMS {
        return Err(OracleError::DimensionCount { dims });
    }
    if steps > radius {
        return Err(OracleError::ConeTooNarrow { steps, radius });
    }
    let cone = (2 * radius + 1)
        .checked_pow(dims as u32)
        .unwrap_or(usize::MAX);
    for (name, values) in [("older", older), ("newer", newer)] {
        if values.len() % cone != 0 || values.len() != older.len() {
            return Err(OracleError::ConeLength {
                name,
                len: values.len(),
                cone,
                dims,
                radius,
            });
        }
    }
    let mut patch = Patch::new(dims, radius);
    let (values, scales) = older
        .chunks_exact(cone)
        .zip(newer.chunks_exact(cone))
        .map(|(previous, current)| {
            let scale = gathered_cone_scale(dims, courant2.magnitude(), previous, current);
            patch.older.copy_from_slice(previous);
            patch.newer.copy_from_slice(current);
            (patch.step_loaded(courant2, steps), scale)
        })
        .unzip();
    Ok((values, scales))
}

/// One probe of a batch given to [`step_cone_groups`]: `count` cones of
/// radius `radius`, to be stepped `steps` times (at most `radius`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConeGroup {
    pub count: usize,
    pub radius: usize,
    pub steps: usize,
}

/// [`step_cones`] for several probes in one call, so that a caller checking
/// many small probes pays its fixed cost (a thread hop, a promise) once:
/// `older` and `newer` hold the groups' cones one group after another, and
/// the values and scales come back in the same order, bitwise what
/// [`step_cones`] gives for each group alone.
pub fn step_cone_groups<T: Real>(
    dims: usize,
    groups: &[ConeGroup],
    older: &[T],
    newer: &[T],
    courant2: T,
) -> Result<(Vec<T>, Vec<f64>), OracleError> {
    if dims == 0 || dims > MAX_DIMS {
        return Err(OracleError::DimensionCount { dims });
    }
    let mut spans = Vec::with_capacity(groups.len());
    let mut expected = 0usize;
    for group in groups {
        let cone = (2 * group.radius + 1)
            .checked_pow(dims as u32)
            .unwrap_or(usize::MAX);
        let span = group.count.saturating_mul(cone);
        spans.push(span);
        expected = expected.saturating_add(span);
    }
    for (name, values) in [("older", older), ("newer", newer)] {
        if values.len() != expected {
            return Err(OracleError::ConeGroupsLength {
                name,
                len: values.len(),
                expected,
            });
        }
    }
    let cells = groups.iter().map(|group| group.count).sum();
    let (mut values, mut scales) = (Vec::with_capacity(cells), Vec::with_capacity(cells));
    let mut start = 0;
    for (group, span) in groups.iter().zip(spans) {
        let range = start..start + span;
        let (v, s) = step_cones(
            dims,
            group.radius,
            &older[range.clone()],
            &newer[range],
            courant2,
            group.steps,
        )?;
        values.extend(v);
        scales.extend(s);
        start += span;
    }
    Ok((values, scales))
}

/// A reusable (2 radius + 1)^N window of two levels around one cell.
struct Patch<T> {
    dims: usize,
    radius: usize,
    side: usize,
    /// Strides of the patch, row-major with the last axis fastest.
    strides: Vec<usize>,
    older: Vec<T>,
    newer: Vec<T>,
}

impl<T: Real> Patch<T> {
    fn new(dims: usize, radius: usize) -> Self {
        let side = 2 * radius + 1;
        let mut strides = vec![1; dims];
        for axis in (0..dims.saturating_sub(1)).rev() {
            strides[axis] = strides[axis + 1] * side;
        }
        let cells = side.pow(dims as u32);
        Patch {
            dims,
            radius,
            side,
            strides,
            older: vec![T::ZERO; cells],
            newer: vec![T::ZERO; cells],
        }
    }

    /// The local coordinates of patch index `p`.
    fn coordinates(&self, p: usize, out: &mut [usize]) {
        for (axis, coordinate) in out.iter_mut().enumerate() {
            *coordinate = (p / self.strides[axis]) % self.side;
        }
    }

    /// One leapfrog step of the box [margin, side - margin)^N, in the
    /// patch's memory order (last axis fastest), with [`step`]'s expression.
    fn step_box(&mut self, margin: usize, courant2: T, local: &mut [usize]) {
        let high = self.side - margin;
        local.fill(margin);
        loop {
            let row: usize = local
                .iter()
                .zip(&self.strides)
                .map(|(&c, &stride)| c * stride)
                .sum::<usize>()
                - margin;
            for p in row + margin..row + high {
                let u = self.newer[p];
                let mut lap = T::ZERO;
                for &stride in &self.strides {
                    lap = lap + ((self.newer[p + stride] + self.newer[p - stride]) - T::TWO * u);
                }
                self.older[p] = (T::TWO * u - self.older[p]) + courant2 * lap;
            }
            // The next row: count up the axes before the last, odometer-wise.
            let mut axis = self.dims - 1;
            loop {
                if axis == 0 {
                    return;
                }
                axis -= 1;
                local[axis] += 1;
                if local[axis] < high {
                    break;
                }
                local[axis] = margin;
            }
        }
    }

    fn step_cell(
        &mut self,
        lattice: &Lattice,
        previous: &[T],
        current: &[T],
        courant2: T,
        cell: usize,
    ) -> T {
        let extents = lattice.extents();
        let torus_strides = lattice.strides();
        let centre: Vec<usize> = (0..self.dims)
            .map(|axis| (cell / torus_strides[axis]) % extents[axis])
            .collect();
        let mut local = vec![0; self.dims];
        for p in 0..self.older.len() {
            self.coordinates(p, &mut local);
            let x: usize = (0..self.dims)
                .map(|axis| {
                    let n = extents[axis];
                    // centre + local - radius, wrapped onto [0, n).
                    let shifted = (centre[axis] + local[axis] + n * self.radius - self.radius) % n;
                    shifted * torus_strides[axis]
                })
                .sum();
            self.older[p] = previous[x];
            self.newer[p] = current[x];
        }
        self.step_loaded(courant2, self.radius)
    }

    /// Steps the loaded patch `steps` (at most its radius) times; its centre's value.
    fn step_loaded(&mut self, courant2: T, steps: usize) -> T {
        let mut local = vec![0; self.dims];
        let unused = self.radius - steps;
        for done in 1..=steps {
            // After `done` steps only cells at least `unused + done` from the
            // patch's faces are exact and needed; the others are never read
            // again, so each step updates that box on every axis.
            self.step_box(unused + done, courant2, &mut local);
            std::mem::swap(&mut self.older, &mut self.newer);
        }
        let middle: usize = self
            .strides
            .iter()
            .map(|&stride| self.radius * stride)
            .sum();
        self.newer[middle]
    }
}
