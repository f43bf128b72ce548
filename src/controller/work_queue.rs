//! A work queue of keys (Ingress groups) with a due time each: a key asked for several times
//! before it runs runs once, at the earliest time asked; a key never runs twice at once (asked
//! for while running, it runs again after). Workers take the due keys in due-time order.
//!
//! It knows nothing of what a key means; the Ingress loop fills it from its watches and its
//! reconciles' requeues.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    changed: Notify,
}

struct State<K> {
    due: BTreeMap<K, Instant>,
    running: BTreeSet<K>,
}

impl<K: Ord + Clone> Default for WorkQueue<K> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                due: BTreeMap::new(),
                running: BTreeSet::new(),
            }),
            changed: Notify::new(),
        }
    }
}

impl<K: Ord + Clone> WorkQueue<K> {
    fn state(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `key` is due at `at` (or earlier, if it already was).
    pub fn schedule(&self, key: K, at: Instant) {
        {
            let mut state = self.state();
            let due = state.due.entry(key).or_insert(at);
            if at < *due {
                *due = at;
            }
        }
        self.changed.notify_waiters();
    }

    pub fn schedule_now(&self, key: K) {
        self.schedule(key, Instant::now());
    }

    /// Keys waiting (due now or later), running ones not counted.
    pub fn waiting(&self) -> usize {
        self.state().due.len()
    }

    /// The next due key not running, once it is due; it is running until [`Self::done`].
    pub async fn next(&self) -> K {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wake_at = {
                let mut state = self.state();
                let next = state
                    .due
                    .iter()
                    .filter(|(key, _)| !state.running.contains(*key))
                    .min_by_key(|(_, at)| **at)
                    .map(|(key, at)| (key.clone(), *at));
                match next {
                    Some((key, at)) if at <= Instant::now() => {
                        state.due.remove(&key);
                        state.running.insert(key.clone());
                        return key;
                    }
                    Some((_, at)) => Some(at),
                    None => None,
                }
            };
            match wake_at {
                Some(at) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// The run of `key` ended: it may run again (now, if it was asked for meanwhile).
    pub fn done(&self, key: &K) {
        self.state().running.remove(key);
        self.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test]
    async fn keys_asked_for_twice_run_once_never_before_the_earliest_time_in_due_order() {
        let queue = WorkQueue::default();
        let start = Instant::now();
        queue.schedule("late", start + 90 * MS);
        queue.schedule("soon", start + 30 * MS);
        queue.schedule("late", start + 60 * MS);
        assert_eq!(queue.waiting(), 2);
        assert_eq!(queue.next().await, "soon");
        assert!(Instant::now() - start >= 30 * MS, "not before it is due");
        assert_eq!(queue.next().await, "late");
        assert!(Instant::now() - start >= 60 * MS);
        assert_eq!(queue.waiting(), 0, "asked for twice, run once");
    }

    #[tokio::test]
    async fn a_running_key_asked_for_again_waits_for_its_run_to_end() {
        let queue = std::sync::Arc::new(WorkQueue::default());
        queue.schedule_now("group");
        assert_eq!(queue.next().await, "group");
        queue.schedule_now("group");
        queue.schedule_now("other");
        // "group" is running: the next worker gets "other".
        assert_eq!(queue.next().await, "other");
        let second = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        // The only due key is running: nothing is handed out until its run ends.
        let early = tokio::time::timeout(20 * MS, queue.next()).await;
        assert!(early.is_err(), "a key never runs twice at once");
        queue.done(&"group");
        assert_eq!(second.await.unwrap(), "group");
    }
}
