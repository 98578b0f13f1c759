use proptest::prelude::*;
use serde_json::json;

use super::*;

fn input(v: serde_json::Value) -> ValuationInput {
    serde_json::from_value(v).expect("test input parses")
}

fn codes(out: &ValuationOutput) -> Vec<&str> {
    out.warnings.iter().map(|w| w.code.as_str()).collect()
}

fn severity<'a>(out: &'a ValuationOutput, code: &str) -> Option<&'a str> {
    out.warnings
        .iter()
        .find(|w| w.code == code)
        .map(|w| w.severity.as_str())
}

/// A complete, unremarkable input; tests change one thing at a time.
fn base() -> serde_json::Value {
    json!({
        "bank_type": "PSU",
        "bank_name": "Bank of India",
        "property_address": "12 MG Road",
        "area": {"value": 1000.0, "unit": "sqft"},
        "market_rate": {"value": 5000.0, "unit": "per_sqft"},
        "guideline_rate_per_sqm": 40000.0,
        "land_value": 3_000_000.0,
        "building_value": 1_500_000.5,
    })
}

fn with(changes: serde_json::Value) -> ValuationInput {
    let mut v = base();
    for (k, x) in changes.as_object().unwrap() {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
    input(v)
}

#[test]
fn complete_input_has_no_warnings() {
    let out = evaluate(&input(base())).unwrap();
    assert_eq!(out.bank_type.as_deref(), Some("PSU"));
    assert_eq!(out.area_sqft, Some(1000.0));
    assert_eq!(out.area_sqm, Some(92.9));
    assert_eq!(out.market_rate_per_sqm, Some(53819.5));
    assert_eq!(out.guideline_rate_per_sqm, Some(40000.0));
    assert_eq!(out.fmv, Some(4_500_000.5));
    assert_eq!(out.realizable, Some(4_275_000.48));
    assert_eq!(out.distress, Some(3_600_000.4));
    assert_eq!(out.coop, None);
    assert_eq!(out.value_slab, "LT_5CR");
    assert_eq!(out.template, "SBI_FORMAT_A");
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

#[test]
fn area_and_rate_conversions() {
    let out = evaluate(&with(json!({"area": {"value": 100.0, "unit": "sqm"},
        "market_rate": {"value": 1000.0, "unit": "per_sqm"}})))
    .unwrap();
    assert_eq!(out.area_sqm, Some(100.0));
    assert_eq!(out.area_sqft, Some(1076.39));
    assert_eq!(out.market_rate_per_sqm, Some(1000.0));
    // Half-away rounding of the converted value: 10.7639 × 0.5 = 5.38195.
    let out = evaluate(&with(
        json!({"market_rate": {"value": 0.5, "unit": "per_sqft"}}),
    ))
    .unwrap();
    assert_eq!(out.market_rate_per_sqm, Some(5.38));
    // 1.005 sqm rounds half away from zero, not to even.
    let out = evaluate(&with(json!({"area": {"value": 1.005, "unit": "sqm"}}))).unwrap();
    assert_eq!(out.area_sqm, Some(1.01));
}

#[test]
fn explicit_guideline_per_sqm_wins_over_converted() {
    let out = evaluate(&with(json!({"guideline_rate_per_sqm": 123.456,
        "guideline_rate": {"value": 10.0, "unit": "per_sqft"}})))
    .unwrap();
    assert_eq!(out.guideline_rate_per_sqm, Some(123.46));
    let out = evaluate(&with(json!({"guideline_rate_per_sqm": null,
        "guideline_rate": {"value": 4000.0, "unit": "per_sqft"}})))
    .unwrap();
    assert_eq!(out.guideline_rate_per_sqm, Some(43055.6));
}

#[test]
fn fmv_from_input_or_parts() {
    let out = evaluate(&with(json!({"fmv_input": 1234.567}))).unwrap();
    assert_eq!(out.fmv, Some(1234.57));
    let out = evaluate(&with(json!({"land_value": null}))).unwrap();
    assert_eq!(out.fmv, Some(1_500_000.5));
    let out = evaluate(&with(json!({"land_value": null, "building_value": null}))).unwrap();
    assert_eq!(
        (
            out.fmv,
            out.realizable,
            out.distress,
            out.value_slab.as_str()
        ),
        (None, None, None, "UNKNOWN")
    );
    assert_eq!(out.template, "UNKNOWN");
    let out = evaluate(&with(json!({"fmv_input": 0.0}))).unwrap();
    assert_eq!((out.fmv, out.value_slab.as_str()), (Some(0.0), "UNKNOWN"));
    // realizable 0.95 × 10.01 = 9.5095 and distress 0.8 × 10.01 = 8.008.
    let out = evaluate(&with(json!({"fmv_input": 10.01}))).unwrap();
    assert_eq!((out.realizable, out.distress), (Some(9.51), Some(8.01)));
}

#[test]
fn slab_boundary_is_gt_at_exactly_five_crore() {
    for (fmv, slab, template) in [
        (49_999_999.99, "LT_5CR", "SBI_FORMAT_A"),
        (50_000_000.0, "GT_5CR", "BOI_PSU_GENERIC"),
        (50_000_000.01, "GT_5CR", "BOI_PSU_GENERIC"),
        (0.01, "LT_5CR", "SBI_FORMAT_A"),
    ] {
        let out = evaluate(&with(json!({"fmv_input": fmv}))).unwrap();
        assert_eq!(
            (out.value_slab.as_str(), out.template.as_str()),
            (slab, template),
            "{fmv}"
        );
    }
    assert_eq!(value_slab(None), "UNKNOWN");
    assert_eq!(value_slab(Some(-1.0)), "UNKNOWN");
    assert_eq!(value_slab(Some(50_000_000.0)), "GT_5CR");
}

#[test]
fn templates_by_bank_type_then_slab() {
    let cases = [
        ("COOP", 1e9, "COOP_GENERIC"),
        ("coop", 10.0, "COOP_GENERIC"),
        ("AGRI", 1e9, "AGRI_GENERIC"),
        ("Agri", 10.0, "AGRI_GENERIC"),
        ("SBI", 10.0, "SBI_FORMAT_A"),
        ("SBI", 1e9, "BOI_PSU_GENERIC"),
        ("PRIVATE", 10.0, "SBI_FORMAT_A"),
        ("psu", 6e7, "BOI_PSU_GENERIC"),
    ];
    for (bank, fmv, template) in cases {
        let out = evaluate(&with(json!({"bank_type": bank, "fmv_input": fmv}))).unwrap();
        assert_eq!(out.template, template, "{bank} {fmv}");
        assert_eq!(out.bank_type, Some(bank.to_uppercase()));
    }
    let out = evaluate(&with(json!({"bank_type": "COOP", "fmv_input": null,
        "land_value": null, "building_value": null})))
    .unwrap();
    assert_eq!(
        (out.value_slab.as_str(), out.template.as_str()),
        ("UNKNOWN", "COOP_GENERIC")
    );
}

#[test]
fn sbi_is_inferred_from_the_bank_name_only_when_no_type_is_given() {
    let out = evaluate(&with(
        json!({"bank_type": null, "bank_name": "sbi Main Branch"}),
    ))
    .unwrap();
    assert_eq!(out.bank_type.as_deref(), Some("SBI"));
    let out = evaluate(&with(
        json!({"bank_type": null, "bank_name": "Canara Bank"}),
    ))
    .unwrap();
    assert_eq!(out.bank_type, None);
    assert_eq!(out.template, "SBI_FORMAT_A", "no type: template by slab");
    let out = evaluate(&with(json!({"bank_type": "AGRI", "bank_name": "SBI Agri"}))).unwrap();
    assert_eq!(out.bank_type.as_deref(), Some("AGRI"));
}

#[test]
fn coop_adopted_inferred_from_market() {
    let out = evaluate(&with(
        json!({"bank_type": "COOP", "coop_market_value": 1_000_000.0}),
    ))
    .unwrap();
    let coop = out.coop.clone().unwrap();
    assert_eq!(coop.market_value, Some(1_000_000.0));
    assert_eq!(coop.adopted_value, Some(800_000.0));
    assert_eq!((coop.market_rate, coop.adopted_rate), (None, None));
    assert_eq!(coop.rounded_to_next_500, 1_000_000.0);
    assert_eq!(
        severity(&out, COOP_ADOPTED_INFERRED_FROM_MARKET),
        Some("info")
    );
    assert_eq!(severity(&out, COOP_MARKET_INFERRED_FROM_ADOPTED), None);
}

#[test]
fn coop_market_inferred_from_adopted() {
    let out = evaluate(&with(
        json!({"bank_type": "COOP", "fmv_input": null, "land_value": null,
        "building_value": null, "coop_adopted_value": 420.0}),
    ))
    .unwrap();
    let coop = out.coop.clone().unwrap();
    assert_eq!(coop.market_value, Some(525.0));
    assert_eq!(coop.adopted_value, Some(420.0));
    // The market value (inferred) comes first: 525 → 1000.
    assert_eq!(coop.rounded_to_next_500, 1000.0);
    // Without FMV the slab comes from the adopted value.
    assert_eq!(out.value_slab, "LT_5CR");
    assert_eq!(
        severity(&out, COOP_MARKET_INFERRED_FROM_ADOPTED),
        Some("info")
    );
    // 0.01 / 0.8 = 0.0125 → 0.01 (round2 of the inferred value).
    let out = evaluate(&with(
        json!({"bank_type": "COOP", "coop_adopted_value": 0.01}),
    ))
    .unwrap();
    assert_eq!(out.coop.unwrap().market_value, Some(0.01));
}

#[test]
fn coop_rates_use_the_same_codes_once() {
    let out = evaluate(&with(
        json!({"bank_type": "COOP", "coop_market_value": 100.0,
        "coop_market_rate": 55.55}),
    ))
    .unwrap();
    let coop = out.coop.clone().unwrap();
    assert_eq!(coop.adopted_rate, Some(44.44));
    assert_eq!(codes(&out), vec![COOP_ADOPTED_INFERRED_FROM_MARKET]);
    let out = evaluate(&with(
        json!({"bank_type": "COOP", "coop_market_value": 100.0,
        "coop_adopted_rate": 40.0}),
    ))
    .unwrap();
    assert_eq!(out.coop.as_ref().unwrap().market_rate, Some(50.0));
    assert_eq!(
        codes(&out),
        vec![
            COOP_ADOPTED_INFERRED_FROM_MARKET,
            COOP_MARKET_INFERRED_FROM_ADOPTED
        ]
    );
}

#[test]
fn coop_both_given_are_kept_and_neither_is_none() {
    let out = evaluate(&with(
        json!({"bank_type": "COOP", "coop_market_value": 1000.004,
        "coop_adopted_value": 1.0}),
    ))
    .unwrap();
    let coop = out.coop.clone().unwrap();
    assert_eq!(
        (coop.market_value, coop.adopted_value),
        (Some(1000.0), Some(1.0))
    );
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let out = evaluate(&with(json!({"bank_type": "COOP"}))).unwrap();
    let coop = out.coop.unwrap();
    assert_eq!((coop.market_value, coop.adopted_value), (None, None));
    // Falls back to FMV 4,500,000.50 → 4,500,500.
    assert_eq!(coop.rounded_to_next_500, 4_500_500.0);
}

#[test]
fn coop_fields_of_other_banks_are_ignored() {
    let out = evaluate(&with(json!({"coop_market_value": 1e9, "fmv_input": null,
        "land_value": null, "building_value": null})))
    .unwrap();
    assert_eq!(out.coop, None);
    assert_eq!(out.value_slab, "UNKNOWN");
}

#[test]
fn rounding_to_next_500() {
    assert_eq!(rounded_to_next_500(Some(500.01)), 1000.0);
    assert_eq!(rounded_to_next_500(Some(500.0)), 500.0);
    assert_eq!(rounded_to_next_500(Some(0.01)), 500.0);
    assert_eq!(rounded_to_next_500(Some(1.0e6 + 1.0)), 1_000_500.0);
    assert_eq!(rounded_to_next_500(Some(0.0)), 0.0);
    assert_eq!(rounded_to_next_500(Some(-3.0)), 0.0);
    assert_eq!(rounded_to_next_500(None), 0.0);
    assert_eq!(rounded_to_next_500(Some(f64::NAN)), 0.0);
    assert_eq!(rounded_to_next_500(Some(f64::INFINITY)), 0.0);
}

#[test]
fn warnings_each_and_sorted() {
    let out = evaluate(&with(json!({"bank_name": "  ", "property_address": null}))).unwrap();
    assert_eq!(
        codes(&out),
        vec![BANK_NAME_MISSING, PROPERTY_ADDRESS_MISSING]
    );
    assert!(out.warnings.iter().all(|w| w.severity == "warning"));

    let out = evaluate(&with(
        json!({"market_rate": null, "guideline_rate_per_sqm": null}),
    ))
    .unwrap();
    assert_eq!(codes(&out), vec![RATE_INPUT_MISSING]);
    let out = evaluate(&with(
        json!({"market_rate": null, "guideline_rate_per_sqm": null,
        "guideline_rate": {"value": 1.0, "unit": "per_sqm"}}),
    ))
    .unwrap();
    assert!(codes(&out).is_empty());

    let out = evaluate(&with(json!({"area": {"value": 10.0, "unit": "sqm"}}))).unwrap();
    assert_eq!(codes(&out), vec![UNIT_MISMATCH]);
    let out = evaluate(&with(json!({"area": {"value": 10.0, "unit": "sqm"},
        "market_rate": {"value": 40000.0, "unit": "per_sqm"}})))
    .unwrap();
    assert!(codes(&out).is_empty());
    let out = evaluate(&with(
        json!({"market_rate": {"value": 40000.0, "unit": "per_sqm"}}),
    ))
    .unwrap();
    assert_eq!(codes(&out), vec![UNIT_MISMATCH]);

    let all = evaluate(&ValuationInput {
        bank_type: Some("COOP".into()),
        coop_adopted_value: Some(1.0),
        ..ValuationInput::default()
    })
    .unwrap();
    assert_eq!(
        codes(&all),
        vec![
            BANK_NAME_MISSING,
            COOP_MARKET_INFERRED_FROM_ADOPTED,
            PROPERTY_ADDRESS_MISSING,
            RATE_INPUT_MISSING
        ]
    );
}

#[test]
fn rate_mismatch_bounds() {
    let case = |market: f64, guideline: f64| {
        let out = evaluate(&with(json!({
            "market_rate": {"value": market, "unit": "per_sqm"},
            "area": {"value": 1.0, "unit": "sqm"},
            "guideline_rate_per_sqm": guideline})))
        .unwrap();
        codes(&out).contains(&RATE_MISMATCH_SUSPICIOUS)
    };
    assert!(!case(1000.0, 100.0), "ratio exactly 10");
    assert!(case(1000.01, 100.0), "ratio above 10");
    assert!(!case(10.0, 100.0), "ratio exactly 0.1");
    assert!(case(9.99, 100.0), "ratio below 0.1");
    assert!(case(0.0, 100.0), "market 0");
    assert!(!case(1000.0, 0.0), "guideline 0 is skipped");
    assert!(!case(5.0, 0.004), "guideline rounds to 0: skipped");
}

#[test]
fn input_errors_name_the_field() {
    let err = |changes: serde_json::Value| evaluate(&with(changes)).unwrap_err().field;
    assert_eq!(err(json!({"bank_type": "NBFC"})), "bank_type");
    assert_eq!(err(json!({"bank_type": ""})), "bank_type");
    assert_eq!(
        err(json!({"area": {"value": 1.0, "unit": "acre"}})),
        "area.unit"
    );
    assert_eq!(
        err(json!({"area": {"value": -1.0, "unit": "sqm"}})),
        "area.value"
    );
    assert_eq!(
        err(json!({"market_rate": {"value": 1.0, "unit": "sqft"}})),
        "market_rate.unit"
    );
    assert_eq!(
        err(json!({"guideline_rate_per_sqm": null,
        "guideline_rate": {"value": 1.0, "unit": "per_acre"}})),
        "guideline_rate.unit"
    );
    assert_eq!(
        err(json!({"guideline_rate_per_sqm": -0.01})),
        "guideline_rate_per_sqm"
    );
    assert_eq!(err(json!({"land_value": -5.0})), "land_value");
    assert_eq!(err(json!({"coop_adopted_rate": -5.0})), "coop_adopted_rate");
    assert_eq!(
        err(json!({"area": {"value": 1e308, "unit": "sqm"}})),
        "area.value"
    );
    assert_eq!(
        err(json!({"land_value": 1e308, "building_value": 1e308})),
        "land_value"
    );
    let nan = ValuationInput {
        fmv_input: Some(f64::NAN),
        ..ValuationInput::default()
    };
    assert_eq!(evaluate(&nan).unwrap_err().field, "fmv_input");
    let inf = ValuationInput {
        coop_market_value: Some(f64::INFINITY),
        ..ValuationInput::default()
    };
    assert_eq!(evaluate(&inf).unwrap_err().field, "coop_market_value");
    // Zero is allowed everywhere.
    assert!(evaluate(&with(
        json!({"area": {"value": 0.0, "unit": "sqm"}, "land_value": 0.0,
        "guideline_rate_per_sqm": 0.0, "market_rate": {"value": 0.0, "unit": "per_sqft"}})
    ))
    .is_ok());
}

#[test]
fn json_names_and_unknown_fields() {
    let bad: Result<ValuationInput, _> = serde_json::from_value(json!({"bank": "SBI"}));
    assert!(bad.is_err());
    let bad: Result<ValuationInput, _> =
        serde_json::from_value(json!({"area": {"value": 1.0, "unit": "sqm", "x": 1}}));
    assert!(bad.is_err());
    let empty: ValuationInput = serde_json::from_value(json!({})).unwrap();
    assert_eq!(empty, ValuationInput::default());
    let out = serde_json::to_value(
        evaluate(&input(json!({"bank_type": "COOP",
        "coop_market_value": 10.0})))
        .unwrap(),
    )
    .unwrap();
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "bank_type",
        "area_sqm",
        "area_sqft",
        "market_rate_per_sqm",
        "guideline_rate_per_sqm",
        "fmv",
        "realizable",
        "distress",
        "coop",
        "value_slab",
        "template",
        "warnings",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert_eq!(out["coop"]["rounded_to_next_500"], json!(500.0));
    assert_eq!(
        out["warnings"][0],
        json!({"code": "BANK_NAME_MISSING", "severity": "warning"})
    );
    let back: ValuationOutput = serde_json::from_value(out).unwrap();
    assert_eq!(back.template, "COOP_GENERIC");
}

// One test per deliberate mistake that touches valuation: each changes an
// observable output.

#[test]
fn mistake_round_half_even_changes_area() {
    let m = Mistakes::parse("round_half_even").unwrap();
    let i = with(json!({"area": {"value": 1.005, "unit": "sqm"}}));
    assert_eq!(evaluate(&i).unwrap().area_sqm, Some(1.01));
    assert_eq!(evaluate_with(&i, &m).unwrap().area_sqm, Some(1.0));
}

#[test]
fn mistake_ceil_to_100_changes_rounded_value() {
    let m = Mistakes::parse("ceil_to_100").unwrap();
    let i = with(json!({"bank_type": "COOP", "coop_market_value": 120.0}));
    assert_eq!(
        evaluate(&i).unwrap().coop.unwrap().rounded_to_next_500,
        500.0
    );
    assert_eq!(
        evaluate_with(&i, &m)
            .unwrap()
            .coop
            .unwrap()
            .rounded_to_next_500,
        200.0
    );
}

#[test]
fn mistake_slab_strict_gt_changes_the_boundary() {
    let m = Mistakes::parse("slab_strict_gt").unwrap();
    let i = with(json!({"fmv_input": 50_000_000.0}));
    let right = evaluate(&i).unwrap();
    let wrong = evaluate_with(&i, &m).unwrap();
    assert_eq!(
        (right.value_slab.as_str(), right.template.as_str()),
        ("GT_5CR", "BOI_PSU_GENERIC")
    );
    assert_eq!(
        (wrong.value_slab.as_str(), wrong.template.as_str()),
        ("LT_5CR", "SBI_FORMAT_A")
    );
}

fn money() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0f64..1e12,
        (0i64..100_000_000_000).prop_map(|cents| cents as f64 / 100.0),
        (0i64..10_000_000).prop_map(|k| k as f64 * 500.0),
        Just(0.0),
        Just(GT_5CR_FROM),
    ]
}

fn opt_money() -> impl Strategy<Value = Option<f64>> {
    prop::option::of(money())
}

fn measure_of(units: &'static [&'static str]) -> impl Strategy<Value = Option<Measure>> {
    prop::option::of(
        (money(), prop::sample::select(units)).prop_map(|(value, unit)| Measure {
            value,
            unit: unit.to_owned(),
        }),
    )
}

prop_compose! {
    fn any_input()(
        bank_type in prop::option::of(prop::sample::select(vec!["SBI", "coop", "AGRI", "PSU", "PRIVATE"])),
        bank_name in prop::option::of(prop::sample::select(vec!["", "SBI Main", "Canara", "  "])),
        property_address in prop::option::of(prop::sample::select(vec!["", "1 Road"])),
        area in measure_of(&["sqft", "sqm"]),
        market_rate in measure_of(&["per_sqft", "per_sqm"]),
        guideline_rate in measure_of(&["per_sqft", "per_sqm"]),
        guideline_rate_per_sqm in opt_money(),
        (land_value, building_value, fmv_input) in (opt_money(), opt_money(), opt_money()),
        (coop_market_value, coop_adopted_value) in (opt_money(), opt_money()),
        (coop_market_rate, coop_adopted_rate) in (opt_money(), opt_money()),
    ) -> ValuationInput {
        ValuationInput {
            bank_type: bank_type.map(str::to_owned),
            bank_name: bank_name.map(str::to_owned),
            property_address: property_address.map(str::to_owned),
            area, market_rate, guideline_rate, guideline_rate_per_sqm,
            land_value, building_value, fmv_input,
            coop_market_value, coop_adopted_value, coop_market_rate, coop_adopted_rate,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn derived_values_are_ordered(i in any_input()) {
        let out = evaluate(&i).unwrap();
        if let Some(fmv) = out.fmv {
            let (r, d) = (out.realizable.unwrap(), out.distress.unwrap());
            prop_assert!(r <= fmv, "realizable {} > fmv {}", r, fmv);
            prop_assert!(d <= r, "distress {} > realizable {}", d, r);
            prop_assert!(d >= 0.0);
        } else {
            prop_assert_eq!((out.realizable, out.distress), (None, None));
        }
    }

    #[test]
    fn outputs_are_well_formed(i in any_input()) {
        let out = evaluate(&i).unwrap();
        let mut sorted = out.warnings.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(&sorted, &out.warnings);
        prop_assert!(["UNKNOWN", "LT_5CR", "GT_5CR"].contains(&out.value_slab.as_str()));
        prop_assert_eq!(out.coop.is_some(), out.bank_type.as_deref() == Some("COOP"));
        for v in [out.area_sqm, out.area_sqft, out.market_rate_per_sqm,
                  out.guideline_rate_per_sqm, out.fmv].into_iter().flatten() {
            prop_assert!(v.is_finite() && v >= 0.0);
            prop_assert_eq!(crate::round::round2(v), v, "already two decimals");
        }
        if let Some(c) = &out.coop {
            prop_assert_eq!(c.market_value.is_some(), c.adopted_value.is_some());
            prop_assert_eq!(c.market_rate.is_some(), c.adopted_rate.is_some());
        }
        // JSON round trip keeps every value.
        let back: ValuationOutput =
            serde_json::from_value(serde_json::to_value(&out).unwrap()).unwrap();
        prop_assert_eq!(back, out);
    }

    #[test]
    fn rounded_to_next_500_is_the_least_multiple_above(v in money()) {
        let r = rounded_to_next_500(Some(v));
        if v <= 0.0 {
            prop_assert_eq!(r, 0.0);
        } else {
            prop_assert!(r >= v, "{} < {}", r, v);
            prop_assert!(r - v < 500.0, "{} is not the least multiple above {}", r, v);
            prop_assert_eq!(r % 500.0, 0.0);
        }
    }

    #[test]
    fn slab_is_monotone(a in money(), b in money()) {
        let rank = |s: &str| ["UNKNOWN", "LT_5CR", "GT_5CR"].iter().position(|x| *x == s).unwrap();
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(rank(value_slab(Some(lo))) <= rank(value_slab(Some(hi))));
    }
}

#[test]
fn input_fields_name_every_key_of_the_input() {
    let full = ValuationInput {
        bank_type: Some("SBI".into()),
        bank_name: Some("b".into()),
        property_address: Some("a".into()),
        area: Some(Measure {
            value: 1.0,
            unit: "sqm".into(),
        }),
        market_rate: Some(Measure {
            value: 1.0,
            unit: "per_sqm".into(),
        }),
        guideline_rate: Some(Measure {
            value: 1.0,
            unit: "per_sqm".into(),
        }),
        guideline_rate_per_sqm: Some(1.0),
        land_value: Some(1.0),
        building_value: Some(1.0),
        fmv_input: Some(1.0),
        coop_market_value: Some(1.0),
        coop_adopted_value: Some(1.0),
        coop_market_rate: Some(1.0),
        coop_adopted_rate: Some(1.0),
    };
    let json = serde_json::to_value(&full).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut named = INPUT_FIELDS.to_vec();
    keys.sort();
    named.sort();
    assert_eq!(keys, named);
}
