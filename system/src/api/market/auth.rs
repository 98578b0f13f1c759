//! `POST /api/v1/auth/register`, `POST /api/v1/auth/login`,
//! `GET /api/v1/auth/profile`, `POST /api/v1/auth/logout`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::guard::{ClientIp, CurrentUser};
use super::validate::{self, Checks, Lines};
use super::MarketState;
use crate::http::{AppError, JsonBody};
use crate::market::tokens;
use crate::market::users::{self, User};
use crate::ratelimit::{auth_identity, Decision, Profile};

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    name: String,
    email: String,
    password: String,
    password_confirmation: String,
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Debug, Serialize)]
pub struct Session {
    user: User,
    token: String,
    token_type: &'static str,
}

fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl RegisterRequest {
    fn validate(&self) -> Result<(), AppError> {
        let mut c = Checks::new();
        c.text("name", &self.name, 1, 200, Lines::One);
        validate::email(&mut c, "email", &normalise_email(&self.email));
        let chars = self.password.chars().count();
        if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
            c.fail(
                "password",
                format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
            );
        }
        if self.password.contains('\0') {
            c.fail("password", "must not contain NUL");
        }
        if self.password_confirmation != self.password {
            c.fail("password_confirmation", "does not match password");
        }
        if !matches!(self.role.as_str(), "consumer" | "producer") {
            c.fail("role", "must be consumer or producer");
        }
        c.finish()
    }
}

/// Rate limit `auth` for this client IP + e-mail: the decision to put in
/// the answer's headers, or the 429.
async fn auth_limit(state: &MarketState, ip: &str, email: &str) -> Result<Decision, Response> {
    let decision = state
        .limiter
        .check(Profile::Auth, &auth_identity(ip, email))
        .await;
    if decision.allowed {
        Ok(decision)
    } else {
        Err(decision.refusal())
    }
}

pub async fn register(
    State(state): State<MarketState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<Response, Response> {
    let decision = auth_limit(&state, &ip, &body.email).await?;
    let mut response = register_account(&state, body).await.into_response();
    decision.apply(response.headers_mut());
    Ok(response)
}

async fn register_account(
    state: &MarketState,
    body: RegisterRequest,
) -> Result<Response, AppError> {
    body.validate()?;
    let email = normalise_email(&body.email);
    let hash = state
        .passwords
        .hash(&body.password)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let user = users::create(&state.db, &body.name, &email, &body.role, &hash)
        .await?
        .ok_or_else(|| AppError::invalid("email", "has already been taken"))?;
    let token = tokens::issue(&state.db, user.id).await?;
    tracing::info!(user_id = user.id, role = %user.role, "account registered");
    let session = Session {
        user,
        token,
        token_type: "Bearer",
    };
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

pub async fn login(
    State(state): State<MarketState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, Response> {
    let decision = auth_limit(&state, &ip, &body.email).await?;
    let mut response = sign_in(&state, body).await.into_response();
    decision.apply(response.headers_mut());
    Ok(response)
}

async fn sign_in(state: &MarketState, body: LoginRequest) -> Result<Response, AppError> {
    let mut c = Checks::new();
    c.text("email", &body.email, 1, 254, Lines::One);
    if body.password.is_empty() || body.password.chars().count() > MAX_PASSWORD_CHARS {
        c.fail(
            "password",
            format!("must be 1 to {MAX_PASSWORD_CHARS} characters"),
        );
    }
    c.finish()?;
    let found = users::find_for_login(&state.db, &normalise_email(&body.email)).await?;
    let stored = found.as_ref().and_then(|(_, hash)| hash.as_deref());
    if !state.passwords.verify(&body.password, stored).await {
        return Err(AppError::Unauthorized);
    }
    let Some((user, _)) = found else {
        return Err(AppError::Unauthorized);
    };
    let token = tokens::issue(&state.db, user.id).await?;
    Ok(Json(Session {
        user,
        token,
        token_type: "Bearer",
    })
    .into_response())
}

pub async fn profile(me: CurrentUser) -> Json<serde_json::Value> {
    Json(json!({ "user": me.user }))
}

pub async fn logout(
    State(state): State<MarketState>,
    me: CurrentUser,
) -> Result<Json<serde_json::Value>, AppError> {
    tokens::revoke(&state.db, &me.token).await?;
    Ok(Json(json!({ "message": "logged out" })))
}
