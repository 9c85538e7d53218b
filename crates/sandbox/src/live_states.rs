//! States of the live kind for the live lattice's cases. A job starts from a
//! smooth field, a Gaussian pulse at rest (both levels equal,
//! `ts/lattice/initial-conditions.ts`), and its field stays smooth, while
//! the other phases' states are independent uniform draws and the dojo's
//! smooth waves lie on small lattices. A kernel that tells the two kinds
//! apart by their content (neighbours close, the levels equal) and cheats
//! only on the smooth kind passed every other case
//! (`tests/fixtures/hostile/freezes-smooth-fields.cpp`).

use std::f64::consts::PI;

use crate::rng::Rng;

/// What a live case starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveState {
    /// Independent uniform values in [-1, 1) on both levels.
    Random,
    /// A Gaussian pulse, centre, widths and amplitude drawn, at rest.
    PulseAtRest,
    /// A Gaussian pulse a 32nd of each extent wide (at least a cell), centre
    /// and amplitude drawn, at rest: most of the lattice is its far field,
    /// many orders of magnitude below the peak, where a kernel judged
    /// against the peak could err by ulps of it.
    NarrowPulse,
    /// A standing wave of a low mode (1 to 3 periods an axis) at its
    /// discrete eigenfrequency, phases and amplitude drawn, moving.
    StandingWave,
}

impl LiveState {
    pub fn label(self) -> &'static str {
        match self {
            LiveState::Random => "a random state",
            LiveState::PulseAtRest => "a Gaussian pulse at rest",
            LiveState::NarrowPulse => "a narrow Gaussian pulse at rest",
            LiveState::StandingWave => "a low standing wave",
        }
    }

    /// Both levels, (previous, current), on `extents` at `courant2`.
    pub fn draw(self, extents: &[usize], courant2: f64, rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
        let cells = extents.iter().product();
        match self {
            LiveState::Random => (rng.field(cells, 1.0), rng.field(cells, 1.0)),
            LiveState::PulseAtRest => {
                let current = pulse(extents, (1.0 / 16.0, 0.25), rng);
                (current.clone(), current)
            }
            LiveState::NarrowPulse => {
                let current = pulse(extents, (1.0 / 32.0, 1.0 / 32.0), rng);
                (current.clone(), current)
            }
            LiveState::StandingWave => standing_wave(extents, courant2, rng),
        }
    }
}

/// The longest batch the live runner makes by default (`BatchOptions::max_steps`, `lattice.maxBatchSteps`):
/// the runner's `--max-batch-steps` when not given.
pub const DEFAULT_LONGEST_BATCH: u64 = 64;

/// One of the live lattice's cases: what it starts from, `calls` calls of
/// `steps` steps, and whether it keeps the live r^2 (random starts draw one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveCase {
    pub state: LiveState,
    pub calls: u32,
    pub steps: u64,
}

impl LiveCase {
    /// Whether the case runs at the live r^2 when one is given: the states
    /// of the live kind do, as a job runs; random starts draw their own.
    pub fn keeps_live_courant(&self) -> bool {
        self.state != LiveState::Random
    }

    /// What the case is, for its report line.
    pub fn label(&self) -> String {
        match (self.state, self.calls, self.steps) {
            (LiveState::Random, calls, 1) => format!("{calls} single-step calls"),
            (LiveState::Random, 1, steps) => format!("one call of {steps} steps"),
            (LiveState::Random, calls, steps) => format!("{calls} calls of {steps} steps"),
            (state, calls, steps) => format!("{}, {calls} calls of {steps} steps", state.label()),
        }
    }
}

/// The live lattice's cases for `steps_per_call` (k) live steps a call and
/// `longest` steps in the longest live batch, counts drawn from `rng`: from
/// random states, 2-5 single-step calls, one call of 2-5 steps, 2-3 calls of
/// k (when k > 1) and one of k + 1 (the other parity); then from states of
/// the live kind, 2-3 calls of k from a pulse at rest, one call of k from a
/// narrow pulse (a quiet far field, each cell judged to its own scale) and
/// one of k + 1 on a standing wave; then, while k + 1 is below the longest
/// batch, one longer call from a random state (`long_batch`).
pub fn live_cases(steps_per_call: u64, longest: u64, rng: &mut Rng) -> Vec<LiveCase> {
    let case = |state, calls, steps| LiveCase {
        state,
        calls,
        steps,
    };
    let mut cases = vec![
        case(LiveState::Random, rng.int(2, 5) as u32, 1),
        case(LiveState::Random, 1, rng.int(2, 5) as u64),
    ];
    if steps_per_call > 1 {
        cases.push(case(
            LiveState::Random,
            rng.int(2, 3) as u32,
            steps_per_call,
        ));
    }
    cases.extend([
        case(LiveState::Random, 1, steps_per_call + 1),
        case(LiveState::PulseAtRest, rng.int(2, 3) as u32, steps_per_call),
        case(LiveState::NarrowPulse, 1, steps_per_call),
        case(LiveState::StandingWave, 1, steps_per_call + 1),
    ]);
    if let Some(steps) = long_batch(steps_per_call, longest, rng) {
        cases.push(case(LiveState::Random, 1, steps));
    }
    cases
}

/// The one call longer than the judged k + 1 that an evaluation makes, when
/// the longest live batch is longer: 2k, a count drawn beyond k + 1, or the
/// longest, one of the three drawn alike (capped at the longest).
///
/// Live, the batch sizer tries 2k once k is what the latency allows, keeps it
/// when the time per step falls, and goes on to 4k ... up to the longest, and
/// a faster module fits more steps in the latency than the one it was judged
/// against; so a kernel that does no work on longer calls makes the sizer
/// grow them at once (`skips-long-batches`). All three calls in every
/// evaluation cost the kernel about 2k + 97 steps at the live size, most of a
/// live-size evaluation: issue 15's net throughput lost its margins to them.
/// One of them, which the kernel cannot know in advance, costs a third on
/// average; a kernel that cheats on every call of some length or more is
/// stopped whenever the draw reaches it (always, when that length is at most
/// 2k), one that cheats at a single length between is left to the live
/// watchdog more often than before.
pub fn long_batch(steps_per_call: u64, longest: u64, rng: &mut Rng) -> Option<u64> {
    if steps_per_call + 1 >= longest {
        return None;
    }
    let steps = match rng.int(0, 2) {
        0 => 2 * steps_per_call,
        1 => rng.int(steps_per_call as usize + 2, longest as usize) as u64,
        _ => longest,
    };
    Some(steps.min(longest))
}

/// `amplitude` times the product over axes of `factors[axis][x_axis]`, for
/// every cell in row-major order (the last axis fastest): both kinds are
/// separable, so a 4096^2 lattice costs a product per cell, not an `exp`.
fn separable(extents: &[usize], factors: &[Vec<f64>], amplitude: f64) -> Vec<f64> {
    let mut field = vec![amplitude];
    for (extent, factor) in extents.iter().zip(factors) {
        let mut next = Vec::with_capacity(field.len() * extent);
        for &outer in &field {
            next.extend(factor.iter().map(|f| outer * f));
        }
        field = next;
    }
    field
}

/// A Gaussian of a width between `widths` (fractions of each extent; the
/// main job's is 1/8), at least a cell, around a drawn centre, with the distance taken around the torus so
/// that the field is smooth across the wrap too.
fn pulse(extents: &[usize], widths: (f64, f64), rng: &mut Rng) -> Vec<f64> {
    let amplitude = rng.range(0.5, 4.0);
    let factors: Vec<Vec<f64>> = extents
        .iter()
        .map(|&n| {
            let n = n as f64;
            let centre = rng.range(0.0, n);
            let width = (n * rng.range(widths.0, widths.1)).max(1.0);
            (0..n as usize)
                .map(|x| {
                    let along = (x as f64 - centre).abs();
                    let distance = along.min(n - along) / width;
                    (-distance * distance / 2.0).exp()
                })
                .collect()
        })
        .collect();
    separable(extents, &factors, amplitude)
}

/// prod cos(k_a x_a + phase_a), k_a = 2 pi m_a / n_a with m_a in 1..=3, at
/// its discrete eigenfrequency sin(w dt / 2) = r sqrt(sum sin^2(k_a / 2)),
/// so the previous level is the current one times cos(w dt).
fn standing_wave(extents: &[usize], courant2: f64, rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
    let amplitude = rng.range(0.5, 4.0);
    let mut sum = 0.0;
    let factors: Vec<Vec<f64>> = extents
        .iter()
        .map(|&n| {
            let wavenumber = 2.0 * PI * rng.int(1, (n / 2).min(3)) as f64 / n as f64;
            let phase = rng.range(0.0, 2.0 * PI);
            sum += (wavenumber / 2.0).sin().powi(2);
            (0..n)
                .map(|x| (wavenumber * x as f64 + phase).cos())
                .collect()
        })
        .collect();
    let current = separable(extents, &factors, amplitude);
    let omega_dt = 2.0 * (courant2.sqrt() * sum.sqrt()).min(1.0).asin();
    let previous = current.iter().map(|u| u * omega_dt.cos()).collect();
    (previous, current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattices::coords;

    /// The largest difference between neighbours along any axis, wrap included, over the largest magnitude.
    fn roughness(extents: &[usize], field: &[f64]) -> f64 {
        let largest = field.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut jump = 0.0f64;
        for (cell, value) in field.iter().enumerate() {
            let at = coords(extents, cell);
            for axis in 0..extents.len() {
                let mut next = at.clone();
                next[axis] = (at[axis] + 1) % extents[axis];
                let neighbour = crate::lattices::flat(extents, &next);
                jump = jump.max((field[neighbour] - value).abs());
            }
        }
        jump / largest
    }

    #[test]
    fn the_live_kinds_are_smooth_across_the_wrap_where_random_states_are_not() {
        let mut rng = Rng::new(3);
        let extents = [97, 64];
        for _ in 0..20 {
            let (previous, current) = LiveState::PulseAtRest.draw(&extents, 0.3, &mut rng);
            assert_eq!(previous, current);
            // A width of at least 64 / 16 cells: neighbours differ by at most 0.61 / 4 of the peak.
            assert!(
                roughness(&extents, &current) < 0.16,
                "{}",
                roughness(&extents, &current)
            );
            let (previous, current) = LiveState::StandingWave.draw(&extents, 0.3, &mut rng);
            assert_ne!(previous, current);
            // At most 3 periods over 64 cells: neighbours differ by at most 2 pi 3 / 64 of the peak.
            assert!(
                roughness(&extents, &current) < 0.3,
                "{}",
                roughness(&extents, &current)
            );
        }
        let (_, current) = LiveState::Random.draw(&extents, 0.3, &mut rng);
        assert!(roughness(&extents, &current) > 0.9);
    }

    #[test]
    fn a_narrow_pulse_leaves_most_of_the_lattice_far_below_its_peak() {
        let mut rng = Rng::new(7);
        for extents in [vec![256], vec![64, 48], vec![16, 16, 16]] {
            let (previous, current) = LiveState::NarrowPulse.draw(&extents, 0.3, &mut rng);
            assert_eq!(previous, current);
            let peak = current.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let quiet = current.iter().filter(|v| v.abs() < 1.0e-12 * peak).count();
            assert!(
                quiet * 2 > current.len(),
                "{extents:?}: {quiet} quiet cells"
            );
        }
    }

    #[test]
    fn an_evaluation_makes_one_long_call_of_2k_a_drawn_count_or_the_longest() {
        let mut rng = Rng::new(11);
        let (mut doubled, mut drawn, mut longest) = (0, 0, 0);
        for _ in 0..300 {
            let cases = live_cases(4, 64, &mut rng);
            let long: Vec<u64> = cases.iter().map(|c| c.steps).filter(|&s| s > 5).collect();
            assert_eq!(long.len(), 1, "{cases:?}");
            match long[0] {
                8 => doubled += 1,
                64 => longest += 1,
                steps => {
                    assert!((6..=64).contains(&steps), "{steps}");
                    drawn += 1;
                }
            }
        }
        // One of three alike (the drawn count can land on 8 or 64 too).
        for count in [doubled, drawn, longest] {
            assert!((70..=130).contains(&count), "{doubled} {drawn} {longest}");
        }
    }

    #[test]
    fn the_long_call_follows_the_live_runners_longest_batch() {
        let mut rng = Rng::new(12);
        let longest: Vec<u64> = (0..200)
            .filter_map(|_| long_batch(8, 256, &mut rng))
            .collect();
        assert_eq!(longest.len(), 200);
        assert!(longest.iter().all(|&steps| (10..=256).contains(&steps)));
        assert!(longest.contains(&256) && longest.contains(&16));
        // 2k above the longest is cut to it; no longer call when k + 1 already reaches it.
        assert!(
            (0..50).all(|_| long_batch(40, 64, &mut rng).is_some_and(|s| (42..=64).contains(&s)))
        );
        assert_eq!(long_batch(63, 64, &mut rng), None);
        assert_eq!(long_batch(1, 2, &mut rng), None);
    }

    #[test]
    fn the_separable_field_is_row_major_with_the_last_axis_fastest() {
        let field = separable(&[2, 3], &[vec![1.0, 2.0], vec![1.0, 10.0, 100.0]], 0.5);
        assert_eq!(field, vec![0.5, 5.0, 50.0, 1.0, 10.0, 100.0]);
    }

    #[test]
    fn the_standing_wave_is_a_discrete_eigenmode_so_the_oracle_keeps_its_shape() {
        let extents = [24, 18];
        let courant2 = 0.3;
        let (previous, current) =
            LiveState::StandingWave.draw(&extents, courant2, &mut Rng::new(5));
        let lattice = ouroboros_oracle::Lattice::new(&extents).unwrap();
        let next = ouroboros_oracle::step(&lattice, &previous, &current, courant2, 1).unwrap();
        // An eigenmode stays proportional to itself: u^{n+1} = 2 cos(w dt) u^n - u^{n-1}, the same shape.
        let peak = (0..current.len())
            .max_by(|&a, &b| current[a].abs().total_cmp(&current[b].abs()))
            .unwrap();
        let ratio = next.current[peak] / current[peak];
        for (stepped, start) in next.current.iter().zip(&current) {
            assert!(
                (stepped - ratio * start).abs() < 1e-12,
                "{stepped} against {}",
                ratio * start
            );
        }
    }
}
