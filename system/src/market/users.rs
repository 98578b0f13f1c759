//! Accounts: rows, their JSON form, and the queries on them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// `consumer`, `producer` or `admin`.
    pub role: String,
    /// `pending` (a producer awaiting approval) or `active`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn is_active_producer(&self) -> bool {
        self.role == "producer" && self.status == "active"
    }
}

pub(crate) const USER_COLUMNS: &str = "u.id, u.name, u.email, u.role, u.status, u.created_at";

/// Inserts a new account; `None` when the e-mail is taken.
pub async fn create(
    pool: &PgPool,
    name: &str,
    email: &str,
    role: &str,
    password_hash: &str,
) -> Result<Option<User>, sqlx::Error> {
    let status = if role == "producer" {
        "pending"
    } else {
        "active"
    };
    sqlx::query_as(&format!(
        "INSERT INTO users AS u (name, email, role, status, password_hash)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (email) DO NOTHING
         RETURNING {USER_COLUMNS}"
    ))
    .bind(name)
    .bind(email)
    .bind(role)
    .bind(status)
    .bind(password_hash)
    .fetch_optional(pool)
    .await
}

/// The account with this (lowercased) e-mail and its password hash.
pub async fn find_for_login(
    pool: &PgPool,
    email: &str,
) -> Result<Option<(User, Option<String>)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: User,
        password_hash: Option<String>,
    }
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = $1"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

/// Makes a producer `active`; `None` when no producer has this id.
pub async fn approve_producer(pool: &PgPool, id: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE users AS u SET status = 'active'
         WHERE u.id = $1 AND u.role = 'producer'
         RETURNING {USER_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}
