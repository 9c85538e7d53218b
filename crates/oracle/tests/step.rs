//! Leapfrog stepping: a hand-computed example, agreement with a plain
//! coordinate-based reference in every dimension, and the discrete
//! dispersion relation.

mod support;

use std::f64::consts::PI;

use ouroboros_oracle::{step, Lattice, OracleError, Real};
use support::{mixed_extents, SplitMix64};

/// One leapfrog step written the obvious way, from coordinates, as an
/// independent check of the oracle's row-wise traversal.
fn reference_step<T: Real>(
    extents: &[usize],
    previous: &[T],
    current: &[T],
    courant2: T,
) -> Vec<T> {
    let mut strides = vec![1; extents.len()];
    for axis in (0..extents.len() - 1).rev() {
        strides[axis] = strides[axis + 1] * extents[axis + 1];
    }
    (0..current.len())
        .map(|x| {
            let u = current[x];
            let mut lap = T::ZERO;
            for (&extent, &stride) in extents.iter().zip(&strides) {
                let coord = (x / stride) % extent;
                let base = x - coord * stride;
                let plus = base + (coord + 1) % extent * stride;
                let minus = base + (coord + extent - 1) % extent * stride;
                lap = lap + ((current[plus] + current[minus]) - T::TWO * u);
            }
            (T::TWO * u - previous[x]) + courant2 * lap
        })
        .collect()
}

#[test]
fn two_steps_of_a_spike_on_a_ring_match_the_hand_computation() {
    let lattice = Lattice::new(&[5]).unwrap();
    let previous = [0.0, 0.0, 0.0, 0.0, 0.0];
    let current = [1.0, 0.0, 0.0, 0.0, 0.0];
    let levels = step(&lattice, &previous, &current, 0.25, 2).unwrap();
    assert_eq!(levels.previous, [1.5, 0.25, 0.0, 0.0, 0.25]);
    assert_eq!(levels.current, [1.375, 0.75, 0.0625, 0.0625, 0.75]);

    let previous32 = [0.0f32; 5];
    let current32 = [1.0f32, 0.0, 0.0, 0.0, 0.0];
    let levels32 = step(&lattice, &previous32, &current32, 0.25f32, 2).unwrap();
    assert_eq!(levels32.current, [1.375f32, 0.75, 0.0625, 0.0625, 0.75]);
}

#[test]
fn zero_steps_returns_copies_of_the_inputs() {
    let lattice = Lattice::new(&[3, 4]).unwrap();
    let mut rng = SplitMix64::new(1);
    let previous = rng.field(12, 1.0);
    let current = rng.field(12, 1.0);
    let levels = step(&lattice, &previous, &current, 0.2, 0).unwrap();
    assert_eq!(levels.previous, previous);
    assert_eq!(levels.current, current);
}

#[test]
fn matches_the_coordinate_reference_bit_for_bit_in_every_dimension() {
    let mut rng = SplitMix64::new(2);
    for dims in 1..=9 {
        let extents = mixed_extents(dims);
        let lattice = Lattice::new(&extents).unwrap();
        let courant2 = 0.8 / dims as f64;
        let previous = rng.field(lattice.cell_count(), 1.0);
        let current = rng.field(lattice.cell_count(), 1.0);

        let mut expected = (previous.clone(), current.clone());
        for _ in 0..3 {
            let next = reference_step(&extents, &expected.0, &expected.1, courant2);
            expected = (expected.1, next);
        }
        let levels = step(&lattice, &previous, &current, courant2, 3).unwrap();
        assert_eq!(bits(&levels.previous), bits(&expected.0), "dims {dims}");
        assert_eq!(bits(&levels.current), bits(&expected.1), "dims {dims}");
    }
}

#[test]
fn f32_fields_are_stepped_in_f32_arithmetic() {
    let mut rng = SplitMix64::new(3);
    for dims in [1, 2, 3, 9] {
        let extents = mixed_extents(dims);
        let lattice = Lattice::new(&extents).unwrap();
        let courant2 = (0.8 / dims as f64) as f32;
        let previous: Vec<f32> = rng
            .field(lattice.cell_count(), 1.0)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let current: Vec<f32> = rng
            .field(lattice.cell_count(), 1.0)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let expected = reference_step(&extents, &previous, &current, courant2);
        let levels = step(&lattice, &previous, &current, courant2, 1).unwrap();
        assert_eq!(levels.previous, current);
        let actual: Vec<u32> = levels.current.iter().map(|v| v.to_bits()).collect();
        let wanted: Vec<u32> = expected.iter().map(|v| v.to_bits()).collect();
        assert_eq!(actual, wanted, "dims {dims}");
    }
}

#[test]
fn non_finite_values_spread_to_neighbours() {
    let lattice = Lattice::new(&[3, 3]).unwrap();
    let previous = [0.0; 9];
    let mut current = [0.0; 9];
    current[4] = f64::NAN;
    let levels = step(&lattice, &previous, &current, 0.25, 1).unwrap();
    // The centre and its four neighbours see the NaN; the corners do not.
    let nan_cells: Vec<usize> = (0..9).filter(|&x| levels.current[x].is_nan()).collect();
    assert_eq!(nan_cells, [1, 3, 4, 5, 7]);
    assert!([0, 2, 6, 8].iter().all(|&x| levels.current[x] == 0.0));
}

#[test]
fn fields_of_the_wrong_length_are_rejected() {
    let lattice = Lattice::new(&[3, 3]).unwrap();
    let error = step(&lattice, &[0.0; 9], &[0.0; 8], 0.25, 1).unwrap_err();
    assert_eq!(
        error,
        OracleError::FieldLength {
            name: "current".into(),
            len: 8,
            expected: 9
        }
    );
    assert_eq!(
        error.to_string(),
        "current has 8 values: the extents need exactly 9, one per cell"
    );
}

#[test]
fn standing_waves_follow_the_discrete_dispersion_relation() {
    let cases: [(&[usize], &[usize]); 4] = [
        (&[64], &[3]),
        (&[16, 12], &[1, 2]),
        (&[8, 10, 6], &[1, 2, 1]),
        (&[3, 4, 3, 3, 4, 3, 3, 4, 3], &[1, 1, 1, 1, 1, 1, 1, 1, 1]),
    ];
    const STEPS: usize = 1000;
    for (extents, modes) in cases {
        let lattice = Lattice::new(extents).unwrap();
        let dims = extents.len();
        let courant = 0.9 / (dims as f64).sqrt();
        let shape = standing_wave(extents, modes);
        // sin(w dt / 2) = r sqrt(sum_i sin^2(pi m_i / n_i))
        let spectral: f64 = extents
            .iter()
            .zip(modes)
            .map(|(&n, &m)| (PI * m as f64 / n as f64).sin().powi(2))
            .sum();
        let phase_per_step = 2.0 * (courant * spectral.sqrt()).asin();
        let previous: Vec<f64> = shape.iter().map(|s| phase_per_step.cos() * s).collect();
        let levels = step(&lattice, &previous, &shape, courant * courant, STEPS).unwrap();
        let amplitude = (STEPS as f64 * phase_per_step).cos();
        let max_error = levels
            .current
            .iter()
            .zip(&shape)
            .map(|(u, s)| (u - amplitude * s).abs())
            .fold(0.0, f64::max);
        assert!(
            max_error <= 1e-10,
            "extents {extents:?}: max error {max_error:e}"
        );
    }
}

/// `prod_i sin(2 pi m_i x_i / n_i)` on the lattice.
fn standing_wave(extents: &[usize], modes: &[usize]) -> Vec<f64> {
    let cell_count: usize = extents.iter().product();
    (0..cell_count)
        .map(|x| {
            let mut rest = x;
            let mut value = 1.0;
            for (&n, &m) in extents.iter().zip(modes).rev() {
                let coord = rest % n;
                rest /= n;
                value *= (2.0 * PI * (m * coord) as f64 / n as f64).sin();
            }
            value
        })
        .collect()
}

fn bits(field: &[f64]) -> Vec<u64> {
    field.iter().map(|v| v.to_bits()).collect()
}
