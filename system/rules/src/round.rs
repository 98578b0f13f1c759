//! Decimal rounding (SYSTEM-SPEC 8.1: `round2` rounds half away from zero
//! at two decimals).
//!
//! Most two- and three-decimal values have no exact binary form: `1.005` is
//! stored as 1.00499999999999989..., so rounding `x * 100.0` answers 1.0
//! where a person, a spreadsheet and the seed system (which worked on
//! decimal strings) answer 1.01. We therefore round the *shortest decimal
//! representation* of `x` — the digits `format!("{x}")` prints, which is
//! the number the user typed and JSON carried — and parse the result back.

use std::cmp::Ordering;

use crate::Mistakes;

/// How a value exactly halfway between two candidates is rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tie {
    AwayFromZero,
    Even,
}

/// Rounds half away from zero at 2 decimals, on the shortest decimal
/// representation: `round2(1.005) == 1.01`, `round2(-2.345) == -2.35`,
/// `round2(2.344999) == 2.34`. Non-finite input comes back unchanged; a
/// zero result is always `+0.0` (so JSON never shows `-0.0`).
pub fn round2(x: f64) -> f64 {
    round2_with(x, &Mistakes::NONE)
}

/// [`round2`] with deliberate mistakes: `round_half_even` sends ties to the
/// even neighbour (banker's rounding), the classic wrong default.
pub fn round2_with(x: f64, m: &Mistakes) -> f64 {
    let tie = if m.round_half_even {
        Tie::Even
    } else {
        Tie::AwayFromZero
    };
    round_decimal(x, 2, tie)
}

/// Rounds to an integer, half away from zero, on the shortest decimal
/// representation (the completeness score: 62.5 → 63).
pub fn round_half_away(x: f64) -> f64 {
    round_decimal(x, 0, Tie::AwayFromZero)
}

fn round_decimal(x: f64, places: usize, tie: Tie) -> f64 {
    if !x.is_finite() {
        return x;
    }
    // f64's Display never uses an exponent: it prints the shortest digits
    // that parse back to `x`, padded with zeros.
    let text = format!("{}", x.abs());
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    if frac_part.len() <= places {
        return positive_zero(x);
    }
    let (kept, dropped) = frac_part.split_at(places);
    let mut digits: Vec<u8> = int_part.bytes().chain(kept.bytes()).collect();
    let round_up = match dropped.as_bytes()[0].cmp(&b'5') {
        Ordering::Less => false,
        Ordering::Greater => true,
        Ordering::Equal if dropped[1..].bytes().any(|d| d != b'0') => true,
        Ordering::Equal => match tie {
            Tie::AwayFromZero => true,
            Tie::Even => digits.last().is_some_and(|d| (d - b'0') % 2 == 1),
        },
    };
    if round_up {
        increment(&mut digits);
    }
    let split = digits.len() - places;
    let mut rounded = String::with_capacity(digits.len() + 2);
    if x.is_sign_negative() {
        rounded.push('-');
    }
    rounded.extend(digits[..split].iter().map(|&d| char::from(d)));
    rounded.push('.');
    rounded.extend(digits[split..].iter().map(|&d| char::from(d)));
    rounded.push('0'); // "5." is valid Rust float syntax, but keep it obvious
    let value: f64 = rounded
        .parse()
        .unwrap_or_else(|e| unreachable!("{rounded:?} is a decimal number: {e}"));
    positive_zero(value)
}

/// Adds one to a string of ASCII decimal digits, growing it on carry-out.
fn increment(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

fn positive_zero(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn contract_examples() {
        assert_eq!(round2(1.005), 1.01);
        assert_eq!(round2(-2.345), -2.35);
        assert_eq!(round2(2.344999), 2.34);
        assert_eq!(round2(2.345), 2.35);
        assert_eq!(round2(0.125), 0.13);
        assert_eq!(round2(9.995), 10.0);
        assert_eq!(round2(-9.995), -10.0);
        assert_eq!(round2(99.999), 100.0);
        assert_eq!(round2(12.5), 12.5);
        assert_eq!(round2(7.0), 7.0);
        assert_eq!(round2(1e300), 1e300);
        assert_eq!(round2(1e-300), 0.0);
        assert!(round2(f64::NAN).is_nan());
        assert_eq!(round2(f64::INFINITY), f64::INFINITY);
        assert_eq!(round2(f64::NEG_INFINITY), f64::NEG_INFINITY);
    }

    #[test]
    fn zero_results_are_positive() {
        for x in [-0.0, -0.001, -0.004999, 0.0, 0.004] {
            let r = round2(x);
            assert_eq!(r, 0.0);
            assert!(r.is_sign_positive(), "round2({x}) = {r:?}");
        }
    }

    #[test]
    fn integer_rounding_is_half_away_from_zero() {
        assert_eq!(round_half_away(62.5), 63.0);
        assert_eq!(round_half_away(12.5), 13.0);
        assert_eq!(round_half_away(-12.5), -13.0);
        assert_eq!(round_half_away(66.66666666666667), 67.0);
        assert_eq!(round_half_away(0.49), 0.0);
        assert_eq!(round_half_away(99.5), 100.0);
    }

    #[test]
    fn half_even_mistake_changes_ties_only() {
        let even = Mistakes {
            round_half_even: true,
            ..Mistakes::NONE
        };
        assert_eq!(round2_with(1.005, &even), 1.0);
        assert_eq!(round2_with(1.015, &even), 1.02);
        assert_eq!(round2_with(-2.345, &even), -2.34);
        assert_eq!(round2_with(1.0051, &even), 1.01);
        assert_eq!(round2_with(2.344999, &even), 2.34);
    }

    /// A value given as an integer count of thousandths: the reference
    /// answer is integer arithmetic on the decimal digits.
    fn reference_round2(thousandths: i64) -> f64 {
        let sign = thousandths.signum();
        let abs = thousandths.abs();
        let cents = abs / 10 + i64::from(abs % 10 >= 5);
        (sign * cents) as f64 / 100.0
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn matches_decimal_arithmetic_on_three_decimals(t in -10_000_000_000i64..10_000_000_000) {
            let x: f64 = format!("{}", t as f64 / 1000.0).parse().unwrap();
            prop_assert_eq!(round2(x), reference_round2(t), "x = {}", x);
        }

        #[test]
        fn is_idempotent_and_close(x in -1e12f64..1e12) {
            let r = round2(x);
            prop_assert_eq!(round2(r), r);
            prop_assert!((r - x).abs() <= 0.005 + 1e-9 * x.abs().max(1.0), "{} -> {}", x, r);
        }

        #[test]
        fn keeps_the_sign_and_is_odd(x in -1e9f64..1e9) {
            prop_assert_eq!(round2(-x), -round2(x));
        }

        #[test]
        fn is_monotone(a in -1e9f64..1e9, b in -1e9f64..1e9) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(round2(lo) <= round2(hi));
        }

        #[test]
        fn any_finite_value_works(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            let r = round2(x);
            if x.is_finite() {
                prop_assert!(r.is_finite());
                prop_assert_eq!(round2(r), r);
            } else {
                prop_assert_eq!(r.to_bits() == x.to_bits(), true);
            }
        }
    }
}
