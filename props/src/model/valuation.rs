//! Valuation rules (SYSTEM-SPEC 8.1, contract A `valuation`).

use serde::Serialize;
use serde_json::Value;

use super::round::round2;

pub const SQFT_PER_SQM: f64 = 10.7639;
pub const SLAB_BOUNDARY: f64 = 50_000_000.0;

/// A value with its unit, as the API takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    pub value: f64,
    pub unit: String,
}

/// The request body of `POST /v1/repogen/evaluate`; absent fields are left
/// out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ValuationInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<Measure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market_rate: Option<Measure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guideline_rate: Option<Measure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guideline_rate_per_sqm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub land_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub building_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fmv_input: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coop_market_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coop_adopted_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coop_market_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coop_adopted_rate: Option<f64>,
}

impl ValuationInput {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("plain data serializes")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoopValues {
    pub market_value: Option<f64>,
    pub adopted_value: Option<f64>,
    pub market_rate: Option<f64>,
    pub adopted_rate: Option<f64>,
    pub rounded_to_next_500: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Warning {
    pub code: &'static str,
    pub severity: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValuationOutput {
    pub bank_type: Option<String>,
    pub area_sqm: Option<f64>,
    pub area_sqft: Option<f64>,
    pub market_rate_per_sqm: Option<f64>,
    pub guideline_rate_per_sqm: Option<f64>,
    pub fmv: Option<f64>,
    pub realizable: Option<f64>,
    pub distress: Option<f64>,
    pub coop: Option<CoopValues>,
    pub value_slab: &'static str,
    pub template: &'static str,
    pub warnings: Vec<Warning>,
}

impl ValuationOutput {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("plain data serializes")
    }
}

/// Why the input is refused (422), naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField(pub &'static str);

const BANK_TYPES: [&str; 5] = ["SBI", "COOP", "AGRI", "PSU", "PRIVATE"];

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

fn check_number(field: &'static str, v: Option<f64>) -> Result<(), InvalidField> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => Err(InvalidField(field)),
        _ => Ok(()),
    }
}

fn check_measure(
    field: &'static str,
    m: &Option<Measure>,
    units: [&str; 2],
) -> Result<(), InvalidField> {
    if let Some(m) = m {
        if !units.contains(&m.unit.as_str()) {
            return Err(InvalidField(field));
        }
        check_number(field, Some(m.value))?;
    }
    Ok(())
}

/// `ceil(v / 500) × 500`; 0 when `v` is absent, ≤ 0 or not finite.
pub fn next_500(v: Option<f64>) -> f64 {
    match v {
        Some(v) if v.is_finite() && v > 0.0 => (v / 500.0).ceil() * 500.0,
        _ => 0.0,
    }
}

/// UNKNOWN / LT_5CR / GT_5CR of a value (50,000,000 itself is GT_5CR).
pub fn slab(v: Option<f64>) -> &'static str {
    match v {
        Some(v) if v > 0.0 => {
            if v < SLAB_BOUNDARY {
                "LT_5CR"
            } else {
                "GT_5CR"
            }
        }
        _ => "UNKNOWN",
    }
}

/// The spec's answer for `input`.
pub fn evaluate(input: &ValuationInput) -> Result<ValuationOutput, InvalidField> {
    let bank_type = match &input.bank_type {
        Some(t) => {
            let upper = t.to_uppercase();
            if !BANK_TYPES.contains(&upper.as_str()) {
                return Err(InvalidField("bank_type"));
            }
            Some(upper)
        }
        None => input
            .bank_name
            .as_deref()
            .filter(|n| n.to_uppercase().contains("SBI"))
            .map(|_| "SBI".to_owned()),
    };
    check_measure("area", &input.area, ["sqft", "sqm"])?;
    check_measure("market_rate", &input.market_rate, ["per_sqft", "per_sqm"])?;
    check_measure(
        "guideline_rate",
        &input.guideline_rate,
        ["per_sqft", "per_sqm"],
    )?;
    for (field, v) in [
        ("guideline_rate_per_sqm", input.guideline_rate_per_sqm),
        ("land_value", input.land_value),
        ("building_value", input.building_value),
        ("fmv_input", input.fmv_input),
        ("coop_market_value", input.coop_market_value),
        ("coop_adopted_value", input.coop_adopted_value),
        ("coop_market_rate", input.coop_market_rate),
        ("coop_adopted_rate", input.coop_adopted_rate),
    ] {
        check_number(field, v)?;
    }

    let (area_sqm, area_sqft) = match &input.area {
        Some(m) if m.unit == "sqft" => {
            (Some(round2(m.value / SQFT_PER_SQM)), Some(round2(m.value)))
        }
        Some(m) => (Some(round2(m.value)), Some(round2(m.value * SQFT_PER_SQM))),
        None => (None, None),
    };
    let per_sqm = |m: &Measure| {
        if m.unit == "per_sqft" {
            round2(m.value * SQFT_PER_SQM)
        } else {
            round2(m.value)
        }
    };
    let market_rate_per_sqm = input.market_rate.as_ref().map(per_sqm);
    let guideline_rate_per_sqm = match input.guideline_rate_per_sqm {
        Some(v) => Some(round2(v)),
        None => input.guideline_rate.as_ref().map(per_sqm),
    };
    let fmv = match (input.fmv_input, input.land_value, input.building_value) {
        (Some(f), _, _) => Some(round2(f)),
        (None, None, None) => None,
        (None, land, building) => Some(round2(land.unwrap_or(0.0) + building.unwrap_or(0.0))),
    };
    let realizable = fmv.map(|f| round2(f * 0.95));
    let distress = fmv.map(|f| round2(f * 0.80));

    let mut warnings = Vec::new();
    let is_coop = bank_type.as_deref() == Some("COOP");
    let coop = if is_coop {
        let (market_value, adopted_value) = infer_pair(
            input.coop_market_value,
            input.coop_adopted_value,
            &mut warnings,
        );
        let (market_rate, adopted_rate) = infer_pair(
            input.coop_market_rate,
            input.coop_adopted_rate,
            &mut warnings,
        );
        let rounded_to_next_500 = next_500(market_value.or(adopted_value).or(fmv));
        Some(CoopValues {
            market_value,
            adopted_value,
            market_rate,
            adopted_rate,
            rounded_to_next_500,
        })
    } else {
        None
    };
    let slab_source = fmv
        .or(coop.as_ref().and_then(|c| c.adopted_value))
        .or(coop.as_ref().and_then(|c| c.market_value));
    let value_slab = slab(slab_source);
    let template = match bank_type.as_deref() {
        Some("COOP") => "COOP_GENERIC",
        Some("AGRI") => "AGRI_GENERIC",
        _ => match value_slab {
            "LT_5CR" => "SBI_FORMAT_A",
            "GT_5CR" => "BOI_PSU_GENERIC",
            _ => "UNKNOWN",
        },
    };

    let warn = |code| Warning {
        code,
        severity: "warning",
    };
    if blank(&input.bank_name) {
        warnings.push(warn("BANK_NAME_MISSING"));
    }
    if input.market_rate.is_none()
        && input.guideline_rate.is_none()
        && input.guideline_rate_per_sqm.is_none()
    {
        warnings.push(warn("RATE_INPUT_MISSING"));
    }
    if let (Some(m), Some(g)) = (market_rate_per_sqm, guideline_rate_per_sqm) {
        if g != 0.0 {
            let ratio = m / g;
            if !(0.1..=10.0).contains(&ratio) {
                warnings.push(warn("RATE_MISMATCH_SUSPICIOUS"));
            }
        }
    }
    if let (Some(a), Some(r)) = (&input.area, &input.market_rate) {
        if (a.unit == "sqft" && r.unit == "per_sqm") || (a.unit == "sqm" && r.unit == "per_sqft") {
            warnings.push(warn("UNIT_MISMATCH"));
        }
    }
    if blank(&input.property_address) {
        warnings.push(warn("PROPERTY_ADDRESS_MISSING"));
    }
    warnings.sort();
    warnings.dedup();

    Ok(ValuationOutput {
        bank_type,
        area_sqm,
        area_sqft,
        market_rate_per_sqm,
        guideline_rate_per_sqm,
        fmv,
        realizable,
        distress,
        coop,
        value_slab,
        template,
        warnings,
    })
}

/// Co-op market/adopted pair: adopted is 80 % of market; the missing one is
/// inferred from the given one, with an info warning.
fn infer_pair(
    market: Option<f64>,
    adopted: Option<f64>,
    warnings: &mut Vec<Warning>,
) -> (Option<f64>, Option<f64>) {
    let info = |code| Warning {
        code,
        severity: "info",
    };
    match (market, adopted) {
        (Some(m), Some(a)) => (Some(round2(m)), Some(round2(a))),
        (Some(m), None) => {
            warnings.push(info("COOP_ADOPTED_INFERRED_FROM_MARKET"));
            (Some(round2(m)), Some(round2(m * 0.8)))
        }
        (None, Some(a)) => {
            warnings.push(info("COOP_MARKET_INFERRED_FROM_ADOPTED"));
            (Some(round2(a / 0.8)), Some(round2(a)))
        }
        (None, None) => (None, None),
    }
}

/// Differences between an API answer and the model's, as `path: api ≠
/// model` lines (numbers compared by value, a missing field equals null).
pub fn diff(api: &Value, model: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("", api, model, &mut out);
    out
}

fn diff_at(path: &str, api: &Value, model: &Value, out: &mut Vec<String>) {
    match (api, model) {
        (Value::Object(a), Value::Object(m)) => {
            for (k, mv) in m {
                let av = a.get(k).unwrap_or(&Value::Null);
                diff_at(&format!("{path}.{k}"), av, mv, out);
            }
        }
        (Value::Array(a), Value::Array(m)) if a.len() == m.len() => {
            for (i, (av, mv)) in a.iter().zip(m).enumerate() {
                diff_at(&format!("{path}[{i}]"), av, mv, out);
            }
        }
        (Value::Number(a), Value::Number(m)) if a.as_f64() == m.as_f64() => {}
        (a, m) if a == m => {}
        (a, m) => out.push(format!(
            "{}: api {a} ≠ model {m}",
            path.trim_start_matches('.')
        )),
    }
}

/// The JSON the model expects for an input: the output, or the 422 marker.
pub fn expected_json(input: &ValuationInput) -> Result<Value, InvalidField> {
    evaluate(input).map(|o| o.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn measure(value: f64, unit: &str) -> Option<Measure> {
        Some(Measure {
            value,
            unit: unit.into(),
        })
    }

    #[test]
    fn conversions_fmv_and_slabs() {
        let input = ValuationInput {
            bank_name: Some("State Bank SBI Main".into()),
            property_address: Some("1 Road".into()),
            area: measure(1000.0, "sqft"),
            market_rate: measure(100.0, "per_sqft"),
            land_value: Some(30_000_000.0),
            building_value: Some(20_000_000.0),
            ..Default::default()
        };
        let out = evaluate(&input).unwrap();
        assert_eq!(out.bank_type.as_deref(), Some("SBI"));
        assert_eq!(out.area_sqm, Some(92.9));
        assert_eq!(out.area_sqft, Some(1000.0));
        assert_eq!(out.market_rate_per_sqm, Some(1076.39));
        assert_eq!(out.fmv, Some(50_000_000.0));
        assert_eq!(out.realizable, Some(47_500_000.0));
        assert_eq!(out.distress, Some(40_000_000.0));
        assert_eq!(out.value_slab, "GT_5CR");
        assert_eq!(out.template, "BOI_PSU_GENERIC");
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }

    #[test]
    fn coop_inference_and_warnings() {
        let input = ValuationInput {
            bank_type: Some("coop".into()),
            coop_adopted_value: Some(1000.0),
            coop_market_rate: Some(10.0),
            area: measure(10.0, "sqm"),
            market_rate: measure(5.0, "per_sqft"),
            ..Default::default()
        };
        let out = evaluate(&input).unwrap();
        let coop = out.coop.clone().unwrap();
        assert_eq!(coop.market_value, Some(1250.0));
        assert_eq!(coop.adopted_rate, Some(8.0));
        assert_eq!(coop.rounded_to_next_500, 1500.0);
        assert_eq!(out.value_slab, "LT_5CR");
        assert_eq!(out.template, "COOP_GENERIC");
        let codes: Vec<_> = out.warnings.iter().map(|w| w.code).collect();
        assert_eq!(
            codes,
            [
                "BANK_NAME_MISSING",
                "COOP_ADOPTED_INFERRED_FROM_MARKET",
                "COOP_MARKET_INFERRED_FROM_ADOPTED",
                "PROPERTY_ADDRESS_MISSING",
                "UNIT_MISMATCH"
            ]
        );
        assert_eq!(
            evaluate(&ValuationInput {
                land_value: Some(-1.0),
                ..Default::default()
            }),
            Err(InvalidField("land_value"))
        );
        assert_eq!(
            evaluate(&ValuationInput {
                bank_type: Some("BOI".into()),
                ..Default::default()
            }),
            Err(InvalidField("bank_type"))
        );
    }

    #[test]
    fn mismatch_ratio_and_slab_edges() {
        let input = ValuationInput {
            bank_name: Some("x".into()),
            property_address: Some("y".into()),
            market_rate: measure(1000.0, "per_sqm"),
            guideline_rate_per_sqm: Some(99.99),
            ..Default::default()
        };
        let codes: Vec<_> = evaluate(&input)
            .unwrap()
            .warnings
            .iter()
            .map(|w| w.code)
            .collect();
        assert_eq!(codes, ["RATE_MISMATCH_SUSPICIOUS"]);
        assert_eq!(slab(Some(0.0)), "UNKNOWN");
        assert_eq!(slab(Some(49_999_999.99)), "LT_5CR");
        assert_eq!(slab(Some(50_000_000.0)), "GT_5CR");
        assert_eq!(next_500(Some(500.0)), 500.0);
        assert_eq!(next_500(Some(500.01)), 1000.0);
        assert_eq!(next_500(Some(0.0)), 0.0);
    }

    #[test]
    fn diff_treats_missing_as_null_and_numbers_by_value() {
        let api = json!({"a": 1, "b": [1.0]});
        let model = json!({"a": 1.0, "b": [1], "c": null});
        assert!(diff(&api, &model).is_empty());
        assert_eq!(diff(&json!({"a": 2}), &json!({"a": 1})).len(), 1);
    }
}
