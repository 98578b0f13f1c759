//! The `web` process: server-rendered HTML pages, reading Postgres directly
//! with the app role. Every piece of data is HTML-escaped before it is put
//! into a page.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use sqlx::PgPool;

use crate::catalog::{self, ProductRow};
use crate::config::Config;
use crate::identity::{meta_router, Identity, VERSION};
use crate::money::format_cents;
use crate::telemetry::{self, metrics_router, MetricsEndpoint, DB_ERRORS};
use crate::{db, http};

const POOL_SIZE: u32 = 10;
const PER_PAGE: u32 = 50;

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let identity = Arc::new(Identity::new("web"));
    let listener = http::bind("web", "WEB_ADDR", cfg.web_addr).await?;
    let metrics = telemetry::install_metrics()?;
    let pool = db::app_pool(cfg.database_url("web")?, "gauntlet-web", POOL_SIZE)?;
    tracing::info!(instance_id = %identity.instance_id, "starting web");
    let app = router(pool.clone())
        .merge(meta_router(identity))
        .merge(metrics_router(MetricsEndpoint {
            handle: metrics,
            pools: vec![("app", pool)],
        }))
        .fallback(not_found_page);
    http::serve("web", listener, http::with_common_layers(app)).await
}

fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/", get(product_list))
        .route("/products", get(product_list))
        .route("/products/{id}", get(product_page))
        .route(
            "/login",
            get(|| async { Redirect::temporary("/auth/login") }),
        )
        .route(
            "/register",
            get(|| async { Redirect::temporary("/auth/register") }),
        )
        .route("/auth/login", get(login_page))
        .route("/auth/register", get(register_page))
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"ok": true, "version": VERSION})) }),
        )
        .with_state(pool)
}

/// Escapes the five characters that matter in HTML text and attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page; `title` is escaped here, `body` must already be safe HTML.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} - Gauntlet Market</title></head>\n<body>\
         <header><a href=\"/\">Gauntlet Market</a> | <a href=\"/products\">Products</a> | \
         <a href=\"/login\">Log in</a> | <a href=\"/register\">Register</a></header>\n\
         <main>{body}</main>\n</body></html>\n",
        escape_html(title)
    )
}

enum WebError {
    NotFound,
    Database(sqlx::Error),
}

impl From<sqlx::Error> for WebError {
    fn from(e: sqlx::Error) -> Self {
        WebError::Database(e)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::NotFound => not_found_response(),
            WebError::Database(e) => {
                metrics::counter!(DB_ERRORS).increment(1);
                tracing::error!(error = %e, "database call failed");
                let (status, text) = if db::is_unavailable(&e) {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "The shop is temporarily unavailable. Please try again shortly.",
                    )
                } else {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong on our side.",
                    )
                };
                (
                    status,
                    Html(page("Unavailable", &format!("<h1>Sorry</h1><p>{text}</p>"))),
                )
                    .into_response()
            }
        }
    }
}

fn not_found_response() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(page(
            "Not found",
            "<h1>Not found</h1><p>There is no such page.</p>",
        )),
    )
        .into_response()
}

async fn not_found_page() -> Response {
    not_found_response()
}

#[derive(Debug, Deserialize)]
struct ListParams {
    page: Option<String>,
}

async fn product_list(
    State(pool): State<PgPool>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Html<String>, WebError> {
    // Pages are forgiving: a bad page number shows the first page.
    let page_no = params
        .ok()
        .and_then(|Query(p)| p.page)
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let offset = i64::from(page_no - 1) * i64::from(PER_PAGE);
    let (rows, total) = catalog::list_active(&pool, None, i64::from(PER_PAGE), offset).await?;
    Ok(Html(page("Products", &list_body(&rows, total, page_no))))
}

fn list_body(rows: &[ProductRow], total: i64, page_no: u32) -> String {
    let mut body = format!("<h1>Products</h1>\n<p>{total} products</p>\n<ul class=\"products\">\n");
    for p in rows {
        let _ = writeln!(
            body,
            "<li><a href=\"/products/{}\">{}</a> <span class=\"price\">{}</span></li>",
            p.id,
            escape_html(&p.name),
            format_cents(p.price_cents)
        );
    }
    body.push_str("</ul>\n<nav>");
    if page_no > 1 {
        let _ = write!(
            body,
            "<a href=\"/products?page={}\">Previous</a> ",
            page_no - 1
        );
    }
    if i64::from(page_no) * i64::from(PER_PAGE) < total {
        let _ = write!(body, "<a href=\"/products?page={}\">Next</a>", page_no + 1);
    }
    body.push_str("</nav>");
    body
}

async fn product_page(
    State(pool): State<PgPool>,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let product = catalog::find_active_by_id(&pool, id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Html(page(&product.name, &product_body(&product))))
}

fn product_body(p: &ProductRow) -> String {
    format!(
        "<article class=\"product\"><h1>{}</h1>\n<p class=\"price\">{}</p>\n\
         <p class=\"stock\">{} in stock</p>\n<p>{}</p></article>\n\
         <p><a href=\"/products\">All products</a></p>",
        escape_html(&p.name),
        format_cents(p.price_cents),
        p.stock,
        escape_html(&p.description)
    )
}

async fn login_page() -> Html<String> {
    Html(page(
        "Log in",
        "<h1>Log in</h1>\n<form method=\"post\" action=\"/auth/login\">\
         <label>E-mail <input type=\"email\" name=\"email\" required></label>\
         <label>Password <input type=\"password\" name=\"password\" required></label>\
         <button type=\"submit\">Log in</button></form>",
    ))
}

async fn register_page() -> Html<String> {
    Html(page(
        "Register",
        "<h1>Register</h1>\n<form method=\"post\" action=\"/auth/register\">\
         <label>Name <input type=\"text\" name=\"name\" required></label>\
         <label>E-mail <input type=\"email\" name=\"email\" required></label>\
         <label>Password <input type=\"password\" name=\"password\" required></label>\
         <label>Confirm password <input type=\"password\" name=\"password_confirmation\" required></label>\
         <label>Role <select name=\"role\"><option value=\"consumer\">Consumer</option>\
         <option value=\"producer\">Producer</option></select></label>\
         <button type=\"submit\">Register</button></form>",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn escapes_markup_characters() {
        assert_eq!(
            escape_html(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
        assert_eq!(escape_html("Plain Tomatoes 1"), "Plain Tomatoes 1");
    }

    #[test]
    fn product_names_are_escaped_in_pages() {
        let row = ProductRow {
            id: 7,
            producer_id: 1,
            name: "<img src=x onerror=alert(1)>".to_owned(),
            slug: "x".to_owned(),
            description: "a & b".to_owned(),
            price_cents: 1250,
            stock: 3,
            active: true,
            created_at: Utc::now(),
        };
        let list = list_body(std::slice::from_ref(&row), 1, 1);
        assert!(
            list.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{list}"
        );
        assert!(!list.contains("<img"), "{list}");
        assert!(list.contains("href=\"/products/7\"") && list.contains("12.50"));
        let detail = product_body(&row);
        assert!(
            !detail.contains("<img") && detail.contains("a &amp; b"),
            "{detail}"
        );
        let whole = page("<b>", "");
        assert!(whole.contains("<title>&lt;b&gt; - Gauntlet Market</title>"));
    }
}
