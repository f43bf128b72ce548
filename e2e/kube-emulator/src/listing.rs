//! Lists: the objects of a kind (in one namespace or all) that match the selectors, in pages of
//! `limit` when asked, every page at the first page's resourceVersion (an API server serves the
//! pages of a list from one snapshot; the emulator serves the current store, keeps the version,
//! and a watch from it replays what changed meanwhile).

use crate::server::{json_response, selectors};
use crate::status::ApiError;
use crate::store::StoredObject;
use crate::Emulator;
use axum::response::Response;
use bytes::{BufMut, BytesMut};
use std::collections::HashMap;

/// Where a paged list goes on: the list's resourceVersion (every page reports the first one's,
/// as an API server's snapshot does) and the key of the last object served.
fn parse_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    let invalid = || ApiError::bad_request(format!("invalid continue token {token:?}"));
    let mut parts = token.splitn(3, '/');
    let version = parts
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(invalid)?;
    let namespace = parts.next().ok_or_else(invalid)?.to_string();
    let name = parts.next().ok_or_else(invalid)?.to_string();
    Ok((version, namespace, name))
}

fn listed_key(object: &StoredObject) -> (&str, &str) {
    let metadata = &object.value["metadata"];
    (
        metadata["namespace"].as_str().unwrap_or_default(),
        metadata["name"].as_str().unwrap_or_default(),
    )
}

/// A list, in pages of `limit` when asked (`continue` resumes after the last object served).
pub(crate) fn list(
    emulator: &Emulator,
    resource: usize,
    namespace: Option<&str>,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (labels, fields) = selectors(query)?;
    let limit = query
        .get("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .filter(|limit| *limit > 0);
    let resume = match query.get("continue").filter(|token| !token.is_empty()) {
        Some(token) => Some(parse_continue(token)?),
        None => None,
    };
    let (objects, current) = emulator.with_store(|store| {
        (
            store.list(resource, namespace),
            store.current_resource_version(),
        )
    });
    let version = resume.as_ref().map_or(current, |(version, _, _)| *version);
    let mut matching = objects
        .iter()
        .filter(|o| match &resume {
            Some((_, after_namespace, after_name)) => {
                listed_key(o) > (after_namespace.as_str(), after_name.as_str())
            }
            None => true,
        })
        .filter(|o| labels.matches(&o.value) && fields.matches(&o.value))
        .peekable();
    let mut page = Vec::new();
    while let Some(object) = matching.next_if(|_| limit.is_none_or(|limit| page.len() < limit)) {
        page.push(object);
    }
    let continue_token = match (matching.peek(), page.last()) {
        (Some(_), Some(last)) => {
            let (last_namespace, last_name) = listed_key(last);
            format!(",\"continue\":\"{version}/{last_namespace}/{last_name}\"")
        }
        _ => String::new(),
    };
    let resource_type = emulator.table.get(resource);
    let header = format!(
        "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{version}\"{continue_token}}},\"items\":[",
        resource_type.kind,
        resource_type.api_version()
    );
    let mut body = BytesMut::with_capacity(
        header.len() + page.iter().map(|o| o.json.len() + 1).sum::<usize>() + 2,
    );
    body.put_slice(header.as_bytes());
    for (index, object) in page.iter().enumerate() {
        if index > 0 {
            body.put_u8(b',');
        }
        body.put_slice(&object.json);
    }
    body.put_slice(b"]}");
    Ok(json_response(200, body.freeze()))
}
