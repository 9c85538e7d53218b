//! Times the oracle's plain steps and its whole-lattice check at the live
//! size, as the sandbox's full-state check and the watchdog's full check
//! run them: `cargo run --release -p ouroboros-oracle --example step_timing
//! [extent] [steps] [runs]` (default 4096 8 3). Prints each run's wall
//! time; on a shared machine read them beside the load (`uptime`).

use std::time::Instant;

use ouroboros_oracle::{check_step, step, Lattice, SplitMix64};

fn argument(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .map_or(default, |text| text.parse().expect("a whole number"))
}

fn main() {
    let (extent, steps, runs) = (argument(1, 4096), argument(2, 8), argument(3, 3));
    let lattice = Lattice::new(&[extent, extent]).expect("a valid lattice");
    let mut rng = SplitMix64::new(7);
    let previous = rng.field(lattice.cell_count(), 1.0);
    let current = rng.field(lattice.cell_count(), 1.0);
    let courant2 = 0.3;
    let expected = step(&lattice, &previous, &current, courant2, steps).expect("stepped");
    for run in 0..runs {
        let started = Instant::now();
        let stepped = step(&lattice, &previous, &current, courant2, steps).expect("stepped");
        let step_s = started.elapsed().as_secs_f64();
        assert!(stepped == expected, "the steps are deterministic");
        let started = Instant::now();
        let mismatch = check_step(
            &lattice,
            &previous,
            &current,
            courant2,
            steps,
            &expected.current,
            4.0,
            f64::EPSILON,
        )
        .expect("checked");
        let check_s = started.elapsed().as_secs_f64();
        assert!(mismatch.is_none(), "the oracle agrees with itself");
        println!(
            "run {run}: {extent}^2 f64, {steps} steps: step {step_s:.2} s, check_step {check_s:.2} s"
        );
    }
}
