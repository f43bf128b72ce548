//! Leader election on a `coordination.k8s.io/v1` Lease, as upstream (controller-runtime's
//! defaults): lease `aws-load-balancer-controller-leader`, duration 15 s, renewed every 2 s,
//! leadership given up when it could not be renewed for 10 s.
//!
//! - [`decide`] is pure: given the Lease as read, who we are and the time, what to do.
//! - [`LeaderElector`] performs it against the API with optimistic concurrency (every write
//!   carries the `resourceVersion` it read, so two candidates never both win a round).
//!
//! Safety: a standby takes over only when the holder's `renewTime` is older than the lease
//! duration (15 s); a leader stops working when its last renewal is older than the renew
//! deadline (10 s, measured on its own monotonic clock). So even with 5 s of clock skew between
//! nodes two replicas never write at once. Upstream's pods honour the same Lease, so a cluster
//! migrating replica by replica never has both controllers active.
//!
//! It decides who leads; it does not start or stop the loops (`crate::cli::run` does).

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use std::time::{Duration, Instant};

pub const DEFAULT_LEASE_NAME: &str = "aws-load-balancer-controller-leader";

/// The election's timings (controller-runtime's defaults unless a test shortens them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The Lease's holder record, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRecord {
    pub holder: Option<String>,
    pub renewed_at: Option<Timestamp>,
    pub acquired_at: Option<Timestamp>,
    pub duration: Option<Duration>,
    pub transitions: i32,
}

/// What a candidate does with what it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// No Lease yet: create it, holding it.
    Create,
    /// We hold it: renew it.
    Renew,
    /// Free or expired: take it (one more transition).
    TakeOver,
    /// Someone else holds a live lease.
    Wait,
}

/// The step for `identity`, given the Lease as read at `now`.
pub fn decide(
    record: Option<&LeaseRecord>,
    identity: &str,
    now: Timestamp,
    timings: &Timings,
) -> Step {
    let Some(record) = record else {
        return Step::Create;
    };
    match record.holder.as_deref() {
        Some(holder) if holder == identity => Step::Renew,
        None | Some("") => Step::TakeOver,
        Some(_) => {
            let duration = record.duration.unwrap_or(timings.lease_duration);
            let expired = record.renewed_at.is_none_or(|renewed| {
                let age = now.duration_since(renewed);
                age.as_secs_f64() >= duration.as_secs_f64()
            });
            if expired {
                Step::TakeOver
            } else {
                Step::Wait
            }
        }
    }
}

/// How long until another holder's Lease expires, as read at `now` (zero when it has).
pub fn time_to_expiry(record: &LeaseRecord, now: Timestamp, timings: &Timings) -> Duration {
    let duration = record.duration.unwrap_or(timings.lease_duration);
    let Some(renewed) = record.renewed_at else {
        return Duration::ZERO;
    };
    let age = now.duration_since(renewed).as_secs_f64().max(0.0);
    Duration::from_secs_f64((duration.as_secs_f64() - age).max(0.0))
}

fn micro_time(at: Timestamp) -> MicroTime {
    MicroTime(at)
}

fn record_of(lease: &Lease) -> LeaseRecord {
    let spec = lease.spec.clone().unwrap_or_default();
    LeaseRecord {
        holder: spec.holder_identity,
        renewed_at: spec.renew_time.map(|t| t.0),
        acquired_at: spec.acquire_time.map(|t| t.0),
        duration: spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs),
        transitions: spec.lease_transitions.unwrap_or(0),
    }
}

/// One candidate for one Lease.
pub struct LeaderElector {
    leases: Api<Lease>,
    name: String,
    pub identity: String,
    pub timings: Timings,
    /// When we last renewed successfully (our own clock), while we lead.
    renewed: Option<Instant>,
    /// After a round that waited: how long the holder's Lease has left.
    pub holder_expires_in: Option<Duration>,
}

impl LeaderElector {
    /// How long a standby sleeps before its next round: half the retry period, or until just
    /// after the holder's Lease expires if that is sooner (so it takes over at expiry, not up to
    /// a second later).
    pub fn next_look(&self) -> Duration {
        let regular = self.timings.retry_period / 2;
        match self.holder_expires_in {
            Some(left) => regular.min(left + Duration::from_millis(20)),
            None => regular,
        }
    }
}

impl LeaderElector {
    pub fn new(client: kube::Client, namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            leases: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            timings: Timings::default(),
            renewed: None,
            holder_expires_in: None,
        }
    }

    fn spec(&self, now: Timestamp, acquired: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: i32::try_from(self.timings.lease_duration.as_secs()).ok(),
            acquire_time: Some(micro_time(acquired)),
            renew_time: Some(micro_time(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// One round: read the Lease, act on it; `Ok(true)` when we lead after it. A write that lost
    /// a race (409) is not an error: someone else won the round.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.leases.get_opt(&self.name).await?;
        let record = current.as_ref().map(record_of);
        let step = decide(record.as_ref(), &self.identity, now, &self.timings);
        let written = match (step, current) {
            (Step::Wait, _) => {
                self.renewed = None;
                self.holder_expires_in = record
                    .as_ref()
                    .map(|record| time_to_expiry(record, now, &self.timings));
                return Ok(false);
            }
            (Step::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(self.spec(now, now, 0)),
                };
                self.leases.create(&PostParams::default(), &lease).await
            }
            (step, Some(mut lease)) => {
                let record = record.unwrap_or_else(|| record_of(&lease));
                let (acquired, transitions) = if step == Step::Renew {
                    (record.acquired_at.unwrap_or(now), record.transitions)
                } else {
                    (now, record.transitions + 1)
                };
                lease.spec = Some(self.spec(now, acquired, transitions));
                self.leases
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
            }
            (_, None) => return Ok(false),
        };
        match written {
            Ok(_) => {
                if step != Step::Renew {
                    tracing::info!(lease = %self.name, identity = %self.identity, "became the leader");
                }
                self.renewed = Some(Instant::now());
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                self.renewed = None;
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    /// Whether we still lead: our last renewal is younger than the renew deadline.
    pub fn leads(&self) -> bool {
        self.renewed
            .is_some_and(|at| at.elapsed() < self.timings.renew_deadline)
    }

    /// Waits until we lead, one round per retry period (errors are logged and retried).
    pub async fn acquire(&mut self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "cannot read or write the leader Lease"),
            }
            tokio::time::sleep(self.timings.retry_period).await;
        }
    }

    /// Renews until leadership is lost (not renewed within the renew deadline); then returns.
    pub async fn keep_renewing(&mut self) {
        loop {
            tokio::time::sleep(self.timings.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => {}
                Ok(false) => {
                    self.renewed = None;
                    return;
                }
                Err(error) => tracing::warn!(%error, "cannot renew the leader Lease"),
            }
            if !self.leads() {
                return;
            }
        }
    }

    /// Gives the Lease up (holder cleared) so a standby takes over at once.
    pub async fn release(&mut self) -> Result<(), kube::Error> {
        if self.renewed.take().is_none() {
            return Ok(());
        }
        let Some(mut lease) = self.leases.get_opt(&self.name).await? else {
            return Ok(());
        };
        let record = record_of(&lease);
        if record.holder.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        lease.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            acquire_time: record.acquired_at.map(micro_time),
            renew_time: Some(micro_time(Timestamp::now())),
            lease_transitions: Some(record.transitions),
            ..LeaseSpec::default()
        });
        self.leases
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn held_by(holder: &str, renewed: i64) -> LeaseRecord {
        LeaseRecord {
            holder: Some(holder.to_string()),
            renewed_at: Some(at(renewed)),
            acquired_at: Some(at(0)),
            duration: Some(Duration::from_secs(15)),
            transitions: 3,
        }
    }

    #[test]
    fn a_live_lease_of_another_is_waited_on_and_an_expired_one_taken() {
        let timings = Timings::default();
        assert_eq!(decide(None, "b", at(0), &timings), Step::Create);
        let lease = held_by("a", 100);
        assert_eq!(decide(Some(&lease), "a", at(101), &timings), Step::Renew);
        assert_eq!(decide(Some(&lease), "b", at(114), &timings), Step::Wait);
        assert_eq!(decide(Some(&lease), "b", at(115), &timings), Step::TakeOver);
        let released = LeaseRecord {
            holder: None,
            ..held_by("a", 100)
        };
        assert_eq!(
            decide(Some(&released), "b", at(100), &timings),
            Step::TakeOver,
            "a released lease is taken at once"
        );
        let never_renewed = LeaseRecord {
            renewed_at: None,
            ..held_by("a", 0)
        };
        assert_eq!(
            decide(Some(&never_renewed), "b", at(1), &timings),
            Step::TakeOver
        );
    }

    #[test]
    fn the_time_left_on_a_lease_counts_from_its_renewal() {
        let timings = Timings::default();
        let record = held_by("other", 100);
        assert_eq!(
            time_to_expiry(&record, at(110), &timings),
            Duration::from_secs(5)
        );
        assert_eq!(time_to_expiry(&record, at(120), &timings), Duration::ZERO);
        let never = LeaseRecord {
            renewed_at: None,
            ..record
        };
        assert_eq!(time_to_expiry(&never, at(100), &timings), Duration::ZERO);
    }

    #[test]
    fn the_leases_own_duration_wins_over_ours() {
        let lease = LeaseRecord {
            duration: Some(Duration::from_secs(60)),
            ..held_by("upstream-pod", 100)
        };
        assert_eq!(
            decide(Some(&lease), "b", at(130), &Timings::default()),
            Step::Wait
        );
    }
}
