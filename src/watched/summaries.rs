//! A store of summaries: one watch of a kind whose objects are kept only as a summary `S` of
//! what the readers use, where a reflector store would keep the Kubernetes struct itself (for a
//! pod, 4.8 KiB even once slimmed: its structs are mostly empty fields). Readers get a summary
//! back by namespace and name, or every summary of a namespace.
//!
//! The stream that fills the store yields the objects as they arrive (slimmed), so a
//! controller can still be woken by them; nothing of them is kept beyond the summary. Like
//! `watched::cached`, a `410 Gone` relists at once and no error leaves the stream. Its writer
//! also tells what each event changed (a relist: only what differs), which the shared Service
//! watch (`watched::services`) announces to its subscribers. It decides nothing.

use super::{events, logging_failures, CacheStream, Watchable};
use futures::StreamExt;
use kube::runtime::{watcher, WatchStreamExt};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

type Keyed<S> = HashMap<Box<str>, HashMap<Box<str>, Arc<S>>>;

/// The summaries of every object of a kind; cheap to clone.
pub struct Summaries<S> {
    by_namespace: Arc<RwLock<Keyed<S>>>,
    ready: tokio::sync::watch::Receiver<bool>,
}

impl<S> Clone for Summaries<S> {
    fn clone(&self) -> Self {
        Self {
            by_namespace: self.by_namespace.clone(),
            ready: self.ready.clone(),
        }
    }
}

impl<S> Summaries<S> {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keyed<S>> {
        self.by_namespace
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The summary of `namespace/name`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<S>> {
        self.read().get(namespace)?.get(name).cloned()
    }

    /// Every summary of `namespace`, with its object's name.
    pub fn in_namespace(&self, namespace: &str) -> Vec<(String, Arc<S>)> {
        self.in_namespace_where(namespace, |_| true)
    }

    /// The summaries of `namespace` whose object's name `wanted` keeps, with that name.
    pub fn in_namespace_where(
        &self,
        namespace: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Vec<(String, Arc<S>)> {
        self.read()
            .get(namespace)
            .into_iter()
            .flat_map(|objects| objects.iter())
            .filter(|(name, _)| wanted(name))
            .map(|(name, summary)| (name.to_string(), summary.clone()))
            .collect()
    }

    /// Resolves once the first full list is in (never, if the stream was dropped before).
    pub async fn wait_until_ready(&self) {
        let mut ready = self.ready.clone();
        if ready.wait_for(|ready| *ready).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The namespace and name of a changed object.
pub(crate) type Changed = (Box<str>, Box<str>);

/// The writing end of a [`Summaries`], and a relist under way.
pub(crate) struct Writer<S> {
    store: Summaries<S>,
    ready: tokio::sync::watch::Sender<bool>,
    relisting: Option<Keyed<S>>,
}

impl<S: PartialEq> Writer<S> {
    /// Applies one watch event and returns the objects it changed: the object of an `Apply` or
    /// a `Delete`; at the end of a relist, those added, changed or gone since the last list.
    pub(crate) fn apply<K: Watchable>(
        &mut self,
        event: &watcher::Event<K>,
        summarise: impl Fn(&K) -> S,
    ) -> Vec<Changed> {
        let key = |object: &K| -> Changed {
            let meta = object.meta();
            (
                meta.namespace.clone().unwrap_or_default().into(),
                meta.name.clone().unwrap_or_default().into(),
            )
        };
        let write = || {
            self.store
                .by_namespace
                .write()
                .unwrap_or_else(PoisonError::into_inner)
        };
        match event {
            watcher::Event::Apply(object) => {
                let (namespace, name) = key(object);
                write()
                    .entry(namespace.clone())
                    .or_default()
                    .insert(name.clone(), Arc::new(summarise(object)));
                vec![(namespace, name)]
            }
            watcher::Event::Delete(object) => {
                let (namespace, name) = key(object);
                let mut store = write();
                if let Some(objects) = store.get_mut(&namespace) {
                    objects.remove(&name);
                    if objects.is_empty() {
                        store.remove(&namespace);
                    }
                }
                vec![(namespace, name)]
            }
            watcher::Event::Init => {
                self.relisting = Some(Keyed::default());
                Vec::new()
            }
            watcher::Event::InitApply(object) => {
                let (namespace, name) = key(object);
                self.relisting
                    .get_or_insert_with(Keyed::default)
                    .entry(namespace)
                    .or_default()
                    .insert(name, Arc::new(summarise(object)));
                Vec::new()
            }
            watcher::Event::InitDone => {
                let listed = self.relisting.take().unwrap_or_default();
                let changed = differences(&self.store.read(), &listed);
                *write() = listed;
                let _ = self.ready.send(true);
                changed
            }
        }
    }
}

/// The objects added, changed or gone between two full lists.
fn differences<S: PartialEq>(before: &Keyed<S>, after: &Keyed<S>) -> Vec<Changed> {
    let lookup = |keyed: &Keyed<S>, namespace: &str, name: &str| {
        keyed
            .get(namespace)
            .and_then(|objects| objects.get(name))
            .cloned()
    };
    let keys = |keyed: &Keyed<S>| -> Vec<Changed> {
        keyed
            .iter()
            .flat_map(|(namespace, objects)| {
                objects
                    .keys()
                    .map(move |name| (namespace.clone(), name.clone()))
            })
            .collect()
    };
    let mut changed: Vec<Changed> = keys(after)
        .into_iter()
        .filter(|(ns, name)| lookup(before, ns, name) != lookup(after, ns, name))
        .collect();
    changed.extend(
        keys(before)
            .into_iter()
            .filter(|(ns, name)| lookup(after, ns, name).is_none()),
    );
    changed
}

/// A store of summaries of every object of kind `K` (slimmed by `slim`, then summarised by
/// `summarise`), and the stream of slimmed objects that fills it.
pub fn summarised<K, S>(
    client: &kube::Client,
    slim: fn(&mut K),
    summarise: fn(&K) -> S,
) -> (Summaries<S>, CacheStream<K>)
where
    K: Watchable,
    S: PartialEq + Send + Sync + 'static,
{
    let (store, mut writer) = empty();
    let stream = events(client, slim)
        .map(move |event| {
            if let Ok(event) = &event {
                writer.apply(event, summarise);
            }
            event
        })
        .applied_objects();
    (store, logging_failures(stream))
}

pub(crate) fn empty<S>() -> (Summaries<S>, Writer<S>) {
    let (ready_sender, ready) = tokio::sync::watch::channel(false);
    let store = Summaries {
        by_namespace: Arc::default(),
        ready,
    };
    let writer = Writer {
        store: store.clone(),
        ready: ready_sender,
        relisting: None,
    };
    (store, writer)
}

/// A store that already listed `objects` and follows nothing more (for tests).
pub fn filled<K: Watchable, S: PartialEq>(objects: Vec<K>, summarise: fn(&K) -> S) -> Summaries<S> {
    let (store, mut writer) = empty();
    writer.apply(&watcher::Event::<K>::Init, summarise);
    for object in objects {
        writer.apply(&watcher::Event::InitApply(object), summarise);
    }
    writer.apply(&watcher::Event::<K>::InitDone, summarise);
    store
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn map(namespace: &str, name: &str, value: &str) -> ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": namespace}, "data": {"v": value}
        }))
        .unwrap()
    }

    fn value(map: &ConfigMap) -> String {
        map.data.as_ref().unwrap()["v"].clone()
    }

    #[tokio::test]
    async fn changes_and_a_relist_replace_the_summaries() {
        let (store, mut writer) = empty::<String>();
        writer.apply(&watcher::Event::<ConfigMap>::Init, value);
        writer.apply(&watcher::Event::InitApply(map("a", "one", "1")), value);
        writer.apply(&watcher::Event::InitApply(map("a", "gone", "0")), value);
        assert!(
            store.get("a", "one").is_none(),
            "a relist shows once complete"
        );
        writer.apply(&watcher::Event::<ConfigMap>::InitDone, value);
        store.wait_until_ready().await;
        assert_eq!(
            store.get("a", "one").as_deref().map(String::as_str),
            Some("1")
        );

        writer.apply(&watcher::Event::Apply(map("a", "one", "2")), value);
        writer.apply(&watcher::Event::Apply(map("b", "two", "3")), value);
        assert_eq!(
            store.get("a", "one").as_deref().map(String::as_str),
            Some("2")
        );
        writer.apply(&watcher::Event::Delete(map("b", "two", "3")), value);
        assert!(store.in_namespace("b").is_empty());

        // A relist after a desync drops what it no longer lists.
        writer.apply(&watcher::Event::<ConfigMap>::Init, value);
        writer.apply(&watcher::Event::InitApply(map("a", "one", "4")), value);
        writer.apply(&watcher::Event::<ConfigMap>::InitDone, value);
        let listed: Vec<(String, String)> = store
            .in_namespace("a")
            .into_iter()
            .map(|(name, summary)| (name, (*summary).clone()))
            .collect();
        assert_eq!(listed, [("one".to_string(), "4".to_string())]);
    }
}
