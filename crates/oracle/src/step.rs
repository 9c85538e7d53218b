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
