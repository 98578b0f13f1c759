//! The catalogue: one file per family, each with a static list of named
//! properties. Adding a property is adding one entry to its family's list.
//!
//! A property is a function that runs one case inside a prepared proptest
//! [`TestRunner`] (one case, seeded by the runner): it generates its input,
//! talks to the target through [`Env`], and lets proptest shrink a failure.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use proptest::strategy::Strategy;
use proptest::test_runner::{TestCaseError, TestError, TestRunner};
use serde_json::Value;

use crate::client::{CallError, Reply, RulesApi};
use crate::PropertyInfo;

pub(crate) mod feed;
pub(crate) mod flags;
pub(crate) mod ledger;
pub(crate) mod order_stages;
pub(crate) mod rate_limit;
pub(crate) mod stateful;
pub(crate) mod valuation;
pub(crate) mod work_orders;

/// One entry of the catalogue.
pub(crate) struct Property {
    pub info: PropertyInfo,
    pub run: fn(&Env, &mut TestRunner) -> CaseOutcome,
}

/// Every property, family by family.
pub(crate) fn all() -> Vec<&'static Property> {
    [
        valuation::PROPERTIES,
        work_orders::PROPERTIES,
        ledger::PROPERTIES,
        feed::PROPERTIES,
        rate_limit::PROPERTIES,
        flags::PROPERTIES,
        order_stages::PROPERTIES,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What one case came to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CaseOutcome {
    Passed,
    Failed {
        message: String,
        minimal_case: String,
        shrink_steps: u32,
    },
    Error(String),
}

/// Why a case body stopped: a counterexample (shrunk by proptest) or a
/// target that could not be asked (reported as an error, not shrunk).
#[derive(Debug)]
pub(crate) enum Fail {
    Counterexample(String),
    Target(CallError),
}

impl From<CallError> for Fail {
    fn from(e: CallError) -> Self {
        Fail::Target(e)
    }
}

pub(crate) type CaseResult = Result<(), Fail>;

/// `ensure!(cond, "format", args)`: a counterexample unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {{
        // Bound first: a NaN comparison is false, so it fails, as it should.
        let holds: bool = $cond;
        if !holds {
            return Err($crate::properties::Fail::Counterexample(format!($($arg)+)));
        }
    }};
}
pub(crate) use ensure;

/// A counterexample with this message.
pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Counterexample(message.into()))
}

/// A nonce drawn once per process (not from the seed), so that entities a
/// replayed case creates do not collide with those of the first run.
fn nonce() -> &'static str {
    static NONCE: OnceLock<String> = OnceLock::new();
    NONCE.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        format!("{:08x}", h.finish() as u32)
    })
}

/// What a case body gets: the target, and unique names.
pub(crate) struct Env<'a> {
    pub api: &'a dyn RulesApi,
}

impl Env<'_> {
    /// Calls the target; a 5xx is a [`CallError::Server`] (the contract has
    /// no 5xx answers) and a 401 a [`CallError::Unauthorized`] (no property
    /// expects one: it means a missing or wrong admin token); anything else
    /// is the property's to judge.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply, Fail> {
        self.call_with_headers(method, path, body, &[])
    }

    /// [`Env::call`] with request headers.
    pub fn call_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Fail> {
        let reply = self.api.call_with_headers(method, path, body, headers)?;
        if reply.status == 401 {
            return Err(Fail::Target(CallError::Unauthorized {
                method: method.to_owned(),
                path: route(path),
            }));
        }
        if reply.status >= 500 {
            return Err(Fail::Target(CallError::Server {
                method: method.to_owned(),
                path: path.to_owned(),
                status: reply.status,
                body: snippet(&reply.body),
            }));
        }
        Ok(reply)
    }

    /// A call whose answer must have `status`; the body otherwise.
    pub fn expect(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Result<Value, Fail> {
        let reply = self.call(method, path, body)?;
        if reply.status != status {
            return fail(format!(
                "{method} {} answered {} (expected {status}): {}",
                route(path),
                reply.status,
                snippet(&reply.body)
            ));
        }
        Ok(reply.body)
    }

    /// `{prefix}-{nonce}-{n}`: unique in this process and across processes.
    pub fn unique(&self, prefix: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{}-{n}", nonce())
    }
}

/// `path` without the ids and names a case generates
/// (`/v1/billing/accounts/17/reserve` → `/v1/billing/accounts/{id}/reserve`),
/// for messages that must not change between a run and its replay.
pub(crate) fn route(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else if seg.starts_with("props-") {
                "{name}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The first line of `text`, at most `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > max {
        let mut cut: String = line.chars().take(max).collect();
        cut.push('…');
        cut
    } else {
        line
    }
}

/// A JSON body for a message: on one line, at most 300 characters, without
/// the values the target assigns or the case names uniquely (`id`,
/// `reservation_id`, `seq`, timestamps, the order's user, producer and
/// product), so that a replay against the same target prints the same
/// message.
pub(crate) fn snippet(body: &Value) -> String {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| {
                        !matches!(
                            k.as_str(),
                            "id" | "reservation_id"
                                | "seq"
                                | "created_at"
                                | "updated_at"
                                | "as_of"
                                | "user_id"
                                | "producer_id"
                                | "product_id"
                                | "product_name"
                        )
                    })
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    one_line(&strip(body).to_string(), 300)
}

/// A JSON id as a path segment (numbers and strings both work).
pub(crate) fn id_segment(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs `body` on the value `strategy` generates in `runner` (one case) and
/// lets proptest shrink a counterexample. `show` renders the minimal input.
pub(crate) fn check_with<S>(
    env: &Env,
    runner: &mut TestRunner,
    strategy: S,
    show: impl Fn(&S::Value) -> String,
    body: impl Fn(&Env, &S::Value) -> CaseResult,
) -> CaseOutcome
where
    S: Strategy,
{
    use std::cell::{Cell, RefCell};
    let target_error: RefCell<Option<CallError>> = RefCell::new(None);
    let attempts = Cell::new(0u32);
    let passes = Cell::new(0u32);
    let result = runner.run(&strategy, |value| {
        if target_error.borrow().is_some() {
            // The target failed: stop shrinking (every simplification
            // "passes") and report the error instead.
            return Ok(());
        }
        attempts.set(attempts.get() + 1);
        match body(env, &value) {
            Ok(()) => {
                passes.set(passes.get() + 1);
                Ok(())
            }
            Err(Fail::Counterexample(message)) => Err(TestCaseError::fail(message)),
            Err(Fail::Target(e)) => {
                *target_error.borrow_mut() = Some(e);
                Err(TestCaseError::fail("target error"))
            }
        }
    });
    if let Some(e) = target_error.into_inner() {
        return CaseOutcome::Error(e.to_string());
    }
    match result {
        Ok(()) => CaseOutcome::Passed,
        Err(TestError::Fail(reason, value)) => CaseOutcome::Failed {
            message: reason.message().to_owned(),
            minimal_case: show(&value),
            // Failing runs after the first are the accepted shrink steps.
            shrink_steps: (attempts.get() - passes.get()).saturating_sub(1),
        },
        Err(TestError::Abort(reason)) => {
            CaseOutcome::Error(format!("proptest gave up: {}", reason.message()))
        }
    }
}

/// [`check_with`], the minimal input shown with `{:#?}`.
pub(crate) fn check<S>(
    env: &Env,
    runner: &mut TestRunner,
    strategy: S,
    body: impl Fn(&Env, &S::Value) -> CaseResult,
) -> CaseOutcome
where
    S: Strategy,
    S::Value: Debug,
{
    check_with(env, runner, strategy, |v| format!("{v:#?}"), body)
}

/// A number from a JSON body, or a counterexample naming `what`.
pub(crate) fn num(body: &Value, pointer: &str, what: &str) -> Result<f64, Fail> {
    match body.pointer(pointer).and_then(Value::as_f64) {
        Some(x) => Ok(x),
        None => fail(format!(
            "{what}: expected a number at {pointer}, got {}",
            body.pointer(pointer).unwrap_or(&Value::Null)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng};

    struct Nothing;

    impl RulesApi for Nothing {
        fn call(&self, method: &str, path: &str, _: Option<&Value>) -> Result<Reply, CallError> {
            Err(CallError::Transport {
                method: method.into(),
                path: path.into(),
                message: "refused".into(),
            })
        }
    }

    fn runner() -> TestRunner {
        let config = Config {
            cases: 1,
            failure_persistence: None,
            max_shrink_iters: 1024,
            ..Config::default()
        };
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]))
    }

    #[test]
    fn panics_are_shrunk_counterexamples() {
        let env = Env { api: &Nothing };
        let outcome = check(&env, &mut runner(), 1000u32..100_000, |_, v| {
            assert!(*v < 1234, "too big: {v}");
            Ok(())
        });
        match outcome {
            CaseOutcome::Failed {
                message,
                minimal_case,
                shrink_steps,
            } => {
                assert_eq!(minimal_case, "1234");
                assert!(message.contains("too big: 1234"), "{message}");
                assert!(shrink_steps > 0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn target_errors_are_errors_not_counterexamples() {
        let env = Env { api: &Nothing };
        let outcome = check(&env, &mut runner(), 0u32..10, |env, _| {
            env.call("GET", "/x", None)?;
            Ok(())
        });
        match outcome {
            CaseOutcome::Error(e) => assert!(e.contains("unreachable: refused"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_errors_are_target_errors_and_messages_drop_assigned_values() {
        struct Five;
        impl RulesApi for Five {
            fn call(&self, _: &str, _: &str, _: Option<&Value>) -> Result<Reply, CallError> {
                Ok(Reply {
                    status: 503,
                    body: serde_json::json!({"error": {"code": "UNAVAILABLE"}, "id": 3}),
                })
            }
        }
        let env = Env { api: &Five };
        match env.call("GET", "/v1/billing/accounts/17", None) {
            Err(Fail::Target(CallError::Server { status, body, .. })) => {
                assert_eq!(status, 503);
                assert_eq!(body, r#"{"error":{"code":"UNAVAILABLE"}}"#);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            route("/v1/billing/accounts/17/reserve?x=1"),
            "/v1/billing/accounts/{id}/reserve"
        );
    }
}
