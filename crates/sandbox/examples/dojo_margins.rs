//! How close a kernel comes to the dojo's tolerance, per wave kind: over
//! the step waves of a seed, the largest |kernel - oracle| of a finite cell
//! over the tolerance the sandbox allows it, with each cell's scale from
//! its light cone in the inputs only (as before) and in the inputs and the
//! oracle's outputs (`cone_scales_through`, what the sandbox uses). A
//! correct kernel must stay well below 1. The kernel runs in this process,
//! unconfined: give it only a trusted module (a shipped kernel).
//!
//! cargo run --release -p ouroboros-sandbox --example dojo_margins -- \
//!     native/kernels/<target>/rows.so [waves, 12000] [seed, 1] [threads, 1]

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::path::Path;

use ouroboros_oracle::{cone_scales, cone_scales_through, step, Lattice};
use ouroboros_sandbox::abi::{Geometry, State, STATUS_OK};
use ouroboros_sandbox::differential::ULPS_PER_STEP;
use ouroboros_sandbox::dojo::{wave, Wave};
use ouroboros_sandbox::float::Float;
use ouroboros_sandbox::kernel::{Kernel, Library};
use ouroboros_sandbox::pool::Pool;
use ouroboros_sandbox::rng::Rng;

/// The worst margins of one wave: (inputs only, inputs and outputs).
fn margins<T: Float>(kernel: &Kernel, wave: &Wave) -> (f64, f64) {
    let lattice = Lattice::new(&wave.extents).expect("the dojo's extents are valid");
    let previous: Vec<T> = wave.previous.iter().map(|&v| T::from_f64(v)).collect();
    let current: Vec<T> = wave.current.iter().map(|&v| T::from_f64(v)).collect();
    let mut levels = [previous.clone(), previous.clone()];
    levels[wave.current_index as usize] = current.clone();
    let mut scratch = vec![T::default(); previous.len()];
    let geometry = Geometry::new(&wave.extents, T::PRECISION, wave.courant2);
    let [level0, level1] = &mut levels;
    let state = State {
        level: [
            level0.as_mut_ptr() as *mut c_void,
            level1.as_mut_ptr() as *mut c_void,
        ],
        scratch: scratch.as_mut_ptr() as *mut c_void,
        current: wave.current_index,
    };
    // SAFETY: every buffer holds the lattice's cells.
    let status = unsafe { kernel.wave_step(&geometry, &state, wave.steps) };
    assert_eq!(status, STATUS_OK, "{} wave: status {status}", wave.kind);
    let newest = ((u64::from(wave.current_index) + wave.steps) % 2) as usize;
    let expected = step(
        &lattice,
        &previous,
        &current,
        T::from_f64(wave.courant2),
        wave.steps as usize,
    )
    .expect("the oracle steps any wave");
    let radius = wave.steps as usize;
    let before = cone_scales(&lattice, &previous, &current, wave.courant2, radius).unwrap();
    let after = cone_scales_through(
        &lattice,
        [&previous, &current],
        [&expected.previous, &expected.current],
        wave.courant2,
        radius,
    )
    .unwrap();
    let per_scale = ULPS_PER_STEP * wave.steps as f64 * T::EPSILON;
    let mut worst = (0.0f64, 0.0f64);
    for (got, want) in [
        (&levels[newest], &expected.current),
        (&levels[1 - newest], &expected.previous),
    ] {
        for (cell, (&a, &e)) in got.iter().zip(want.iter()).enumerate() {
            if !e.is_finite() || !a.is_finite() {
                continue;
            }
            let error = (a.to_f64() - e.to_f64()).abs();
            let margin = |scale: f64| {
                let tolerance = per_scale * scale.max(e.to_f64().abs());
                if error == 0.0 {
                    0.0
                } else {
                    error / tolerance
                }
            };
            worst = (
                worst.0.max(margin(before[cell])),
                worst.1.max(margin(after[cell])),
            );
        }
    }
    worst
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let module = args
        .first()
        .expect("usage: dojo_margins <kernel.so> [waves] [seed] [threads]");
    let waves: usize = args
        .get(1)
        .map_or(12_000, |n| n.parse().expect("waves: an integer"));
    let seed: u64 = args
        .get(2)
        .map_or(1, |n| n.parse().expect("seed: an integer"));
    let threads: u32 = args
        .get(3)
        .map_or(1, |n| n.parse().expect("threads: an integer"));
    let pool = Pool::start(threads).expect("a pool");
    let kernel = Library::open(Path::new(module))
        .and_then(|library| library.bind(&pool))
        .expect("the kernel loads");
    let mut rng = Rng::new(seed);
    let mut worst: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for index in 0..waves {
        let wave = wave(index, &mut rng);
        let margin = if wave.f32 {
            margins::<f32>(&kernel, &wave)
        } else {
            margins::<f64>(&kernel, &wave)
        };
        let entry = worst.entry(wave.kind).or_default();
        *entry = (entry.0.max(margin.0), entry.1.max(margin.1));
    }
    println!("kind            inputs-only  inputs+outputs   ({waves} waves, seed {seed})");
    for (kind, (before, after)) in worst {
        println!("{kind:<15} {before:>11.4} {after:>15.4}");
    }
}
