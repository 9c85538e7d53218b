//! Each cell's own error scale for a differential comparison: what a
//! correct kernel may err by at a cell is a few ulps of the terms its
//! result was summed from, and after k steps those terms come from the
//! cell's light cone (every cell within k of it along every axis) of both
//! input levels. Judging every cell against the field's largest value
//! instead lets a kernel be wrong by ulps of the peak in a quiet region
//! (skip the far field of a narrow pulse, or step it in f32).

use crate::{Lattice, OracleError, Real};

/// How much one update's term sum can weigh against the largest magnitude
/// it reads: `2 |u| + |u_prev| + |r2| sum_a (|u+| + |u-| + 2 |u|)` is at most
/// `(3 + 4 N |r2|)` times that magnitude, N the number of axes.
pub fn term_weight(dims: usize, courant2: f64) -> f64 {
    3.0 + 4.0 * dims as f64 * courant2.abs()
}

/// Per cell, [`term_weight`] times the largest finite magnitude of either
/// level within `radius` cells of it along every axis of the torus: for
/// `radius` = k steps, never smaller than the term sum of any first-step
/// update in the cell's light cone, and as small as the cone is quiet.
///
/// A separable max filter (van Herk / Gil-Werman, three comparisons a cell
/// an axis whatever the radius), so a full-lattice comparison pays O(cells)
/// for it. Non-finite values weigh nothing: their cells are compared by kind.
pub fn cone_scales<T: Real>(
    lattice: &Lattice,
    previous: &[T],
    current: &[T],
    courant2: f64,
    radius: usize,
) -> Result<Vec<f64>, OracleError> {
    lattice.check_field("previous", previous)?;
    lattice.check_field("current", current)?;
    Ok(filtered_scales(
        lattice,
        &[previous, current],
        courant2,
        radius,
    ))
}

/// [`cone_scales`] over the expected output levels too (the oracle's
/// u^{n+k-1} and u^{n+k}, never the kernel's): the later steps' terms are
/// summed from values the steps before made, which can outgrow the inputs
/// (huge finite values beside each other, as the dojo's `mixed` waves put
/// them, add up to near the largest finite value), and a correct kernel
/// rounds them in its own order. The outputs bound those values where the
/// inputs do not; a quiet region stays quiet in both, so its cells are
/// still judged to their own scale.
pub fn cone_scales_through<T: Real>(
    lattice: &Lattice,
    inputs: [&[T]; 2],
    outputs: [&[T]; 2],
    courant2: f64,
    radius: usize,
) -> Result<Vec<f64>, OracleError> {
    for (name, field) in [
        ("previous", inputs[0]),
        ("current", inputs[1]),
        ("expected previous", outputs[0]),
        ("expected current", outputs[1]),
    ] {
        lattice.check_field(name, field)?;
    }
    let fields = [inputs[0], inputs[1], outputs[0], outputs[1]];
    Ok(filtered_scales(lattice, &fields, courant2, radius))
}

/// [`term_weight`] times, per cell, the largest finite magnitude of any of
/// `fields` within `radius` cells of it along every axis.
fn filtered_scales<T: Real>(
    lattice: &Lattice,
    fields: &[&[T]],
    courant2: f64,
    radius: usize,
) -> Vec<f64> {
    let mut largest: Vec<f64> = (0..lattice.cell_count())
        .map(|cell| {
            fields
                .iter()
                .map(|field| finite_magnitude(field[cell]))
                .fold(0.0, f64::max)
        })
        .collect();
    let mut line = Vec::new();
    let mut filtered = Vec::new();
    for (&extent, &stride) in lattice.extents().iter().zip(lattice.strides()) {
        let block = extent * stride;
        for start in (0..largest.len()).filter(|&x| x % block < stride) {
            line.clear();
            line.extend((0..extent).map(|i| largest[start + i * stride]));
            periodic_max_filter(&line, radius, &mut filtered);
            for (i, &value) in filtered.iter().enumerate() {
                largest[start + i * stride] = value;
            }
        }
    }
    let weight = term_weight(lattice.dims(), courant2);
    largest.into_iter().map(|m| weight * m).collect()
}

/// [`cone_scales`] at a few cells only, each from its own box of side
/// 2 `radius` + 1 (the whole lattice's filter when the boxes would cost more).
pub fn cone_scales_at_cells<T: Real>(
    lattice: &Lattice,
    previous: &[T],
    current: &[T],
    courant2: f64,
    radius: usize,
    cells: &[usize],
) -> Result<Vec<f64>, OracleError> {
    lattice.check_field("previous", previous)?;
    lattice.check_field("current", current)?;
    if let Some(&cell) = cells.iter().find(|&&cell| cell >= lattice.cell_count()) {
        return Err(OracleError::CellOutOfRange {
            cell,
            cell_count: lattice.cell_count(),
        });
    }
    let box_cells = (2 * radius + 1)
        .checked_pow(lattice.dims() as u32)
        .unwrap_or(usize::MAX);
    if cells.len().saturating_mul(box_cells) >= lattice.cell_count() {
        let all = cone_scales(lattice, previous, current, courant2, radius)?;
        return Ok(cells.iter().map(|&cell| all[cell]).collect());
    }
    let (extents, strides) = (lattice.extents(), lattice.strides());
    let weight = term_weight(lattice.dims(), courant2);
    let mut offsets = vec![0usize; lattice.dims()];
    Ok(cells
        .iter()
        .map(|&cell| {
            let mut largest = 0.0f64;
            for p in 0..box_cells {
                let mut rest = p;
                for axis in (0..offsets.len()).rev() {
                    offsets[axis] = rest % (2 * radius + 1);
                    rest /= 2 * radius + 1;
                }
                let x: usize = (0..offsets.len())
                    .map(|axis| {
                        let n = extents[axis];
                        let at = (cell / strides[axis]) % n;
                        ((at + offsets[axis] + n * radius - radius) % n) * strides[axis]
                    })
                    .sum();
                largest = largest
                    .max(finite_magnitude(previous[x]))
                    .max(finite_magnitude(current[x]));
            }
            weight * largest
        })
        .collect())
}

/// [`term_weight`] times the largest finite magnitude of a gathered cone
/// (both levels): the scale of the cell at its centre, for any number of
/// steps up to the cone's radius.
pub fn gathered_cone_scale<T: Real>(dims: usize, courant2: f64, older: &[T], newer: &[T]) -> f64 {
    let largest = older
        .iter()
        .chain(newer)
        .map(|&value| finite_magnitude(value))
        .fold(0.0, f64::max);
    term_weight(dims, courant2) * largest
}

fn finite_magnitude<T: Real>(value: T) -> f64 {
    let magnitude = value.magnitude();
    if magnitude.is_finite() {
        magnitude
    } else {
        0.0
    }
}

/// `out[i]` = the largest of `line[i - radius ..= i + radius]`, indices
/// wrapped onto the line.
fn periodic_max_filter(line: &[f64], radius: usize, out: &mut Vec<f64>) {
    let n = line.len();
    let width = 2 * radius + 1;
    out.clear();
    if width >= n {
        let all = line.iter().copied().fold(0.0, f64::max);
        out.resize(n, all);
        return;
    }
    // The line unrolled from i = -radius to n - 1 + radius; each window of
    // `width` spans at most two blocks of `width`, so its maximum is the
    // suffix maximum of the first block's part and the prefix of the second's.
    let unrolled: Vec<f64> = (0..n + 2 * radius)
        .map(|j| line[(j + n - radius) % n])
        .collect();
    let mut prefix = unrolled.clone();
    let mut suffix = unrolled.clone();
    for j in 1..unrolled.len() {
        if j % width != 0 {
            prefix[j] = prefix[j].max(prefix[j - 1]);
        }
    }
    for j in (0..unrolled.len() - 1).rev() {
        if j % width != width - 1 {
            suffix[j] = suffix[j].max(suffix[j + 1]);
        }
    }
    out.extend((0..n).map(|i| suffix[i].max(prefix[i + width - 1])));
}

#[cfg(test)]
mod tests {
    use super::{
        cone_scales, cone_scales_at_cells, cone_scales_through, gathered_cone_scale,
        periodic_max_filter,
    };
    use crate::Lattice;

    #[test]
    fn the_periodic_max_filter_wraps_and_matches_a_direct_window() {
        let line = [5.0, 0.0, 1.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0];
        let mut out = Vec::new();
        periodic_max_filter(&line, 1, &mut out);
        assert_eq!(out, [5.0, 5.0, 1.0, 1.0, 3.0, 3.0, 3.0, 0.0, 5.0]);
        periodic_max_filter(&line, 0, &mut out);
        assert_eq!(out, line);
        periodic_max_filter(&line, 4, &mut out);
        assert_eq!(out, [5.0; 9]);
        for radius in 0..6 {
            periodic_max_filter(&line, radius, &mut out);
            for (i, &got) in out.iter().enumerate() {
                let direct = (0..=2 * radius)
                    .map(|d| line[(i + 9 * 6 + d - radius) % 9])
                    .fold(0.0, f64::max);
                assert_eq!(got, direct, "radius {radius}, cell {i}");
            }
        }
    }

    #[test]
    fn the_expected_outputs_raise_a_cells_scale_within_the_cone_and_nowhere_else() {
        // 1-D, 9 cells, r^2 = 0.5: the weight is 3 + 4 * 0.5 = 5.
        let lattice = Lattice::new(&[9]).unwrap();
        let inputs = vec![1.0; 9];
        let mut later = vec![1.0; 9];
        later[4] = 1.0e300;
        let quiet = vec![0.0; 9];
        let through =
            cone_scales_through(&lattice, [&inputs, &inputs], [&quiet, &later], 0.5, 1).unwrap();
        let only_inputs = cone_scales(&lattice, &inputs, &inputs, 0.5, 1).unwrap();
        for cell in 0..9 {
            let expected = if (3..=5).contains(&cell) {
                5.0e300
            } else {
                5.0
            };
            assert_eq!(through[cell], expected, "cell {cell}");
            assert_eq!(only_inputs[cell], 5.0, "cell {cell}");
        }
        assert!(
            cone_scales_through(&lattice, [&inputs, &inputs], [&quiet, &inputs[..8]], 0.5, 1)
                .is_err()
        );
    }

    #[test]
    fn a_cell_is_scaled_by_the_largest_value_of_its_cone_in_either_level() {
        // 2-D, 5 x 7, r^2 = 0.25: the weight is 3 + 4 * 2 * 0.25 = 5.
        let lattice = Lattice::new(&[5, 7]).unwrap();
        let mut previous = vec![1.0e-9; 35];
        let mut current = vec![0.0; 35];
        previous[0] = -8.0; // cell (0, 0)
        current[2 * 7 + 4] = 2.0; // cell (2, 4)
        current[3] = f64::NAN; // weighs nothing
        let scales = cone_scales(&lattice, &previous, &current, 0.25, 1).unwrap();
        // (0, 0) sees itself; (4, 6) sees it across both wraps.
        assert_eq!(scales[0], 40.0);
        assert_eq!(scales[4 * 7 + 6], 40.0);
        // (1, 1) is within 1 of both (0, 0) and... only (0, 0).
        assert_eq!(scales[7 + 1], 40.0);
        // (3, 4) sees (2, 4) only; (3, 3) too; (2, 2) is 2 away from it.
        assert_eq!(scales[3 * 7 + 4], 10.0);
        assert_eq!(scales[3 * 7 + 3], 10.0);
        assert_eq!(scales[2 * 7 + 2], 5.0e-9);
        // Radius 2 reaches (2, 4) from (2, 2), and (0, 0) from (2, 2) too.
        let wider = cone_scales(&lattice, &previous, &current, 0.25, 2).unwrap();
        assert_eq!(wider[2 * 7 + 2], 40.0);
        let cells = [0, 7 + 1, 2 * 7 + 2, 3 * 7 + 4];
        let at = cone_scales_at_cells(&lattice, &previous, &current, 0.25, 1, &cells).unwrap();
        assert_eq!(at, [40.0, 40.0, 5.0e-9, 10.0]);
    }

    #[test]
    fn every_cell_of_a_wide_lattice_matches_its_box_taken_directly() {
        let lattice = Lattice::new(&[40, 9, 11]).unwrap();
        let field = |seed: u64| -> Vec<f64> {
            let mut x = seed;
            (0..lattice.cell_count())
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((x >> 11) as f64 / (1u64 << 53) as f64).powi(12)
                })
                .collect()
        };
        let (previous, current) = (field(3), field(4));
        let every: Vec<usize> = (0..lattice.cell_count()).step_by(7).collect();
        for radius in [1, 3, 5] {
            let all = cone_scales(&lattice, &previous, &current, 0.1, radius).unwrap();
            // A few cells at a time, so each is taken from its own box.
            for cells in every.chunks(2) {
                let direct =
                    cone_scales_at_cells(&lattice, &previous, &current, 0.1, radius, cells)
                        .unwrap();
                let filtered: Vec<f64> = cells.iter().map(|&cell| all[cell]).collect();
                assert_eq!(direct, filtered, "radius {radius}, cells {cells:?}");
            }
        }
    }

    #[test]
    fn a_gathered_cone_is_scaled_by_its_largest_finite_value() {
        let scale = gathered_cone_scale(3, 0.25, &[1.0, -4.0, f64::INFINITY], &[2.0f64, 0.5, 0.0]);
        assert_eq!(scale, 6.0 * 4.0);
        assert_eq!(gathered_cone_scale(1, 0.0, &[0.0f32], &[0.0f32]), 0.0);
    }
}
