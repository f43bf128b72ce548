//! The emulator's state: every object of every kind, one global resourceVersion counter, and a
//! bounded per-kind event log that watches resume from.
//!
//! Each committed change is serialized once; lists and watch streams reuse those bytes, so a
//! fan-out to many watchers costs no re-serialization. Watch subscription happens under the same
//! lock as the backlog read, so a watcher never misses an event between the two.
//!
//! The write rules (what a create, replace, patch or delete does to metadata, status and
//! finalizers) live in `writes`; this module only stores, versions and broadcasts.

use crate::resources::ResourceTable;
use crate::status::ApiError;
use bytes::Bytes;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many events each kind keeps for watches to resume from before the oldest are compacted.
const EVENT_LOG_CAPACITY: usize = 50_000;
/// How many events a live watcher may fall behind before it is expired (and must relist).
const BROADCAST_CAPACITY: usize = 65_536;

/// An object as stored: its JSON value and the same value serialized.
#[derive(Debug)]
pub struct StoredObject {
    pub value: Value,
    pub json: Bytes,
}

impl StoredObject {
    pub fn new(value: Value) -> Arc<Self> {
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        Arc::new(Self { value, json })
    }

    pub fn resource_version(&self) -> u64 {
        resource_version_of(&self.value).unwrap_or(0)
    }
}

pub fn resource_version_of(value: &Value) -> Option<u64> {
    value
        .pointer("/metadata/resourceVersion")?
        .as_str()?
        .parse()
        .ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One committed change. `previous` lets selector-filtered watches turn a change that moves an
/// object out of (or into) their selection into DELETED (or ADDED), as the real server does.
#[derive(Debug)]
pub struct ChangeEvent {
    pub resource_version: u64,
    pub event_type: EventType,
    pub previous: Option<Arc<StoredObject>>,
    pub object: Arc<StoredObject>,
}

/// What live watchers of one kind receive.
#[derive(Debug, Clone)]
pub enum WatchMessage {
    Change(Arc<ChangeEvent>),
    /// The log was compacted under the watcher: it must relist.
    Expired,
}

/// `namespace` is empty for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

struct Collection {
    objects: BTreeMap<ObjectKey, Arc<StoredObject>>,
    log: VecDeque<Arc<ChangeEvent>>,
    /// Every event at or below this resourceVersion has left the log.
    compacted_through: u64,
    sender: broadcast::Sender<WatchMessage>,
}

/// Where a new watch starts.
pub enum WatchStart {
    /// Synthetic ADDED events for the current objects, then live changes.
    CurrentState,
    /// Every change after this resourceVersion, then live changes.
    After(u64),
}

/// What a watch begins with: the events to send first, and the live feed.
pub struct Subscription {
    pub initial: Vec<Arc<ChangeEvent>>,
    pub live: broadcast::Receiver<WatchMessage>,
    pub resource_version: u64,
}

/// A failure to return on the next write of a kind, set through the control interface.
#[derive(Debug, Clone)]
pub struct InjectedFailure {
    pub resource: usize,
    /// Only a write of the status subresource meets it.
    pub status_only: bool,
    pub error: ApiError,
}

pub struct Store {
    pub table: ResourceTable,
    collections: Vec<Collection>,
    resource_version: u64,
    injected: Vec<InjectedFailure>,
}

impl Store {
    pub fn new(table: ResourceTable) -> Self {
        let collections = (0..table.len())
            .map(|_| Collection {
                objects: BTreeMap::new(),
                log: VecDeque::new(),
                compacted_through: 0,
                sender: broadcast::channel(BROADCAST_CAPACITY).0,
            })
            .collect();
        Self {
            table,
            collections,
            resource_version: 0,
            injected: Vec::new(),
        }
    }

    pub fn current_resource_version(&self) -> u64 {
        self.resource_version
    }

    /// The next resourceVersion a commit would use, for writers that must embed it first.
    pub fn next_resource_version(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    pub fn get(&self, resource: usize, key: &ObjectKey) -> Option<Arc<StoredObject>> {
        self.collections[resource].objects.get(key).cloned()
    }

    pub fn contains(&self, resource: usize, key: &ObjectKey) -> bool {
        self.collections[resource].objects.contains_key(key)
    }

    /// Objects of a kind, in one namespace or all, ordered by namespace then name.
    pub fn list(&self, resource: usize, namespace: Option<&str>) -> Vec<Arc<StoredObject>> {
        let objects = &self.collections[resource].objects;
        match namespace {
            Some(namespace) => objects
                .range(ObjectKey::new(namespace, "")..)
                .take_while(|(key, _)| key.namespace == namespace)
                .map(|(_, object)| object.clone())
                .collect(),
            None => objects.values().cloned().collect(),
        }
    }

    /// Stores `value` (whose `metadata.resourceVersion` the caller set to `resource_version`,
    /// taken from `next_resource_version`) and tells the watchers.
    pub fn commit(
        &mut self,
        resource: usize,
        key: ObjectKey,
        event_type: EventType,
        value: Value,
        resource_version: u64,
    ) -> Arc<StoredObject> {
        let object = StoredObject::new(value);
        let collection = &mut self.collections[resource];
        let previous = if event_type == EventType::Deleted {
            collection.objects.remove(&key)
        } else {
            collection.objects.insert(key, object.clone())
        };
        let event = Arc::new(ChangeEvent {
            resource_version,
            event_type,
            previous,
            object: object.clone(),
        });
        collection.log.push_back(event.clone());
        while collection.log.len() > EVENT_LOG_CAPACITY {
            if let Some(dropped) = collection.log.pop_front() {
                collection.compacted_through = dropped.resource_version;
            }
        }
        // No receiver is not an error: nobody is watching this kind right now.
        let _ = collection.sender.send(WatchMessage::Change(event));
        object
    }

    /// Starts a watch of one kind. Fails with `410 Expired` when `start` is older than the log.
    pub fn subscribe(&self, resource: usize, start: WatchStart) -> Result<Subscription, ApiError> {
        let collection = &self.collections[resource];
        let initial = match start {
            WatchStart::CurrentState => collection
                .objects
                .values()
                .map(|object| {
                    Arc::new(ChangeEvent {
                        resource_version: object.resource_version(),
                        event_type: EventType::Added,
                        previous: None,
                        object: object.clone(),
                    })
                })
                .collect(),
            WatchStart::After(version) => {
                if version < collection.compacted_through {
                    return Err(ApiError::expired(format!(
                        "too old resource version: {version} ({})",
                        collection.compacted_through + 1
                    )));
                }
                let first = collection
                    .log
                    .partition_point(|event| event.resource_version <= version);
                collection.log.range(first..).cloned().collect()
            }
        };
        Ok(Subscription {
            initial,
            live: collection.sender.subscribe(),
            resource_version: self.resource_version,
        })
    }

    /// Forgets every logged event: watches resuming from before now get `410 Expired`, and live
    /// watches are ended with that same error so their clients relist.
    pub fn compact(&mut self) {
        for collection in &mut self.collections {
            collection.log.clear();
            collection.compacted_through = self.resource_version;
            let _ = collection.sender.send(WatchMessage::Expired);
        }
    }

    pub fn inject_failure(&mut self, failure: InjectedFailure) {
        self.injected.push(failure);
    }

    pub fn pending_failures(&self) -> usize {
        self.injected.len()
    }

    /// Takes the failure queued for the next write of `resource` (of its status when `status`),
    /// if any.
    pub fn take_injected_failure(&mut self, resource: usize, status: bool) -> Result<(), ApiError> {
        let meets = |f: &InjectedFailure| f.resource == resource && (status || !f.status_only);
        match self.injected.iter().position(meets) {
            Some(index) => Err(self.injected.remove(index).error),
            None => Ok(()),
        }
    }

    /// How many objects of a kind are stored.
    pub fn object_count(&self, resource: usize) -> usize {
        self.collections[resource].objects.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store_with_services() -> (Store, usize) {
        let table = ResourceTable::kubernetes_built_ins();
        let services = table.find("", "v1", "services").unwrap();
        (Store::new(table), services)
    }

    fn add(store: &mut Store, resource: usize, name: &str) {
        let version = store.next_resource_version();
        let value = json!({"metadata": {"name": name, "namespace": "a", "resourceVersion": version.to_string()}});
        store.commit(
            resource,
            ObjectKey::new("a", name),
            EventType::Added,
            value,
            version,
        );
    }

    #[test]
    fn watch_resumes_after_a_version_and_expires_after_compaction() {
        let (mut store, services) = store_with_services();
        add(&mut store, services, "one");
        add(&mut store, services, "two");
        let resumed = store.subscribe(services, WatchStart::After(1)).unwrap();
        let names: Vec<_> = resumed
            .initial
            .iter()
            .map(|e| e.object.value["metadata"]["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("two")]);
        store.compact();
        let error = store
            .subscribe(services, WatchStart::After(1))
            .err()
            .unwrap();
        assert_eq!(error.code, 410);
        assert!(store.subscribe(services, WatchStart::After(2)).is_ok());
    }

    #[test]
    fn live_subscribers_see_later_commits_only() {
        let (mut store, services) = store_with_services();
        add(&mut store, services, "before");
        let mut subscription = store.subscribe(services, WatchStart::CurrentState).unwrap();
        assert_eq!(subscription.initial.len(), 1);
        add(&mut store, services, "after");
        match subscription.live.try_recv() {
            Ok(WatchMessage::Change(event)) => {
                assert_eq!(event.object.value["metadata"]["name"], "after")
            }
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn injected_failures_fire_once_for_their_kind() {
        let (mut store, services) = store_with_services();
        store.inject_failure(InjectedFailure {
            resource: services,
            status_only: false,
            error: ApiError::new(500, "InternalError", "boom"),
        });
        assert!(store.take_injected_failure(services + 1, false).is_ok());
        assert_eq!(
            store
                .take_injected_failure(services, false)
                .err()
                .map(|e| e.code),
            Some(500)
        );
        assert!(store.take_injected_failure(services, false).is_ok());
        store.inject_failure(InjectedFailure {
            resource: services,
            status_only: true,
            error: ApiError::new(500, "InternalError", "boom"),
        });
        assert!(
            store.take_injected_failure(services, false).is_ok(),
            "not for the object"
        );
        assert!(
            store.take_injected_failure(services, true).is_err(),
            "for its status"
        );
    }
}
