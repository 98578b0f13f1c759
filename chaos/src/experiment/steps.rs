//! The parts of an experiment in the step format (`docs/steps.md`):
//! templates (`{{unique}}`, `{{index}}`, `{{secret.NAME}}`, ...), matchers,
//! and `http` actions compiled by [`gauntlet_harness::steps::Context`].
//! Everything is checked when the file loads: an unknown template name or a
//! bad matcher is an error with `FILE:LINE:COL`.
//!
//! Experiment files are parsed without the project file (the CLI parses
//! them before it knows the stack); endpoints and secrets a step names are
//! checked against the project by [`crate::runner::check_config`].

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::OnceLock;

use gauntlet_harness::config::{Config, Overrides};
use gauntlet_harness::steps::{
    Action as StepAction, Allowed, Context, Expect, Known, Matcher, RawStep, RequestTemplate,
    Template,
};
use serde::de::IntoDeserializer;
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::{Spanned, Value};

use super::fields::{Fields, Source};
use super::{Expectation, ExperimentError, HttpAction};

/// A TOML error: where, and what.
type Unparsed = (Range<usize>, String);

/// Checks the templates and matchers of one experiment file.
pub(super) struct Compiler<'a> {
    src: &'a Source<'a>,
    known: Known,
    /// Secrets the templates parsed so far name.
    used_secrets: RefCell<BTreeSet<String>>,
    /// The file parsed again with every span, for `http` actions.
    doc: OnceCell<Result<Spanned<DeTable<'a>>, Unparsed>>,
}

impl<'a> Compiler<'a> {
    pub fn new(src: &'a Source<'a>) -> Compiler<'a> {
        Compiler {
            src,
            known: Known::new(secret_names(src.text)),
            used_secrets: RefCell::new(BTreeSet::new()),
            doc: OnceCell::new(),
        }
    }

    pub fn src(&self) -> &'a Source<'a> {
        self.src
    }

    /// The secrets the file's templates name.
    pub fn secrets(&self) -> BTreeSet<String> {
        self.used_secrets.borrow().clone()
    }

    fn note_secrets<'t>(&self, names: impl Iterator<Item = &'t str>) {
        let mut used = self.used_secrets.borrow_mut();
        for name in names {
            if let Some(secret) = name.strip_prefix("secret.") {
                used.insert(secret.to_string());
            }
        }
    }

    /// Where in the value spanning `span` a template problem is: at
    /// `{{name` if a name is given and found, else at the template's text
    /// plus `offset`, else at the value.
    fn place(
        &self,
        span: &Range<usize>,
        source: &str,
        offset: usize,
        name: Option<&str>,
    ) -> Range<usize> {
        let area = self.src.text.get(span.clone()).unwrap_or("");
        let found = name
            .and_then(|n| {
                area.find(&format!("{{{{{n}"))
                    .or_else(|| area.find(&format!("{{{{ {n}")))
            })
            .or_else(|| area.find(source).map(|i| i + offset));
        let at = span.start + found.unwrap_or(0);
        at..at
    }

    /// A template in the value spanning `span`, every name known.
    pub fn template(
        &self,
        f: &Fields,
        text: &str,
        span: &Range<usize>,
    ) -> Result<Template, ExperimentError> {
        let t = Template::parse(text)
            .map_err(|e| f.err(self.place(span, text, e.offset, None), &e.message))?;
        t.check(&self.known).map_err(|e| {
            let name = t
                .names()
                .find(|(_, at)| *at == e.offset)
                .map(|(n, _)| n.to_string());
            f.err(
                self.place(span, text, e.offset, name.as_deref()),
                &e.message,
            )
        })?;
        self.note_secrets(t.names().map(|(n, _)| n));
        Ok(t)
    }

    /// A command: `["redis-cli", "PING"]`, each argument a template, or
    /// (when `shell`) a string run with `sh -c`.
    pub fn command(
        &self,
        f: &Fields,
        key: &str,
        value: &Spanned<Value>,
        shell: bool,
    ) -> Result<Vec<Template>, ExperimentError> {
        let span = value.span();
        let items: Vec<String> = match value.get_ref() {
            Value::String(s) if shell => vec!["sh".into(), "-c".into(), s.clone()],
            Value::String(s) => s.split_whitespace().map(String::from).collect(),
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(f.err(
                        span.clone(),
                        format!(
                            "`{key}` arguments must be strings, found {}",
                            other.type_str()
                        ),
                    )),
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(f.err(
                    span,
                    format!(
                        "`{key}` is a command: [\"cmd\", \"arg\", ...]{}, found {}",
                        if shell { " or a shell line" } else { "" },
                        other.type_str()
                    ),
                ))
            }
        };
        if items.is_empty() || items[0].trim().is_empty() {
            return Err(f.err(span, format!("`{key}` command is empty")));
        }
        items.iter().map(|i| self.template(f, i, &span)).collect()
    }

    /// A matcher of the step format: a value (equal to it) or a table of
    /// operators (`{ ge = 1 }`); operands may be templates.
    pub fn matcher(
        &self,
        f: &Fields,
        value: &Value,
        span: &Range<usize>,
        what: &str,
    ) -> Result<Expectation, ExperimentError> {
        let matcher = Matcher::from_toml(value)
            .map_err(|e| f.err(span.clone(), format!("{what}: {}", e.message)))?;
        matcher.check_names(&self.known).map_err(|e| {
            let area = self.src.text.get(span.clone()).unwrap_or("");
            let at = span.start + area.find("{{").unwrap_or(0);
            f.err(at..at, format!("{what}: {}", e.message))
        })?;
        Ok(Expectation {
            source: value.to_string(),
            matcher,
        })
    }

    /// A probe's `expect`: a table is a matcher; a string, number or bool
    /// is the exact reply (`true`/`false` as psql prints them, `t`/`f`).
    pub fn expectation(
        &self,
        f: &Fields,
        value: &Spanned<Value>,
    ) -> Result<(Expectation, bool), ExperimentError> {
        let span = value.span();
        match value.get_ref() {
            Value::Table(_) => Ok((self.matcher(f, value.get_ref(), &span, "`expect`")?, false)),
            Value::String(s) => Ok((Expectation::exactly(s), true)),
            Value::Integer(n) => Ok((Expectation::exactly(&n.to_string()), true)),
            Value::Boolean(b) => Ok((Expectation::exactly(if *b { "t" } else { "f" }), true)),
            other => Err(f.err(
                span,
                format!(
                    "`expect` is the value expected (a string or a number) or a matcher such as {{ ge = 1 }}, found {}",
                    other.type_str()
                ),
            )),
        }
    }

    fn doc(&self) -> Result<&Spanned<DeTable<'a>>, ExperimentError> {
        self.doc
            .get_or_init(|| {
                DeTable::parse(self.src.text)
                    .map_err(|e| (e.span().unwrap_or(0..0), e.message().to_string()))
            })
            .as_ref()
            .map_err(|(span, message)| self.src.at(span.clone(), message.clone()))
    }

    /// The `http` action at `array[index]` (`method` or `rollbacks`),
    /// compiled as a request of the step format.
    pub fn http_action(
        &self,
        f: &Fields,
        array: &str,
        index: usize,
        name: Option<String>,
    ) -> Result<HttpAction, ExperimentError> {
        let doc = self.doc()?;
        let item = doc
            .get_ref()
            .get(array)
            .and_then(|v| match v.get_ref() {
                DeValue::Array(items) => items.get(index).cloned(),
                _ => None,
            })
            .ok_or_else(|| f.err(f.span.clone(), "cannot find this step in the file again"))?;
        let mut item = item;
        if let DeValue::Table(t) = item.get_mut() {
            t.remove("action");
            t.remove("duration");
        }
        let raw = Spanned::<RawStep>::deserialize(item.into_deserializer())
            .map_err(|e| f.err(e.span().unwrap_or(f.span.clone()), e.message().trim_end()))?;
        let config = blank_config().map_err(|e| f.err(f.span.clone(), e))?;
        let source = self.src.text.get(f.span.clone()).unwrap_or("").to_string();
        let mut ctx = Context {
            text: self.src.text,
            known: self.known.clone(),
            config,
            default_endpoint: None,
        };
        let step = ctx
            // Journey steps' keys: the caller allowed only the request's,
            // `expect` and `eventually`.
            .step(raw, index + 1, Allowed::Journey)
            .map_err(|p| f.err(p.offset..p.offset, p.message))?;
        match step.action {
            StepAction::Request(request) => {
                let mut names = Vec::new();
                request_templates(&request, &step.expect, &mut names);
                self.note_secrets(names.iter().flat_map(|t| t.names().map(|(n, _)| n)));
                Ok(HttpAction {
                    name,
                    request,
                    expect: step.expect,
                    eventually: step.eventually.map(|e| (e.within, e.every)),
                    source: format!("{array}[{index}] {source}"),
                })
            }
            _ => Err(f.err(
                f.span.clone(),
                "an `http` action is a request: give its `path`",
            )),
        }
    }
}

/// Every template of a compiled request and its expectations.
fn request_templates<'r>(
    request: &'r RequestTemplate,
    expect: &'r Expect,
    out: &mut Vec<&'r Template>,
) {
    out.extend(request.templates());
    out.extend(expect.templates());
}

/// The names after `{{secret.` anywhere in `text`.
fn secret_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        if let Some(secret) = after[..close].trim().strip_prefix("secret.") {
            names.insert(secret.to_string());
        }
        rest = &after[close..];
    }
    names
}

/// A project file with nothing declared: requests compiled against it may
/// name any endpoint (checked later against the real project).
fn blank_config() -> Result<&'static Config, String> {
    static BLANK: OnceLock<Result<Config, String>> = OnceLock::new();
    BLANK
        .get_or_init(|| {
            let mut config = Config::load(None, Overrides::default())
                .map_err(|e| format!("cannot prepare the step format: {e}"))?;
            config.endpoints.clear();
            config.secrets.clear();
            config.data.clear();
            Ok(config)
        })
        .as_ref()
        .map_err(Clone::clone)
}
