//! Matchers: what an assertion expects of one value (a JSON field, a
//! header, a status, a probe's reply). A literal means "equals"; a table
//! combines operators (`{ ge = 1, lt = 10 }`). Operands may be templates.

use regex::Regex;
use serde_json::Value;

use super::template::{as_text, Known, Scope, Template, TemplateError};

/// The operator keys a matcher table may use.
pub const OPERATORS: [&str; 12] = [
    "equals", "not", "exists", "matches", "contains", "gt", "ge", "lt", "le", "len", "one_of",
    "absent",
];

#[derive(Debug, Clone)]
pub enum Operand {
    /// A literal number or bool.
    Fixed(Value),
    /// A string: a template rendered when checked.
    Text(Template),
}

#[derive(Debug, Clone)]
pub enum Check {
    Equals(Operand),
    Not(Operand),
    Exists(bool),
    Matches(Regex),
    Contains(Operand),
    Gt(Operand),
    Ge(Operand),
    Lt(Operand),
    Le(Operand),
    Len(u64),
    OneOf(Vec<Operand>),
}

/// Every check must hold.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub checks: Vec<Check>,
}

impl Matcher {
    /// From a TOML value: a literal (equals) or a table of operators.
    /// Errors name the operator; the caller adds the place in the file.
    pub fn from_toml(value: &toml::Value) -> Result<Matcher, TemplateError> {
        let err = |message: String| TemplateError { offset: 0, message };
        let checks = match value {
            toml::Value::Table(table) => {
                if table.is_empty() {
                    return Err(err("an empty matcher; use a value or an operator".into()));
                }
                let mut checks = Vec::new();
                for (op, operand) in table {
                    checks.push(match op.as_str() {
                        "equals" => Check::Equals(operand_of(operand)?),
                        "not" => Check::Not(operand_of(operand)?),
                        "exists" => Check::Exists(
                            operand
                                .as_bool()
                                .ok_or_else(|| err("`exists` takes true or false".into()))?,
                        ),
                        "absent" => Check::Exists(
                            !operand
                                .as_bool()
                                .ok_or_else(|| err("`absent` takes true or false".into()))?,
                        ),
                        "matches" => {
                            let pattern = operand
                                .as_str()
                                .ok_or_else(|| err("`matches` takes a pattern string".into()))?;
                            Check::Matches(Regex::new(pattern).map_err(|e| {
                                err(format!("`matches`: not a regular expression: {e}"))
                            })?)
                        }
                        "contains" => Check::Contains(operand_of(operand)?),
                        "gt" => Check::Gt(number_operand(op, operand)?),
                        "ge" => Check::Ge(number_operand(op, operand)?),
                        "lt" => Check::Lt(number_operand(op, operand)?),
                        "le" => Check::Le(number_operand(op, operand)?),
                        "len" => Check::Len(
                            operand
                                .as_integer()
                                .and_then(|n| u64::try_from(n).ok())
                                .ok_or_else(|| err("`len` takes a whole number".into()))?,
                        ),
                        "one_of" => Check::OneOf(
                            operand
                                .as_array()
                                .ok_or_else(|| err("`one_of` takes a list".into()))?
                                .iter()
                                .map(operand_of)
                                .collect::<Result<_, _>>()?,
                        ),
                        other => {
                            return Err(err(format!(
                                "unknown matcher `{other}`; known: {}",
                                OPERATORS.join(", ")
                            )))
                        }
                    });
                }
                checks
            }
            toml::Value::Array(items) => vec![Check::Equals(Operand::Fixed(Value::Array(
                items.iter().map(toml_to_json).collect(),
            )))],
            literal => vec![Check::Equals(operand_of(literal)?)],
        };
        Ok(Matcher { checks })
    }

    /// `status = 201`, `status = [200, 201]` or a matcher table.
    pub fn status_from_toml(value: &toml::Value) -> Result<Matcher, TemplateError> {
        match value {
            toml::Value::Array(items) => Ok(Matcher {
                checks: vec![Check::OneOf(
                    items.iter().map(operand_of).collect::<Result<_, _>>()?,
                )],
            }),
            other => Matcher::from_toml(other),
        }
    }

    pub fn equals(value: Value) -> Matcher {
        Matcher {
            checks: vec![Check::Equals(Operand::Fixed(value))],
        }
    }

    /// The templates among the operands.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = Vec::new();
        for check in &self.checks {
            let operands: Vec<&Operand> = match check {
                Check::Equals(o)
                | Check::Not(o)
                | Check::Contains(o)
                | Check::Gt(o)
                | Check::Ge(o)
                | Check::Lt(o)
                | Check::Le(o) => vec![o],
                Check::OneOf(list) => list.iter().collect(),
                _ => vec![],
            };
            out.extend(operands.into_iter().filter_map(|o| match o {
                Operand::Text(t) => Some(t),
                Operand::Fixed(_) => None,
            }));
        }
        out
    }

    /// Every template operand must use known names.
    pub fn check_names(&self, known: &Known) -> Result<(), TemplateError> {
        self.templates()
            .into_iter()
            .try_for_each(|t| t.check(known))
    }

    /// `Ok` when every check holds for `actual` (`None`: not present);
    /// otherwise what was expected and what was seen.
    pub fn check(&self, actual: Option<&Value>, scope: &mut Scope) -> Result<(), String> {
        for check in &self.checks {
            check_one(check, actual, scope)?;
        }
        Ok(())
    }

    /// The checks in one line, for reports: `>= 1 and < 10`.
    pub fn describe(&self) -> String {
        self.checks
            .iter()
            .map(describe)
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

fn operand_of(value: &toml::Value) -> Result<Operand, TemplateError> {
    match value {
        toml::Value::String(s) => Template::parse(s).map(Operand::Text),
        other => Ok(Operand::Fixed(toml_to_json(other))),
    }
}

fn number_operand(op: &str, value: &toml::Value) -> Result<Operand, TemplateError> {
    match value {
        toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::String(_) => {
            operand_of(value)
        }
        _ => Err(TemplateError {
            offset: 0,
            message: format!("`{op}` takes a number (or a template giving one)"),
        }),
    }
}

/// A TOML value as JSON (dates become their text).
pub fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

fn resolve(operand: &Operand, scope: &mut Scope) -> Result<Value, String> {
    match operand {
        Operand::Fixed(v) => Ok(v.clone()),
        Operand::Text(t) => t.render_value(scope),
    }
}

/// Equal as JSON, or as text when one side is a string ("3" equals 3).
pub fn loosely_equal(expected: &Value, actual: &Value) -> bool {
    if expected == actual {
        return true;
    }
    match (expected, actual) {
        (Value::String(e), a) | (a, Value::String(e)) if !a.is_string() => {
            e == &as_text(a)
                || match (e.parse::<f64>(), number(a)) {
                    (Ok(x), Some(y)) => x == y,
                    _ => false,
                }
        }
        (a, b) => match (number(a), number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// A number, or text that is one.
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn shown(actual: Option<&Value>) -> String {
    match actual {
        None => "nothing (absent)".into(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 200 {
                format!("{}…", text.chars().take(200).collect::<String>())
            } else {
                text
            }
        }
    }
}

fn check_one(check: &Check, actual: Option<&Value>, scope: &mut Scope) -> Result<(), String> {
    let fail = |what: String| Err(format!("expected {what}, got {}", shown(actual)));
    let compare = |op: &Operand, scope: &mut Scope, ok: fn(f64, f64) -> bool, word: &str| {
        let expected = resolve(op, scope)?;
        let bound = number(&expected)
            .ok_or_else(|| format!("the bound of `{word}` is not a number: {expected}"))?;
        match actual.and_then(number) {
            Some(a) if ok(a, bound) => Ok(()),
            _ => Err(format!(
                "expected a number {word} {}, got {}",
                as_text(&expected),
                shown(actual)
            )),
        }
    };
    match check {
        Check::Equals(op) => {
            let expected = resolve(op, scope)?;
            match actual {
                Some(a) if loosely_equal(&expected, a) => Ok(()),
                _ => fail(expected.to_string()),
            }
        }
        Check::Not(op) => {
            let unwanted = resolve(op, scope)?;
            match actual {
                Some(a) if loosely_equal(&unwanted, a) => fail(format!("anything but {unwanted}")),
                _ => Ok(()),
            }
        }
        Check::Exists(want) => match (want, actual.is_some_and(|v| !v.is_null())) {
            (true, true) | (false, false) => Ok(()),
            (true, false) => fail("a value".into()),
            (false, true) => fail("no value".into()),
        },
        Check::Matches(re) => match actual {
            Some(a) if re.is_match(&as_text(a)) => Ok(()),
            _ => fail(format!("text matching /{}/", re.as_str())),
        },
        Check::Contains(op) => {
            let needle = resolve(op, scope)?;
            let holds = match actual {
                Some(Value::Array(items)) => items.iter().any(|i| loosely_equal(&needle, i)),
                Some(other) => as_text(other).contains(&as_text(&needle)),
                None => false,
            };
            if holds {
                Ok(())
            } else {
                fail(format!("something containing {needle}"))
            }
        }
        Check::Gt(op) => compare(op, scope, |a, b| a > b, ">"),
        Check::Ge(op) => compare(op, scope, |a, b| a >= b, ">="),
        Check::Lt(op) => compare(op, scope, |a, b| a < b, "<"),
        Check::Le(op) => compare(op, scope, |a, b| a <= b, "<="),
        Check::Len(n) => {
            let len = match actual {
                Some(Value::Array(a)) => Some(a.len()),
                Some(Value::String(s)) => Some(s.chars().count()),
                Some(Value::Object(o)) => Some(o.len()),
                _ => None,
            };
            if len == Some(*n as usize) {
                Ok(())
            } else {
                fail(format!("a length of {n}"))
            }
        }
        Check::OneOf(options) => {
            let mut values = Vec::new();
            for o in options {
                values.push(resolve(o, scope)?);
            }
            match actual {
                Some(a) if values.iter().any(|v| loosely_equal(v, a)) => Ok(()),
                _ => fail(format!(
                    "one of {}",
                    values
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    }
}

fn describe(check: &Check) -> String {
    let op = |o: &Operand| match o {
        Operand::Fixed(v) => v.to_string(),
        Operand::Text(t) => format!("{:?}", t.source()),
    };
    match check {
        Check::Equals(o) => format!("= {}", op(o)),
        Check::Not(o) => format!("!= {}", op(o)),
        Check::Exists(true) => "exists".into(),
        Check::Exists(false) => "absent".into(),
        Check::Matches(r) => format!("~ /{}/", r.as_str()),
        Check::Contains(o) => format!("contains {}", op(o)),
        Check::Gt(o) => format!("> {}", op(o)),
        Check::Ge(o) => format!(">= {}", op(o)),
        Check::Lt(o) => format!("< {}", op(o)),
        Check::Le(o) => format!("<= {}", op(o)),
        Check::Len(n) => format!("len {n}"),
        Check::OneOf(list) => format!(
            "one of {}",
            list.iter().map(op).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(text: &str) -> Matcher {
        let v: toml::Value = toml::from_str(&format!("m = {text}")).unwrap();
        Matcher::from_toml(&v["m"]).unwrap()
    }

    fn holds(matcher: &str, actual: Option<Value>) -> bool {
        let mut scope = Scope::new("r", 1, "t", "u".into());
        scope.set("five", json!(5));
        m(matcher).check(actual.as_ref(), &mut scope).is_ok()
    }

    #[test]
    fn literals_compare_loosely_between_text_and_numbers() {
        assert!(holds("3", Some(json!(3))));
        assert!(holds("\"3\"", Some(json!(3))));
        assert!(holds("3", Some(json!("3"))));
        assert!(holds("true", Some(json!(true))));
        assert!(holds("\"true\"", Some(json!(true))));
        assert!(!holds("3", Some(json!(4))));
        assert!(!holds("3", None));
    }

    #[test]
    fn comparisons_hold_at_their_boundaries() {
        assert!(holds("{ ge = 5 }", Some(json!(5))));
        assert!(!holds("{ gt = 5 }", Some(json!(5))));
        assert!(holds("{ gt = 4 }", Some(json!(5))));
        assert!(holds("{ le = 5 }", Some(json!(5))));
        assert!(!holds("{ lt = 5 }", Some(json!(5))));
        assert!(holds(
            "{ ge = \"{{five}}\", le = \"{{five}}\" }",
            Some(json!("5"))
        ));
        assert!(!holds("{ ge = 1 }", Some(json!("many"))));
        assert!(!holds("{ ge = 1 }", None));
    }

    #[test]
    fn presence_patterns_containment_and_lengths() {
        assert!(holds("{ exists = true }", Some(json!(0))));
        assert!(!holds("{ exists = true }", None));
        assert!(!holds("{ exists = true }", Some(Value::Null)));
        assert!(holds("{ exists = false }", None));
        assert!(holds(
            "{ matches = \"^ord-[0-9]+$\" }",
            Some(json!("ord-12"))
        ));
        assert!(!holds(
            "{ matches = \"^ord-[0-9]+$\" }",
            Some(json!("ord-x"))
        ));
        assert!(holds("{ contains = \"b\" }", Some(json!(["a", "b"]))));
        assert!(!holds("{ contains = \"c\" }", Some(json!(["a", "b"]))));
        assert!(holds("{ contains = 5 }", Some(json!([5]))));
        assert!(holds("{ len = 2 }", Some(json!(["a", "b"]))));
        assert!(!holds("{ len = 3 }", Some(json!("ab"))));
        assert!(holds("{ one_of = [200, 201] }", Some(json!(201))));
        assert!(!holds("{ one_of = [200, 201] }", Some(json!(202))));
        assert!(holds("{ not = \"dead\" }", Some(json!("pending"))));
        assert!(!holds("{ not = \"dead\" }", Some(json!("dead"))));
    }

    #[test]
    fn failures_say_what_was_expected_and_seen() {
        let mut scope = Scope::new("r", 1, "t", "u".into());
        let e = m("{ ge = 3 }")
            .check(Some(&json!(2)), &mut scope)
            .unwrap_err();
        assert_eq!(e, "expected a number >= 3, got 2");
    }

    #[test]
    fn bad_matchers_are_load_errors() {
        let v: toml::Value = toml::from_str("m = { bigger = 3 }").unwrap();
        assert!(Matcher::from_toml(&v["m"])
            .unwrap_err()
            .message
            .contains("unknown matcher `bigger`"));
        let v: toml::Value = toml::from_str("m = { matches = \"(\" }").unwrap();
        assert!(Matcher::from_toml(&v["m"]).is_err());
        let v: toml::Value = toml::from_str("m = { ge = true }").unwrap();
        assert!(Matcher::from_toml(&v["m"]).is_err());
    }
}
