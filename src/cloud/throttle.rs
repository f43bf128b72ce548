//! Client-side rate limits on AWS calls, as upstream's `--aws-api-throttle`: rules
//! `serviceID:operationRegex=rate:burst`; every rule whose service and operation match is waited
//! on before the call. Entries given for a service replace that service's defaults; other services
//! keep theirs. Defaults (upstream's): Elastic Load Balancing v2 `^RegisterTargets|^DeregisterTargets`
//! 4/s burst 20, `^Describe.*` 50/s burst 200, `^Modify.*` 3/s burst 20; WAF Regional and WAFV2
//! association calls 0.5/s and reads 1/s, burst 1.
//!
//! It only paces calls; retrying throttled calls is the SDK's job.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use regex::Regex;
use std::num::NonZeroU32;
use std::time::Duration;

pub const ELBV2: &str = "Elastic Load Balancing v2";
pub const EC2: &str = "EC2";
pub const TAGGING: &str = "Resource Groups Tagging API";
pub const ACM: &str = "ACM";
pub const WAFV2: &str = "WAFV2";
pub const WAF_REGIONAL: &str = "WAF Regional";
pub const SHIELD: &str = "Shield";
pub const ROUTE53: &str = "Route 53";

const DEFAULT_RULES: &[&str] = &[
    "Elastic Load Balancing v2:^RegisterTargets|^DeregisterTargets=4:20",
    "Elastic Load Balancing v2:^Describe.*=50:200",
    "Elastic Load Balancing v2:^Modify.*=3:20",
    "WAF Regional:^AssociateWebACL|DisassociateWebACL=0.5:1",
    "WAF Regional:^GetWebACLForResource|ListResourcesForWebACL=1:1",
    "WAFV2:^AssociateWebACL|DisassociateWebACL=0.5:1",
    "WAFV2:^GetWebACLForResource|ListResourcesForWebACL=1:1",
];

/// One parsed rule: which calls, how fast.
#[derive(Debug, Clone)]
pub struct ThrottleRule {
    pub service: String,
    pub operations: Regex,
    /// Calls per second (may be below one).
    pub rate: f64,
    pub burst: u32,
}

impl PartialEq for ThrottleRule {
    fn eq(&self, other: &Self) -> bool {
        self.service == other.service
            && self.operations.as_str() == other.operations.as_str()
            && self.rate == other.rate
            && self.burst == other.burst
    }
}

impl ThrottleRule {
    /// `serviceID:operationRegex=rate:burst`.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!("--aws-api-throttle entry {entry:?}: {why} (expected serviceID:operationRegex=rate:burst)")
        };
        let (target, limits) = entry.rsplit_once('=').ok_or_else(|| bad("no ="))?;
        let (service, pattern) = target
            .split_once(':')
            .ok_or_else(|| bad("no : between service and operations"))?;
        let (rate, burst) = limits
            .split_once(':')
            .ok_or_else(|| bad("no : between rate and burst"))?;
        let rate: f64 = rate
            .trim()
            .parse()
            .map_err(|_| bad("the rate is not a number"))?;
        let burst: u32 = burst
            .trim()
            .parse()
            .map_err(|_| bad("the burst is not a whole number"))?;
        if !(rate > 0.0 && rate.is_finite()) || burst == 0 {
            return Err(bad("rate and burst must be positive"));
        }
        let operations =
            Regex::new(pattern).map_err(|error| bad(&format!("bad operation pattern: {error}")))?;
        Ok(Self {
            service: service.trim().to_string(),
            operations,
            rate,
            burst,
        })
    }

    fn quota(&self) -> Quota {
        let period = Duration::from_secs_f64(1.0 / self.rate);
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }
}

/// Upstream's defaults with `overrides` applied (an override's service loses its defaults).
pub fn rules_with_overrides(overrides: &[ThrottleRule]) -> Vec<ThrottleRule> {
    let overridden: Vec<&str> = overrides.iter().map(|r| r.service.as_str()).collect();
    DEFAULT_RULES
        .iter()
        .filter_map(|entry| ThrottleRule::parse(entry).ok())
        .filter(|rule| !overridden.contains(&rule.service.as_str()))
        .chain(overrides.iter().cloned())
        .collect()
}

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The limiters of a set of rules.
pub struct Throttle<C: Clock = DefaultClock> {
    limiters: Vec<(ThrottleRule, Limiter<C>)>,
}

impl Throttle<DefaultClock> {
    pub fn new(rules: Vec<ThrottleRule>) -> Self {
        let clock = DefaultClock::default();
        Self::with_clock(rules, &clock)
    }

    /// Waits until every rule matching `service` and `operation` allows one more call.
    pub async fn wait(&self, service: &str, operation: &str) {
        for (_, limiter) in self.matching(service, operation) {
            limiter.until_ready().await;
        }
    }
}

impl<C: Clock + Clone> Throttle<C> {
    pub fn with_clock(rules: Vec<ThrottleRule>, clock: &C) -> Self {
        let limiters = rules
            .into_iter()
            .map(|rule| {
                let limiter = RateLimiter::direct_with_clock(rule.quota(), clock.clone());
                (rule, limiter)
            })
            .collect();
        Self { limiters }
    }

    fn matching<'a>(
        &'a self,
        service: &'a str,
        operation: &'a str,
    ) -> impl Iterator<Item = &'a (ThrottleRule, Limiter<C>)> + 'a {
        self.limiters
            .iter()
            .filter(move |(rule, _)| rule.service == service && rule.operations.is_match(operation))
    }

    /// Whether one more call may go now, taking it from every matching rule's budget.
    pub fn try_acquire(&self, service: &str, operation: &str) -> bool {
        self.matching(service, operation)
            .all(|(_, limiter)| limiter.check().is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn entries_parse_and_bad_ones_say_why() {
        let rule = ThrottleRule::parse("Elastic Load Balancing v2:^Describe.*=0.5:3").unwrap();
        assert_eq!(
            (rule.service.as_str(), rule.rate, rule.burst),
            (ELBV2, 0.5, 3)
        );
        assert!(rule.operations.is_match("DescribeTargetHealth"));
        for bad in [
            "EC2=1:1",
            "EC2:^Describe.*",
            "EC2:^D=fast:1",
            "EC2:^D=1:0",
            "EC2:([=1:1",
        ] {
            assert!(ThrottleRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_override_replaces_its_services_defaults_only() {
        let overrides = vec![ThrottleRule::parse("Elastic Load Balancing v2:.*=10:10").unwrap()];
        let rules = rules_with_overrides(&overrides);
        let elbv2: Vec<&ThrottleRule> = rules.iter().filter(|r| r.service == ELBV2).collect();
        assert_eq!(elbv2, vec![&overrides[0]]);
        assert_eq!(rules.iter().filter(|r| r.service == "WAFV2").count(), 2);
        assert_eq!(
            rules_with_overrides(&[])
                .iter()
                .filter(|r| r.service == ELBV2)
                .count(),
            3
        );
    }

    #[test]
    fn a_burst_passes_then_calls_wait_for_the_rate() {
        let clock = FakeRelativeClock::default();
        let rules = vec![ThrottleRule::parse("Elastic Load Balancing v2:^Modify.*=2:3").unwrap()];
        let throttle = Throttle::with_clock(rules, &clock);
        for _ in 0..3 {
            assert!(throttle.try_acquire(ELBV2, "ModifyListener"));
        }
        assert!(
            !throttle.try_acquire(ELBV2, "ModifyListener"),
            "the burst of 3 is spent"
        );
        assert!(
            throttle.try_acquire(ELBV2, "DescribeListeners"),
            "other operations are not limited by this rule"
        );
        assert!(
            throttle.try_acquire(EC2, "ModifyListener"),
            "other services are not limited by this rule"
        );
        clock.advance(Duration::from_millis(500));
        assert!(
            throttle.try_acquire(ELBV2, "ModifyListener"),
            "2 per second: one more after half a second"
        );
        assert!(!throttle.try_acquire(ELBV2, "ModifyListener"));
    }
}
