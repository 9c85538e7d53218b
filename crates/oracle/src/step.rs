use crate::lattice::{wrap_next, wrap_prev};
use crate::{Lattice, OracleError, Real};

/// Two consecutive time levels of a field.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels<T> {
    /// The earlier level, u^{n-1}.
    pub previous: Vec<T>,
    /// The later level, u^n.
    pub current: Vec<T>,
}

/// Advances (previous, current) = (u^{n-1}, u^n) by `steps` leapfrog steps
/// and returns (u^{n+steps-1}, u^{n+steps}); zero steps returns copies.
///
/// Each step computes, for every cell x,
/// `u_next[x] = (2 u[x] - u_prev[x]) + r2 * L(u)[x]` where the Laplacian
/// `L(u)[x]` starts at zero and adds, for axes 0..N in order,
/// `(u[x + e_a] + u[x - e_a]) - 2 u[x]` with periodic neighbours, and
/// `r2 = (c dt / h)^2` is `courant2`. The kernels evaluate the same
/// expression in the same order, so results agree to a few ulps; there is no
/// fused multiply-add and no reassociation. NaN and infinity propagate.
pub fn step<T: Real>(
    lattice: &Lattice,
    previous: &[T],
    current: &[T],
    courant2: T,
    steps: usize,
) -> Result<Levels<T>, OracleError> {
    lattice.check_field("previous", previous)?;
    lattice.check_field("current", current)?;
    let mut older = previous.to_vec();
    let mut newer = current.to_vec();
    for _ in 0..steps {
        step_in_place(lattice, &mut older, &newer, courant2);
        std::mem::swap(&mut older, &mut newer);
    }
    Ok(Levels {
        previous: older,
        current: newer,
    })
}

/// [`step`], and the largest [`term_scale`] of the updates it made: the
/// magnitude a comparison with another evaluation order of the same steps
/// must scale its tolerance by.
pub fn step_with_term_scale<T: Real>(
    lattice: &Lattice,
    previous: &[T],
    current: &[T],
    courant2: T,
    steps: usize,
) -> Result<(Levels<T>, f64), OracleError> {
    lattice.check_field("previous", previous)?;
    lattice.check_field("current", current)?;
    let mut older = previous.to_vec();
    let mut newer = current.to_vec();
    let mut scale = 0.0f64;
    for _ in 0..steps {
        scale = scale.max(largest_term_sum(lattice, &older, &newer, courant2));
        step_in_place(lattice, &mut older, &newer, courant2);
        std::mem::swap(&mut older, &mut newer);
    }
    let levels = Levels {
        previous: older,
        current: newer,
    };
    Ok((levels, scale))
}

/// The largest, over the cells, of the sum of the absolute values of the
/// terms of one step's update of a cell,
/// `2 |u[x]| + |u_prev[x]| + |r2| sum_a (|u[x + e_a]| + |u[x - e_a]| + 2 |u[x]|)`.
///
/// The update is a sum of those terms, so any order of evaluating it that
/// rounds d times on the way from a term to the result is off by at most
/// about d units in the last place of this sum (Higham, Accuracy and
/// Stability of Numerical Algorithms, 4.2), whatever the result: where the
/// terms cancel (a standing wave near a node of its oscillation: terms of
/// 1, a result of 1e-3) two correct orders differ by ulps of the terms,
/// many ulps of the result. Cells with a non-finite term are left out
/// (their results are non-finite too, and are compared by kind); a sum of
/// finite terms beyond `f64::MAX` counts as `f64::MAX`.
pub fn term_scale<T: Real>(
    lattice: &Lattice,
    previous: &[T],
    current: &[T],
    courant2: T,
) -> Result<f64, OracleError> {
    lattice.check_field("previous", previous)?;
    lattice.check_field("current", current)?;
    Ok(largest_term_sum(lattice, previous, current, courant2))
}

fn largest_term_sum<T: Real>(lattice: &Lattice, previous: &[T], current: &[T], courant2: T) -> f64 {
    let row_len = lattice.row_len();
    let mut largest = 0.0f64;
    lattice.for_each_row(|row| {
        for i in 0..row_len {
            let x = row.start + i;
            let last = [
                current[row.start + wrap_next(i, row_len)],
                current[row.start + wrap_prev(i, row_len)],
            ];
            let outer = row
                .plus
                .iter()
                .zip(row.minus)
                .flat_map(|(&plus, &minus)| [current[plus + i], current[minus + i]]);
            let neighbours = last.into_iter().chain(outer);
            if let Some(sum) = term_sum(current[x], previous[x], neighbours, courant2) {
                largest = largest.max(sum);
            }
        }
    });
    largest
}

/// One update's sum of the magnitudes of its terms (see [`term_scale`]),
/// at most `f64::MAX`; `None` when a term is not finite.
pub(crate) fn term_sum<T: Real>(
    u: T,
    old: T,
    neighbours: impl Iterator<Item = T> + Clone,
    courant2: T,
) -> Option<f64> {
    let (mut around, mut count) = (0.0, 0.0);
    for value in neighbours.clone() {
        around += value.magnitude();
        count += 1.0;
    }
    let centre = u.magnitude();
    let sum = 2.0 * centre + old.magnitude() + courant2.magnitude() * (around + count * centre);
    if sum.is_finite() {
        return Some(sum);
    }
    // Magnitudes never cancel: an infinite or NaN sum has a non-finite term
    // or finite terms beyond f64::MAX.
    let finite = |value: T| value.magnitude() <= f64::MAX;
    let all_finite = finite(u) && finite(old) && neighbours.into_iter().all(finite);
    all_finite.then_some(f64::MAX)
}

/// Overwrites `previous_to_next` (u^{n-1}) with u^{n+1}.
///
/// In place is safe: u^{n+1}[x] reads u^{n-1} only at x itself. A row at a
/// time: each outer axis's term of the Laplacian in one pass over the row
/// into `lap`, then the last axis's term and the update in one more, so that
/// every pass is a plain loop over slices the compiler vectorises, with the
/// wrap of the last axis only at the row's two ends; each cell still sums
/// its terms in the order [`step`] documents (from zero, axes 0..N), so the
/// bits are those of the per-cell expression (`tests/step.rs` holds it).
fn step_in_place<T: Real>(
    lattice: &Lattice,
    previous_to_next: &mut [T],
    current: &[T],
    courant2: T,
) {
    let row_len = lattice.row_len();
    let last = row_len - 1;
    let mut lap = vec![T::ZERO; row_len];
    lattice.for_each_row(|row| {
        let u = &current[row.start..row.start + row_len];
        lap.fill(T::ZERO);
        for (&plus, &minus) in row.plus.iter().zip(row.minus) {
            let (up, down) = (
                &current[plus..plus + row_len],
                &current[minus..minus + row_len],
            );
            for (((l, &p), &m), &c) in lap.iter_mut().zip(up).zip(down).zip(u) {
                *l = *l + ((p + m) - T::TWO * c);
            }
        }
        let next = &mut previous_to_next[row.start..row.start + row_len];
        let update = |n: &mut T, c: T, l: T, p: T, m: T| {
            *n = (T::TWO * c - *n) + courant2 * (l + ((p + m) - T::TWO * c));
        };
        update(&mut next[0], u[0], lap[0], u[1], u[last]);
        let interior = next[1..last]
            .iter_mut()
            .zip(&u[1..last])
            .zip(&lap[1..last])
            .zip(&u[2..])
            .zip(&u[..last - 1]);
        for ((((n, &c), &l), &p), &m) in interior {
            update(n, c, l, p, m);
        }
        update(&mut next[last], u[last], lap[last], u[0], u[last - 1]);
    });
}
