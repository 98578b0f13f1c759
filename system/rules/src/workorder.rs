//! Work-order readiness and status transitions (SYSTEM-SPEC 8.2, refined by
//! the issue 6 contract A). Readiness is derived, never stored: it is a
//! function of the report type, the contract fields and the evidence kinds,
//! so a stored copy could only go stale.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::round::round_half_away;
use crate::Mistakes;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportType {
    Valuation,
    Dpr,
    Revaluation,
    StageProgress,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Draft,
    EvidencePending,
    DataPending,
    ReadyForRender,
    Cancelled,
    Closed,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EvidenceKind {
    Photo,
    Geo,
    Screenshot,
    Document,
}

impl ReportType {
    pub const ALL: [ReportType; 4] = [
        ReportType::Valuation,
        ReportType::Dpr,
        ReportType::Revaluation,
        ReportType::StageProgress,
    ];

    /// The JSON name (`"STAGE_PROGRESS"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::Valuation => "VALUATION",
            ReportType::Dpr => "DPR",
            ReportType::Revaluation => "REVALUATION",
            ReportType::StageProgress => "STAGE_PROGRESS",
        }
    }
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

    /// The JSON name (`"READY_FOR_RENDER"`).
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

    /// CANCELLED and CLOSED: nothing moves out of them.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Cancelled | Status::Closed)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EvidenceKind {
    pub const ALL: [EvidenceKind; 4] = [
        EvidenceKind::Photo,
        EvidenceKind::Geo,
        EvidenceKind::Screenshot,
        EvidenceKind::Document,
    ];

    /// The JSON name (`"SCREENSHOT"`).
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Photo => "PHOTO",
            EvidenceKind::Geo => "GEO",
            EvidenceKind::Screenshot => "SCREENSHOT",
            EvidenceKind::Document => "DOCUMENT",
        }
    }
}

/// What stands between a work order and `READY_FOR_RENDER`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// Names of the failed field checks, in check order.
    pub missing_fields: Vec<String>,
    /// At most one gap: the evidence requirement when it is not met.
    pub missing_evidence: Vec<EvidenceGap>,
    /// 0..=100.
    pub completeness_score: u8,
}

impl Readiness {
    /// No missing field and no missing evidence.
    pub fn is_complete(&self) -> bool {
        self.missing_fields.is_empty() && self.missing_evidence.is_empty()
    }
}

/// An unmet evidence requirement: `required` items of any of `kinds`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EvidenceGap {
    pub kinds: Vec<EvidenceKind>,
    pub required: u32,
    pub have: u32,
}

/// One required field: passes when any of `keys` is present (and, for a
/// numeric check, numeric).
struct FieldCheck {
    name: &'static str,
    keys: &'static [&'static str],
    numeric: bool,
}

const fn check(name: &'static str, keys: &'static [&'static str]) -> FieldCheck {
    FieldCheck {
        name,
        keys,
        numeric: false,
    }
}

const fn numeric(name: &'static str, keys: &'static [&'static str]) -> FieldCheck {
    FieldCheck {
        name,
        keys,
        numeric: true,
    }
}

/// A report type's checks: fields in order, then one evidence requirement.
struct Requirements {
    fields: &'static [FieldCheck],
    evidence_kinds: &'static [EvidenceKind],
    evidence_required: u32,
}

use EvidenceKind::{Geo, Photo, Screenshot};

const VALUATION: Requirements = Requirements {
    fields: &[
        check("bank", &["bank_name", "branch_name"]),
        check("address", &["property_address"]),
        check("land_area", &["land_area"]),
        check("rate", &["guideline_rate", "market_rate"]),
    ],
    evidence_kinds: &[Photo, Geo, Screenshot],
    evidence_required: 6,
};

const DPR: Requirements = Requirements {
    fields: &[
        check("bank_name", &["bank_name"]),
        check("project_summary", &["project_summary"]),
        numeric("project_cost", &["project_cost"]),
        check("means_of_finance", &["means_of_finance"]),
    ],
    evidence_kinds: &[Photo, Screenshot],
    evidence_required: 4,
};

const REVALUATION: Requirements = Requirements {
    fields: &[
        check("bank_name", &["bank_name"]),
        check("property_address", &["property_address"]),
        check("value", &["fmv", "land_value", "building_value"]),
    ],
    evidence_kinds: &[Photo, Geo, Screenshot],
    evidence_required: 4,
};

const STAGE_PROGRESS: Requirements = Requirements {
    fields: &[
        check("bank_name", &["bank_name"]),
        check("property_address", &["property_address"]),
        check("stage_notes", &["stage_notes"]),
    ],
    evidence_kinds: &[Photo, Geo],
    evidence_required: 4,
};

fn requirements(rt: ReportType) -> &'static Requirements {
    match rt {
        ReportType::Valuation => &VALUATION,
        ReportType::Dpr => &DPR,
        ReportType::Revaluation => &REVALUATION,
        ReportType::StageProgress => &STAGE_PROGRESS,
    }
}

/// The names of a report type's field checks, in order (`bank`, `address`,
/// `land_area`, `rate` for VALUATION).
pub fn field_checks(rt: ReportType) -> Vec<&'static str> {
    requirements(rt).fields.iter().map(|c| c.name).collect()
}

/// The evidence a report type needs: `(kinds that count, how many)`.
pub fn evidence_requirement(rt: ReportType) -> (&'static [EvidenceKind], u32) {
    let r = requirements(rt);
    (r.evidence_kinds, r.evidence_required)
}

/// Readiness as specified.
pub fn readiness(
    rt: ReportType,
    fields: &Map<String, Value>,
    evidence: &[EvidenceKind],
) -> Readiness {
    readiness_with(rt, fields, evidence, &Mistakes::NONE)
}

/// [`readiness`] with deliberate mistakes (`completeness_floor`,
/// `evidence_needs_one_more`).
pub fn readiness_with(
    rt: ReportType,
    fields: &Map<String, Value>,
    evidence: &[EvidenceKind],
    m: &Mistakes,
) -> Readiness {
    let r = requirements(rt);
    let missing_fields: Vec<String> = r
        .fields
        .iter()
        .filter(|c| !passes(c, fields))
        .map(|c| c.name.to_owned())
        .collect();
    let have = evidence
        .iter()
        .filter(|k| r.evidence_kinds.contains(k))
        .count();
    let have = u32::try_from(have).unwrap_or(u32::MAX);
    let enough = if m.evidence_needs_one_more {
        have > r.evidence_required
    } else {
        have >= r.evidence_required
    };
    let missing_evidence = if enough {
        Vec::new()
    } else {
        vec![EvidenceGap {
            kinds: r.evidence_kinds.to_vec(),
            required: r.evidence_required,
            have,
        }]
    };
    let total = r.fields.len() + 1;
    let passed = total - missing_fields.len() - missing_evidence.len();
    Readiness {
        completeness_score: completeness_score_with(passed as u32, total as u32, m),
        missing_fields,
        missing_evidence,
    }
}

/// `round_half_away(passed / total × 100)`; 100 when there are no checks.
pub fn completeness_score(passed: u32, total: u32) -> u8 {
    completeness_score_with(passed, total, &Mistakes::NONE)
}

/// [`completeness_score`] with deliberate mistakes: `completeness_floor`
/// truncates (62.5 → 62). With the contract's report types (4 or 5
/// checks) every score is a multiple of 20 or 25, so through [`readiness`]
/// this mistake cannot change an answer; it shows here, with other totals.
pub fn completeness_score_with(passed: u32, total: u32, m: &Mistakes) -> u8 {
    if total == 0 {
        return 100;
    }
    let percent = f64::from(passed.min(total)) / f64::from(total) * 100.0;
    let score = if m.completeness_floor {
        percent.floor()
    } else {
        round_half_away(percent)
    };
    score as u8
}

/// Present: not null and not a blank string; numeric checks also need a
/// JSON number or a string that parses as a finite number.
fn passes(c: &FieldCheck, fields: &Map<String, Value>) -> bool {
    c.keys.iter().any(|key| match fields.get(*key) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s.trim().is_empty() => false,
        Some(v) if c.numeric => is_numeric(v),
        Some(_) => true,
    })
}

fn is_numeric(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::String(s) => s.trim().parse::<f64>().is_ok_and(f64::is_finite),
        _ => false,
    }
}

/// Whether the transition table of SYSTEM-SPEC 8.2 has `from → to`
/// (readiness aside; the same status is not a move).
pub fn is_allowed(from: Status, to: Status) -> bool {
    use Status::*;
    matches!(
        (from, to),
        (Draft, EvidencePending | DataPending | Cancelled)
            | (EvidencePending, DataPending | Cancelled)
            | (DataPending, ReadyForRender | Cancelled | Closed)
            | (ReadyForRender, Closed | Cancelled)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Same status: nothing to do (a retried request succeeds).
    NoOp,
    Moved,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// REPO002 (409).
    #[error("a work order cannot move from {from} to {to}")]
    Invalid { from: Status, to: Status },
    /// REPO001 (409): no computed snapshot yet, or something is missing.
    #[error("work order is not ready for render: {}", not_ready_reason(.0))]
    NotReady(Readiness),
}

impl TransitionError {
    /// The spec's error code.
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::Invalid { .. } => "REPO002",
            TransitionError::NotReady(_) => "REPO001",
        }
    }
}

fn not_ready_reason(r: &Readiness) -> String {
    let mut parts = Vec::new();
    if !r.missing_fields.is_empty() {
        parts.push(format!("missing fields {}", r.missing_fields.join(", ")));
    }
    for gap in &r.missing_evidence {
        let kinds: Vec<&str> = gap.kinds.iter().map(|k| k.as_str()).collect();
        parts.push(format!(
            "missing evidence: {} of {} {} (have {})",
            gap.required - gap.have.min(gap.required),
            gap.required,
            kinds.join("/"),
            gap.have
        ));
    }
    if parts.is_empty() {
        "no contract snapshot has been computed yet (PATCH the contract first)".to_owned()
    } else {
        parts.join("; ")
    }
}

/// Transition as specified.
pub fn transition(
    from: Status,
    to: Status,
    has_snapshot: bool,
    readiness: &Readiness,
) -> Result<Transition, TransitionError> {
    transition_with(from, to, has_snapshot, readiness, &Mistakes::NONE)
}

/// [`transition`] with deliberate mistakes: `transition_skips_readiness`
/// lets `READY_FOR_RENDER` through with missing fields or evidence (a
/// snapshot is still required).
pub fn transition_with(
    from: Status,
    to: Status,
    has_snapshot: bool,
    readiness: &Readiness,
    m: &Mistakes,
) -> Result<Transition, TransitionError> {
    if from == to {
        return Ok(Transition::NoOp);
    }
    if !is_allowed(from, to) {
        return Err(TransitionError::Invalid { from, to });
    }
    if to == Status::ReadyForRender {
        let complete = m.transition_skips_readiness || readiness.is_complete();
        if !(has_snapshot && complete) {
            return Err(TransitionError::NotReady(readiness.clone()));
        }
    }
    Ok(Transition::Moved)
}

#[cfg(test)]
mod tests;
