//! Work-order readiness and transitions (SYSTEM-SPEC 8.2, contract A
//! `workorder`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::round::round_half_away;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportType {
    Valuation,
    Dpr,
    Revaluation,
    StageProgress,
}

impl ReportType {
    pub const ALL: [ReportType; 4] = [
        ReportType::Valuation,
        ReportType::Dpr,
        ReportType::Revaluation,
        ReportType::StageProgress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::Valuation => "VALUATION",
            ReportType::Dpr => "DPR",
            ReportType::Revaluation => "REVALUATION",
            ReportType::StageProgress => "STAGE_PROGRESS",
        }
    }

    /// Every field key a check of this type looks at.
    pub fn field_keys(self) -> &'static [&'static str] {
        match self {
            ReportType::Valuation => &[
                "bank_name",
                "branch_name",
                "property_address",
                "land_area",
                "guideline_rate",
                "market_rate",
            ],
            ReportType::Dpr => &[
                "bank_name",
                "project_summary",
                "project_cost",
                "means_of_finance",
            ],
            ReportType::Revaluation => &[
                "bank_name",
                "property_address",
                "fmv",
                "land_value",
                "building_value",
            ],
            ReportType::StageProgress => &["bank_name", "property_address", "stage_notes"],
        }
    }

    /// The evidence kinds that count, and how many are needed.
    pub fn evidence_rule(self) -> (&'static [EvidenceKind], u32) {
        use EvidenceKind::*;
        match self {
            ReportType::Valuation => (&[Photo, Geo, Screenshot], 6),
            ReportType::Dpr => (&[Photo, Screenshot], 4),
            ReportType::Revaluation => (&[Photo, Geo, Screenshot], 4),
            ReportType::StageProgress => (&[Photo, Geo], 4),
        }
    }

    /// The field checks in order: (check name, keys any of which satisfies
    /// it, whether the value must be numeric).
    fn checks(self) -> &'static [(&'static str, &'static [&'static str], bool)] {
        match self {
            ReportType::Valuation => &[
                ("bank", &["bank_name", "branch_name"], false),
                ("address", &["property_address"], false),
                ("land_area", &["land_area"], false),
                ("rate", &["guideline_rate", "market_rate"], false),
            ],
            ReportType::Dpr => &[
                ("bank_name", &["bank_name"], false),
                ("project_summary", &["project_summary"], false),
                ("project_cost", &["project_cost"], true),
                ("means_of_finance", &["means_of_finance"], false),
            ],
            ReportType::Revaluation => &[
                ("bank_name", &["bank_name"], false),
                ("property_address", &["property_address"], false),
                ("value", &["fmv", "land_value", "building_value"], false),
            ],
            ReportType::StageProgress => &[
                ("bank_name", &["bank_name"], false),
                ("property_address", &["property_address"], false),
                ("stage_notes", &["stage_notes"], false),
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EvidenceKind {
    Photo,
    Geo,
    Screenshot,
    Document,
}

impl EvidenceKind {
    pub const ALL: [EvidenceKind; 4] = [
        EvidenceKind::Photo,
        EvidenceKind::Geo,
        EvidenceKind::Screenshot,
        EvidenceKind::Document,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Photo => "PHOTO",
            EvidenceKind::Geo => "GEO",
            EvidenceKind::Screenshot => "SCREENSHOT",
            EvidenceKind::Document => "DOCUMENT",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Draft,
    EvidencePending,
    DataPending,
    ReadyForRender,
    Cancelled,
    Closed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Draft,
        Status::EvidencePending,
        Status::DataPending,
        Status::ReadyForRender,
        Status::Cancelled,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "DRAFT",
            Status::EvidencePending => "EVIDENCE_PENDING",
            Status::DataPending => "DATA_PENDING",
            Status::ReadyForRender => "READY_FOR_RENDER",
            Status::Cancelled => "CANCELLED",
            Status::Closed => "CLOSED",
        }
    }

    pub fn terminal(self) -> bool {
        matches!(self, Status::Cancelled | Status::Closed)
    }

    /// The edges of the spec's transition graph (same status excluded).
    pub fn may_move_to(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Draft, EvidencePending | DataPending | Cancelled)
                | (EvidencePending, DataPending | Cancelled)
                | (DataPending, ReadyForRender | Cancelled | Closed)
                | (ReadyForRender, Closed | Cancelled)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceGap {
    pub kinds: Vec<EvidenceKind>,
    pub required: u32,
    pub have: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub missing_fields: Vec<&'static str>,
    pub missing_evidence: Vec<EvidenceGap>,
    pub completeness_score: u8,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.missing_fields.is_empty() && self.missing_evidence.is_empty()
    }
}

/// Present: not null and not a blank string.
fn present(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

/// Numeric: a JSON number, or a string that parses as a finite number.
fn numeric(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Number(_)) => true,
        Some(Value::String(s)) => s.parse::<f64>().is_ok_and(f64::is_finite),
        _ => false,
    }
}

pub fn readiness(
    rt: ReportType,
    fields: &BTreeMap<String, Value>,
    evidence: &[EvidenceKind],
) -> Readiness {
    let mut missing_fields = Vec::new();
    let checks = rt.checks();
    for (name, keys, must_be_numeric) in checks {
        let ok = keys.iter().any(|k| {
            let v = fields.get(*k);
            if *must_be_numeric {
                numeric(v)
            } else {
                present(v)
            }
        });
        if !ok {
            missing_fields.push(*name);
        }
    }
    let (kinds, required) = rt.evidence_rule();
    let have = evidence.iter().filter(|k| kinds.contains(k)).count() as u32;
    let mut missing_evidence = Vec::new();
    if have < required {
        missing_evidence.push(EvidenceGap {
            kinds: kinds.to_vec(),
            required,
            have,
        });
    }
    let total = checks.len() + 1;
    let passed = total - missing_fields.len() - missing_evidence.len();
    let completeness_score = round_half_away(passed as f64 / total as f64 * 100.0) as u8;
    Readiness {
        missing_fields,
        missing_evidence,
        completeness_score,
    }
}

/// The result of asking for a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionOutcome {
    NoOp,
    Moved,
    /// 409 REPO002
    Invalid,
    /// 409 REPO001
    NotReady,
}

pub fn transition(
    from: Status,
    to: Status,
    has_snapshot: bool,
    readiness: &Readiness,
) -> TransitionOutcome {
    if from == to {
        return TransitionOutcome::NoOp;
    }
    if !from.may_move_to(to) {
        return TransitionOutcome::Invalid;
    }
    if to == Status::ReadyForRender && !(has_snapshot && readiness.ready()) {
        return TransitionOutcome::NotReady;
    }
    TransitionOutcome::Moved
}

/// A whole work order as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkOrder {
    pub report_type: ReportType,
    pub status: Status,
    pub fields: BTreeMap<String, Value>,
    pub evidence: Vec<EvidenceKind>,
    pub snapshot_version: Option<u32>,
}

/// What the API should answer to one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub status: u16,
    pub code: Option<&'static str>,
}

impl WorkOrder {
    pub fn new(report_type: ReportType, fields: BTreeMap<String, Value>) -> Self {
        WorkOrder {
            report_type,
            status: Status::Draft,
            fields: fields.into_iter().filter(|(_, v)| !v.is_null()).collect(),
            evidence: Vec::new(),
            snapshot_version: None,
        }
    }

    pub fn readiness(&self) -> Readiness {
        readiness(self.report_type, &self.fields, &self.evidence)
    }

    /// `PATCH .../contract`: merge (`None` deletes), new snapshot version.
    pub fn patch(&mut self, changes: &BTreeMap<String, Option<Value>>) -> Expect {
        if self.status.terminal() {
            return Expect {
                status: 409,
                code: Some("REPO002"),
            };
        }
        for (k, v) in changes {
            match v {
                Some(v) if !v.is_null() => {
                    self.fields.insert(k.clone(), v.clone());
                }
                _ => {
                    self.fields.remove(k);
                }
            }
        }
        self.snapshot_version = Some(self.snapshot_version.unwrap_or(0) + 1);
        Expect {
            status: 200,
            code: None,
        }
    }

    /// `POST .../evidence`. The contract does not say what a CANCELLED or
    /// CLOSED order does with evidence; like a contract patch, it refuses
    /// it with 409 REPO002 (what the reference system does too).
    pub fn add_evidence(&mut self, kind: EvidenceKind) -> Expect {
        if self.status.terminal() {
            return Expect {
                status: 409,
                code: Some("REPO002"),
            };
        }
        self.evidence.push(kind);
        Expect {
            status: 201,
            code: None,
        }
    }

    pub fn set_status(&mut self, to: Status) -> Expect {
        match transition(
            self.status,
            to,
            self.snapshot_version.is_some(),
            &self.readiness(),
        ) {
            TransitionOutcome::NoOp => Expect {
                status: 200,
                code: None,
            },
            TransitionOutcome::Moved => {
                self.status = to;
                Expect {
                    status: 200,
                    code: None,
                }
            }
            TransitionOutcome::Invalid => Expect {
                status: 409,
                code: Some("REPO002"),
            },
            TransitionOutcome::NotReady => Expect {
                status: 409,
                code: Some("REPO001"),
            },
        }
    }
}

/// Canonical JSON: object keys sorted, no whitespace, scalars as serde_json
/// prints them. The export's `bundle_sha256` is SHA-256 of this text of the
/// bundle without that key.
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", parts.join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// SHA-256 hex of the canonical JSON of `bundle` without `bundle_sha256`.
pub fn bundle_digest(bundle: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut rest = bundle.clone();
    if let Value::Object(m) = &mut rest {
        m.remove("bundle_sha256");
    }
    hex::encode(Sha256::digest(canonical_json(&rest).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn valuation_checks_and_score() {
        let f = fields(json!({"branch_name": "x", "property_address": "  ", "market_rate": 0}));
        let r = readiness(ReportType::Valuation, &f, &[EvidenceKind::Photo; 6]);
        assert_eq!(r.missing_fields, ["address", "land_area"]);
        assert!(r.missing_evidence.is_empty());
        assert_eq!(r.completeness_score, 60);
        let r = readiness(
            ReportType::Valuation,
            &BTreeMap::new(),
            &[EvidenceKind::Document],
        );
        assert_eq!(r.missing_evidence[0].have, 0);
        assert_eq!(r.completeness_score, 0);
    }

    #[test]
    fn dpr_cost_must_be_numeric() {
        for (cost, ok) in [
            (json!("12.5"), true),
            (json!(3), true),
            (json!("abc"), false),
            (json!("NaN"), false),
            (json!("inf"), false),
            (json!(""), false),
        ] {
            let f = fields(json!({ "project_cost": cost }));
            let r = readiness(ReportType::Dpr, &f, &[]);
            assert_eq!(!r.missing_fields.contains(&"project_cost"), ok, "{cost}");
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v = json!({"b": 1, "a": {"y": [1, 2.5], "x": "é\"'"}, "c": null});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"x":"é\"'","y":[1,2.5]},"b":1,"c":null}"#
        );
        let mut with = v.clone();
        with["bundle_sha256"] = json!("ignored");
        assert_eq!(bundle_digest(&with), bundle_digest(&v));
    }

    #[test]
    fn transitions() {
        let mut wo = WorkOrder::new(ReportType::StageProgress, BTreeMap::new());
        assert_eq!(wo.set_status(Status::ReadyForRender).code, Some("REPO002"));
        assert_eq!(wo.set_status(Status::DataPending).status, 200);
        assert_eq!(wo.set_status(Status::ReadyForRender).code, Some("REPO001"));
        let mut changes = BTreeMap::new();
        for k in ["bank_name", "property_address", "stage_notes"] {
            changes.insert(k.to_owned(), Some(json!("x")));
        }
        wo.patch(&changes);
        for _ in 0..4 {
            wo.add_evidence(EvidenceKind::Geo);
        }
        assert_eq!(wo.readiness().completeness_score, 100);
        assert_eq!(wo.set_status(Status::ReadyForRender).status, 200);
        assert_eq!(wo.set_status(Status::ReadyForRender).status, 200);
        assert_eq!(wo.set_status(Status::Closed).status, 200);
        assert_eq!(wo.patch(&BTreeMap::new()).code, Some("REPO002"));
        assert_eq!(wo.set_status(Status::Draft).code, Some("REPO002"));
    }
}
