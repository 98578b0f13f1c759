//! Valuation rules (SYSTEM-SPEC 8.1, refined by the issue 6 contract A):
//! unit conversion, fair market value and its realizable and distress
//! values, co-op adopted/market inference, the value slab, the report
//! template and the warnings an operator must see before rendering.
//!
//! Interpretations where the contract leaves room (kept here so the HTTP
//! API and the harness can check them):
//! - co-op inference uses the values as given (`round2(market × 0.8)` of the
//!   input, not of its rounded copy);
//! - "coop market/adopted value" in the slab and `rounded_to_next_500`
//!   rules are the resolved co-op values (after inference), which exist only
//!   for `COOP` banks; a non-COOP input's `coop_*` fields are validated and
//!   otherwise ignored.

use serde::{Deserialize, Serialize};

use crate::round::round2_with;
use crate::Mistakes;

/// Square feet in one square metre (SYSTEM-SPEC 8.1).
pub const SQFT_PER_SQM: f64 = 10.7639;

/// Values from here up are in the `GT_5CR` slab (5 crore rupees).
pub const GT_5CR_FROM: f64 = 50_000_000.0;

/// Co-op banks adopt this share of the market value (and rate).
pub const COOP_ADOPTED_SHARE: f64 = 0.8;

/// Share of FMV that a sale is expected to realise.
pub const REALIZABLE_SHARE: f64 = 0.95;

/// Share of FMV in a forced (distress) sale.
pub const DISTRESS_SHARE: f64 = 0.80;

/// The JSON keys of [`ValuationInput`].
pub const INPUT_FIELDS: [&str; 14] = [
    "bank_type",
    "bank_name",
    "property_address",
    "area",
    "market_rate",
    "guideline_rate",
    "guideline_rate_per_sqm",
    "land_value",
    "building_value",
    "fmv_input",
    "coop_market_value",
    "coop_adopted_value",
    "coop_market_rate",
    "coop_adopted_rate",
];

/// What `POST /v1/repogen/evaluate` accepts. Every field is optional: an
/// incomplete input still gets an answer, with warnings saying what is
/// missing.
///
/// [`INPUT_FIELDS`] names its JSON keys, so a larger record (a work order's
/// fields) can hand over just the valuation part.
#[derive(Deserialize, Serialize, Default, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValuationInput {
    // Keep INPUT_FIELDS in step with these fields.
    /// `SBI`, `COOP`, `AGRI`, `PSU` or `PRIVATE`, any case.
    pub bank_type: Option<String>,
    pub bank_name: Option<String>,
    pub property_address: Option<String>,
    /// Unit `sqft` or `sqm`.
    pub area: Option<Measure>,
    /// Unit `per_sqft` or `per_sqm`.
    pub market_rate: Option<Measure>,
    /// Unit `per_sqft` or `per_sqm`; ignored when `guideline_rate_per_sqm`
    /// is given.
    pub guideline_rate: Option<Measure>,
    pub guideline_rate_per_sqm: Option<f64>,
    pub land_value: Option<f64>,
    pub building_value: Option<f64>,
    pub fmv_input: Option<f64>,
    pub coop_market_value: Option<f64>,
    pub coop_adopted_value: Option<f64>,
    pub coop_market_rate: Option<f64>,
    pub coop_adopted_rate: Option<f64>,
}

/// A number with its unit, as the user entered it.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    pub value: f64,
    pub unit: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ValuationOutput {
    /// The given bank type upper-cased, or `SBI` inferred from the bank name.
    pub bank_type: Option<String>,
    pub area_sqm: Option<f64>,
    pub area_sqft: Option<f64>,
    pub market_rate_per_sqm: Option<f64>,
    pub guideline_rate_per_sqm: Option<f64>,
    pub fmv: Option<f64>,
    pub realizable: Option<f64>,
    pub distress: Option<f64>,
    /// Only for `COOP` banks.
    pub coop: Option<CoopValues>,
    /// `UNKNOWN`, `LT_5CR` or `GT_5CR`.
    pub value_slab: String,
    /// `COOP_GENERIC`, `AGRI_GENERIC`, `SBI_FORMAT_A`, `BOI_PSU_GENERIC` or
    /// `UNKNOWN`.
    pub template: String,
    /// Sorted by code, no duplicates.
    pub warnings: Vec<Warning>,
}

/// A co-op bank's market and adopted figures, one inferred from the other
/// when only one is given.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CoopValues {
    pub market_value: Option<f64>,
    pub adopted_value: Option<f64>,
    pub market_rate: Option<f64>,
    pub adopted_rate: Option<f64>,
    /// The first present of market value, adopted value and FMV rounded up
    /// to a multiple of 500; 0 when none is positive.
    pub rounded_to_next_500: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Warning {
    pub code: String,
    /// `info` or `warning`.
    pub severity: String,
}

/// Why an input cannot be evaluated (→ 422 naming `field`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    /// The JSON path of the offending value (`bank_type`, `area.unit`).
    pub field: String,
    pub message: String,
}

impl InputError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        InputError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// The bank types the rules know.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BankType {
    Sbi,
    Coop,
    Agri,
    Psu,
    Private,
}

impl BankType {
    pub const ALL: [BankType; 5] = [
        BankType::Sbi,
        BankType::Coop,
        BankType::Agri,
        BankType::Psu,
        BankType::Private,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BankType::Sbi => "SBI",
            BankType::Coop => "COOP",
            BankType::Agri => "AGRI",
            BankType::Psu => "PSU",
            BankType::Private => "PRIVATE",
        }
    }

    /// Case-insensitive (`"coop"` is `COOP`); no trimming.
    pub fn parse(name: &str) -> Option<BankType> {
        let upper = name.to_uppercase();
        BankType::ALL.into_iter().find(|b| b.as_str() == upper)
    }
}

pub const SLAB_UNKNOWN: &str = "UNKNOWN";
pub const SLAB_LT_5CR: &str = "LT_5CR";
pub const SLAB_GT_5CR: &str = "GT_5CR";

pub const BANK_NAME_MISSING: &str = "BANK_NAME_MISSING";
pub const RATE_INPUT_MISSING: &str = "RATE_INPUT_MISSING";
pub const RATE_MISMATCH_SUSPICIOUS: &str = "RATE_MISMATCH_SUSPICIOUS";
pub const UNIT_MISMATCH: &str = "UNIT_MISMATCH";
pub const PROPERTY_ADDRESS_MISSING: &str = "PROPERTY_ADDRESS_MISSING";
pub const COOP_ADOPTED_INFERRED_FROM_MARKET: &str = "COOP_ADOPTED_INFERRED_FROM_MARKET";
pub const COOP_MARKET_INFERRED_FROM_ADOPTED: &str = "COOP_MARKET_INFERRED_FROM_ADOPTED";

/// Evaluates the rules as specified.
pub fn evaluate(input: &ValuationInput) -> Result<ValuationOutput, InputError> {
    evaluate_with(input, &Mistakes::NONE)
}

/// [`evaluate`] with deliberate mistakes (`round_half_even`, `ceil_to_100`,
/// `slab_strict_gt`, `ratio_bound_inclusive`).
pub fn evaluate_with(input: &ValuationInput, m: &Mistakes) -> Result<ValuationOutput, InputError> {
    let r2 = |x: f64| round2_with(x, m);
    let bank_type = match input.bank_type.as_deref() {
        Some(name) => Some(BankType::parse(name).ok_or_else(|| {
            InputError::new(
                "bank_type",
                format!("unknown bank type {name:?}; expected SBI, COOP, AGRI, PSU or PRIVATE"),
            )
        })?),
        None => input
            .bank_name
            .as_deref()
            .filter(|name| name.to_uppercase().contains("SBI"))
            .map(|_| BankType::Sbi),
    };

    let area = measure("area", input.area.as_ref(), &AREA_UNITS)?;
    let market_rate = measure("market_rate", input.market_rate.as_ref(), &RATE_UNITS)?;
    let guideline_rate = measure("guideline_rate", input.guideline_rate.as_ref(), &RATE_UNITS)?;
    let guideline_explicit = amount("guideline_rate_per_sqm", input.guideline_rate_per_sqm)?;
    let land = amount("land_value", input.land_value)?;
    let building = amount("building_value", input.building_value)?;
    let fmv_input = amount("fmv_input", input.fmv_input)?;
    let coop_market_value = amount("coop_market_value", input.coop_market_value)?;
    let coop_adopted_value = amount("coop_adopted_value", input.coop_adopted_value)?;
    let coop_market_rate = amount("coop_market_rate", input.coop_market_rate)?;
    let coop_adopted_rate = amount("coop_adopted_rate", input.coop_adopted_rate)?;

    let (area_sqm, area_sqft) = match area {
        None => (None, None),
        Some((v, Unit::Feet)) => (Some(r2(v / SQFT_PER_SQM)), Some(r2(v))),
        Some((v, Unit::Metres)) => (
            Some(r2(v)),
            Some(r2(finite("area.value", v * SQFT_PER_SQM)?)),
        ),
    };
    let market_rate_per_sqm = market_rate
        .map(|(v, unit)| per_sqm("market_rate.value", v, unit, r2))
        .transpose()?;
    let guideline_rate_per_sqm = match (guideline_explicit, guideline_rate) {
        (Some(v), _) => Some(r2(v)),
        (None, Some((v, unit))) => Some(per_sqm("guideline_rate.value", v, unit, r2)?),
        (None, None) => None,
    };

    let fmv = match (fmv_input, land, building) {
        (Some(v), _, _) => Some(r2(v)),
        (None, None, None) => None,
        (None, l, b) => Some(r2(finite(
            "land_value",
            l.unwrap_or(0.0) + b.unwrap_or(0.0),
        )?)),
    };
    let realizable = fmv.map(|v| r2(v * REALIZABLE_SHARE));
    let distress = fmv.map(|v| r2(v * DISTRESS_SHARE));

    let mut warnings = Vec::new();
    let coop = if bank_type == Some(BankType::Coop) {
        let (market_value, adopted_value) =
            coop_pair(coop_market_value, coop_adopted_value, r2, &mut warnings);
        let (market_rate, adopted_rate) =
            coop_pair(coop_market_rate, coop_adopted_rate, r2, &mut warnings);
        let basis = market_value.or(adopted_value).or(fmv);
        Some(CoopValues {
            market_value,
            adopted_value,
            market_rate,
            adopted_rate,
            rounded_to_next_500: rounded_up_with(basis, m),
        })
    } else {
        None
    };

    let slab_basis = fmv
        .or(coop.as_ref().and_then(|c| c.adopted_value))
        .or(coop.as_ref().and_then(|c| c.market_value));
    let value_slab = slab_with(slab_basis, m);
    let template = match bank_type {
        Some(BankType::Coop) => "COOP_GENERIC",
        Some(BankType::Agri) => "AGRI_GENERIC",
        _ => match value_slab {
            SLAB_LT_5CR => "SBI_FORMAT_A",
            SLAB_GT_5CR => "BOI_PSU_GENERIC",
            _ => "UNKNOWN",
        },
    };

    if is_blank(input.bank_name.as_deref()) {
        warnings.push(warning(BANK_NAME_MISSING));
    }
    if is_blank(input.property_address.as_deref()) {
        warnings.push(warning(PROPERTY_ADDRESS_MISSING));
    }
    if market_rate.is_none() && guideline_rate.is_none() && guideline_explicit.is_none() {
        warnings.push(warning(RATE_INPUT_MISSING));
    }
    if let (Some(market), Some(guideline)) = (market_rate_per_sqm, guideline_rate_per_sqm) {
        if guideline != 0.0 {
            let ratio = market / guideline;
            let suspicious = if m.ratio_bound_inclusive {
                !(ratio > 0.1 && ratio < 10.0)
            } else {
                !(0.1..=10.0).contains(&ratio)
            };
            if suspicious {
                warnings.push(warning(RATE_MISMATCH_SUSPICIOUS));
            }
        }
    }
    if let (Some((_, area_unit)), Some((_, rate_unit))) = (area, market_rate) {
        if area_unit != rate_unit {
            warnings.push(warning(UNIT_MISMATCH));
        }
    }
    warnings.sort();
    warnings.dedup();

    Ok(ValuationOutput {
        bank_type: bank_type.map(|b| b.as_str().to_owned()),
        area_sqm,
        area_sqft,
        market_rate_per_sqm,
        guideline_rate_per_sqm,
        fmv,
        realizable,
        distress,
        coop,
        value_slab: value_slab.to_owned(),
        template: template.to_owned(),
        warnings,
    })
}

/// `ceil(v / 500) × 500`; 0 for `None`, `v ≤ 0` or non-finite `v`.
pub fn rounded_to_next_500(v: Option<f64>) -> f64 {
    rounded_up_with(v, &Mistakes::NONE)
}

/// The slab of the first present of FMV, co-op adopted and co-op market.
pub fn value_slab(v: Option<f64>) -> &'static str {
    slab_with(v, &Mistakes::NONE)
}

fn rounded_up_with(v: Option<f64>, m: &Mistakes) -> f64 {
    let step = if m.ceil_to_100 { 100.0 } else { 500.0 };
    match v {
        Some(v) if v.is_finite() && v > 0.0 => {
            let up = (v / step).ceil() * step;
            // `v / step` may round down onto a whole number (v just above a
            // multiple), which would put `up` below `v`.
            if up < v {
                up + step
            } else {
                up
            }
        }
        _ => 0.0,
    }
}

fn slab_with(v: Option<f64>, m: &Mistakes) -> &'static str {
    match v {
        Some(v) if v > 0.0 => {
            let gt = if m.slab_strict_gt {
                v > GT_5CR_FROM
            } else {
                v >= GT_5CR_FROM
            };
            if gt {
                SLAB_GT_5CR
            } else {
                SLAB_LT_5CR
            }
        }
        _ => SLAB_UNKNOWN,
    }
}

/// Square feet or square metres; a rate's unit is the area it is per, so
/// comparing the two tells a unit mismatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Feet,
    Metres,
}

const AREA_UNITS: [(&str, Unit); 2] = [("sqft", Unit::Feet), ("sqm", Unit::Metres)];
const RATE_UNITS: [(&str, Unit); 2] = [("per_sqft", Unit::Feet), ("per_sqm", Unit::Metres)];

fn measure(
    field: &str,
    m: Option<&Measure>,
    units: &[(&str, Unit)],
) -> Result<Option<(f64, Unit)>, InputError> {
    let Some(m) = m else { return Ok(None) };
    let unit = units
        .iter()
        .find(|(name, _)| *name == m.unit)
        .map(|(_, unit)| *unit)
        .ok_or_else(|| {
            let known: Vec<&str> = units.iter().map(|(name, _)| *name).collect();
            InputError::new(
                &format!("{field}.unit"),
                format!("unknown unit {:?}; expected {}", m.unit, known.join(" or ")),
            )
        })?;
    let value = amount(&format!("{field}.value"), Some(m.value))?.unwrap_or_default();
    Ok(Some((value, unit)))
}

/// A finite, non-negative number (zero is allowed).
fn amount(field: &str, v: Option<f64>) -> Result<Option<f64>, InputError> {
    match v {
        Some(v) if !v.is_finite() => Err(InputError::new(field, "must be a finite number")),
        Some(v) if v < 0.0 => Err(InputError::new(
            field,
            format!("must not be negative (got {v})"),
        )),
        other => Ok(other),
    }
}

/// A derived value that overflowed to infinity means the input was too
/// large to evaluate.
fn finite(field: &str, v: f64) -> Result<f64, InputError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(InputError::new(field, "too large to evaluate"))
    }
}

fn per_sqm(field: &str, v: f64, unit: Unit, r2: impl Fn(f64) -> f64) -> Result<f64, InputError> {
    Ok(match unit {
        Unit::Metres => r2(v),
        Unit::Feet => r2(finite(field, v * SQFT_PER_SQM)?),
    })
}

/// A co-op (market, adopted) pair with the missing half inferred.
fn coop_pair(
    market: Option<f64>,
    adopted: Option<f64>,
    r2: impl Fn(f64) -> f64,
    warnings: &mut Vec<Warning>,
) -> (Option<f64>, Option<f64>) {
    match (market, adopted) {
        (Some(market), Some(adopted)) => (Some(r2(market)), Some(r2(adopted))),
        (Some(market), None) => {
            warnings.push(info(COOP_ADOPTED_INFERRED_FROM_MARKET));
            (Some(r2(market)), Some(r2(market * COOP_ADOPTED_SHARE)))
        }
        (None, Some(adopted)) => {
            warnings.push(info(COOP_MARKET_INFERRED_FROM_ADOPTED));
            // adopted / 0.8 can exceed f64::MAX only past 1.4e308; saturate
            // there rather than fail an input that was itself valid.
            let market = (adopted / COOP_ADOPTED_SHARE).min(f64::MAX);
            (Some(r2(market)), Some(r2(adopted)))
        }
        (None, None) => (None, None),
    }
}

fn is_blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

fn warning(code: &str) -> Warning {
    Warning {
        code: code.to_owned(),
        severity: "warning".to_owned(),
    }
}

fn info(code: &str) -> Warning {
    Warning {
        code: code.to_owned(),
        severity: "info".to_owned(),
    }
}

#[cfg(test)]
mod tests;
