//! The keys of one table of an experiment file, taken one by one with
//! their places in the file, so every message can point at the key or value
//! that is wrong; and the file positions themselves.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use gauntlet_harness::compose::parse_duration;
use toml::{Spanned, Value};

use super::{ExperimentError, Signal};

pub(super) type Table = BTreeMap<Spanned<String>, Spanned<Value>>;

pub(super) struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn at(&self, span: Range<usize>, message: impl Into<String>) -> ExperimentError {
        let (line, column) = line_col(self.text, span.start);
        ExperimentError::Invalid {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    pub fn line(&self, span: &Range<usize>) -> usize {
        line_col(self.text, span.start).0
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut safe = offset.min(text.len());
    while !text.is_char_boundary(safe) {
        safe -= 1;
    }
    let before = &text[..safe];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

pub(super) fn opt_duration(
    src: &Source,
    what: &str,
    value: Option<&Spanned<Value>>,
) -> Result<Option<Duration>, ExperimentError> {
    value.map(|v| duration_value(src, what, v)).transpose()
}

pub(super) fn duration_value(
    src: &Source,
    what: &str,
    v: &Spanned<Value>,
) -> Result<Duration, ExperimentError> {
    let text = match v.get_ref() {
        Value::String(s) => s,
        Value::Integer(n) => {
            return Err(src.at(
                v.span(),
                format!("{what}: a duration needs a unit: write \"{n}s\" or \"{n}ms\""),
            ))
        }
        other => {
            return Err(src.at(
                v.span(),
                format!(
                    "{what}: expected a duration such as \"30s\" or \"500ms\", found {}",
                    other.type_str()
                ),
            ))
        }
    };
    let d = parse_duration(text).map_err(|m| src.at(v.span(), format!("{what}: {m}")))?;
    if d.is_zero() {
        return Err(src.at(v.span(), format!("{what} must be longer than 0")));
    }
    Ok(d)
}

/// The keys of one probe or step table, taken one by one; what is left at
/// the end is an unknown key.
pub(super) struct Fields<'a> {
    src: &'a Source<'a>,
    pub what: String,
    pub span: Range<usize>,
    pub map: BTreeMap<String, (Range<usize>, Spanned<Value>)>,
}

impl<'a> Fields<'a> {
    pub fn new(src: &'a Source<'a>, what: String, table: &Spanned<Table>) -> Fields<'a> {
        Fields {
            src,
            what,
            span: table.span(),
            map: table
                .get_ref()
                .iter()
                .map(|(k, v)| (k.get_ref().clone(), (k.span(), v.clone())))
                .collect(),
        }
    }

    pub fn err(&self, span: Range<usize>, message: impl std::fmt::Display) -> ExperimentError {
        self.src.at(span, format!("{}: {message}", self.what))
    }

    /// The span of `key`'s value, or of the table when it is absent.
    pub fn span_of(&self, key: &str) -> Range<usize> {
        self.map
            .get(key)
            .map(|(_, v)| v.span())
            .unwrap_or(self.span.clone())
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn take(&mut self, key: &str) -> Option<Spanned<Value>> {
        self.map.remove(key).map(|(_, v)| v)
    }

    pub fn string(&mut self, key: &str) -> Result<Option<String>, ExperimentError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                Value::String(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
                Value::String(_) => Err(self.err(v.span(), format!("`{key}` is empty"))),
                other => Err(self.err(
                    v.span(),
                    format!("`{key}` must be a string, found {}", other.type_str()),
                )),
            },
        }
    }

    pub fn required_string(&mut self, key: &str) -> Result<String, ExperimentError> {
        self.string(key)?
            .ok_or_else(|| self.err(self.span.clone(), format!("missing `{key}`")))
    }

    /// A name used in Docker, PM2 or proxy calls: letters, digits, `-_.`.
    pub fn name(&mut self, key: &str) -> Result<String, ExperimentError> {
        let span = self.map.get(key).map(|(_, v)| v.span());
        let value = self.required_string(key)?;
        if value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            Ok(value)
        } else {
            Err(self.err(
                span.unwrap_or(self.span.clone()),
                format!("`{key}` = \"{value}\" is not a name (letters, digits, - _ .)"),
            ))
        }
    }

    pub fn duration(&mut self, key: &str) -> Result<Option<Duration>, ExperimentError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => duration_value(self.src, &format!("{}: `{key}`", self.what), &v).map(Some),
        }
    }

    pub fn uint(&mut self, key: &str, max: u64) -> Result<Option<u64>, ExperimentError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                Value::Integer(n) if *n >= 0 && (*n as u64) <= max => Ok(Some(*n as u64)),
                Value::Integer(n) => Err(self.err(
                    v.span(),
                    format!("`{key}` must be between 0 and {max}, not {n}"),
                )),
                other => Err(self.err(
                    v.span(),
                    format!("`{key}` must be a whole number, found {}", other.type_str()),
                )),
            },
        }
    }

    pub fn float(&mut self, key: &str) -> Result<Option<(f64, Range<usize>)>, ExperimentError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                Value::Float(f) => Ok(Some((*f, v.span()))),
                Value::Integer(n) => Ok(Some((*n as f64, v.span()))),
                other => Err(self.err(
                    v.span(),
                    format!("`{key}` must be a number, found {}", other.type_str()),
                )),
            },
        }
    }

    pub fn boolean(&mut self, key: &str) -> Result<Option<bool>, ExperimentError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.get_ref() {
                Value::Boolean(b) => Ok(Some(*b)),
                other => Err(self.err(
                    v.span(),
                    format!("`{key}` must be true or false, found {}", other.type_str()),
                )),
            },
        }
    }

    pub fn table(&mut self, key: &str) -> Result<Option<toml::Table>, ExperimentError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.into_inner() {
                Value::Table(t) => Ok(Some(t)),
                other => Err(self.err(
                    self.span.clone(),
                    format!("`{key}` must be a table, found {}", other.type_str()),
                )),
            },
        }
    }

    pub fn signal(&mut self, key: &str) -> Result<Signal, ExperimentError> {
        let span = self.map.get(key).map(|(_, v)| v.span());
        match self.string(key)? {
            None => Ok(Signal::kill()),
            Some(text) => Signal::parse(&text).ok_or_else(|| {
                self.err(
                    span.unwrap_or(self.span.clone()),
                    format!(
                        "unknown signal `{text}`; signals: {}",
                        Signal::KNOWN.join(", ")
                    ),
                )
            }),
        }
    }

    /// Fails on the first key that is not in `allowed`.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<(), ExperimentError> {
        match self
            .map
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            None => Ok(()),
            Some((key, (span, _))) => Err(self.err(
                span.clone(),
                format!("unknown key `{key}`; allowed: {}", allowed.join(", ")),
            )),
        }
    }

    /// Every key was used; anything else is an unknown key.
    pub fn finish(self, allowed: &[&str]) -> Result<(), ExperimentError> {
        match self.map.iter().next() {
            None => Ok(()),
            Some((key, (span, _))) => Err(self.err(
                span.clone(),
                format!("unknown key `{key}`; allowed: {}", allowed.join(", ")),
            )),
        }
    }
}
