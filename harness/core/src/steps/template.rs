//! `{{name}}` templates: parsed once when a file is loaded (so an unknown
//! name is a load error with its place), rendered many times against a
//! [`Scope`].

use std::collections::{BTreeMap, BTreeSet};

use fake::faker::address::en::CityName;
use fake::faker::lorem::en::{Sentence, Word};
use fake::faker::name::en::{FirstName, LastName, Name};
use fake::rand::rngs::ChaCha8Rng;
use fake::rand::{RngExt, SeedableRng};
use fake::Fake;
use serde_json::Value;

/// Names every template may use, besides variables and captures.
pub const BUILTINS: [&str; 4] = ["unique", "run_id", "seed", "index"];

/// Seeded fake data: `{{fake.KIND}}`.
pub const FAKES: [&str; 9] = [
    "name",
    "first_name",
    "last_name",
    "word",
    "sentence",
    "city",
    "email",
    "int",
    "uuid",
];

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// A name, and the byte offset of its `{{` in the template's text.
    Name(String, usize),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// A template that could not be parsed or names something unknown;
/// `offset` is the byte offset in the template's text.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut at = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| TemplateError {
                offset: at + open,
                message: "`{{` without a closing `}}`".into(),
            })?;
            let name = after[..close].trim();
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
            if !valid {
                return Err(TemplateError {
                    offset: at + open,
                    message: format!(
                        "`{{{{{}}}}}` is not a variable name (letters, digits, `_`, `.`)",
                        &after[..close]
                    ),
                });
            }
            parts.push(Part::Name(name.to_string(), at + open));
            let consumed = open + 2 + close + 2;
            at += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            source: text.to_string(),
            parts,
        })
    }

    /// A template with no names in it.
    pub fn literal(text: &str) -> Template {
        Template {
            source: text.to_string(),
            parts: vec![Part::Text(text.to_string())],
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The names used, with their offsets.
    pub fn names(&self) -> impl Iterator<Item = (&str, usize)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Name(n, at) => Some((n.as_str(), *at)),
            Part::Text(_) => None,
        })
    }

    /// Every name must be known to `names`.
    pub fn check(&self, known: &Known) -> Result<(), TemplateError> {
        for (name, offset) in self.names() {
            known
                .check(name)
                .map_err(|message| TemplateError { offset, message })?;
        }
        Ok(())
    }

    /// The text with every name replaced by its value as text.
    pub fn render(&self, scope: &mut Scope) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Name(n, _) => out.push_str(&as_text(&scope.value(n)?)),
            }
        }
        Ok(out)
    }

    /// A template that is exactly one `{{name}}` renders to that value
    /// with its JSON type; any other renders to a string.
    pub fn render_value(&self, scope: &mut Scope) -> Result<Value, String> {
        match self.parts.as_slice() {
            [Part::Name(n, _)] => scope.value(n),
            _ => self.render(scope).map(Value::String),
        }
    }
}

/// A value as text: strings without quotes, everything else as JSON.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The names a file may use at one place: variables defined before it,
/// captures of earlier steps, and the project's secrets.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub vars: BTreeSet<String>,
    pub secrets: BTreeSet<String>,
}

impl Known {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Known {
        Known {
            vars: BTreeSet::new(),
            secrets: secrets.into_iter().collect(),
        }
    }

    pub fn check(&self, name: &str) -> Result<(), String> {
        if BUILTINS.contains(&name) || self.vars.contains(name) {
            return Ok(());
        }
        if let Some(kind) = name.strip_prefix("fake.") {
            return if FAKES.contains(&kind) {
                Ok(())
            } else {
                Err(format!(
                    "unknown fake data `{name}`; known: {}",
                    FAKES.map(|f| format!("fake.{f}")).join(", ")
                ))
            };
        }
        if let Some(secret) = name.strip_prefix("secret.") {
            return if self.secrets.contains(secret) {
                Ok(())
            } else if self.secrets.is_empty() {
                Err(format!(
                    "unknown secret `{secret}`: gauntlet.toml declares no [secrets]"
                ))
            } else {
                Err(format!(
                    "unknown secret `{secret}`; [secrets] of gauntlet.toml declares: {}",
                    self.secrets.iter().cloned().collect::<Vec<_>>().join(", ")
                ))
            };
        }
        let mut known: Vec<String> = self.vars.iter().cloned().collect();
        known.extend(BUILTINS.iter().map(|s| s.to_string()));
        Err(format!(
            "unknown variable `{name}` (not a [vars] entry, an earlier capture, \
             `secret.NAME` or `fake.KIND`); known here: {}",
            known.join(", ")
        ))
    }
}

/// The values templates render against: one per journey attempt, or per
/// load user. `{{fake.*}}` draws from the scope's seeded generator.
#[derive(Debug)]
pub struct Scope {
    pub vars: BTreeMap<String, Value>,
    pub secrets: BTreeMap<String, String>,
    pub unique: String,
    pub run_id: String,
    pub seed: u64,
    pub index: u32,
    rng: ChaCha8Rng,
}

impl Scope {
    /// `stream` separates the draws of scopes that share the run's seed
    /// (one per journey, one per load user).
    pub fn new(run_id: &str, seed: u64, stream: &str, unique: String) -> Scope {
        let mixed = stream
            .bytes()
            .fold(seed, |h, b| h.rotate_left(5) ^ u64::from(b));
        Scope {
            vars: BTreeMap::new(),
            secrets: BTreeMap::new(),
            unique,
            run_id: run_id.to_string(),
            seed,
            index: 0,
            rng: ChaCha8Rng::seed_from_u64(mixed),
        }
    }

    pub fn with_secrets<'a>(mut self, secrets: impl Iterator<Item = (&'a str, &'a str)>) -> Scope {
        self.secrets = secrets
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }

    pub fn set(&mut self, name: &str, value: Value) {
        self.vars.insert(name.to_string(), value);
    }

    /// Text with every secret value replaced by `***` (for reports).
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in self.secrets.values().filter(|v| !v.is_empty()) {
            out = out.replace(value.as_str(), "***");
        }
        out
    }

    pub fn value(&mut self, name: &str) -> Result<Value, String> {
        if let Some(v) = self.vars.get(name) {
            return Ok(v.clone());
        }
        match name {
            "unique" => return Ok(Value::String(self.unique.clone())),
            "run_id" => return Ok(Value::String(self.run_id.clone())),
            "seed" => return Ok(Value::from(self.seed)),
            "index" => return Ok(Value::from(self.index)),
            _ => {}
        }
        if let Some(secret) = name.strip_prefix("secret.") {
            return self
                .secrets
                .get(secret)
                .map(|s| Value::String(s.clone()))
                .ok_or_else(|| format!("the secret `{secret}` has no value for this target"));
        }
        if let Some(kind) = name.strip_prefix("fake.") {
            return self.fake(kind).map(Value::String);
        }
        Err(format!("`{name}` has no value (not captured?)"))
    }

    fn fake(&mut self, kind: &str) -> Result<String, String> {
        let rng = &mut self.rng;
        Ok(match kind {
            "name" => Name().fake_with_rng(rng),
            "first_name" => FirstName().fake_with_rng(rng),
            "last_name" => LastName().fake_with_rng(rng),
            "word" => Word().fake_with_rng(rng),
            "sentence" => Sentence(3..8).fake_with_rng(rng),
            "city" => CityName().fake_with_rng(rng),
            "int" => rng.random_range(0..1_000_000u32).to_string(),
            "email" => {
                let first: String = FirstName().fake_with_rng(rng);
                let n: u32 = rng.random();
                let local: String = first
                    .to_lowercase()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect();
                let unique: String = self
                    .unique
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect();
                format!("{local}.{n:08x}.{unique}@journeys.test")
            }
            "uuid" => {
                let bytes: [u8; 16] = rng.random();
                uuid::Builder::from_random_bytes(bytes)
                    .into_uuid()
                    .to_string()
            }
            other => return Err(format!("unknown fake data `fake.{other}`")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new("r1", 7, "j", "r1-j-1".into())
    }

    #[test]
    fn renders_names_and_keeps_text() {
        let t = Template::parse("/orders/{{id}}?by={{ who }}").unwrap();
        let mut s = scope();
        s.set("id", Value::from(42));
        s.set("who", Value::from("ann"));
        assert_eq!(t.render(&mut s).unwrap(), "/orders/42?by=ann");
    }

    #[test]
    fn a_lone_name_keeps_its_json_type() {
        let mut s = scope();
        s.set("n", Value::from(3));
        assert_eq!(
            Template::parse("{{n}}").unwrap().render_value(&mut s),
            Ok(Value::from(3))
        );
        assert_eq!(
            Template::parse("x{{n}}").unwrap().render_value(&mut s),
            Ok(Value::from("x3"))
        );
    }

    #[test]
    fn unknown_names_are_found_with_their_offset() {
        let t = Template::parse("/a/{{id}}/{{nope}}").unwrap();
        let mut known = Known::new(["token".to_string()]);
        known.vars.insert("id".into());
        let e = t.check(&known).unwrap_err();
        assert_eq!(e.offset, 10);
        assert!(
            e.message.contains("unknown variable `nope`"),
            "{}",
            e.message
        );
        assert!(Template::parse("{{secret.other}}")
            .unwrap()
            .check(&known)
            .unwrap_err()
            .message
            .contains("declares: token"));
        assert!(Template::parse("{{fake.color}}")
            .unwrap()
            .check(&known)
            .is_err());
        assert!(Template::parse("{{fake.email}}{{secret.token}}{{unique}}")
            .unwrap()
            .check(&known)
            .is_ok());
    }

    #[test]
    fn malformed_templates_are_errors() {
        assert_eq!(Template::parse("a {{b").unwrap_err().offset, 2);
        assert!(Template::parse("{{a b}}").is_err());
        assert!(Template::parse("{{}}").is_err());
    }

    #[test]
    fn fake_data_is_the_same_for_the_same_seed_and_differs_between_draws() {
        let t = Template::parse("{{fake.name}}/{{fake.email}}/{{fake.uuid}}").unwrap();
        let a = t.render(&mut scope()).unwrap();
        assert_eq!(a, t.render(&mut scope()).unwrap());
        let mut s = scope();
        let first = t.render(&mut s).unwrap();
        assert_ne!(first, t.render(&mut s).unwrap());
        assert!(a.contains("r1j1@journeys.test"), "{a}");
    }

    #[test]
    fn secrets_are_scrubbed() {
        let s = scope().with_secrets([("token", "s3cret")].into_iter());
        assert_eq!(s.scrub("/x?t=s3cret"), "/x?t=***");
    }
}
