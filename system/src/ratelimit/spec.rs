//! Rate-limit profiles and their configuration (`RATE_LIMIT_*`).

use std::fmt;
use std::time::Duration;

use crate::config::{ConfigError, Env};

/// The profiles of SYSTEM-SPEC section 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Login and registration, per client IP + e-mail.
    Auth,
    /// Other API calls, per user (or client IP when anonymous).
    Standard,
    /// Checkout, per user (or client IP for guests).
    Expensive,
    /// Admin endpoints, per client IP.
    Admin,
}

impl Profile {
    pub const ALL: [Profile; 4] = [
        Profile::Auth,
        Profile::Standard,
        Profile::Expensive,
        Profile::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Auth => "auth",
            Profile::Standard => "standard",
            Profile::Expensive => "expensive",
            Profile::Admin => "admin",
        }
    }

    fn env_var(self) -> &'static str {
        match self {
            Profile::Auth => "RATE_LIMIT_AUTH",
            Profile::Standard => "RATE_LIMIT_STANDARD",
            Profile::Expensive => "RATE_LIMIT_EXPENSIVE",
            Profile::Admin => "RATE_LIMIT_ADMIN",
        }
    }

    fn default_spec(self) -> RateSpec {
        let per_minute = |capacity| RateSpec {
            capacity,
            window: Duration::from_secs(60),
        };
        match self {
            Profile::Auth => per_minute(10),
            Profile::Standard => per_minute(60),
            Profile::Expensive => per_minute(30),
            Profile::Admin => per_minute(120),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `capacity` requests per `window`, refilled continuously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSpec {
    pub capacity: u32,
    pub window: Duration,
}

impl RateSpec {
    /// Parses `N/W`: N ≥ 1 requests per window W, written `60s`, `1m`,
    /// `500ms`, `1h` or plain seconds (`60`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (count, window) = text
            .trim()
            .split_once('/')
            .ok_or("expected N/WINDOW, e.g. 60/60s")?;
        let capacity: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=10_000_000).contains(n))
            .ok_or("the count must be an integer from 1 to 10000000")?;
        let window = window.trim();
        let split = window
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(window.len());
        let (number, unit) = window.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| "the window must start with a whole number")?;
        let millis = match unit {
            "ms" => number,
            "" | "s" => number.saturating_mul(1000),
            "m" => number.saturating_mul(60_000),
            "h" => number.saturating_mul(3_600_000),
            _ => return Err(format!("unknown window unit {unit:?}; use ms, s, m or h")),
        };
        if !(1..=86_400_000).contains(&millis) {
            return Err("the window must be from 1ms to 24h".into());
        }
        Ok(RateSpec {
            capacity,
            window: Duration::from_millis(millis),
        })
    }
}

impl fmt::Display for RateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}ms", self.capacity, self.window.as_millis())
    }
}

/// Every profile's spec, and the global off switch (`RATE_LIMIT_DISABLED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub disabled: bool,
    pub auth: RateSpec,
    pub standard: RateSpec,
    pub expensive: RateSpec,
    pub admin: RateSpec,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            disabled: false,
            auth: Profile::Auth.default_spec(),
            standard: Profile::Standard.default_spec(),
            expensive: Profile::Expensive.default_spec(),
            admin: Profile::Admin.default_spec(),
        }
    }
}

impl RateLimits {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let get = |key: &str| env.var(key).filter(|v| !v.trim().is_empty());
        let spec = |profile: Profile| match get(profile.env_var()) {
            None => Ok(profile.default_spec()),
            Some(value) => RateSpec::parse(&value).map_err(|reason| ConfigError::Invalid {
                var: profile.env_var(),
                value,
                reason,
            }),
        };
        let disabled = match get("RATE_LIMIT_DISABLED") {
            None => false,
            Some(value) => match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: "RATE_LIMIT_DISABLED",
                        value,
                        reason: "expected true or false".into(),
                    })
                }
            },
        };
        Ok(RateLimits {
            disabled,
            auth: spec(Profile::Auth)?,
            standard: spec(Profile::Standard)?,
            expensive: spec(Profile::Expensive)?,
            admin: spec(Profile::Admin)?,
        })
    }

    pub fn spec(&self, profile: Profile) -> RateSpec {
        match profile {
            Profile::Auth => self.auth,
            Profile::Standard => self.standard,
            Profile::Expensive => self.expensive,
            Profile::Admin => self.admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn spec(capacity: u32, millis: u64) -> RateSpec {
        RateSpec {
            capacity,
            window: Duration::from_millis(millis),
        }
    }

    #[test]
    fn specs_parse_with_units() {
        assert_eq!(RateSpec::parse("60/60s"), Ok(spec(60, 60_000)));
        assert_eq!(RateSpec::parse(" 10 / 1m "), Ok(spec(10, 60_000)));
        assert_eq!(RateSpec::parse("5/500ms"), Ok(spec(5, 500)));
        assert_eq!(RateSpec::parse("1000/1h"), Ok(spec(1000, 3_600_000)));
        assert_eq!(RateSpec::parse("7/30"), Ok(spec(7, 30_000)));
    }

    #[test]
    fn bad_specs_say_why() {
        for bad in [
            "60", "0/60s", "-1/60s", "x/60s", "60/", "60/s", "60/10d", "60/0s", "60/25h",
        ] {
            assert!(RateSpec::parse(bad).is_err(), "{bad} parsed");
        }
        assert!(RateSpec::parse("60/10d").unwrap_err().contains("unit"));
    }

    #[test]
    fn limits_come_from_the_environment() {
        let env: HashMap<&str, &str> = HashMap::new();
        let limits = RateLimits::from_env(&env).unwrap();
        assert_eq!(limits, RateLimits::default());
        assert_eq!(limits.spec(Profile::Auth), spec(10, 60_000));
        assert_eq!(limits.spec(Profile::Standard), spec(60, 60_000));
        let env = HashMap::from([
            ("RATE_LIMIT_STANDARD", "100000/60s"),
            ("RATE_LIMIT_DISABLED", "true"),
            ("RATE_LIMIT_AUTH", ""),
        ]);
        let limits = RateLimits::from_env(&env).unwrap();
        assert!(limits.disabled);
        assert_eq!(limits.standard, spec(100_000, 60_000));
        assert_eq!(limits.auth, spec(10, 60_000));
        let env = HashMap::from([("RATE_LIMIT_EXPENSIVE", "lots")]);
        let err = RateLimits::from_env(&env).unwrap_err().to_string();
        assert!(err.starts_with("RATE_LIMIT_EXPENSIVE=\"lots\""), "{err}");
        let env = HashMap::from([("RATE_LIMIT_DISABLED", "maybe")]);
        assert!(RateLimits::from_env(&env).is_err());
    }
}
