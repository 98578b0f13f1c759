//! Opaque bearer tokens. A token is 32 random bytes in hex behind the
//! prefix `gat_`; the database keeps only its SHA-256, so a leaked table
//! does not leak usable tokens. Lookup is by that hash (an index probe on a
//! digest of a random value leaks nothing useful through timing).

use std::time::Duration;

use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::users::{User, USER_COLUMNS};

pub const TOKEN_PREFIX: &str = "gat_";
/// Tokens expire this long after login or registration.
pub const TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A fresh random token.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// True when `text` has the shape of one of our tokens (checked before
/// touching the database).
pub fn well_formed(text: &str) -> bool {
    text.strip_prefix(TOKEN_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Issues a new token for `user_id`.
pub async fn issue(pool: &PgPool, user_id: i64) -> Result<String, sqlx::Error> {
    let token = generate();
    sqlx::query(
        "INSERT INTO api_tokens (user_id, token_sha256, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(user_id)
    .bind(digest(&token))
    .bind(TOKEN_TTL.as_secs() as f64)
    .execute(pool)
    .await?;
    Ok(token)
}

/// The user a live (not revoked, not expired) token belongs to.
pub async fn lookup(pool: &PgPool, token: &str) -> Result<Option<User>, sqlx::Error> {
    if !well_formed(token) {
        return Ok(None);
    }
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND t.expires_at > now()"
    ))
    .bind(digest(token))
    .fetch_optional(pool)
    .await
}

/// Revokes a token; later requests with it get 401.
pub async fn revoke(pool: &PgPool, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = now()
         WHERE token_sha256 = $1 AND revoked_at IS NULL",
    )
    .bind(digest(token))
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_hex() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert!(!well_formed("gat_xyz"));
        assert!(!well_formed(&a[4..]));
        assert_eq!(digest(&a).len(), 32);
        assert_ne!(digest(&a), digest(&b));
    }
}
