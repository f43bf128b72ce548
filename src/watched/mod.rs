//! Watched stores, shared by every loop and the webhooks: one watch of a kind filling a
//! reflector store with objects slimmed on arrival, the task that keeps it polled, and a
//! readiness wait that works with several waiters. No decision, no kind-specific logic.
//!
//! A watch's failures stay inside its stream. A `410 Gone` (the API server compacted its
//! history, which happens to every watch at once) is a desync, not a failure: the watcher
//! lists again at once, without backing off. Other failures back that one stream off and are
//! logged, and no stream yields an error: kube-runtime's `Controller` backs off *every*
//! trigger stream together on any error of any of them, so the 410s of one compaction used to
//! stall a loop's reconciles for up to 30 s (found by the reliability tests).
//!
//! Services are the exception to one-watch-per-loop: [`services`] is the process's one watch of
//! them, shared by every loop and the webhooks.

pub mod services;
pub mod summaries;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use std::pin::Pin;

/// What a watched kind must be: a static Kubernetes kind the watcher can decode and share.
pub trait Watchable:
    kube::Resource<DynamicType = ()>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Watchable for K where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// A stream of changed objects that also keeps a store current while it is polled.
pub type CacheStream<K> = Pin<Box<dyn Stream<Item = Result<K, watcher::Error>> + Send>>;

/// A store of every object of kind `K` (slimmed by `slim`), and the watch events that fill it
/// while they are polled: a `410 Gone` relists without an event, other failures come out after
/// a backoff of this stream alone.
pub fn reflected<K>(
    client: &kube::Client,
    slim: fn(&mut K),
) -> (
    Store<K>,
    impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
)
where
    K: Watchable,
{
    let (reader, writer) = reflector::store();
    (reader, reflector::reflector(writer, events(client, slim)))
}

/// The watch events of every object of kind `K`, slimmed by `slim`: a `410 Gone` relists
/// without an event, other failures come out after a backoff of this stream alone.
pub(crate) fn events<K: Watchable>(
    client: &kube::Client,
    slim: fn(&mut K),
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static {
    let api: Api<K> = Api::all(client.clone());
    watcher(api, watcher::Config::default())
        .filter(|event| std::future::ready(!is_desync(event)))
        .default_backoff()
        .modify(slim)
}

/// The objects of `stream`, its failures logged and left out (see the module doc).
pub(crate) fn logging_failures<K: Watchable>(
    stream: impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
) -> CacheStream<K> {
    Box::pin(stream.filter_map(|item| async move {
        match item {
            Ok(object) => Some(Ok(object)),
            Err(error) => {
                tracing::warn!(%error, kind = std::any::type_name::<K>(), "watch failed; retrying");
                None
            }
        }
    }))
}

/// A store of every object of kind `K` (slimmed by `slim`), and the stream that fills it.
pub fn cached<K>(client: &kube::Client, slim: fn(&mut K)) -> (Store<K>, CacheStream<K>)
where
    K: Watchable,
{
    let (reader, events) = reflected(client, slim);
    (reader, logging_failures(events.applied_objects()))
}

/// The API server no longer has the history the watch resumes from (`410 Gone`): the watcher
/// has already gone back to listing.
pub fn is_desync<T>(event: &Result<T, watcher::Error>) -> bool {
    let desynced = matches!(event, Err(watcher::Error::WatchError(status)) if status.code == 410);
    if desynced {
        tracing::debug!("watch history compacted; listing again");
    }
    desynced
}

/// Resolves once `store` holds its first full list (`Err`: its writer is gone).
///
/// kube-runtime's `Store::wait_until_ready` wakes only the last of several concurrent waiters
/// (one oneshot receiver behind a mutex keeps one waker), so a waiter that is not the last
/// would hang past the store's readiness; this one looks again every 100 ms instead.
pub async fn store_ready<K>(store: &Store<K>) -> Result<(), reflector::store::WriterDropped>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        let attempt = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            store.wait_until_ready(),
        );
        if let Ok(ready) = attempt.await {
            return ready;
        }
    }
}

/// Polls a cache's stream for as long as it runs (the store fills as it goes).
pub async fn drain<K>(stream: CacheStream<K>) {
    stream.for_each(|_| async {}).await;
}
