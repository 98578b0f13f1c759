//! Work orders over `/v1/repogen/work-orders` (SYSTEM-SPEC 8.2): readiness
//! against the model, and random operation sequences checked step by step.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;
use serde_json::{json, Value};

use super::stateful::{check_sequence, Sut};
use super::{check, ensure, fail, id_segment, snippet, CaseResult, Env, Fail, Property};
use crate::client::Reply;
use crate::model::workorder::{EvidenceKind, Expect, Readiness, ReportType, Status, WorkOrder};
use crate::PropertyInfo;

pub(crate) static PROPERTIES: &[Property] = &[
    Property {
        info: PropertyInfo {
            name: "work_order_readiness_matches_model",
            family: "work_orders",
            description: "missing fields, missing evidence and completeness (0..=100) of a new work order equal the model's",
            default_cases: 64,
        },
        run: |env, runner| check(env, runner, new_order(), readiness_matches),
    },
    Property {
        info: PropertyInfo {
            name: "work_order_export_deterministic",
            family: "work_orders",
            description: "two work orders given the same operations export identical bundles whose bundle_sha256 is the SHA-256 of the canonical JSON of the rest, with no ids or timestamps, matching the model's status, fields, evidence kinds, snapshot version and readiness",
            default_cases: 32,
        },
        run: |env, runner| check(env, runner, export_case(), export_deterministic),
    },
    Property {
        info: PropertyInfo {
            name: "work_order_transitions_match_model",
            family: "work_orders",
            description: "random patch/evidence/status sequences: after every step the status code, status, readiness, fields, evidence and snapshot_version equal the model's",
            default_cases: 48,
        },
        run: |env, runner| check_sequence::<WorkOrderMachine, WorkOrderSut>(env, runner, 1..30),
    },
];

const BASE: &str = "/v1/repogen/work-orders";

/// A field value: mostly present (text, numbers, numeric strings), now and
/// then blank or junk where a number is needed.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => Just(json!("x")),
        1 => Just(json!("")),
        1 => Just(json!("  ")),
        4 => Just(json!(12.5)),
        1 => Just(json!(0)),
        4 => Just(json!("1250000")),
        1 => Just(json!("abc")),
        1 => Just(json!("NaN")),
    ]
}

fn field_key(rt: ReportType) -> impl Strategy<Value = String> {
    let mut keys: Vec<&'static str> = rt.field_keys().to_vec();
    keys.push("notes");
    prop::sample::select(keys).prop_map(str::to_owned)
}

fn fields(rt: ReportType) -> impl Strategy<Value = BTreeMap<String, Value>> {
    prop::collection::btree_map(field_key(rt), field_value(), 0..6)
}

/// Evidence kinds; DOCUMENT (which no report type counts) less often.
fn evidence_kind() -> impl Strategy<Value = EvidenceKind> {
    prop_oneof![
        3 => Just(EvidenceKind::Photo),
        2 => Just(EvidenceKind::Geo),
        2 => Just(EvidenceKind::Screenshot),
        1 => Just(EvidenceKind::Document),
    ]
}

#[derive(Debug, Clone)]
struct NewOrder {
    report_type: ReportType,
    fields: BTreeMap<String, Value>,
    evidence: Vec<EvidenceKind>,
}

fn new_order() -> impl Strategy<Value = NewOrder> {
    prop::sample::select(ReportType::ALL.to_vec()).prop_flat_map(|rt| {
        (fields(rt), evidence_list(rt)).prop_map(move |(fields, evidence)| NewOrder {
            report_type: rt,
            fields,
            evidence,
        })
    })
}

/// Any evidence list, or (half the time) exactly required − 1, required or
/// required + 1 pieces of a kind the report type counts, plus a DOCUMENT
/// now and then (which counts for none): the `≥ N photos` boundary.
fn evidence_list(rt: ReportType) -> impl Strategy<Value = Vec<EvidenceKind>> {
    let (kinds, required) = rt.evidence_rule();
    let counted = prop::sample::select(kinds.to_vec());
    let at_boundary = (
        prop::collection::vec(counted, (required - 1) as usize..=(required + 1) as usize),
        any::<bool>(),
    )
        .prop_map(|(mut list, document)| {
            if document {
                list.push(EvidenceKind::Document);
            }
            list
        });
    prop_oneof![
        1 => prop::collection::vec(evidence_kind(), 0..8),
        1 => at_boundary,
    ]
}

fn create(env: &Env, rt: ReportType, fields: &BTreeMap<String, Value>) -> Result<Value, Fail> {
    let body = json!({"report_type": rt.as_str(), "fields": fields});
    let wo = env.expect("POST", BASE, Some(&body), 201)?;
    match wo.get("id") {
        Some(id) if !id.is_null() => Ok(id.clone()),
        _ => fail(format!("created work order has no id: {}", snippet(&wo))),
    }
}

fn get(env: &Env, id: &Value) -> Result<Value, Fail> {
    env.expect("GET", &format!("{BASE}/{}", id_segment(id)), None, 200)
}

/// Differences between an API readiness object and the model's.
fn readiness_diff(api: &Value, model: &Readiness) -> Vec<String> {
    let mut out = Vec::new();
    let fields: Option<Vec<&str>> = api
        .get("missing_fields")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    if fields.as_deref() != Some(&model.missing_fields[..]) {
        out.push(format!(
            "missing_fields {} ≠ model {:?}",
            api.get("missing_fields").unwrap_or(&Value::Null),
            model.missing_fields
        ));
    }
    let evidence: Option<Vec<(Vec<String>, u64, u64)>> = api
        .get("missing_evidence")
        .and_then(Value::as_array)
        .map(|gaps| {
            gaps.iter()
                .map(|g| {
                    let mut kinds: Vec<String> = g
                        .get("kinds")
                        .and_then(Value::as_array)
                        .map(|k| {
                            k.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default();
                    kinds.sort();
                    let n = |f: &str| g.get(f).and_then(Value::as_u64).unwrap_or(u64::MAX);
                    (kinds, n("required"), n("have"))
                })
                .collect()
        });
    let model_evidence: Vec<(Vec<String>, u64, u64)> = model
        .missing_evidence
        .iter()
        .map(|g| {
            let mut kinds: Vec<String> = g.kinds.iter().map(|k| k.as_str().to_owned()).collect();
            kinds.sort();
            (kinds, u64::from(g.required), u64::from(g.have))
        })
        .collect();
    if evidence.as_ref() != Some(&model_evidence) {
        out.push(format!(
            "missing_evidence {} ≠ model {:?}",
            api.get("missing_evidence").unwrap_or(&Value::Null),
            model_evidence
        ));
    }
    match api.get("completeness_score").and_then(Value::as_u64) {
        Some(s) if s > 100 => out.push(format!("completeness_score {s} > 100")),
        Some(s) if s == u64::from(model.completeness_score) => {}
        other => out.push(format!(
            "completeness_score {other:?} ≠ model {}",
            model.completeness_score
        )),
    }
    out
}

/// Differences between a work order from the API and the model's.
fn order_diff(api: &Value, model: &WorkOrder) -> Vec<String> {
    let mut out = Vec::new();
    let status = api.get("status").and_then(Value::as_str);
    if status != Some(model.status.as_str()) {
        out.push(format!(
            "status {status:?} ≠ model {}",
            model.status.as_str()
        ));
    }
    let fields: Option<BTreeMap<String, Value>> = api
        .get("fields")
        .and_then(|f| serde_json::from_value(f.clone()).ok());
    let fields = fields.map(|f| {
        f.into_iter()
            .filter(|(_, v)| !v.is_null())
            .collect::<BTreeMap<_, _>>()
    });
    if fields.as_ref() != Some(&model.fields) {
        out.push(format!(
            "fields {} ≠ model {}",
            api.get("fields").unwrap_or(&Value::Null),
            json!(model.fields)
        ));
    }
    let mut kinds: Vec<String> = api
        .get("evidence")
        .and_then(Value::as_array)
        .map(|e| {
            e.iter()
                .filter_map(|x| x.get("kind").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut model_kinds: Vec<String> = model
        .evidence
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    kinds.sort();
    model_kinds.sort();
    if kinds != model_kinds {
        out.push(format!("evidence kinds {kinds:?} ≠ model {model_kinds:?}"));
    }
    let version = api.get("snapshot_version").and_then(Value::as_u64);
    if version != model.snapshot_version.map(u64::from) {
        out.push(format!(
            "snapshot_version {} ≠ model {:?}",
            api.get("snapshot_version").unwrap_or(&Value::Null),
            model.snapshot_version
        ));
    }
    out.extend(
        readiness_diff(
            api.get("readiness").unwrap_or(&Value::Null),
            &model.readiness(),
        )
        .into_iter()
        .map(|d| format!("readiness.{d}")),
    );
    out
}

fn add_evidence(env: &Env, id: &Value, kind: EvidenceKind) -> Result<Reply, Fail> {
    env.call(
        "POST",
        &format!("{BASE}/{}/evidence", id_segment(id)),
        Some(&json!({"kind": kind.as_str()})),
    )
}

fn readiness_matches(env: &Env, case: &NewOrder) -> CaseResult {
    let id = create(env, case.report_type, &case.fields)?;
    let mut model = WorkOrder::new(case.report_type, case.fields.clone());
    for kind in &case.evidence {
        let reply = add_evidence(env, &id, *kind)?;
        ensure!(
            reply.status == 201,
            "adding {kind:?} evidence answered {}: {}",
            reply.status,
            snippet(&reply.body)
        );
        model.add_evidence(*kind);
    }
    let wo = get(env, &id)?;
    let diffs = order_diff(&wo, &model);
    ensure!(
        diffs.is_empty(),
        "work order differs from the model: {}",
        diffs.join("; ")
    );
    Ok(())
}

#[derive(Debug, Clone)]
pub(crate) struct ExportCase {
    report_type: ReportType,
    fields: BTreeMap<String, Value>,
    ops: Vec<WorkOrderOp>,
}

fn op(rt: ReportType) -> impl Strategy<Value = WorkOrderOp> {
    prop_oneof![
        2 => prop::collection::btree_map(field_key(rt), proptest::option::weighted(0.9, field_value()), 0..4)
            .prop_map(WorkOrderOp::Patch),
        2 => evidence_kind().prop_map(WorkOrderOp::Evidence),
        1 => prop::sample::select(Status::ALL.to_vec()).prop_map(WorkOrderOp::SetStatus),
    ]
}

fn export_case() -> impl Strategy<Value = ExportCase> {
    prop::sample::select(ReportType::ALL.to_vec()).prop_flat_map(|rt| {
        (fields(rt), prop::collection::vec(op(rt), 0..10)).prop_map(move |(fields, ops)| {
            ExportCase {
                report_type: rt,
                fields,
                ops,
            }
        })
    })
}

/// Sends `op` to work order `id`; the model says what it must answer.
fn send(env: &Env, id: &Value, op: &WorkOrderOp) -> Result<Reply, Fail> {
    let seg = id_segment(id);
    match op {
        WorkOrderOp::Patch(changes) => {
            let fields: serde_json::Map<String, Value> = changes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or(Value::Null)))
                .collect();
            env.call(
                "PATCH",
                &format!("{BASE}/{seg}/contract"),
                Some(&json!({ "fields": fields })),
            )
        }
        WorkOrderOp::Evidence(kind) => add_evidence(env, id, *kind),
        WorkOrderOp::SetStatus(to) => env.call(
            "POST",
            &format!("{BASE}/{seg}/status"),
            Some(&json!({"status": to.as_str()})),
        ),
    }
}

fn check_answer(reply: &Reply, expect: &Expect) -> CaseResult {
    ensure!(
        reply.status == expect.status
            && (expect.code.is_none() || reply.error_code() == expect.code),
        "answered {} {:?}, model expects {} {:?}: {}",
        reply.status,
        reply.error_code(),
        expect.status,
        expect.code,
        snippet(&reply.body)
    );
    Ok(())
}

/// Keys no export may hold anywhere: they differ between identical orders.
const VOLATILE: [&str; 4] = ["id", "created_at", "updated_at", "work_order_id"];

fn volatile_key(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, v)| {
            if VOLATILE.contains(&k.as_str()) {
                Some(k.clone())
            } else {
                volatile_key(v)
            }
        }),
        Value::Array(a) => a.iter().find_map(volatile_key),
        _ => None,
    }
}

fn export_deterministic(env: &Env, case: &ExportCase) -> CaseResult {
    let mut exports = Vec::new();
    let mut model = WorkOrder::new(case.report_type, case.fields.clone());
    for copy in 0..2 {
        let id = create(env, case.report_type, &case.fields)?;
        let mut m = WorkOrder::new(case.report_type, case.fields.clone());
        for (i, op) in case.ops.iter().enumerate() {
            let expect = match op {
                WorkOrderOp::Patch(changes) => m.patch(changes),
                WorkOrderOp::Evidence(kind) => m.add_evidence(*kind),
                WorkOrderOp::SetStatus(to) => m.set_status(*to),
            };
            let reply = send(env, &id, op)?;
            check_answer(&reply, &expect).map_err(|e| match e {
                Fail::Counterexample(msg) => {
                    Fail::Counterexample(format!("order {copy}, op {} ({op:?}): {msg}", i + 1))
                }
                other => other,
            })?;
        }
        let export = env.expect(
            "GET",
            &format!("{BASE}/{}/export", id_segment(&id)),
            None,
            200,
        )?;
        exports.push(export);
        model = m;
    }
    let (a, b) = (&exports[0], &exports[1]);
    ensure!(
        a == b,
        "identical work orders export differently:\n{}\n{}",
        snippet(a),
        snippet(b)
    );
    if let Some(key) = volatile_key(a) {
        return fail(format!("the export holds `{key}`: {}", snippet(a)));
    }
    let digest = a
        .get("bundle_sha256")
        .and_then(Value::as_str)
        .unwrap_or("<missing>");
    let expected = crate::model::workorder::bundle_digest(a);
    ensure!(
        digest == expected,
        "bundle_sha256 {digest} is not the SHA-256 of the rest's canonical JSON ({expected})"
    );
    let mut diffs = Vec::new();
    let text = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_owned);
    if text("report_type").as_deref() != Some(model.report_type.as_str()) {
        diffs.push(format!("report_type {:?}", text("report_type")));
    }
    if text("status").as_deref() != Some(model.status.as_str()) {
        diffs.push(format!(
            "status {:?}, model {}",
            text("status"),
            model.status.as_str()
        ));
    }
    let fields: Option<BTreeMap<String, Value>> = a
        .get("fields")
        .and_then(|f| serde_json::from_value(f.clone()).ok());
    if fields.as_ref() != Some(&model.fields) {
        diffs.push(format!(
            "fields {}",
            a.get("fields").unwrap_or(&Value::Null)
        ));
    }
    let mut kinds: Vec<&str> = model.evidence.iter().map(|k| k.as_str()).collect();
    kinds.sort();
    if a.get("evidence_kinds") != Some(&json!(kinds)) {
        diffs.push(format!(
            "evidence_kinds {}, model (sorted) {kinds:?}",
            a.get("evidence_kinds").unwrap_or(&Value::Null)
        ));
    }
    let version = a.pointer("/snapshot/version").and_then(Value::as_u64);
    if version != model.snapshot_version.map(u64::from) {
        diffs.push(format!(
            "snapshot {}, model version {:?}",
            snippet(a.get("snapshot").unwrap_or(&Value::Null)),
            model.snapshot_version
        ));
    }
    diffs.extend(
        readiness_diff(
            a.get("readiness").unwrap_or(&Value::Null),
            &model.readiness(),
        )
        .into_iter()
        .map(|d| format!("readiness.{d}")),
    );
    ensure!(
        diffs.is_empty(),
        "export differs from the model: {}",
        diffs.join("; ")
    );
    Ok(())
}

/// One operation on a work order.
#[derive(Debug, Clone)]
pub(crate) enum WorkOrderOp {
    /// Merge these fields; `None` sends null (deletes the key).
    Patch(BTreeMap<String, Option<Value>>),
    Evidence(EvidenceKind),
    SetStatus(Status),
}

#[derive(Debug, Clone)]
pub(crate) struct WorkOrderState {
    order: WorkOrder,
    last: Option<Expect>,
}

pub(crate) struct WorkOrderMachine;

impl ReferenceStateMachine for WorkOrderMachine {
    type State = WorkOrderState;
    type Transition = WorkOrderOp;

    fn init_state() -> BoxedStrategy<WorkOrderState> {
        prop::sample::select(ReportType::ALL.to_vec())
            .prop_flat_map(|rt| {
                fields(rt).prop_map(move |f| WorkOrderState {
                    order: WorkOrder::new(rt, f),
                    last: None,
                })
            })
            .boxed()
    }

    fn transitions(state: &WorkOrderState) -> BoxedStrategy<WorkOrderOp> {
        let rt = state.order.report_type;
        let patch = prop::collection::btree_map(
            field_key(rt),
            proptest::option::weighted(0.9, field_value()),
            0..6,
        )
        .prop_map(WorkOrderOp::Patch);
        // Statuses along the happy path are likelier than the rest.
        let status = prop_oneof![
            6 => Just(Status::DataPending),
            6 => Just(Status::ReadyForRender),
            1 => Just(Status::Draft),
            1 => Just(Status::EvidencePending),
            1 => Just(Status::Cancelled),
            1 => Just(Status::Closed),
        ]
        .prop_map(WorkOrderOp::SetStatus);
        prop_oneof![
            3 => patch,
            4 => evidence_kind().prop_map(WorkOrderOp::Evidence),
            2 => status,
        ]
        .boxed()
    }

    fn apply(mut state: WorkOrderState, op: &WorkOrderOp) -> WorkOrderState {
        let expect = match op {
            WorkOrderOp::Patch(changes) => state.order.patch(changes),
            WorkOrderOp::Evidence(kind) => state.order.add_evidence(*kind),
            WorkOrderOp::SetStatus(to) => state.order.set_status(*to),
        };
        state.last = Some(expect);
        state
    }
}

pub(crate) struct WorkOrderSut {
    id: Value,
}

impl Sut<WorkOrderMachine> for WorkOrderSut {
    fn init(env: &Env, state: &WorkOrderState) -> Result<Self, Fail> {
        let id = create(env, state.order.report_type, &state.order.fields)?;
        let wo = get(env, &id)?;
        let diffs = order_diff(&wo, &state.order);
        ensure!(
            diffs.is_empty(),
            "new work order differs from the model: {}",
            diffs.join("; ")
        );
        Ok(WorkOrderSut { id })
    }

    fn step(&mut self, env: &Env, op: &WorkOrderOp, after: &WorkOrderState) -> CaseResult {
        let reply = send(env, &self.id, op)?;
        check_answer(
            &reply,
            after.last.as_ref().expect("apply sets the expectation"),
        )?;
        let wo = get(env, &self.id)?;
        let diffs = order_diff(&wo, &after.order);
        ensure!(
            diffs.is_empty(),
            "work order differs from the model: {}",
            diffs.join("; ")
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// The generated sequences must reach the interesting states: a work
    /// order that is ready and moves to READY_FOR_RENDER, and refusals
    /// with REPO001 and REPO002 (guards the generator's weights).
    #[test]
    fn sequences_reach_ready_for_render_and_both_refusals() {
        let mut runner = TestRunner::deterministic();
        let strategy = WorkOrderMachine::sequential_strategy(1..30);
        let (mut ready, mut not_ready, mut invalid) = (0, 0, 0);
        for _ in 0..1000 {
            let (mut state, transitions, _) = strategy.new_tree(&mut runner).unwrap().current();
            let mut reached = false;
            for t in &transitions {
                state = WorkOrderMachine::apply(state, t);
                reached |= state.order.status == Status::ReadyForRender;
                match state.last.as_ref().and_then(|e| e.code) {
                    Some("REPO001") => not_ready += 1,
                    Some("REPO002") => invalid += 1,
                    _ => {}
                }
            }
            ready += u32::from(reached);
        }
        assert!(
            ready >= 40,
            "READY_FOR_RENDER reached in {ready} of 1000 sequences"
        );
        assert!(
            not_ready >= 100 && invalid >= 100,
            "REPO001 {not_ready}, REPO002 {invalid}"
        );
    }
}
