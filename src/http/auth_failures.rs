//! Failed authentications per source address: a client that keeps sending wrong keys is
//! answered `429` and its connection closed once it is over
//! `http.auth_failures_per_second` (burst `http.auth_failure_burst`), so that a flooder
//! pays a new TCP connection for each few tries instead of holding keep-alive
//! connections that cost the gateway a request parse and a SHA-256 each.
//!
//! Only failures are counted: a good key from the same address (a NAT) is still served.
//! IPv6 addresses count by their /64 (one host can own a whole /64). At most
//! [`MAX_TRACKED`] addresses are remembered; past that (a spread-out flood), failures from
//! addresses not yet tracked share one limit of the same size, so memory stays bounded
//! and the flood is still limited as a whole.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// Most source addresses whose failures are counted one by one.
pub(crate) const MAX_TRACKED: usize = 65_536;
/// Every this many failures, addresses whose limit has recovered are forgotten.
const FORGET_EVERY: u64 = 4_096;

/// What a failed authentication is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Under the limit: `401`, the connection stays open.
    Unauthorized,
    /// Over it: `429` and the connection is closed.
    Limited,
}

/// The per-address failed-authentication limiter.
pub(crate) struct AuthFailures<C: Clock = DefaultClock> {
    by_address: RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
    overflow: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    failures: AtomicU64,
    unauthorized: metrics::Counter,
    limited: metrics::Counter,
}

impl<C: Clock> std::fmt::Debug for AuthFailures<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthFailures")
            .field("tracked", &self.by_address.len())
            .finish_non_exhaustive()
    }
}

impl AuthFailures {
    /// `per_second` failures a second per address, `burst` at once (each at least 1).
    pub(crate) fn new(per_second: u32, burst: u32) -> Self {
        Self::with_clock(per_second, burst, &DefaultClock::default())
    }
}

impl<C: Clock + Clone> AuthFailures<C> {
    pub(crate) fn with_clock(per_second: u32, burst: u32, clock: &C) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        let counter = |answer: &'static str| metrics::counter!("smppgate_http_auth_failures_total", "answer" => answer);
        Self {
            by_address: RateLimiter::new(quota, DashMapStateStore::default(), clock.clone()),
            overflow: RateLimiter::direct_with_clock(quota, clock.clone()),
            failures: AtomicU64::new(0),
            unauthorized: counter("401"),
            limited: counter("429"),
        }
    }

    /// Counts one failed authentication from `address`; says how to answer it.
    pub(crate) fn failed(&self, address: IpAddr) -> Verdict {
        let key = counted_as(address);
        if self.failures.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.by_address.retain_recent();
        }
        // `len` may run a few entries past the bound while threads race here: bounded.
        let allowed = if self.by_address.len() < MAX_TRACKED {
            self.by_address.check_key(&key).is_ok()
        } else {
            self.overflow.check().is_ok()
        };
        if allowed {
            self.unauthorized.increment(1);
            Verdict::Unauthorized
        } else {
            self.limited.increment(1);
            Verdict::Limited
        }
    }

    /// Addresses remembered now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.by_address.len()
    }
}

/// The key an address is counted under: itself, or its /64 for IPv6 (an IPv4-mapped
/// address counts as the IPv4 address).
fn counted_as(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & 0xFFFF_FFFF_FFFF_FFFF_0000_0000_0000_0000,
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn an_address_over_its_burst_is_limited_others_are_not_and_it_recovers() {
        let clock = FakeRelativeClock::default();
        let failures = AuthFailures::with_clock(10, 5, &clock);
        let flooder = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
        for _ in 0..5 {
            assert_eq!(failures.failed(flooder), Verdict::Unauthorized);
        }
        assert_eq!(failures.failed(flooder), Verdict::Limited);
        assert_eq!(failures.failed(flooder), Verdict::Limited);
        // Another address has its own allowance.
        assert_eq!(failures.failed(other), Verdict::Unauthorized);
        // 10 a second: one more try after 100 ms, not two.
        clock.advance(Duration::from_millis(100));
        assert_eq!(failures.failed(flooder), Verdict::Unauthorized);
        assert_eq!(failures.failed(flooder), Verdict::Limited);
    }

    #[test]
    fn failures_are_counted_by_answer() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let failures = AuthFailures::with_clock(1, 2, &FakeRelativeClock::default());
            for _ in 0..5 {
                let _ = failures.failed(IpAddr::V4(Ipv4Addr::LOCALHOST));
            }
        });
        let text = handle.render();
        assert!(
            text.contains(r#"smppgate_http_auth_failures_total{answer="401"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"smppgate_http_auth_failures_total{answer="429"} 3"#),
            "{text}"
        );
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let clock = FakeRelativeClock::default();
        let failures = AuthFailures::with_clock(1, 1, &clock);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(failures.failed(a), Verdict::Unauthorized);
        assert_eq!(failures.failed(b), Verdict::Limited);
        assert_eq!(failures.failed(elsewhere), Verdict::Unauthorized);
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(failures.failed(v4), Verdict::Unauthorized);
        assert_eq!(failures.failed(mapped), Verdict::Limited);
    }

    #[test]
    fn memory_stays_bounded_under_a_spread_out_flood() {
        let clock = FakeRelativeClock::default();
        let failures = AuthFailures::with_clock(1, 1, &clock);
        let spread = u32::try_from(MAX_TRACKED).unwrap() + 1_000;
        let mut limited = 0;
        for n in 0..spread {
            let address = IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + n));
            if failures.failed(address) == Verdict::Limited {
                limited += 1;
            }
        }
        assert!(failures.tracked() <= MAX_TRACKED, "{}", failures.tracked());
        // Past the bound, the new addresses share one allowance of 1.
        assert_eq!(limited, 1_000 - 1);
    }
}
