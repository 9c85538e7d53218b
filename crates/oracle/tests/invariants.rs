//! The invariant report: each field for a healthy kernel, and each violation.

mod support;

use ouroboros_oracle::{
    check_invariants, energy, readout, shift, step, InvariantInput, Lattice, OracleError, Readout,
    WaveParameters,
};
use support::SplitMix64;

const EXTENTS: [usize; 3] = [3, 4, 5];
const PARAMETERS: WaveParameters = WaveParameters {
    c: 1.0,
    h: 1.0,
    dt: 0.5,
};

/// A state after some steps, with everything a correct kernel would report.
struct Healthy {
    previous: Vec<f64>,
    current: Vec<f64>,
    initial_energy: f64,
    readout: Vec<i8>,
    stepped: Vec<f64>,
    shifted_stepped: Vec<Vec<f64>>,
}

impl Healthy {
    fn new() -> Self {
        let lattice = Lattice::new(&EXTENTS).unwrap();
        let courant2 = (PARAMETERS.c * PARAMETERS.dt / PARAMETERS.h).powi(2);
        let mut rng = SplitMix64::new(7);
        let start_previous: Vec<f64> = rng.field(60, 1.0).iter().map(|v| 3.0 * v).collect();
        let start_current: Vec<f64> = rng.field(60, 1.0).iter().map(|v| 3.0 * v).collect();
        let initial_energy = energy(&lattice, &start_previous, &start_current, PARAMETERS).unwrap();
        let levels = step(&lattice, &start_previous, &start_current, courant2, 50).unwrap();
        let Readout::Digits(digits) = readout(&levels.current) else {
            panic!("the state is finite");
        };
        let stepped = step(&lattice, &levels.previous, &levels.current, courant2, 1)
            .unwrap()
            .current;
        let shifted_stepped = (0..EXTENTS.len())
            .map(|axis| {
                let previous = shift(&lattice, &levels.previous, axis, 1).unwrap();
                let current = shift(&lattice, &levels.current, axis, 1).unwrap();
                step(&lattice, &previous, &current, courant2, 1)
                    .unwrap()
                    .current
            })
            .collect();
        Self {
            previous: levels.previous,
            current: levels.current,
            initial_energy,
            readout: digits,
            stepped,
            shifted_stepped,
        }
    }

    /// The input with every probe given.
    fn input<'a>(&'a self, shifted_stepped: &'a [&'a [f64]]) -> InvariantInput<'a> {
        InvariantInput {
            extents: &EXTENTS,
            parameters: PARAMETERS,
            previous: &self.previous,
            current: &self.current,
            initial_energy: self.initial_energy,
            drift_tolerance: 1e-12,
            readout: Some(&self.readout),
            stepped: Some(&self.stepped),
            shifted_stepped: Some(shifted_stepped),
        }
    }

    fn shifted_views(&self) -> Vec<&[f64]> {
        self.shifted_stepped.iter().map(Vec::as_slice).collect()
    }
}

#[test]
fn a_correct_kernel_passes_every_check() {
    let healthy = Healthy::new();
    let views = healthy.shifted_views();
    let report = check_invariants(&healthy.input(&views)).unwrap();
    assert_eq!(report.violations, Vec::<String>::new());
    assert!(report.ok);
    assert!(report.energy_drift <= 1e-12);
    assert_eq!(report.initial_energy, healthy.initial_energy);
    assert_eq!(report.drift_tolerance, 1e-12);
    assert!(report.all_finite);
    assert_eq!(report.first_non_finite, None);
    assert_eq!(report.readout_in_range, Some(true));
    assert_eq!(report.readout_matches_oracle, Some(true));
    assert_eq!(report.wrap_exact, Some(true));
    assert_eq!(report.wrap_failed_axes, Vec::<usize>::new());
}

#[test]
fn checks_not_asked_for_are_none() {
    let healthy = Healthy::new();
    let input = InvariantInput {
        readout: None,
        stepped: None,
        shifted_stepped: None,
        ..healthy.input(&[])
    };
    let report = check_invariants(&input).unwrap();
    assert!(report.ok);
    assert_eq!(report.readout_in_range, None);
    assert_eq!(report.readout_matches_oracle, None);
    assert_eq!(report.wrap_exact, None);
    assert!(report.wrap_failed_axes.is_empty());
}

#[test]
fn energy_drift_beyond_tolerance_is_a_violation() {
    let healthy = Healthy::new();
    let views = healthy.shifted_views();
    let input = InvariantInput {
        initial_energy: healthy.initial_energy * 1.5,
        ..healthy.input(&views)
    };
    let report = check_invariants(&input).unwrap();
    assert!(!report.ok);
    assert!((report.energy_drift - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(report.violations.len(), 1);
    assert!(
        report.violations[0].starts_with("energy drift 3.33333333333"),
        "{}",
        report.violations[0]
    );
    assert!(report.violations[0].contains("exceeds tolerance 1e-12"));
}

#[test]
fn drift_from_zero_initial_energy_is_absolute() {
    let zeros = [0.0; 60];
    let mut current = [0.0; 60];
    current[0] = 0.5;
    let input = InvariantInput {
        extents: &EXTENTS,
        parameters: PARAMETERS,
        previous: &zeros,
        current: &current,
        initial_energy: 0.0,
        drift_tolerance: 10.0,
        readout: None,
        stepped: None,
        shifted_stepped: None,
    };
    let report = check_invariants(&input).unwrap();
    let lattice = Lattice::new(&EXTENTS).unwrap();
    assert_eq!(
        report.energy,
        energy(&lattice, &zeros, &current, PARAMETERS).unwrap()
    );
    assert_eq!(report.energy_drift, report.energy);
    assert!(report.ok);
}

#[test]
fn non_finite_values_are_found_in_current_first() {
    let mut healthy = Healthy::new();
    healthy.current[17] = f64::NAN;
    healthy.current[30] = f64::INFINITY;
    healthy.previous[2] = f64::INFINITY;
    let views = healthy.shifted_views();
    let report = check_invariants(&healthy.input(&views)).unwrap();
    assert!(!report.all_finite);
    assert_eq!(report.first_non_finite, Some(17));
    assert!(report.energy.is_nan() || report.energy.is_infinite());
    assert!(report
        .violations
        .iter()
        .any(|v| v == "current[17] = NaN is not finite"));
    assert_eq!(report.readout_matches_oracle, Some(false));
    assert!(!report.ok);

    let mut healthy = Healthy::new();
    healthy.previous[2] = f64::NEG_INFINITY;
    let views = healthy.shifted_views();
    let report = check_invariants(&healthy.input(&views)).unwrap();
    assert_eq!(report.first_non_finite, Some(2));
    assert!(report
        .violations
        .iter()
        .any(|v| v == "previous[2] = -inf is not finite"));
}

#[test]
fn the_same_infinity_in_both_levels_is_found_too() {
    // Its kinetic term is (inf - inf)^2 = NaN: the energy still says to look.
    let mut healthy = Healthy::new();
    healthy.previous[5] = f64::INFINITY;
    healthy.current[5] = f64::INFINITY;
    let views = healthy.shifted_views();
    let report = check_invariants(&healthy.input(&views)).unwrap();
    assert!(!report.all_finite);
    assert_eq!(report.first_non_finite, Some(5));
}

#[test]
fn readout_digits_out_of_range_or_different_are_violations() {
    let mut healthy = Healthy::new();
    healthy.readout[3] = 5;
    let views = healthy.shifted_views();
    let report = check_invariants(&healthy.input(&views)).unwrap();
    assert_eq!(report.readout_in_range, Some(false));
    assert_eq!(report.readout_matches_oracle, Some(false));
    assert!(report
        .violations
        .iter()
        .any(|v| v == "readout[3] = 5 is outside -4..=4"));
    assert!(report.violations.iter().any(
        |v| v.starts_with("readout differs from the oracle's in 1 cells, first readout[3] = 5")
    ));

    let mut healthy = Healthy::new();
    healthy.readout[10] = if healthy.readout[10] == 0 { 1 } else { 0 };
    let views = healthy.shifted_views();
    let report = check_invariants(&healthy.input(&views)).unwrap();
    assert_eq!(report.readout_in_range, Some(true));
    assert_eq!(report.readout_matches_oracle, Some(false));
    assert_eq!(report.violations.len(), 1);

    let healthy = Healthy::new();
    let views = healthy.shifted_views();
    let short = &healthy.readout[..59];
    let report = check_invariants(&InvariantInput {
        readout: Some(short),
        ..healthy.input(&views)
    })
    .unwrap();
    assert_eq!(report.readout_matches_oracle, Some(false));
    assert_eq!(
        report.violations,
        ["readout has 59 digits: the lattice has 60 cells"]
    );
}

#[test]
fn a_wrong_wrap_is_reported_per_axis_bit_for_bit() {
    let mut healthy = Healthy::new();
    // A sign-of-zero or one-ulp difference is a failure: the check is bitwise.
    healthy.shifted_stepped[1][7] = f64::from_bits(healthy.shifted_stepped[1][7].to_bits() ^ 1);
    healthy.shifted_stepped[2][0] = healthy.shifted_stepped[2][1];
    let views = healthy.shifted_views();
    let report = check_invariants(&healthy.input(&views)).unwrap();
    assert_eq!(report.wrap_exact, Some(false));
    assert_eq!(report.wrap_failed_axes, [1, 2]);
    assert_eq!(report.violations.len(), 2);
    assert!(report.violations[0].starts_with("wrap probe along axis 1"));
    assert!(report.violations[0].contains("first at cell 7"));
}

#[test]
fn identical_nan_bits_pass_the_wrap_probe() {
    let mut healthy = Healthy::new();
    healthy.stepped.fill(f64::NAN);
    for field in &mut healthy.shifted_stepped {
        field.fill(f64::NAN);
    }
    let views = healthy.shifted_views();
    let report = check_invariants(&healthy.input(&views)).unwrap();
    assert_eq!(report.wrap_exact, Some(true));
}

#[test]
fn malformed_input_is_an_error_naming_the_parameter() {
    let healthy = Healthy::new();
    let views = healthy.shifted_views();
    let short = &healthy.current[..59];
    let error = check_invariants(&InvariantInput {
        current: short,
        ..healthy.input(&views)
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "current has 59 values: the extents need exactly 60, one per cell"
    );

    let two_axes = &views[..2];
    let error = check_invariants(&healthy.input(two_axes)).unwrap_err();
    assert_eq!(error, OracleError::ShiftedSteppedCount { len: 2, dims: 3 });

    let mut wrong = views.clone();
    wrong[1] = short;
    let error = check_invariants(&healthy.input(&wrong)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "shiftedStepped[1] has 59 values: the extents need exactly 60, one per cell"
    );

    let error = check_invariants(&InvariantInput {
        shifted_stepped: None,
        ..healthy.input(&views)
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "stepped was given without shiftedStepped: pass both for the wrap probe, or neither"
    );

    let error = check_invariants(&InvariantInput {
        extents: &[3, 4, 2],
        ..healthy.input(&views)
    })
    .unwrap_err();
    assert_eq!(error, OracleError::ExtentTooSmall { axis: 2, extent: 2 });
}
