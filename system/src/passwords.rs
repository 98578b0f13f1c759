//! Password hashing: argon2id in PHC string form, cost from the environment.
//!
//! Hashing is CPU- and memory-heavy by design, so it runs on the blocking
//! pool behind a semaphore (one permit per core): a burst of registrations
//! queues instead of allocating `m_cost` KiB per request at once. The PHC
//! string carries its own parameters, so changing the cost only affects new
//! hashes; verification compares in constant time (argon2's own check).

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use tokio::sync::Semaphore;

use crate::config::{ConfigError, Env};

/// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
pub const DEFAULT_MEMORY_KIB: u32 = 19_456;
pub const DEFAULT_ITERATIONS: u32 = 2;

/// Cost parameters, from `PASSWORD_HASH_MEMORY_KIB` and
/// `PASSWORD_HASH_ITERATIONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost {
            memory_kib: DEFAULT_MEMORY_KIB,
            iterations: DEFAULT_ITERATIONS,
        }
    }
}

impl HashCost {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let read = |var: &'static str, default: u32, min: u32, max: u32| match env
            .var(var)
            .filter(|v| !v.trim().is_empty())
        {
            None => Ok(default),
            Some(value) => match value.trim().parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ConfigError::Invalid {
                    var,
                    value,
                    reason: format!("expected an integer from {min} to {max}"),
                }),
            },
        };
        Ok(HashCost {
            // argon2 needs at least 8 KiB per lane; 4 GiB is plenty.
            memory_kib: read("PASSWORD_HASH_MEMORY_KIB", DEFAULT_MEMORY_KIB, 8, 4 << 20)?,
            iterations: read("PASSWORD_HASH_ITERATIONS", DEFAULT_ITERATIONS, 1, 100)?,
        })
    }

    fn argon2(self) -> Argon2<'static> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None)
            .expect("cost validated in HashCost::from_env");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("hashing task failed: {0}")]
    Task(String),
}

/// Hashes and verifies passwords on the blocking pool, a few at a time.
#[derive(Clone)]
pub struct Passwords {
    cost: HashCost,
    permits: Arc<Semaphore>,
    /// Verified against when the account does not exist, so an unknown
    /// e-mail costs as much time as a wrong password.
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new(cost: HashCost) -> Result<Self, PasswordError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Passwords {
            cost,
            permits: Arc::new(Semaphore::new(cores)),
            dummy_hash: hash_blocking(cost, "not-a-real-password")?.into(),
        })
    }

    pub fn cost(&self) -> HashCost {
        self.cost
    }

    /// The PHC string (`$argon2id$v=19$m=...`) of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        let (cost, password) = (self.cost, password.to_owned());
        tokio::task::spawn_blocking(move || hash_blocking(cost, &password))
            .await
            .map_err(|e| PasswordError::Task(e.to_string()))?
    }

    /// True when `password` matches `stored`. `None` (no such account, or
    /// an account without a password) burns the same time and is false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let matched = tokio::task::spawn_blocking(move || verify_blocking(&password, &stored))
            .await
            .unwrap_or(false);
        known && matched
    }
}

/// Hashes on the current thread (fixtures, start-up, tests).
pub fn hash_blocking(cost: HashCost, password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    cost.argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

fn verify_blocking(password: &str, stored: &str) -> bool {
    // The parameters come from the PHC string itself.
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const CHEAP: HashCost = HashCost {
        memory_kib: 64,
        iterations: 1,
    };

    #[test]
    fn cost_comes_from_the_environment_with_owasp_defaults() {
        let env: HashMap<&str, &str> = HashMap::new();
        assert_eq!(HashCost::from_env(&env).unwrap(), HashCost::default());
        let env = HashMap::from([
            ("PASSWORD_HASH_MEMORY_KIB", "1024"),
            ("PASSWORD_HASH_ITERATIONS", "1"),
        ]);
        let cost = HashCost::from_env(&env).unwrap();
        assert_eq!((cost.memory_kib, cost.iterations), (1024, 1));
        for (var, bad) in [
            ("PASSWORD_HASH_MEMORY_KIB", "4"),
            ("PASSWORD_HASH_ITERATIONS", "0"),
            ("PASSWORD_HASH_ITERATIONS", "two"),
        ] {
            let env = HashMap::from([(var, bad)]);
            let err = HashCost::from_env(&env).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
        }
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_blocking(CHEAP, "correct horse").unwrap();
        let b = hash_blocking(CHEAP, "correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "every hash has its own salt");
        assert!(verify_blocking("correct horse", &a));
        assert!(!verify_blocking("correct horsE", &a));
        assert!(!verify_blocking("correct horse", "not a phc string"));
    }

    #[tokio::test]
    async fn unknown_accounts_never_verify() {
        let passwords = Passwords::new(CHEAP).unwrap();
        let stored = passwords.hash("pw-12345678").await.unwrap();
        assert!(passwords.verify("pw-12345678", Some(&stored)).await);
        assert!(!passwords.verify("pw-12345678", None).await);
        assert!(!passwords.verify("not-a-real-password", None).await);
    }
}
