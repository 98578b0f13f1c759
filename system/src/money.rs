//! Money is stored as integer cents and shown as a decimal string with two
//! places (`1250` -> `"12.50"`).

/// Formats cents as `"units.cc"`; negative amounts get a leading `-`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_two_decimal_places() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(100), "1.00");
        assert_eq!(format_cents(1250), "12.50");
        assert_eq!(format_cents(10_000), "100.00");
        assert_eq!(format_cents(-50), "-0.50");
        assert_eq!(format_cents(i64::MIN), "-92233720368547758.08");
    }
}
