//! Valuation rules over `POST /v1/repogen/evaluate` (SYSTEM-SPEC 8.1).

use proptest::prelude::*;
use serde_json::Value;

use super::{check, ensure, fail, num, snippet, CaseResult, Env, Property};
use crate::model::round::round2;
use crate::model::valuation::{self, Measure, ValuationInput, SLAB_BOUNDARY, SQFT_PER_SQM};
use crate::PropertyInfo;

pub(crate) static PROPERTIES: &[Property] = &[
    Property {
        info: PropertyInfo {
            name: "valuation_matches_model",
            family: "valuation",
            description: "every output field and the sorted warning list equal the reference model's; invalid input is 422",
            default_cases: 256,
        },
        run: |env, runner| check(env, runner, any_input(), matches_model),
    },
    Property {
        info: PropertyInfo {
            name: "valuation_value_bounds",
            family: "valuation",
            description: "realizable ≤ FMV and distress ≤ realizable, both present exactly when FMV is",
            default_cases: 128,
        },
        run: |env, runner| check(env, runner, valid_input(), value_bounds),
    },
    Property {
        info: PropertyInfo {
            name: "valuation_coop_rounded_to_next_500",
            family: "valuation",
            description: "COOP rounded_to_next_500 is a multiple of 500, ≥ its source value and < source + 500 (0 without a positive source)",
            default_cases: 128,
        },
        run: |env, runner| check(env, runner, coop_input(), rounded_to_next_500),
    },
    Property {
        info: PropertyInfo {
            name: "valuation_area_round_trip",
            family: "valuation",
            description: "sqft→sqm→sqft stays within the rounding bound, sqm→sqft→sqm within 0.01",
            default_cases: 128,
        },
        run: |env, runner| check(env, runner, amount(), area_round_trip),
    },
    Property {
        info: PropertyInfo {
            name: "valuation_slab_boundaries",
            family: "valuation",
            description: "value slab and template around 0 and 50,000,000 (exactly 50,000,000 is GT_5CR)",
            default_cases: 128,
        },
        run: |env, runner| check(env, runner, slab_input(), slab_boundaries),
    },
    Property {
        info: PropertyInfo {
            name: "valuation_rate_ratio_boundaries",
            family: "valuation",
            description: "RATE_MISMATCH_SUSPICIOUS around market/guideline = 0.1 and 10 (both inclusive bounds are not suspicious) and guideline 0, rates per sqm and per sqft: output equals the model's",
            default_cases: 128,
        },
        run: |env, runner| check(env, runner, rate_ratio_input(), matches_model),
    },
];

const EVALUATE: &str = "/v1/repogen/evaluate";

/// Values with three decimals (ties such as 0.125 and 1.005 are common),
/// large values with cents, and the rule boundaries.
pub(crate) fn amount() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        4 => (0u64..=2_000_000).prop_map(|n| n as f64 / 1000.0),
        3 => (0u64..=20_000_000_000).prop_map(|n| n as f64 / 100.0),
        1 => prop::sample::select(vec![
            0.0, 0.005, 0.015, 0.125, 1.005, 2.675, 499.995, 500.0, 500.005, 1000.0,
            49_999_999.99, 49_999_999.995, 50_000_000.0, 50_000_000.004, 52_631_578.95,
            62_500_000.0,
        ]),
    ]
}

/// [`amount`], now and then negative (the API must answer 422).
fn amount_or_negative() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        24 => amount(),
        1 => (1u64..=100_000).prop_map(|n| -(n as f64) / 100.0),
    ]
}

fn text(choices: &'static [&'static str]) -> impl Strategy<Value = Option<String>> + Clone {
    proptest::option::weighted(0.7, prop::sample::select(choices).prop_map(str::to_owned))
}

fn measure(
    value: impl Strategy<Value = f64> + Clone,
    units: &'static [&'static str],
) -> impl Strategy<Value = Option<Measure>> + Clone {
    proptest::option::weighted(
        0.6,
        (value, prop::sample::select(units)).prop_map(|(value, unit)| Measure {
            value,
            unit: unit.to_owned(),
        }),
    )
}

fn opt(
    value: impl Strategy<Value = f64> + Clone,
    p: f64,
) -> impl Strategy<Value = Option<f64>> + Clone {
    proptest::option::weighted(p, value)
}

/// Inputs built from `value`; `bank_types`/units include invalid ones when
/// the caller wants 422 cases.
fn input_with(
    value: impl Strategy<Value = f64> + Clone + 'static,
    bank_types: &'static [&'static str],
    area_units: &'static [&'static str],
    rate_units: &'static [&'static str],
) -> BoxedStrategy<ValuationInput> {
    let who = (
        text(bank_types),
        text(&[
            "SBI Main Branch",
            "Canara Co-op",
            "HDFC",
            "state bank of india (sbi)",
            "",
            "   ",
        ]),
        text(&["12 MG Road, Pune", "", "  "]),
    );
    let rates = (
        measure(value.clone(), area_units),
        measure(value.clone(), rate_units),
        measure(value.clone(), rate_units),
        opt(value.clone(), 0.25),
    );
    let values = (
        opt(value.clone(), 0.4),
        opt(value.clone(), 0.4),
        opt(value.clone(), 0.3),
    );
    let coop = (
        opt(value.clone(), 0.4),
        opt(value.clone(), 0.4),
        opt(value.clone(), 0.3),
        opt(value, 0.3),
    );
    (who, rates, values, coop)
        .prop_map(
            |(
                (bank_type, bank_name, property_address),
                (area, market_rate, guideline_rate, guideline_rate_per_sqm),
                (land_value, building_value, fmv_input),
                (coop_market_value, coop_adopted_value, coop_market_rate, coop_adopted_rate),
            )| ValuationInput {
                bank_type,
                bank_name,
                property_address,
                area,
                market_rate,
                guideline_rate,
                guideline_rate_per_sqm,
                land_value,
                building_value,
                fmv_input,
                coop_market_value,
                coop_adopted_value,
                coop_market_rate,
                coop_adopted_rate,
            },
        )
        .boxed()
}

const BANK_TYPES: &[&str] = &["COOP", "SBI", "AGRI", "PSU", "PRIVATE", "coop", "Agri"];

fn valid_input() -> BoxedStrategy<ValuationInput> {
    input_with(
        amount(),
        BANK_TYPES,
        &["sqft", "sqm"],
        &["per_sqft", "per_sqm"],
    )
}

/// Valid and invalid inputs (negative numbers, unknown bank types and units).
fn any_input() -> BoxedStrategy<ValuationInput> {
    input_with(
        amount_or_negative(),
        &[
            "COOP", "SBI", "AGRI", "PSU", "PRIVATE", "coop", "Agri", "BOI",
        ],
        &["sqft", "sqm", "sqft", "sqm", "sqft", "sqm", "acre"],
        &[
            "per_sqft", "per_sqm", "per_sqft", "per_sqm", "per_sqft", "per_sqm", "per_acre",
        ],
    )
}

fn coop_input() -> BoxedStrategy<ValuationInput> {
    valid_input()
        .prop_map(|mut i| {
            i.bank_type = Some("COOP".into());
            i
        })
        .boxed()
}

/// FMV around 50,000,000 and around 0, under every bank type.
fn slab_input() -> BoxedStrategy<ValuationInput> {
    let around_boundary = prop_oneof![
        prop::sample::select(vec![
            -1.0, -0.01, -0.006, -0.005, -0.004, 0.0, 0.004, 0.005, 0.01, 1.0
        ]),
        (-100_000i64..=100_000).prop_map(|c| c as f64 / 1000.0),
    ]
    .prop_map(|d| SLAB_BOUNDARY + d);
    let around_zero = prop_oneof![
        prop::sample::select(vec![0.0, 0.001, 0.004, 0.005, 0.01, 1.0]),
        (0u64..=10_000).prop_map(|c| c as f64 / 1000.0),
    ];
    let fmv = prop_oneof![3 => around_boundary, 1 => around_zero];
    (
        proptest::option::of(prop::sample::select(
            &["SBI", "PSU", "PRIVATE", "COOP", "AGRI"][..],
        )),
        fmv,
        any::<bool>(),
    )
        .prop_map(|(bank_type, v, split)| ValuationInput {
            bank_type: bank_type.map(str::to_owned),
            // FMV either given directly or as land + building.
            fmv_input: (!split).then_some(v),
            land_value: split.then_some(v),
            building_value: split.then_some(0.0),
            ..Default::default()
        })
        .boxed()
}

/// A guideline rate per sqm and a market rate at, just under and just over
/// 0.1 and 10 times it (the spec's `> 10 or < 0.1`), sometimes given per
/// sqft (converted before the ratio), sometimes against a zero guideline.
fn rate_ratio_input() -> BoxedStrategy<ValuationInput> {
    let factor = prop::sample::select(vec![
        0.0999, 0.09999, 0.1, 0.10001, 0.1001, 1.0, 9.999, 9.9999, 10.0, 10.0001, 10.001,
    ]);
    let guideline = prop_oneof![
        4 => (1u64..=10_000_000).prop_map(|c| c as f64 / 100.0),
        1 => prop::sample::select(vec![0.0, 0.01, 1.0, 10.0, 100.0, 1000.0]),
    ];
    (guideline, factor, any::<bool>())
        .prop_map(|(g, k, per_sqft)| {
            let market = round2(g * k);
            ValuationInput {
                bank_name: Some("SBI Main Branch".into()),
                property_address: Some("1 Main Road".into()),
                guideline_rate_per_sqm: Some(g),
                market_rate: Some(if per_sqft {
                    Measure {
                        value: round2(market / SQFT_PER_SQM),
                        unit: "per_sqft".into(),
                    }
                } else {
                    Measure {
                        value: market,
                        unit: "per_sqm".into(),
                    }
                }),
                ..Default::default()
            }
        })
        .boxed()
}

fn evaluate(env: &Env, input: &ValuationInput) -> Result<Value, super::Fail> {
    env.expect("POST", EVALUATE, Some(&input.to_json()), 200)
}

fn matches_model(env: &Env, input: &ValuationInput) -> CaseResult {
    let reply = env.call("POST", EVALUATE, Some(&input.to_json()))?;
    match valuation::evaluate(input) {
        Err(invalid) => {
            ensure!(
                reply.status == 422,
                "input is invalid ({}), expected 422, got {}: {}",
                invalid.0,
                reply.status,
                snippet(&reply.body)
            );
        }
        Ok(model) => {
            ensure!(
                reply.status == 200,
                "expected 200, got {}: {}",
                reply.status,
                snippet(&reply.body)
            );
            let diffs = valuation::diff(&reply.body, &model.to_json());
            ensure!(
                diffs.is_empty(),
                "API differs from the model: {}",
                diffs.join("; ")
            );
        }
    }
    Ok(())
}

fn opt_num(body: &Value, field: &str) -> Result<Option<f64>, super::Fail> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) => Ok(Some(x)),
            None => fail(format!("{field} is not a number: {v}")),
        },
    }
}

fn value_bounds(env: &Env, input: &ValuationInput) -> CaseResult {
    let out = evaluate(env, input)?;
    let fmv = opt_num(&out, "fmv")?;
    let realizable = opt_num(&out, "realizable")?;
    let distress = opt_num(&out, "distress")?;
    match (fmv, realizable, distress) {
        (Some(f), Some(r), Some(d)) => {
            ensure!(r <= f, "realizable {r} > fmv {f}");
            ensure!(d <= r, "distress {d} > realizable {r}");
            ensure!(d >= 0.0, "distress {d} < 0");
        }
        (None, None, None) => {}
        other => {
            return fail(format!(
                "fmv/realizable/distress not all present or all absent: {other:?}"
            ))
        }
    }
    Ok(())
}

fn rounded_to_next_500(env: &Env, input: &ValuationInput) -> CaseResult {
    let out = evaluate(env, input)?;
    let coop = out.get("coop").filter(|c| !c.is_null());
    let Some(coop) = coop else {
        return fail(format!(
            "bank_type COOP but no coop block: {}",
            snippet(&out)
        ));
    };
    let rounded = num(coop, "/rounded_to_next_500", "coop.rounded_to_next_500")?;
    let source = opt_num(coop, "market_value")?
        .or(opt_num(coop, "adopted_value")?)
        .or(opt_num(&out, "fmv")?);
    ensure!(
        rounded % 500.0 == 0.0,
        "rounded_to_next_500 {rounded} is not a multiple of 500 (source {source:?})"
    );
    match source {
        Some(v) if v > 0.0 => {
            ensure!(rounded >= v, "rounded_to_next_500 {rounded} < source {v}");
            ensure!(
                rounded < v + 500.0,
                "rounded_to_next_500 {rounded} ≥ source {v} + 500"
            );
        }
        _ => ensure!(
            rounded == 0.0,
            "no positive source ({source:?}) but rounded_to_next_500 = {rounded}"
        ),
    }
    Ok(())
}

/// Area conversions survive a round trip through the API, within what
/// rounding allows.
///
/// The issue asks for sqft→sqm→sqft within 0.01; with sqm rounded to 2
/// decimals that bound is impossible: sqm is off by up to 0.005, which is
/// 0.005 × 10.7639 ≈ 0.054 sqft, and the final round2 adds 0.005. So the
/// checked bound is |back − a| ≤ 0.005 × 10.7639 + 0.005. The other
/// direction, sqm→sqft→sqm, does hold within 0.01 (0.005 + 0.005 / 10.7639).
/// A relative 1e-12 covers f64 error on large areas.
fn area_round_trip(env: &Env, a: &f64) -> CaseResult {
    let a = *a;
    let slack = a.abs() * 1e-12;
    let with_area = |value: f64, unit: &str| ValuationInput {
        area: Some(Measure {
            value,
            unit: unit.to_owned(),
        }),
        ..Default::default()
    };
    let sqm = num(
        &evaluate(env, &with_area(a, "sqft"))?,
        "/area_sqm",
        "area_sqm",
    )?;
    let back = num(
        &evaluate(env, &with_area(sqm, "sqm"))?,
        "/area_sqft",
        "area_sqft",
    )?;
    let bound = 0.005 * SQFT_PER_SQM + 0.005 + slack;
    ensure!(
        (back - a).abs() <= bound,
        "{a} sqft → {sqm} sqm → {back} sqft: off by {} (> {bound})",
        (back - a).abs()
    );
    let sqft = num(
        &evaluate(env, &with_area(a, "sqm"))?,
        "/area_sqft",
        "area_sqft",
    )?;
    let back = num(
        &evaluate(env, &with_area(sqft, "sqft"))?,
        "/area_sqm",
        "area_sqm",
    )?;
    ensure!(
        (back - a).abs() <= 0.01 + slack,
        "{a} sqm → {sqft} sqft → {back} sqm: off by {} (> 0.01)",
        (back - a).abs()
    );
    Ok(())
}

fn slab_boundaries(env: &Env, input: &ValuationInput) -> CaseResult {
    let out = evaluate(env, input)?;
    let fmv = opt_num(&out, "fmv")?;
    let v = input.fmv_input.or(input
        .land_value
        .map(|l| l + input.building_value.unwrap_or(0.0)));
    let expected_fmv = v.map(round2);
    ensure!(
        fmv == expected_fmv,
        "fmv {fmv:?}, expected {expected_fmv:?}"
    );
    let expected = valuation::slab(expected_fmv);
    let slab = out
        .get("value_slab")
        .and_then(Value::as_str)
        .unwrap_or("<missing>");
    ensure!(
        slab == expected,
        "fmv {expected_fmv:?} has value_slab {slab}, expected {expected}"
    );
    let template = out
        .get("template")
        .and_then(Value::as_str)
        .unwrap_or("<missing>");
    let expected_template = match input.bank_type.as_deref() {
        Some("COOP") => "COOP_GENERIC",
        Some("AGRI") => "AGRI_GENERIC",
        _ => match expected {
            "LT_5CR" => "SBI_FORMAT_A",
            "GT_5CR" => "BOI_PSU_GENERIC",
            _ => "UNKNOWN",
        },
    };
    ensure!(
        template == expected_template,
        "bank type {:?}, slab {expected}: template {template}, expected {expected_template}",
        input.bank_type
    );
    Ok(())
}
