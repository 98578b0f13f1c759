use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;
use EvidenceKind::{Document, Geo, Photo, Screenshot};

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn ready() -> Readiness {
    Readiness {
        missing_fields: vec![],
        missing_evidence: vec![],
        completeness_score: 100,
    }
}

#[test]
fn valuation_checks_in_order() {
    let r = readiness(ReportType::Valuation, &Map::new(), &[]);
    assert_eq!(r.missing_fields, ["bank", "address", "land_area", "rate"]);
    assert_eq!(
        r.missing_evidence,
        [EvidenceGap {
            kinds: vec![Photo, Geo, Screenshot],
            required: 6,
            have: 0
        }]
    );
    assert_eq!(r.completeness_score, 0);

    let f = fields(
        json!({"branch_name": "Andheri", "property_address": "1 Road",
        "land_area": 0, "market_rate": "5000"}),
    );
    let evidence = [Photo, Geo, Screenshot, Photo, Photo, Document];
    let r = readiness(ReportType::Valuation, &f, &evidence);
    assert!(r.missing_fields.is_empty());
    assert_eq!(r.missing_evidence[0].have, 5, "DOCUMENT does not count");
    assert_eq!(r.completeness_score, 80);
    let r = readiness(ReportType::Valuation, &f, &[Photo; 6]);
    assert!(r.is_complete());
    assert_eq!(r.completeness_score, 100);
}

#[test]
fn blank_and_null_fields_are_missing() {
    let f = fields(
        json!({"bank_name": "  ", "branch_name": null, "property_address": "\t",
        "land_area": false, "guideline_rate": {}}),
    );
    let r = readiness(ReportType::Valuation, &f, &[]);
    assert_eq!(r.missing_fields, ["bank", "address"]);
    assert_eq!(r.completeness_score, 40);
}

#[test]
fn dpr_project_cost_must_be_numeric() {
    let base = json!({"bank_name": "SBI", "project_summary": "Mill", "means_of_finance": "loan"});
    let evidence = [Photo, Screenshot, Photo, Photo];
    for (cost, ok) in [
        (json!(12.5), true),
        (json!(0), true),
        (json!("1e6"), true),
        (json!(" 250000 "), true),
        (json!("12 lakh"), false),
        (json!("NaN"), false),
        (json!("inf"), false),
        (json!(""), false),
        (json!([1]), false),
        (json!(true), false),
        (Value::Null, false),
    ] {
        let mut f = fields(base.clone());
        f.insert("project_cost".into(), cost.clone());
        let r = readiness(ReportType::Dpr, &f, &evidence);
        assert_eq!(r.missing_fields.is_empty(), ok, "project_cost {cost}");
        if !ok {
            assert_eq!(r.missing_fields, ["project_cost"]);
            assert_eq!(r.completeness_score, 80);
        }
    }
    let r = readiness(ReportType::Dpr, &fields(base), &[Geo; 10]);
    assert_eq!(r.missing_evidence[0].kinds, [Photo, Screenshot]);
    assert_eq!(
        (r.missing_evidence[0].required, r.missing_evidence[0].have),
        (4, 0)
    );
    assert_eq!(r.completeness_score, 60);
}

#[test]
fn revaluation_value_is_any_of_three() {
    let evidence = [Geo, Geo, Screenshot, Photo];
    for key in ["fmv", "land_value", "building_value"] {
        let mut f = fields(json!({"bank_name": "x", "property_address": "y"}));
        f.insert(key.into(), json!(1));
        let r = readiness(ReportType::Revaluation, &f, &evidence);
        assert!(r.is_complete(), "{key}");
    }
    let r = readiness(
        ReportType::Revaluation,
        &fields(json!({"bank_name": "x"})),
        &evidence[..3],
    );
    assert_eq!(r.missing_fields, ["property_address", "value"]);
    assert_eq!(r.completeness_score, 25);
}

#[test]
fn stage_progress_counts_photo_and_geo_only() {
    let f = fields(json!({"bank_name": "x", "property_address": "y", "stage_notes": "roof"}));
    let r = readiness(
        ReportType::StageProgress,
        &f,
        &[Photo, Geo, Screenshot, Document, Photo],
    );
    assert_eq!(
        r.missing_evidence,
        [EvidenceGap {
            kinds: vec![Photo, Geo],
            required: 4,
            have: 3
        }]
    );
    assert_eq!(r.completeness_score, 75);
    let r = readiness(ReportType::StageProgress, &f, &[Photo, Geo, Geo, Photo]);
    assert!(r.is_complete());
}

#[test]
fn completeness_scores() {
    assert_eq!(completeness_score(0, 0), 100);
    assert_eq!(completeness_score(1, 8), 13, "12.5 rounds up");
    assert_eq!(completeness_score(5, 8), 63);
    assert_eq!(completeness_score(2, 3), 67);
    assert_eq!(completeness_score(1, 3), 33);
    assert_eq!(completeness_score(3, 5), 60);
    assert_eq!(completeness_score(5, 5), 100);
    assert_eq!(completeness_score(9, 5), 100, "clamped");
    assert_eq!(
        field_checks(ReportType::Dpr),
        [
            "bank_name",
            "project_summary",
            "project_cost",
            "means_of_finance"
        ]
    );
    assert_eq!(
        evidence_requirement(ReportType::Valuation),
        (&[Photo, Geo, Screenshot][..], 6)
    );
}

/// Every transition row of SYSTEM-SPEC 8.2.
#[test]
fn transition_table() {
    use Status::*;
    let allowed = [
        (Draft, EvidencePending),
        (Draft, DataPending),
        (Draft, Cancelled),
        (EvidencePending, DataPending),
        (EvidencePending, Cancelled),
        (DataPending, ReadyForRender),
        (DataPending, Cancelled),
        (DataPending, Closed),
        (ReadyForRender, Closed),
        (ReadyForRender, Cancelled),
    ];
    for from in Status::ALL {
        for to in Status::ALL {
            let got = transition(from, to, true, &ready());
            let want = if from == to {
                Ok(Transition::NoOp)
            } else if allowed.contains(&(from, to)) {
                Ok(Transition::Moved)
            } else {
                Err(TransitionError::Invalid { from, to })
            };
            assert_eq!(got, want, "{from} -> {to}");
        }
    }
    assert!(Cancelled.is_terminal() && Closed.is_terminal() && !ReadyForRender.is_terminal());
}

#[test]
fn ready_for_render_needs_snapshot_and_nothing_missing() {
    use Status::*;
    let missing = readiness(ReportType::Valuation, &Map::new(), &[]);
    let err = transition(DataPending, ReadyForRender, true, &missing).unwrap_err();
    assert_eq!(err.code(), "REPO001");
    assert_eq!(err, TransitionError::NotReady(missing.clone()));
    let message = err.to_string();
    assert!(
        message.contains("bank, address, land_area, rate"),
        "{message}"
    );
    assert!(message.contains("6 of 6 PHOTO/GEO/SCREENSHOT"), "{message}");

    let err = transition(DataPending, ReadyForRender, false, &ready()).unwrap_err();
    assert_eq!(err.code(), "REPO001");
    assert!(err.to_string().contains("snapshot"), "{err}");

    assert_eq!(
        transition(DataPending, ReadyForRender, true, &ready()),
        Ok(Transition::Moved)
    );
    // REPO002 wins over readiness: the move is not in the table at all.
    let err = transition(Draft, ReadyForRender, true, &missing).unwrap_err();
    assert_eq!(err.code(), "REPO002");
    assert_eq!(
        err.to_string(),
        "a work order cannot move from DRAFT to READY_FOR_RENDER"
    );
    // Same status is a no-op even when not ready.
    assert_eq!(
        transition(ReadyForRender, ReadyForRender, false, &missing),
        Ok(Transition::NoOp)
    );
    // Only the target needs readiness: leaving READY_FOR_RENDER does not.
    assert_eq!(
        transition(ReadyForRender, Closed, false, &missing),
        Ok(Transition::Moved)
    );
}

#[test]
fn json_names() {
    assert_eq!(
        serde_json::to_value(ReportType::StageProgress).unwrap(),
        json!("STAGE_PROGRESS")
    );
    assert_eq!(
        serde_json::to_value(Status::ReadyForRender).unwrap(),
        json!("READY_FOR_RENDER")
    );
    assert_eq!(
        serde_json::to_value(Status::EvidencePending).unwrap(),
        json!("EVIDENCE_PENDING")
    );
    assert_eq!(
        serde_json::to_value(EvidenceKind::Screenshot).unwrap(),
        json!("SCREENSHOT")
    );
    for s in Status::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
    for t in ReportType::ALL {
        assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
    }
    for k in EvidenceKind::ALL {
        assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
    }
    assert!(serde_json::from_value::<Status>(json!("ready_for_render")).is_err());
    let r = readiness(ReportType::Dpr, &Map::new(), &[Photo]);
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"missing_fields": ["bank_name", "project_summary", "project_cost", "means_of_finance"],
               "missing_evidence": [{"kinds": ["PHOTO", "SCREENSHOT"], "required": 4, "have": 1}],
               "completeness_score": 0})
    );
}

#[test]
fn mistake_completeness_floor_truncates() {
    let m = Mistakes::parse("completeness_floor").unwrap();
    assert_eq!(completeness_score(5, 8), 63);
    assert_eq!(completeness_score_with(5, 8, &m), 62);
    assert_eq!(completeness_score_with(2, 3, &m), 66);
}

/// With 4 or 5 checks per report type the scores are multiples of 25 or 20,
/// so rounding and truncating agree: the mistake is invisible through
/// `readiness` (reported to the contract's owner).
#[test]
fn completeness_floor_cannot_show_through_readiness() {
    let m = Mistakes::parse("completeness_floor").unwrap();
    for total in [4, 5] {
        for passed in 0..=total {
            assert_eq!(
                completeness_score(passed, total),
                completeness_score_with(passed, total, &m)
            );
        }
    }
}

#[test]
fn mistake_transition_skips_readiness() {
    let m = Mistakes::parse("transition_skips_readiness").unwrap();
    let missing = readiness(ReportType::Valuation, &Map::new(), &[]);
    let (from, to) = (Status::DataPending, Status::ReadyForRender);
    assert!(transition(from, to, true, &missing).is_err());
    assert_eq!(
        transition_with(from, to, true, &missing, &m),
        Ok(Transition::Moved)
    );
}

fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!("")),
        Just(json!("  ")),
        Just(json!("x")),
        Just(json!("12.5")),
        Just(json!("n/a")),
        (-1e6f64..1e6).prop_map(|v| json!(v)),
        Just(json!(true)),
        Just(json!([])),
    ]
}

const KEYS: [&str; 14] = [
    "bank_name",
    "branch_name",
    "property_address",
    "land_area",
    "guideline_rate",
    "market_rate",
    "project_summary",
    "project_cost",
    "means_of_finance",
    "fmv",
    "land_value",
    "building_value",
    "stage_notes",
    "other",
];

prop_compose! {
    fn any_fields()(values in prop::collection::vec(prop::option::of(field_value()), KEYS.len()))
        -> Map<String, Value> {
        KEYS.iter()
            .zip(values)
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect()
    }
}

fn any_evidence() -> impl Strategy<Value = Vec<EvidenceKind>> {
    prop::collection::vec(prop::sample::select(EvidenceKind::ALL.to_vec()), 0..12)
}

fn any_report_type() -> impl Strategy<Value = ReportType> {
    prop::sample::select(ReportType::ALL.to_vec())
}

fn any_status() -> impl Strategy<Value = Status> {
    prop::sample::select(Status::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn completeness_is_a_percentage_consistent_with_the_gaps(
        rt in any_report_type(), f in any_fields(), e in any_evidence()
    ) {
        let r = readiness(rt, &f, &e);
        prop_assert!(r.completeness_score <= 100);
        prop_assert_eq!(r.completeness_score == 100, r.is_complete());
        prop_assert_eq!(r.completeness_score == 0,
            r.missing_fields.len() == field_checks(rt).len() && !r.missing_evidence.is_empty());
        prop_assert!(r.missing_evidence.len() <= 1);
        for gap in &r.missing_evidence {
            prop_assert!(gap.have < gap.required);
        }
        // Missing fields keep the check order.
        let order: Vec<usize> = r.missing_fields.iter()
            .map(|n| field_checks(rt).iter().position(|c| c == n).unwrap()).collect();
        prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn more_evidence_or_fields_never_lowers_the_score(
        rt in any_report_type(), f in any_fields(), e in any_evidence(), extra in any_evidence()
    ) {
        let before = readiness(rt, &f, &e);
        let mut more = e.clone();
        more.extend(extra);
        let after = readiness(rt, &f, &more);
        prop_assert!(after.completeness_score >= before.completeness_score);
        // Evidence order does not matter.
        let mut reversed = more.clone();
        reversed.reverse();
        prop_assert_eq!(readiness(rt, &f, &reversed), after);
    }

    #[test]
    fn transitions_follow_the_table(
        from in any_status(), to in any_status(), snap in any::<bool>(),
        rt in any_report_type(), f in any_fields(), e in any_evidence()
    ) {
        let r = readiness(rt, &f, &e);
        match transition(from, to, snap, &r) {
            Ok(Transition::NoOp) => prop_assert_eq!(from, to),
            Ok(Transition::Moved) => {
                prop_assert!(is_allowed(from, to));
                prop_assert!(!from.is_terminal());
                if to == Status::ReadyForRender {
                    prop_assert!(snap && r.is_complete());
                }
            }
            Err(TransitionError::Invalid { .. }) => prop_assert!(from != to && !is_allowed(from, to)),
            Err(TransitionError::NotReady(got)) => {
                prop_assert_eq!(to, Status::ReadyForRender);
                prop_assert!(!snap || !r.is_complete());
                prop_assert_eq!(got, r);
            }
        }
    }
}
