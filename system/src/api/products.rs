//! `GET /api/v1/public/products` and `GET /api/v1/public/products/{id|slug}`.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::ApiState;
use crate::catalog::{self, ProductJson};
use crate::http::AppError;

pub const DEFAULT_PER_PAGE: u32 = 15;
pub const MAX_PER_PAGE: u32 = 100;
pub const MAX_SEARCH_CHARS: usize = 100;

/// Raw query parameters; validated by [`ListQuery::validate`].
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub search: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub search: Option<String>,
    pub page: u32,
    pub per_page: u32,
}

impl ListQuery {
    /// Empty values mean "default"; anything else must be in range, or the
    /// answer is 422 naming each bad field.
    pub fn validate(params: ListParams) -> Result<Self, AppError> {
        let mut details = BTreeMap::new();
        let blank = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let page = match blank(&params.page) {
            None => 1,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    details.insert("page".to_owned(), "must be an integer >= 1".to_owned());
                    1
                }
            },
        };
        let per_page = match blank(&params.per_page) {
            None => DEFAULT_PER_PAGE,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => n,
                _ => {
                    details.insert(
                        "per_page".to_owned(),
                        format!("must be an integer from 1 to {MAX_PER_PAGE}"),
                    );
                    DEFAULT_PER_PAGE
                }
            },
        };
        let search = blank(&params.search);
        if search
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
        {
            details.insert(
                "search".to_owned(),
                format!("must be at most {MAX_SEARCH_CHARS} characters"),
            );
        } else if search
            .as_ref()
            .is_some_and(|s| s.chars().any(char::is_control))
        {
            // Postgres cannot hold NUL; no product name has control characters.
            details.insert(
                "search".to_owned(),
                "must not contain control characters".to_owned(),
            );
        }
        if details.is_empty() {
            Ok(ListQuery {
                search,
                page,
                per_page,
            })
        } else {
            Err(AppError::Validation { details })
        }
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }
}

/// Number of pages for `total` items; at least 1, as an empty list is page 1.
pub fn last_page(total: i64, per_page: u32) -> i64 {
    let per_page = i64::from(per_page.max(1));
    ((total + per_page - 1) / per_page).max(1)
}

#[derive(Debug, Serialize)]
pub struct ProductPage {
    pub data: Vec<ProductJson>,
    pub current_page: u32,
    pub last_page: i64,
    pub per_page: u32,
    pub total: i64,
}

pub async fn list(
    State(state): State<ApiState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ProductPage>, AppError> {
    let Query(params) = params?;
    let query = ListQuery::validate(params)?;
    let (rows, total) = catalog::list_active(
        &state.db,
        query.search.as_deref(),
        i64::from(query.per_page),
        query.offset(),
    )
    .await?;
    Ok(Json(ProductPage {
        data: rows.into_iter().map(ProductJson::from).collect(),
        current_page: query.page,
        last_page: last_page(total, query.per_page),
        per_page: query.per_page,
        total,
    }))
}

#[derive(Debug, Serialize)]
pub struct ProductEnvelope {
    pub data: ProductJson,
}

/// All-digit keys are ids; anything else is a slug.
pub async fn show(
    State(state): State<ApiState>,
    Path(key): Path<String>,
) -> Result<Json<ProductEnvelope>, AppError> {
    let found = match key.parse::<i64>() {
        Ok(id) if key.bytes().all(|b| b.is_ascii_digit()) => {
            catalog::find_active_by_id(&state.db, id).await?
        }
        // Slugs are lowercase a-z, 0-9 and '-'; nothing else can match (and
        // a NUL would make Postgres fail the query).
        _ if key.len() <= 200
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            catalog::find_active_by_slug(&state.db, &key).await?
        }
        _ => None,
    };
    let product = found.ok_or_else(|| AppError::NotFound {
        code: "INV002",
        message: "product not found".to_owned(),
    })?;
    Ok(Json(ProductEnvelope {
        data: product.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(page: Option<&str>, per_page: Option<&str>, search: Option<&str>) -> ListParams {
        ListParams {
            search: search.map(str::to_owned),
            page: page.map(str::to_owned),
            per_page: per_page.map(str::to_owned),
        }
    }

    fn invalid_fields(p: ListParams) -> Vec<String> {
        match ListQuery::validate(p) {
            Err(AppError::Validation { details }) => details.into_keys().collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_apply_for_missing_and_empty_values() {
        let q = ListQuery::validate(params(None, Some(""), Some("  "))).unwrap();
        assert_eq!(
            q,
            ListQuery {
                search: None,
                page: 1,
                per_page: 15
            }
        );
        assert_eq!(q.offset(), 0);
    }

    #[test]
    fn in_range_values_are_kept() {
        let q = ListQuery::validate(params(Some("3"), Some("100"), Some("Tom"))).unwrap();
        assert_eq!(
            (q.page, q.per_page, q.search.as_deref()),
            (3, 100, Some("Tom"))
        );
        assert_eq!(q.offset(), 200);
    }

    #[test]
    fn out_of_range_values_are_422_naming_each_field() {
        assert_eq!(invalid_fields(params(Some("0"), None, None)), ["page"]);
        assert_eq!(invalid_fields(params(Some("-1"), None, None)), ["page"]);
        assert_eq!(invalid_fields(params(Some("abc"), None, None)), ["page"]);
        assert_eq!(
            invalid_fields(params(None, Some("101"), None)),
            ["per_page"]
        );
        assert_eq!(invalid_fields(params(None, Some("0"), None)), ["per_page"]);
        assert_eq!(invalid_fields(params(None, None, Some("a\0b"))), ["search"]);
        assert_eq!(
            invalid_fields(params(Some("x"), Some("1.5"), Some(&"a".repeat(101)))),
            ["page", "per_page", "search"]
        );
    }

    #[test]
    fn largest_page_does_not_overflow() {
        let q = ListQuery::validate(params(Some("4294967295"), Some("100"), None)).unwrap();
        assert_eq!(q.offset(), 429_496_729_400);
    }

    #[test]
    fn last_page_is_at_least_one() {
        assert_eq!(last_page(0, 15), 1);
        assert_eq!(last_page(15, 15), 1);
        assert_eq!(last_page(16, 15), 2);
        assert_eq!(last_page(100_000, 100), 1000);
    }
}
