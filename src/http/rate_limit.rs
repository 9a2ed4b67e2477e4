//! A per-caller rate limit for `/graphql`: a token bucket per signed-in caller (issuer and
//! subject) or, without a token, per peer address. Each replica counts its own callers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests a caller may make per minute, on average.
    pub per_minute: u32,
    /// How many a caller may make at once after a pause (default: a tenth of a minute's worth,
    /// at least 10).
    pub burst: Option<u32>,
}

/// Callers whose bucket is held at most; past it, full buckets (idle callers) are forgotten.
const MAX_CALLERS: usize = 100_000;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig) -> RateLimiter {
        let burst = config.burst.unwrap_or((config.per_minute / 10).max(10)).max(1);
        RateLimiter {
            per_second: f64::from(config.per_minute.max(1)) / 60.0,
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `caller`'s bucket, or says how long until one is there.
    pub fn take(&self, caller: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_CALLERS && !buckets.contains_key(caller) {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * per_second < burst);
        }
        let (tokens, at) = buckets.entry(caller.to_owned()).or_insert((self.burst, now));
        let refilled = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_gets_the_burst_then_waits_and_others_are_not_affected() {
        let limiter = RateLimiter::new(&RateLimitConfig { per_minute: 60, burst: Some(3) });
        for _ in 0..3 {
            assert!(limiter.take("ada").is_ok());
        }
        let wait = limiter.take("ada").expect_err("the fourth at once waits");
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.take("grace").is_ok(), "another caller has their own bucket");
    }
}
