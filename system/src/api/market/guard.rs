//! Who is calling, and how often: bearer-token and admin-token extractors,
//! and the rate-limit middleware of each profile.
//!
//! The middleware resolves the bearer token once (to key the bucket by
//! user) and leaves the result in the request extensions, where the
//! extractors pick it up instead of asking the database again.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::MarketState;
use crate::http::{check_admin, AppError};
use crate::market::tokens;
use crate::market::users::User;
use crate::ratelimit::Profile;

/// The bearer token of a request, if it sent one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The token's user as the middleware found it.
#[derive(Clone)]
struct Resolved(Option<User>);

async fn resolve(state: &MarketState, parts: &Parts) -> Result<Option<User>, AppError> {
    if let Some(Resolved(user)) = parts.extensions.get::<Resolved>() {
        return Ok(user.clone());
    }
    match bearer(&parts.headers) {
        None => Ok(None),
        Some(token) => Ok(tokens::lookup(&state.db, token).await?),
    }
}

/// A caller with a valid bearer token (401 `AUTH001` otherwise).
pub struct CurrentUser {
    pub user: User,
    pub token: String,
}

impl FromRequestParts<MarketState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &MarketState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers)
            .ok_or(AppError::Unauthorized)?
            .to_owned();
        let user = resolve(state, parts).await?.ok_or(AppError::Unauthorized)?;
        Ok(CurrentUser { user, token })
    }
}

/// An optional caller: no `Authorization` header is anonymous; a header
/// with a bad or expired token is 401, not silently anonymous.
pub struct MaybeUser(pub Option<User>);

impl FromRequestParts<MarketState> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &MarketState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.get("authorization").is_none() {
            return Ok(MaybeUser(None));
        }
        CurrentUser::from_request_parts(parts, state)
            .await
            .map(|c| MaybeUser(Some(c.user)))
    }
}

/// A caller with the right `X-Admin-Token` (compared in constant time).
pub struct Admin;

impl FromRequestParts<MarketState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &MarketState,
    ) -> Result<Self, Self::Rejection> {
        check_admin(state.admin_token.as_ref(), &parts.headers).map(|()| Admin)
    }
}

/// The single path parameter as text; a malformed one answers in the
/// error shape instead of axum's plain-text rejection.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<String>::from_request_parts(parts, state).await?;
        Ok(PathParam(value))
    }
}

/// True when the request carries an `X-Admin-Token` header at all.
pub fn claims_admin(headers: &HeaderMap) -> bool {
    headers.contains_key(crate::http::X_ADMIN_TOKEN)
}

/// The client address (see `client_ip.rs`).
fn client_ip(state: &MarketState, extensions: &Extensions, headers: &HeaderMap) -> String {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    state.proxies.client_ip(peer, headers)
}

/// The client address as an extractor.
pub struct ClientIp(pub String);

impl FromRequestParts<MarketState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &MarketState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(
            state,
            &parts.extensions,
            &parts.headers,
        )))
    }
}

pub async fn standard(State(state): State<MarketState>, req: Request, next: Next) -> Response {
    limit(state, Profile::Standard, req, next).await
}

pub async fn expensive(State(state): State<MarketState>, req: Request, next: Next) -> Response {
    limit(state, Profile::Expensive, req, next).await
}

pub async fn admin(State(state): State<MarketState>, req: Request, next: Next) -> Response {
    limit(state, Profile::Admin, req, next).await
}

async fn limit(state: MarketState, profile: Profile, req: Request, next: Next) -> Response {
    let ip = client_ip(&state, req.extensions(), req.headers());
    let (mut parts, body) = req.into_parts();
    let identity = match profile {
        Profile::Admin | Profile::Auth => format!("ip:{ip}"),
        Profile::Standard | Profile::Expensive => match resolve(&state, &parts).await {
            Ok(user) => {
                let identity = user
                    .as_ref()
                    .map_or_else(|| format!("ip:{ip}"), |u| format!("user:{}", u.id));
                parts.extensions.insert(Resolved(user));
                identity
            }
            Err(e) => return e.into_response(),
        },
    };
    let decision = state.limiter.check(profile, &identity).await;
    if !decision.allowed {
        return decision.refusal();
    }
    let mut response = next.run(Request::from_parts(parts, body)).await;
    decision.apply(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", HeaderValue::from_static("Bearer gat_abc"));
        assert_eq!(bearer(&h), Some("gat_abc"));
        h.insert(
            "authorization",
            HeaderValue::from_static("bearer   gat_abc "),
        );
        assert_eq!(bearer(&h), Some("gat_abc"));
        h.insert(
            "authorization",
            HeaderValue::from_static("Basic dXNlcjpwdw=="),
        );
        assert_eq!(bearer(&h), None);
        h.insert("authorization", HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
