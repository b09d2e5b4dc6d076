//! Per-connection rate limiting: a token bucket for each client connection (keyed by its
//! peer address, which is unique per TCP connection), so one busy client cannot starve others.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Token buckets, one per connection.
#[derive(Debug)]
pub struct RateLimiter {
    /// Tokens added per second.
    rate: f64,
    /// Bucket size: the burst allowed above the rate.
    burst: f64,
    /// The buckets, by peer address.
    buckets: Mutex<HashMap<SocketAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets idle this long are forgotten (they would be full again anyway).
const IDLE: Duration = Duration::from_secs(60);
/// Sweep idle buckets once the map grows past this.
const SWEEP_AT: usize = 4_096;

impl RateLimiter {
    /// A limiter allowing `rate` requests per second with bursts of `burst`.
    pub fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `peer` at `now`. `Err(seconds)` says how long until one is free.
    ///
    /// # Errors
    /// The whole seconds to wait (at least 1) when the bucket is empty.
    pub fn check(&self, peer: SocketAddr, now: Instant) -> Result<(), u64> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, b| now.saturating_duration_since(b.updated) < IDLE);
        }
        let b = buckets.entry(peer).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.updated = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / self.rate;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_connection() {
        let limiter = RateLimiter::new(10.0, 3.0);
        let a: SocketAddr = ([127, 0, 0, 1], 40000).into();
        let b: SocketAddr = ([127, 0, 0, 1], 40001).into();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(a, t0), Ok(()));
        }
        assert_eq!(limiter.check(a, t0), Err(1));
        // Another connection has its own bucket.
        assert_eq!(limiter.check(b, t0), Ok(()));
        // 100 ms later one token is back.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(limiter.check(a, t1), Ok(()));
        assert!(limiter.check(a, t1).is_err());
    }
}
