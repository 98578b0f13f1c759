//! Field validation that collects every problem into one 422
//! (`{"error":{"code":"VALIDATION_FAILED","details":{field: message}}}`).
//!
//! Text is stored exactly as sent (SQL metacharacters and any Unicode are
//! fine: all SQL is parameterised) within length limits counted in
//! characters. NUL and other control characters are refused (Postgres
//! cannot store NUL); multi-line fields may hold tabs and line breaks.

use std::collections::BTreeMap;

use crate::http::AppError;

#[derive(Debug, Default)]
pub struct Checks {
    details: BTreeMap<String, String>,
}

/// Single-line text (names, e-mails, methods) or multi-line (descriptions,
/// addresses, reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.details
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    /// Checks `value`: `min..=max` characters, not blank when `min > 0`, no
    /// control characters (but `\t \n \r` in [`Lines::Many`]).
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize, lines: Lines) {
        let count = value.chars().count();
        if min > 0 && value.trim().is_empty() {
            self.fail(field, "is required");
        } else if count < min || count > max {
            self.fail(field, format!("must be {min} to {max} characters"));
        } else if let Some(bad) = value.chars().find(|c| bad_char(*c, lines)) {
            self.fail(
                field,
                format!(
                    "must not contain the control character U+{:04X}",
                    bad as u32
                ),
            );
        }
    }

    /// `min..=max`, returned as `i32` when valid.
    pub fn int_range(&mut self, field: &str, value: i64, min: i64, max: i64) -> i32 {
        if (min..=max).contains(&value) {
            value as i32
        } else {
            self.fail(field, format!("must be an integer from {min} to {max}"));
            0
        }
    }

    /// A positive id.
    pub fn id(&mut self, field: &str, value: i64) -> i64 {
        if value < 1 {
            self.fail(field, "must be a positive integer");
        }
        value
    }

    /// A price such as `"12.50"`, `"12.5"` or `"12"` (at most 999999999.99),
    /// in cents.
    pub fn price(&mut self, field: &str, value: &str) -> i64 {
        match parse_price(value) {
            Some(cents) => cents,
            None => {
                self.fail(
                    field,
                    "must be a decimal string with at most two decimals, e.g. \"12.50\"",
                );
                0
            }
        }
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.details.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation {
                details: self.details,
            })
        }
    }
}

fn bad_char(c: char, lines: Lines) -> bool {
    c.is_control() && !(lines == Lines::Many && matches!(c, '\t' | '\n' | '\r'))
}

/// `"12.50"` → 1250. Digits only (no sign, exponent or spaces), 1–9 integer
/// digits, 0–2 decimals.
pub fn parse_price(text: &str) -> Option<i64> {
    let (units, cents) = match text.split_once('.') {
        Some((u, c)) => (u, c),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty() || units.len() > 9 || !digits(units) || cents.len() > 2 || !digits(cents) {
        return None;
    }
    if text.ends_with('.') {
        return None;
    }
    let units: i64 = units.parse().ok()?;
    let cents: i64 = format!("{cents:0<2}").parse().ok()?;
    Some(units * 100 + cents)
}

/// A plausible e-mail address (normalised to lower case by the caller):
/// `local@domain.tld`, no spaces or control characters, ≤ 254 characters.
pub fn email(checks: &mut Checks, field: &str, value: &str) {
    let plausible = value.len() <= 254
        && value.rsplit_once('@').is_some_and(|(local, domain)| {
            (1..=64).contains(&local.chars().count())
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plausible {
        checks.fail(field, "must be a valid e-mail address");
    }
}

/// A path id such as `/orders/{id}`: positive decimal digits only.
pub fn path_id(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(checks: Checks) -> Vec<(String, String)> {
        match checks.finish() {
            Ok(()) => vec![],
            Err(AppError::Validation { details }) => details.into_iter().collect(),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn text_keeps_sql_and_unicode_but_refuses_controls() {
        let mut c = Checks::new();
        c.text("a", "Robert'); DROP TABLE users;--", 1, 200, Lines::One);
        c.text("b", "Ελιές 🫒 \u{202e}", 1, 200, Lines::One);
        c.text("c", "line 1\nline 2\ttab", 0, 200, Lines::Many);
        assert!(details(c).is_empty());
        let mut c = Checks::new();
        c.text("nul", "a\0b", 1, 200, Lines::Many);
        c.text("newline", "a\nb", 1, 200, Lines::One);
        c.text("blank", "   ", 1, 200, Lines::One);
        c.text("long", &"é".repeat(201), 1, 200, Lines::One);
        c.text("ok", &"é".repeat(200), 1, 200, Lines::One);
        let fields: Vec<String> = details(c).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["blank", "long", "newline", "nul"]);
    }

    #[test]
    fn prices_parse_strictly() {
        assert_eq!(parse_price("12.50"), Some(1250));
        assert_eq!(parse_price("12.5"), Some(1250));
        assert_eq!(parse_price("12"), Some(1200));
        assert_eq!(parse_price("0.05"), Some(5));
        assert_eq!(parse_price("999999999.99"), Some(99_999_999_999));
        for bad in [
            "",
            ".5",
            "12.",
            "1.234",
            "-1",
            "+1",
            "1e3",
            " 1",
            "1,50",
            "1234567890",
            "١٢",
        ] {
            assert_eq!(parse_price(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn emails_and_ids() {
        for ok in ["a@b.co", "first.last+tag@example.com", "ünï@example.com"] {
            let mut c = Checks::new();
            email(&mut c, "email", ok);
            assert!(details(c).is_empty(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.co",
            "a b@c.co",
            "a@.co",
            "a@b.co.",
            &format!("{}@b.co", "x".repeat(65)),
        ] {
            let mut c = Checks::new();
            email(&mut c, "email", bad);
            assert_eq!(details(c).len(), 1, "{bad}");
        }
        assert_eq!(path_id("42"), Some(42));
        for bad in ["0", "-1", "+1", "abc", "", "99999999999999999999", "1.0"] {
            assert_eq!(path_id(bad), None, "{bad}");
        }
    }
}
