//! `step_at_cells` gives, bitwise, what a full `step` gives at those cells:
//! on lattices larger than the light cone (the patch path), on lattices the
//! cone wraps around, and where it falls back to the full step.

mod support;

use ouroboros_oracle::{
    cone_scales_at_cells, step, step_at_cells, step_cone_groups, step_cones, ConeGroup, Lattice,
    OracleError, Real,
};
use support::SplitMix64;

/// Steps random fields (drawn in f64, then rounded by `narrow` with r^2) in
/// full and at 24 drawn cells, and compares them there bitwise.
fn check_in<T: Real + Into<f64>>(
    extents: &[usize],
    steps: usize,
    seed: u64,
    narrow: fn(f64) -> T,
    label: &str,
) {
    let lattice = Lattice::new(extents).unwrap();
    let cells = lattice.cell_count();
    let mut rng = SplitMix64::new(seed);
    let previous: Vec<T> = rng.field(cells, 1.0).into_iter().map(narrow).collect();
    let current: Vec<T> = rng.field(cells, 1.0).into_iter().map(narrow).collect();
    let courant2 = narrow(0.9 / extents.len() as f64);
    let wanted: Vec<usize> = (0..24).map(|_| rng.int(0, cells - 1)).collect();
    let full = step(&lattice, &previous, &current, courant2, steps).unwrap();
    let sampled = step_at_cells(&lattice, &previous, &current, courant2, steps, &wanted).unwrap();
    for (&cell, &value) in wanted.iter().zip(&sampled) {
        // Widening f32 to f64 is exact, so equal f64 bits are equal f32 bits.
        let (got, expected): (f64, f64) = (value.into(), full.current[cell].into());
        assert_eq!(
            got.to_bits(),
            expected.to_bits(),
            "{label}extents {extents:?}, {steps} steps, cell {cell}"
        );
    }
}

fn check(extents: &[usize], steps: usize, seed: u64) {
    check_in(extents, steps, seed, |v| v, "");
}

#[test]
fn agrees_bitwise_with_the_full_step_through_the_light_cone() {
    for (extents, steps) in [
        (vec![4096], 1),
        (vec![4096], 5),
        (vec![61, 67], 1),
        (vec![61, 67], 3),
        (vec![17, 19, 23], 2),
        (vec![9, 8, 7, 6], 1),
    ] {
        check(&extents, steps, extents.len() as u64 * 31 + steps as u64);
    }
}

/// The same in f32: the fields and r^2 rounded to f32 first.
fn check_f32(extents: &[usize], steps: usize, seed: u64) {
    check_in(extents, steps, seed, |v| v as f32, "f32, ");
}

#[test]
fn a_batch_of_k_steps_agrees_bitwise_in_one_two_and_three_dimensions() {
    // The batch sizes the live runner uses: one step, two, an odd few, and
    // eight (a fused kernel's depth), on random lattices larger than the cone.
    for extents in [vec![997], vec![41, 37], vec![23, 21, 19]] {
        for steps in [1, 2, 3, 8] {
            let seed = 1000 + extents.len() as u64 * 17 + steps as u64;
            check(&extents, steps, seed);
            check_f32(&extents, steps, seed);
        }
    }
}

#[test]
fn agrees_where_the_cone_wraps_around_a_short_axis() {
    // Axis 0 has 3 cells, fewer than the cone's 7: the patch holds each of
    // them more than once.
    check(&[3, 101], 3, 7);
    check(&[5, 4, 211], 2, 8);
}

#[test]
fn agrees_where_it_falls_back_to_the_full_step() {
    check(&[3, 3, 3, 3, 3, 3, 3, 3, 3], 2, 9);
    check(&[5, 5], 4, 10);
}

#[test]
fn zero_steps_returns_the_current_level() {
    let lattice = Lattice::new(&[5, 6]).unwrap();
    let current: Vec<f32> = (0..30).map(|i| i as f32).collect();
    let values = step_at_cells(&lattice, &current, &current, 0.3, 0, &[4, 29]).unwrap();
    assert_eq!(values, vec![4.0, 29.0]);
}

#[test]
fn a_cell_outside_the_lattice_is_an_error_naming_it() {
    let lattice = Lattice::new(&[5, 6]).unwrap();
    let field = vec![0.0f64; 30];
    let error = step_at_cells(&lattice, &field, &field, 0.3, 1, &[3, 30]).unwrap_err();
    assert_eq!(
        error,
        OracleError::CellOutOfRange {
            cell: 30,
            cell_count: 30
        }
    );
    assert_eq!(
        error.to_string(),
        "cells contains 30: every cell index must be an integer in 0..30"
    );
}

#[test]
fn the_scale_of_sampled_cells_is_that_of_their_light_cones() {
    let lattice = Lattice::new(&[41, 41]).unwrap();
    let mut rng = SplitMix64::new(5);
    let (previous, mut current) = (rng.field(1681, 1.0), rng.field(1681, 1.0));
    // A spike at (20, 20); cell (20, 22) is within 2 steps of it, (0, 0) is not.
    current[20 * 41 + 20] = 1.0e6;
    let weight = 3.0 + 4.0 * 2.0 * 0.4;
    let scales =
        cone_scales_at_cells(&lattice, &previous, &current, 0.4, 2, &[20 * 41 + 22, 0]).unwrap();
    assert_eq!(scales[0], weight * 1.0e6);
    assert!(scales[1] > 0.0 && scales[1] <= weight, "{:e}", scales[1]);
    // Where it filters the whole lattice, each cell's scale is the same.
    let every: Vec<usize> = (0..1681).collect();
    let whole = cone_scales_at_cells(&lattice, &previous, &current, 0.4, 2, &every).unwrap();
    assert_eq!((whole[20 * 41 + 22], whole[0]), (scales[0], scales[1]));
}

/// The cone of `radius` around `cell`, gathered as the core's runner does:
/// row-major, last axis fastest, wrapped around the torus.
fn gather_cone(lattice: &Lattice, level: &[f64], cell: usize, radius: usize) -> Vec<f64> {
    let (extents, strides) = (lattice.extents(), lattice.strides());
    let side = 2 * radius + 1;
    let cone = side.pow(extents.len() as u32);
    (0..cone)
        .map(|p| {
            let mut place = cone;
            let mut flat = 0;
            for axis in 0..extents.len() {
                place /= side;
                let local = p / place % side;
                let centre = cell / strides[axis] % extents[axis];
                let n = extents[axis];
                flat += (centre + local + n * radius - radius) % n * strides[axis];
            }
            level[flat]
        })
        .collect()
}

#[test]
fn stepping_gathered_cones_gives_what_step_at_cells_gives_for_any_steps_up_to_the_radius() {
    for (extents, radius) in [(vec![61, 67], 4), (vec![17, 19, 23], 2), (vec![5, 4], 3)] {
        let lattice = Lattice::new(&extents).unwrap();
        let cells = lattice.cell_count();
        let mut rng = SplitMix64::new(radius as u64 + 7);
        let previous = rng.field(cells, 1.0);
        let current = rng.field(cells, 1.0);
        let courant2 = 0.9 / extents.len() as f64;
        let wanted: Vec<usize> = (0..9).map(|_| rng.int(0, cells - 1)).collect();
        let gather = |level: &[f64]| -> Vec<f64> {
            wanted
                .iter()
                .flat_map(|&cell| gather_cone(&lattice, level, cell, radius))
                .collect()
        };
        let (older, newer) = (gather(&previous), gather(&current));
        for steps in 0..=radius {
            let (values, scales) =
                step_cones(extents.len(), radius, &older, &newer, courant2, steps).unwrap();
            let expected =
                step_at_cells(&lattice, &previous, &current, courant2, steps, &wanted).unwrap();
            for (i, (&got, &want)) in values.iter().zip(&expected).enumerate() {
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "extents {extents:?}, radius {radius}, {steps} steps, cell {}",
                    wanted[i]
                );
            }
            // Each centre's scale is its gathered cone's: the box of the radius around it.
            let boxes =
                cone_scales_at_cells(&lattice, &previous, &current, courant2, radius, &wanted)
                    .unwrap();
            assert_eq!(scales, boxes);
        }
    }
}

#[test]
fn step_cones_refuses_more_steps_than_the_radius_and_partial_cones() {
    let cone = vec![0.0; 9];
    assert_eq!(
        step_cones(2, 1, &cone, &cone, 0.3, 2).unwrap_err(),
        OracleError::ConeTooNarrow {
            steps: 2,
            radius: 1
        }
    );
    let error = step_cones(2, 1, &cone[..8], &cone[..8], 0.3, 1).unwrap_err();
    assert!(error
        .to_string()
        .starts_with("older has 8 values: cones of radius 1 in 2 dimensions hold 9 values each"));
}

#[test]
fn a_batch_of_cone_groups_gives_what_each_group_gives_alone() {
    let extents = vec![61, 67];
    let lattice = Lattice::new(&extents).unwrap();
    let mut rng = SplitMix64::new(41);
    let previous = rng.field(lattice.cell_count(), 1.0);
    let current = rng.field(lattice.cell_count(), 1.0);
    let courant2 = 0.45;
    // Probes of batches of different lengths, one of them cut short of its radius, one of a single cell.
    let groups = [
        ConeGroup {
            count: 5,
            radius: 3,
            steps: 3,
        },
        ConeGroup {
            count: 1,
            radius: 1,
            steps: 1,
        },
        ConeGroup {
            count: 4,
            radius: 4,
            steps: 2,
        },
    ];
    let (mut older, mut newer) = (Vec::new(), Vec::new());
    let (mut values, mut scales) = (Vec::new(), Vec::new());
    for group in groups {
        let cells: Vec<usize> = (0..group.count)
            .map(|_| rng.int(0, lattice.cell_count() - 1))
            .collect();
        let old: Vec<f64> = cells
            .iter()
            .flat_map(|&c| gather_cone(&lattice, &previous, c, group.radius))
            .collect();
        let new: Vec<f64> = cells
            .iter()
            .flat_map(|&c| gather_cone(&lattice, &current, c, group.radius))
            .collect();
        let (v, s) = step_cones(2, group.radius, &old, &new, courant2, group.steps).unwrap();
        values.extend(v);
        scales.extend(s);
        older.extend(old);
        newer.extend(new);
    }
    let (batched, batched_scales) = step_cone_groups(2, &groups, &older, &newer, courant2).unwrap();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&batched), bits(&values));
    assert_eq!(batched_scales, scales);
    // One value short of the groups' cones, or a group stepped past its radius: an error naming it.
    let error = step_cone_groups(2, &groups, &older[1..], &newer[1..], courant2).unwrap_err();
    assert_eq!(
        error,
        OracleError::ConeGroupsLength {
            name: "older",
            len: older.len() - 1,
            expected: older.len()
        }
    );
    let too_far = [ConeGroup {
        count: 5,
        radius: 3,
        steps: 4,
    }];
    let span = 5 * 49;
    assert_eq!(
        step_cone_groups(2, &too_far, &older[..span], &newer[..span], courant2).unwrap_err(),
        OracleError::ConeTooNarrow {
            steps: 4,
            radius: 3
        }
    );
}
