//! Balanced nonary arithmetic: exhaustive laws on small numbers against
//! i128, and properties of random numbers up to 40 digits.

mod support;

use std::cmp::Ordering;

use ouroboros_oracle::nonary::{
    add, canonical, compare, from_i128, mul, neg, sub, to_i128, validate,
};
use ouroboros_oracle::OracleError;
use support::SplitMix64;

const SMALL: std::ops::RangeInclusive<i128> = -400..=400;
const SMALLER: std::ops::RangeInclusive<i128> = -150..=150;
const TINY: std::ops::RangeInclusive<i128> = -25..=25;

fn is_canonical(digits: &[i8]) -> bool {
    !digits.is_empty()
        && digits.iter().all(|d| (-4..=4).contains(d))
        && (digits == [0] || digits.last() != Some(&0))
}

fn value(digits: &[i8]) -> i128 {
    to_i128(digits).expect("fits in i128")
}

#[test]
fn known_values_are_little_endian_balanced_digits() {
    assert_eq!(from_i128(0), [0]);
    assert_eq!(from_i128(4), [4]);
    assert_eq!(from_i128(5), [-4, 1]);
    assert_eq!(from_i128(-5), [4, -1]);
    assert_eq!(from_i128(9), [0, 1]);
    assert_eq!(from_i128(40), [4, 4]);
    assert_eq!(from_i128(41), [-4, -4, 1]);
    assert_eq!(to_i128(&[1, -2, 3]), Some(1 - 18 + 243));
}

#[test]
fn round_trips_and_canonical_form_across_the_small_range() {
    for n in SMALL {
        let digits = from_i128(n);
        assert!(is_canonical(&digits), "{n}: {digits:?}");
        assert_eq!(to_i128(&digits), Some(n));
        assert_eq!(canonical(&digits), digits);
    }
}

#[test]
fn round_trips_at_the_ends_of_i128() {
    for n in [
        i128::MIN,
        i128::MIN + 1,
        i128::MAX,
        i128::MAX - 1,
        i128::MAX / 9,
        i128::MIN / 9,
    ] {
        let digits = from_i128(n);
        assert!(is_canonical(&digits));
        assert_eq!(to_i128(&digits), Some(n), "{n}");
    }
    // One more than the largest i128 does not fit.
    let beyond = add(&from_i128(i128::MAX), &[1]);
    assert_eq!(to_i128(&beyond), None);
    let below = sub(&from_i128(i128::MIN), &[1]);
    assert_eq!(to_i128(&below), None);
    assert_eq!(to_i128(&[4; 45]), None);
}

#[test]
fn non_canonical_inputs_are_accepted_and_outputs_are_canonical() {
    assert_eq!(canonical(&[]), [0]);
    assert_eq!(canonical(&[0, 0, 0]), [0]);
    assert_eq!(canonical(&[3, -1, 0, 0]), [3, -1]);
    assert_eq!(add(&[], &[]), [0]);
    assert_eq!(add(&[2, 0, 0], &[]), [2]);
    assert_eq!(neg(&[0, 0]), [0]);
    assert_eq!(sub(&[1, 1, 0], &[1, 1]), [0]);
    assert_eq!(mul(&[], &[3]), [0]);
    assert_eq!(mul(&[0, 0], &[3, 0]), [0]);
    assert_eq!(compare(&[1, 0, 0], &[1]), Ordering::Equal);
    assert_eq!(compare(&[], &[0]), Ordering::Equal);
    assert_eq!(compare(&[0, 0, 0], &[-1]), Ordering::Greater);
}

#[test]
fn add_sub_neg_compare_agree_with_integers_pairwise() {
    let numbers: Vec<(i128, Vec<i8>)> = SMALL.map(|n| (n, from_i128(n))).collect();
    for (a, da) in &numbers {
        let negated = neg(da);
        assert_eq!(value(&negated), -a);
        assert_eq!(neg(&negated), *da);
        assert_eq!(add(da, &negated), [0], "a + (-a) = 0 for {a}");
        for (b, db) in &numbers {
            let sum = add(da, db);
            assert!(is_canonical(&sum));
            assert_eq!(value(&sum), a + b, "{a} + {b}");
            assert_eq!(sum, add(db, da), "{a} + {b} commutes");
            let difference = sub(da, db);
            assert!(is_canonical(&difference));
            assert_eq!(value(&difference), a - b, "{a} - {b}");
            assert_eq!(compare(da, db), a.cmp(b), "compare({a}, {b})");
        }
    }
}

#[test]
fn mul_agrees_with_integers_pairwise() {
    let numbers: Vec<(i128, Vec<i8>)> = SMALLER.map(|n| (n, from_i128(n))).collect();
    for (a, da) in &numbers {
        for (b, db) in &numbers {
            let product = mul(da, db);
            assert!(is_canonical(&product));
            assert_eq!(value(&product), a * b, "{a} * {b}");
            assert_eq!(product, mul(db, da), "{a} * {b} commutes");
        }
    }
}

#[test]
fn associativity_and_distributivity_hold_on_all_small_triples() {
    let numbers: Vec<Vec<i8>> = TINY.map(from_i128).collect();
    for a in &numbers {
        for b in &numbers {
            let a_plus_b = add(a, b);
            let a_times_b = mul(a, b);
            for c in &numbers {
                assert_eq!(add(&a_plus_b, c), add(a, &add(b, c)));
                assert_eq!(mul(&a_times_b, c), mul(a, &mul(b, c)));
                assert_eq!(mul(a, &add(b, c)), add(&a_times_b, &mul(a, c)));
            }
        }
    }
}

/// Random digits, sometimes with extra high zeros (non-canonical).
fn random_digits(rng: &mut SplitMix64, max_len: usize) -> Vec<i8> {
    let len = rng.int(0, max_len);
    let mut digits: Vec<i8> = (0..len).map(|_| rng.int(0, 8) as i8 - 4).collect();
    if rng.int(0, 3) == 0 {
        digits.extend([0, 0]);
    }
    digits
}

#[test]
fn random_numbers_up_to_40_digits_agree_with_i128() {
    let mut rng = SplitMix64::new(8);
    for _ in 0..20_000 {
        // 40 balanced nonary digits stay below 9^40 / 2 < 2^126, so sums fit.
        let a = random_digits(&mut rng, 40);
        let b = random_digits(&mut rng, 40);
        let (va, vb) = (value(&a), value(&b));
        assert_eq!(value(&add(&a, &b)), va + vb);
        assert_eq!(value(&sub(&a, &b)), va - vb);
        assert_eq!(value(&neg(&a)), -va);
        assert_eq!(compare(&a, &b), va.cmp(&vb));
        assert_eq!(from_i128(va), canonical(&a));
        // 20 digits stay below 2^63, so products fit.
        let (a20, b20) = (random_digits(&mut rng, 20), random_digits(&mut rng, 20));
        assert_eq!(value(&mul(&a20, &b20)), value(&a20) * value(&b20));
    }
}

#[test]
fn random_numbers_up_to_40_digits_obey_the_ring_laws() {
    let mut rng = SplitMix64::new(9);
    for _ in 0..2_000 {
        let a = random_digits(&mut rng, 40);
        let b = random_digits(&mut rng, 40);
        let c = random_digits(&mut rng, 40);
        assert!(is_canonical(&mul(&a, &b)));
        assert_eq!(sub(&add(&a, &b), &b), canonical(&a));
        assert_eq!(add(&a, &neg(&a)), [0]);
        assert_eq!(mul(&a, &b), mul(&b, &a));
        assert_eq!(mul(&mul(&a, &b), &c), mul(&a, &mul(&b, &c)));
        assert_eq!(mul(&a, &add(&b, &c)), add(&mul(&a, &b), &mul(&a, &c)));
        assert_eq!(compare(&a, &b), compare(&sub(&a, &b), &[0]));
        assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
    }
}

#[test]
fn digits_outside_minus_four_to_four_are_rejected_with_their_place() {
    assert_eq!(validate("a", &[0, 4, -4, 1]), Ok(()));
    let error = validate("b", &[1, 2, 5, -9]).unwrap_err();
    assert_eq!(
        error,
        OracleError::NonaryDigit {
            array: "b",
            index: 2,
            value: 5
        }
    );
    assert_eq!(
        error.to_string(),
        "b[2] = 5: balanced nonary digits must be integers in -4..=4"
    );
    assert!(validate("a", &[-5]).is_err());
}
