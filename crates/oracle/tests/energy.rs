//! The discrete energy: a hand-computed value and conservation under
//! leapfrog to 1e-12 over 10^4 steps.

mod support;

use ouroboros_oracle::{energy, step, Lattice, OracleError, WaveParameters};
use support::SplitMix64;

#[test]
fn matches_the_hand_computation_on_a_ring_of_three() {
    let lattice = Lattice::new(&[3]).unwrap();
    let parameters = WaveParameters {
        c: 3.0,
        h: 2.0,
        dt: 0.5,
    };
    // kinetic: ((1, 0, -1) / 0.5)^2 sums to 8, halved to 4;
    // gradient: D+current = (0, 1, -1), D+previous = (1, 2, -3), products
    // sum to 5, times c^2 / (2 h^2) = 9/8 gives 45/8; h^1 = 2.
    let e = energy(&lattice, &[1.0, 2.0, 4.0], &[2.0, 2.0, 3.0], parameters).unwrap();
    assert_eq!(e, 2.0 * (4.0 + 45.0 / 8.0));
}

#[test]
fn includes_the_cell_volume() {
    let lattice = Lattice::new(&[3, 3, 3]).unwrap();
    let mut rng = SplitMix64::new(4);
    let previous = rng.field(27, 1.0);
    let current = rng.field(27, 1.0);
    let unit = WaveParameters {
        c: 1.0,
        h: 1.0,
        dt: 0.25,
    };
    let e1 = energy(&lattice, &previous, &current, unit).unwrap();
    // Doubling h and c keeps c / h, so only the volume h^3 changes; powers
    // of two scale exactly.
    let doubled = WaveParameters {
        c: 2.0,
        h: 2.0,
        dt: 0.25,
    };
    let e8 = energy(&lattice, &previous, &current, doubled).unwrap();
    assert_eq!(e8, 8.0 * e1);
}

#[test]
fn is_conserved_by_leapfrog_to_1e_12_over_10_000_steps() {
    const STEPS: usize = 10_000;
    const CHECKPOINTS: usize = 10;
    let lattices: [&[usize]; 4] = [&[64], &[16, 16], &[8, 8, 8], &[3; 9]];
    let mut rng = SplitMix64::new(5);
    for extents in lattices {
        let lattice = Lattice::new(extents).unwrap();
        let courant = 0.95 / (extents.len() as f64).sqrt();
        let parameters = WaveParameters {
            c: 1.0,
            h: 1.0,
            dt: courant,
        };
        let mut previous = rng.field(lattice.cell_count(), 1.0);
        let mut current = rng.field(lattice.cell_count(), 1.0);
        let initial = energy(&lattice, &previous, &current, parameters).unwrap();
        assert!(initial > 0.0);
        for checkpoint in 1..=CHECKPOINTS {
            let levels = step(
                &lattice,
                &previous,
                &current,
                courant * courant,
                STEPS / CHECKPOINTS,
            )
            .unwrap();
            (previous, current) = (levels.previous, levels.current);
            let e = energy(&lattice, &previous, &current, parameters).unwrap();
            let drift = (e - initial).abs() / initial;
            assert!(
                drift <= 1e-12,
                "extents {extents:?}, step {}: drift {drift:e}",
                checkpoint * STEPS / CHECKPOINTS
            );
        }
    }
}

#[test]
fn non_finite_fields_give_non_finite_energy() {
    let lattice = Lattice::new(&[4]).unwrap();
    let unit = WaveParameters {
        c: 1.0,
        h: 1.0,
        dt: 0.5,
    };
    let e = energy(&lattice, &[0.0; 4], &[0.0, f64::NAN, 0.0, 0.0], unit).unwrap();
    assert!(e.is_nan());
}

#[test]
fn fields_of_the_wrong_length_are_rejected() {
    let lattice = Lattice::new(&[3, 3]).unwrap();
    let unit = WaveParameters {
        c: 1.0,
        h: 1.0,
        dt: 0.5,
    };
    let error = energy(&lattice, &[0.0; 10], &[0.0; 9], unit).unwrap_err();
    assert!(matches!(
        error,
        OracleError::FieldLength {
            len: 10,
            expected: 9,
            ..
        }
    ));
}
