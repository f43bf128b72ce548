//! Watch streams: newline-delimited JSON events, as the real server sends them.
//!
//! A stream starts with its backlog (synthetic ADDED events, or the logged changes after the
//! requested resourceVersion), then follows live changes. Selector-filtered streams turn a
//! change that moves an object out of their selection into DELETED and one that moves it in into
//! ADDED. A compaction or a watcher that falls too far behind ends the stream with one ERROR
//! event carrying a `410 Expired` Status, which makes clients relist. Bookmarks are sent when
//! asked for, including the `k8s.io/initial-events-end` one of streaming lists.
//!
//! This module does not decide where a watch starts; the store does.

use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{ChangeEvent, EventType, StoredObject, Subscription, WatchMessage};
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::json;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// How often an idle stream that asked for bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);

/// What a watcher asked for, beyond where to start.
pub struct WatchFilter {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl WatchFilter {
    pub fn matches(&self, object: &StoredObject) -> bool {
        let namespace_ok = self.namespace.as_deref().is_none_or(|namespace| {
            object
                .value
                .pointer("/metadata/namespace")
                .and_then(|n| n.as_str())
                == Some(namespace)
        });
        namespace_ok && self.labels.matches(&object.value) && self.fields.matches(&object.value)
    }

    /// The event this watcher sees for a change, if any.
    fn translate(&self, event: &ChangeEvent) -> Option<EventType> {
        let now_matches = self.matches(&event.object);
        let before_matched = event
            .previous
            .as_ref()
            .is_some_and(|previous| self.matches(previous));
        match event.event_type {
            EventType::Added => now_matches.then_some(EventType::Added),
            EventType::Deleted => (now_matches || before_matched).then_some(EventType::Deleted),
            EventType::Modified => match (before_matched, now_matches) {
                (true, true) => Some(EventType::Modified),
                (false, true) => Some(EventType::Added),
                (true, false) => Some(EventType::Deleted),
                (false, false) => None,
            },
        }
    }
}

pub struct WatchOptions {
    pub filter: WatchFilter,
    pub timeout: Option<Duration>,
    pub bookmarks: bool,
    /// A streaming list: send the `initial-events-end` bookmark after the synthetic ADDED events.
    pub initial_events_end: bool,
    /// `apiVersion` and `kind` for bookmark objects.
    pub api_version: String,
    pub kind: String,
}

fn event_line(event_type: &str, object: &Bytes) -> Bytes {
    let mut line = BytesMut::with_capacity(object.len() + 32);
    line.put_slice(b"{\"type\":\"");
    line.put_slice(event_type.as_bytes());
    line.put_slice(b"\",\"object\":");
    line.put_slice(object);
    line.put_slice(b"}\n");
    line.freeze()
}

fn bookmark_line(options: &WatchOptions, resource_version: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": resource_version.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let object =
        json!({"apiVersion": options.api_version, "kind": options.kind, "metadata": metadata});
    event_line("BOOKMARK", &Bytes::from(object.to_string()))
}

fn error_line(error: &ApiError) -> Bytes {
    event_line("ERROR", &Bytes::from(error.to_status().to_string()))
}

/// Runs one watch until its client goes away, its timeout passes, or it expires.
pub async fn stream_events(
    subscription: Subscription,
    options: WatchOptions,
    sink: mpsc::Sender<Bytes>,
) {
    let Subscription {
        initial,
        mut live,
        resource_version,
    } = subscription;
    let mut last_version = resource_version;
    for event in &initial {
        if let Some(event_type) = options.filter.translate(event) {
            if sink
                .send(event_line(event_type.as_str(), &event.object.json))
                .await
                .is_err()
            {
                return;
            }
        }
        last_version = last_version.max(event.resource_version);
    }
    if options.initial_events_end
        && sink
            .send(bookmark_line(&options, last_version, true))
            .await
            .is_err()
    {
        return;
    }
    let deadline = options
        .timeout
        .map(|timeout| tokio::time::Instant::now() + timeout);
    loop {
        let next = tokio::select! {
            message = live.recv() => Some(message),
            _ = sleep_until(deadline) => return,
            _ = tokio::time::sleep(BOOKMARK_INTERVAL), if options.bookmarks => None,
        };
        let line = match next {
            None => bookmark_line(&options, last_version, false),
            Some(Ok(WatchMessage::Change(event))) => {
                last_version = event.resource_version;
                match options.filter.translate(&event) {
                    Some(event_type) => event_line(event_type.as_str(), &event.object.json),
                    None => continue,
                }
            }
            Some(Ok(WatchMessage::Expired)) | Some(Err(broadcast::error::RecvError::Lagged(_))) => {
                let _ = sink
                    .send(error_line(&ApiError::expired(
                        "the event log was compacted; relist",
                    )))
                    .await;
                return;
            }
            Some(Err(broadcast::error::RecvError::Closed)) => return,
        };
        if sink.send(line).await.is_err() {
            return;
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The single ERROR event of a watch that cannot start (e.g. its resourceVersion is too old).
pub fn refused_watch_body(error: &ApiError) -> Bytes {
    error_line(error)
}
