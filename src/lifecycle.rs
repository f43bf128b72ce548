//! The process's lifecycle state, shared by the loops, the AWS port and the probes: whether it is
//! ready (leadership known and, when leading, its loops' caches filled; the webhooks serving when
//! on) and whether it is stopping
//! (SIGTERM: no new AWS call starts; the calls under way finish).
//!
//! It holds flags only; deciding leadership is `crate::leader_election`'s job and serving the
//! probes `crate::probes`'.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::LazyLock;
use tokio::sync::watch;

static READY: AtomicBool = AtomicBool::new(false);
/// The webhook server is enabled and not serving yet (caches or certificate missing).
static WEBHOOKS_PENDING: AtomicBool = AtomicBool::new(false);
/// Loops of the leader whose caches have not yet held their first full list.
static CACHES_PENDING: AtomicUsize = AtomicUsize::new(0);
static STOPPING: LazyLock<watch::Sender<bool>> = LazyLock::new(|| watch::Sender::new(false));

/// Marks the process ready (or not) for `/readyz`.
pub fn set_ready(ready: bool) {
    READY.store(ready, Ordering::SeqCst);
}

/// Ready also needs the webhooks serving, when they are enabled (upstream's `ready-webhook`).
pub fn is_ready() -> bool {
    READY.load(Ordering::SeqCst)
        && !WEBHOOKS_PENDING.load(Ordering::SeqCst)
        && CACHES_PENDING.load(Ordering::SeqCst) == 0
}

/// What readiness still waits for, in words (`None`: ready), for `/readyz`'s body.
pub fn waiting_for() -> Option<String> {
    let mut waits = Vec::new();
    if !READY.load(Ordering::SeqCst) {
        waits.push("leadership or the loops' start".to_string());
    }
    let caches = CACHES_PENDING.load(Ordering::SeqCst);
    if caches > 0 {
        waits.push(format!("{caches} loop cache(s) filling"));
    }
    if WEBHOOKS_PENDING.load(Ordering::SeqCst) {
        waits.push("the webhooks (caches or certificate)".to_string());
    }
    (!waits.is_empty()).then(|| format!("not ready: waiting for {}", waits.join(", ")))
}

/// The leader starts `loops` loops: not ready until each has called [`cache_synced`].
pub fn expect_cache_syncs(loops: usize) {
    CACHES_PENDING.store(loops, Ordering::SeqCst);
}

/// One loop's caches hold their first full list (a loop run outside `run`, as in tests, counts
/// down from nothing and stays at zero).
pub fn cache_synced() {
    let _ = CACHES_PENDING.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |pending| {
        Some(pending.saturating_sub(1))
    });
}

/// Marks the webhook server as enabled but not yet serving (`true`) or serving (`false`).
pub fn set_webhooks_pending(pending: bool) {
    WEBHOOKS_PENDING.store(pending, Ordering::SeqCst);
}

/// From now on, [`hold_if_stopping`] never returns: no new AWS call starts.
pub fn begin_stopping() {
    STOPPING.send_replace(true);
}

pub fn is_stopping() -> bool {
    *STOPPING.borrow()
}

/// Returns at once while the process runs; once it is stopping, waits for as long as it is (the
/// caller's task is dropped when the process exits).
pub async fn hold_if_stopping() {
    let mut stopping = STOPPING.subscribe();
    // The sender is a static: it is never dropped, so this only returns once not stopping.
    let _ = stopping.wait_for(|stopping| !*stopping).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // The only test touching readiness (process-wide flags).
    #[test]
    fn readiness_waits_for_every_cache_and_the_webhooks() {
        set_ready(true);
        expect_cache_syncs(2);
        set_webhooks_pending(true);
        cache_synced();
        assert!(!is_ready(), "one cache is still filling");
        assert!(waiting_for().is_some_and(|w| w.contains("1 loop cache")));
        cache_synced();
        assert!(!is_ready(), "the webhooks are not serving yet");
        set_webhooks_pending(false);
        assert!(is_ready());
        cache_synced();
        assert!(is_ready(), "an extra sync does not wrap around");
        set_ready(false);
        assert!(!is_ready());
    }

    // One test for the process-wide flag, so no other test sees it set.
    #[tokio::test]
    async fn once_stopping_no_new_call_starts() {
        tokio::time::timeout(Duration::from_secs(1), hold_if_stopping())
            .await
            .expect("a running process lets calls start");
        begin_stopping();
        assert!(is_stopping());
        assert!(
            tokio::time::timeout(Duration::from_millis(200), hold_if_stopping())
                .await
                .is_err(),
            "a stopping process holds new calls"
        );
        STOPPING.send_replace(false);
    }
}
