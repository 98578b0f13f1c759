//! `POST /v1/repogen/evaluate`: the valuation rules (SYSTEM-SPEC 8.1).

use axum::Json;
use gauntlet_rules::valuation::{self, ValuationInput, ValuationOutput};

use crate::http::{AppError, JsonBody};

/// 200 with the evaluation; 422 naming the field the rules refused.
pub async fn evaluate(
    JsonBody(input): JsonBody<ValuationInput>,
) -> Result<Json<ValuationOutput>, AppError> {
    valuation::evaluate(&input)
        .map(Json)
        .map_err(|e| AppError::invalid(&e.field, e.message))
}
