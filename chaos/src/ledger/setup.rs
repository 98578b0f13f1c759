//! What the writers need before they start, made through the public API
//! only: an approved producer with one product of huge stock and a
//! consumer to buy it (checkouts), a CREDIT billing account with a huge
//! grant (reservations). Webhooks need nothing but the shared secret: the
//! seeded SKUs `SKU-0001` … `SKU-0050` accept any reservation.

use std::time::Duration;

use gauntlet_harness::sut::Sut;
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Value};

use super::record::WriteLedger;
use super::writers::WriterConfig;
use super::LedgerError;
use crate::names::{ADMIN_TOKEN, WEBHOOK_SECRET};

/// Units of the checkout product: the API's maximum, so a long experiment
/// never sells out (an `INV001` would count as a refused write).
pub const PRODUCT_STOCK: i64 = 1_000_000_000;
/// Credits granted to the account; each reservation takes one.
pub const CREDIT_GRANT: i64 = 1_000_000_000_000;
/// Set-up requests may be slow on a busy machine (password hashing).
const SETUP_TIMEOUT: Duration = Duration::from_secs(20);

/// What the set-up made, for reports and invariant checks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WriterSetup {
    pub producer_id: Option<i64>,
    pub product_id: Option<i64>,
    pub buyer_id: Option<i64>,
    #[serde(skip)]
    pub(crate) buyer_token: Option<String>,
    pub account_id: Option<i64>,
}

struct Api<'a> {
    http: &'a reqwest::Client,
    /// The api's base URL.
    base: &'a str,
}

impl Api<'_> {
    async fn call(
        &self,
        step: &'static str,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
        expect: u16,
    ) -> Result<Value, LedgerError> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut req = self
            .http
            .request(method.clone(), &url)
            .timeout(SETUP_TIMEOUT);
        req = match auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Admin(t) => req.header("x-admin-token", t),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let fail = |detail: String| LedgerError::Setup { step, detail };
        let resp = req.send().await.map_err(|e| {
            fail(format!(
                "{method} {url}: {}",
                super::classify::describe_error(&e)
            ))
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if status != expect {
            let snippet: String = text.chars().take(300).collect();
            let hint = match status {
                401 => " (is the admin token / webhook secret the stack's?)",
                429 => {
                    " (rate limited: raise GAUNTLET_RATE_LIMIT_* for runs with background writers)"
                }
                _ => "",
            };
            return Err(fail(format!(
                "{method} {url} answered {status}, expected {expect}: {snippet}{hint}"
            )));
        }
        serde_json::from_str(&text)
            .map_err(|e| fail(format!("{method} {url}: answer is not JSON ({e}): {text}")))
    }
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Admin(&'a str),
}

fn id_at(v: &Value, pointer: &str, step: &'static str) -> Result<i64, LedgerError> {
    v.pointer(pointer)
        .and_then(Value::as_i64)
        .ok_or_else(|| LedgerError::Setup {
            step,
            detail: format!("no integer at {pointer} in {v}"),
        })
}

/// The secret `name` of the system under test, which `writer` needs.
fn require<'a>(
    sut: &'a Sut,
    name: &str,
    what: &'static str,
    writer: &'static str,
) -> Result<&'a str, LedgerError> {
    sut.secret(name)
        .filter(|v| !v.is_empty())
        .ok_or(LedgerError::MissingSetting { what, writer })
}

/// Makes what the enabled writers need, through the api at `base`.
pub(crate) async fn prepare(
    http: &reqwest::Client,
    sut: &Sut,
    base: &str,
    cfg: &WriterConfig,
    ledger: &WriteLedger,
) -> Result<WriterSetup, LedgerError> {
    let api = Api { http, base };
    let mut setup = WriterSetup::default();
    let secret = format!("ledger-pass-{}", ledger.key_prefix());

    if cfg.webhooks_per_sec > 0.0 {
        require(sut, WEBHOOK_SECRET, "the webhook secret", "webhook")?;
    }

    if cfg.checkouts_per_sec > 0.0 {
        let admin = require(sut, ADMIN_TOKEN, "the admin token", "checkout")?;
        let register = |role: &str| {
            json!({
                "name": format!("Ledger {role}"),
                "email": format!("{}-{role}@ledger.example", ledger.key_prefix().to_lowercase()),
                "password": secret, "password_confirmation": secret, "role": role,
            })
        };
        let step = "register the producer";
        let producer = api
            .call(
                step,
                Method::POST,
                "/api/v1/auth/register",
                Auth::None,
                Some(register("producer")),
                201,
            )
            .await?;
        let producer_id = id_at(&producer, "/user/id", step)?;
        let producer_token = producer
            .pointer("/token")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        api.call(
            "approve the producer",
            Method::PATCH,
            &format!("/api/v1/admin/producers/{producer_id}/approve"),
            Auth::Admin(admin),
            None,
            200,
        )
        .await?;
        let step = "create the product";
        let product = api
            .call(
                step,
                Method::POST,
                "/api/v1/products",
                Auth::Bearer(&producer_token),
                Some(json!({
                    "name": format!("Ledger stock {}", ledger.key_prefix()),
                    "description": "Bought by the chaos harness's background writers",
                    "price": "1.00",
                    "stock": PRODUCT_STOCK,
                })),
                201,
            )
            .await?;
        let step_buyer = "register the buyer";
        let buyer = api
            .call(
                step_buyer,
                Method::POST,
                "/api/v1/auth/register",
                Auth::None,
                Some(register("consumer")),
                201,
            )
            .await?;
        setup.producer_id = Some(producer_id);
        setup.product_id = Some(id_at(&product, "/data/id", step)?);
        setup.buyer_id = Some(id_at(&buyer, "/user/id", step_buyer)?);
        setup.buyer_token = buyer
            .pointer("/token")
            .and_then(Value::as_str)
            .map(String::from);
    }

    if cfg.credits_per_sec > 0.0 {
        let admin = require(sut, ADMIN_TOKEN, "the admin token", "credit reservation")?;
        let step = "create the billing account";
        let account = api
            .call(
                step,
                Method::POST,
                "/v1/billing/accounts",
                Auth::Admin(admin),
                Some(json!({"mode": "CREDIT"})),
                201,
            )
            .await?;
        let account_id = id_at(&account, "/id", step)?;
        api.call(
            "grant credits",
            Method::POST,
            &format!("/v1/billing/accounts/{account_id}/grant"),
            Auth::Admin(admin),
            Some(json!({"amount": CREDIT_GRANT, "reason": "grant", "idempotency_key": ledger.aux_key("grant")})),
            201,
        )
        .await?;
        setup.account_id = Some(account_id);
    }
    Ok(setup)
}
