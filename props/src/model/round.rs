//! Decimal rounding as the spec defines it: half away from zero, applied to
//! the shortest decimal representation of the number (what `{}` prints),
//! not to its binary value. So `1.005` (binary 1.00499999999999989…) rounds
//! to `1.01`, because the number the user typed is 1.005.

/// Rounds half away from zero at 2 decimals; non-finite input is returned
/// unchanged.
pub fn round2(x: f64) -> f64 {
    round_decimal(x, 2)
}

/// Rounds half away from zero to an integer, same tie rule.
pub fn round_half_away(x: f64) -> f64 {
    round_decimal(x, 0)
}

fn round_decimal(x: f64, places: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    // Rust's `Display` for f64 prints the shortest representation that
    // parses back to the same value, never in exponent notation.
    let text = format!("{x}");
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int_part, frac_part) = magnitude.split_once('.').unwrap_or((magnitude, ""));
    if frac_part.len() <= places {
        return x;
    }
    let mut digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes().take(places))
        .map(|b| b - b'0')
        .collect();
    let next = frac_part.as_bytes()[places] - b'0';
    if next >= 5 {
        // Carry from the last kept digit up.
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let int_len = digits.len() - places;
    let mut out = String::with_capacity(digits.len() + 2);
    if negative {
        out.push('-');
    }
    for d in &digits[..int_len] {
        out.push((b'0' + d) as char);
    }
    if places > 0 {
        out.push('.');
        for d in &digits[int_len..] {
            out.push((b'0' + d) as char);
        }
    }
    out.parse().expect("digits form a number")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_examples() {
        assert_eq!(round2(1.005), 1.01);
        assert_eq!(round2(-2.345), -2.35);
        assert_eq!(round2(2.344999), 2.34);
        assert_eq!(round2(0.125), 0.13);
        assert_eq!(round2(0.005), 0.01);
        assert_eq!(round2(9.995), 10.0);
        assert_eq!(round2(999.999), 1000.0);
        assert_eq!(round2(12.0), 12.0);
        assert_eq!(round2(0.0), 0.0);
        assert_eq!(round2(1e21), 1e21);
        assert_eq!(round2(1e-7), 0.0);
        assert!(round2(f64::NAN).is_nan());
        assert_eq!(round2(f64::INFINITY), f64::INFINITY);
        assert_eq!(round_half_away(66.5), 67.0);
        assert_eq!(round_half_away(-0.5), -1.0);
        assert_eq!(round_half_away(66.66666666666667), 67.0);
        assert_eq!(round_half_away(33.33333333333333), 33.0);
    }
}
