//! Admission webhooks, as the real API server calls them on creates (POST) and replacements
//! (PUT) of the main resource: every matching webhook of the stored
//! MutatingWebhookConfigurations, in name order, may patch the object (JSONPatch); then every
//! matching ValidatingWebhookConfiguration webhook may refuse it. A webhook matches on its
//! `rules` (groups, versions, plural, operation), `namespaceSelector` (the namespace's labels)
//! and `objectSelector`. A webhook that cannot be reached, times out or answers nonsense fails
//! the request under `failurePolicy: Fail` (the default) and is skipped under `Ignore`.
//!
//! `clientConfig.url` is called as given; a `service` reference is called at the address a test
//! routed it to ([`Emulator::route_service`]; unrouted: unreachable), with the certificate
//! checked against `<name>.<namespace>.svc` as the API server does. `caBundle` is the only trust.
//! Patches and deletes are admitted without calling webhooks.

use crate::resources::ResourceType;
use crate::status::ApiError;
use crate::store::ObjectKey;
use crate::Emulator;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    let by_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|wanted| {
            wanted
                .iter()
                .all(|(key, value)| label(key) == value.as_str())
        });
    let by_expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .is_none_or(|expressions| {
            expressions.iter().all(|expression| {
                let key = expression["key"].as_str().unwrap_or_default();
                let values: Vec<&str> = expression["values"]
                    .as_array()
                    .map(|v| v.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                match expression["operator"].as_str().unwrap_or_default() {
                    "In" => label(key).is_some_and(|v| values.contains(&v)),
                    "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
                    "Exists" => label(key).is_some(),
                    "DoesNotExist" => label(key).is_none(),
                    _ => false,
                }
            })
        });
    by_labels && by_expressions
}

fn listed(list: &Value, wanted: &str) -> bool {
    list.as_array().is_some_and(|items| {
        items
            .iter()
            .filter_map(Value::as_str)
            .any(|item| item == "*" || item == wanted)
    })
}

fn rules_match(webhook: &Value, kind: &ResourceType, operation: &str) -> bool {
    webhook["rules"].as_array().is_some_and(|rules| {
        rules.iter().any(|rule| {
            listed(&rule["apiGroups"], &kind.group)
                && listed(&rule["apiVersions"], &kind.version)
                && listed(&rule["resources"], &kind.plural)
                && listed(&rule["operations"], operation)
        })
    })
}

/// One webhook call to make.
struct Call {
    name: String,
    /// The TLS server name, where to connect (none: unreachable), and the path.
    target: Result<(String, std::net::SocketAddr, String), String>,
    ca_bundle: Option<Vec<u8>>,
    timeout: Duration,
    ignore_failures: bool,
}

fn calls(
    emulator: &Emulator,
    configuration_plural: &str,
    kind: &ResourceType,
    operation: &str,
    object: &Value,
    namespace: &str,
) -> Vec<Call> {
    let Some(configurations) =
        emulator
            .table
            .find("admissionregistration.k8s.io", "v1", configuration_plural)
    else {
        return Vec::new();
    };
    let namespace_index = emulator.table.find("", "v1", "namespaces");
    emulator.with_store(|store| {
        let namespace_labels = namespace_index
            .and_then(|index| store.get(index, &ObjectKey::new("", namespace)))
            .map(|ns| ns.value["metadata"]["labels"].clone())
            .unwrap_or(Value::Null);
        let mut found = store.list(configurations, None);
        found.sort_by(|a, b| {
            a.value["metadata"]["name"]
                .as_str()
                .cmp(&b.value["metadata"]["name"].as_str())
        });
        found
            .iter()
            .flat_map(|configuration| {
                configuration.value["webhooks"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|webhook| rules_match(webhook, kind, operation))
            .filter(|webhook| {
                !kind.namespaced
                    || webhook
                        .get("namespaceSelector")
                        .is_none_or(|s| labels_match(s, &namespace_labels))
            })
            .filter(|webhook| {
                webhook
                    .get("objectSelector")
                    .is_none_or(|s| labels_match(s, &object["metadata"]["labels"]))
            })
            .map(|webhook| Call {
                name: webhook["name"].as_str().unwrap_or_default().to_string(),
                target: target(emulator, &webhook["clientConfig"]),
                ca_bundle: webhook["clientConfig"]["caBundle"]
                    .as_str()
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()),
                timeout: Duration::from_secs(webhook["timeoutSeconds"].as_u64().unwrap_or(10)),
                ignore_failures: webhook["failurePolicy"].as_str() == Some("Ignore"),
            })
            .collect()
    })
}

fn target(
    emulator: &Emulator,
    client: &Value,
) -> Result<(String, std::net::SocketAddr, String), String> {
    if let Some(url) = client["url"].as_str() {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("bad url {url}: {e}"))?;
        let host = uri.host().ok_or("url without host")?.to_string();
        let port = uri.port_u16().unwrap_or(443);
        let address = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .map_err(|e| format!("{host}: {e}"))?
            .find(|a| a.is_ipv4())
            .ok_or_else(|| format!("{host}: no IPv4 address"))?;
        return Ok((host, address, uri.path().to_string()));
    }
    let service = &client["service"];
    let (namespace, name) = (
        service["namespace"].as_str().unwrap_or_default(),
        service["name"].as_str().unwrap_or_default(),
    );
    let address = emulator
        .service_route(namespace, name)
        .ok_or_else(|| format!("service {namespace}/{name} is not reachable from the emulator"))?;
    let path = service["path"].as_str().unwrap_or("/").to_string();
    Ok((format!("{name}.{namespace}.svc"), address, path))
}

async fn post(call: &Call, body: Vec<u8>) -> Result<Value, String> {
    let (host, address, path) = call.target.clone()?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in
        CertificateDer::pem_slice_iter(call.ca_bundle.as_deref().unwrap_or_default()).flatten()
    {
        let _ = roots.add(certificate);
    }
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = hyper::Request::post(path)
        .header("host", host)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| format!("not an AdmissionReview: {e}"))
}

fn review(
    kind: &ResourceType,
    operation: &str,
    namespace: &str,
    object: &Value,
    old: Option<&Value>,
) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uuid::Uuid::new_v4().to_string(),
            "kind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
            "resource": {"group": kind.group, "version": kind.version, "resource": kind.plural},
            "requestKind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
            "requestResource": {"group": kind.group, "version": kind.version, "resource": kind.plural},
            "name": object["metadata"]["name"].as_str().unwrap_or_default(),
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "kube-emulator"},
            "object": object,
            "oldObject": old.cloned().unwrap_or(Value::Null),
            "dryRun": false
        }
    })
}

/// Runs the mutating then the validating webhooks on `object` being created (`old` absent) or
/// replaced; returns the object to store, or the refusal.
pub async fn admit(
    emulator: &Emulator,
    resource: usize,
    namespace: &str,
    mut object: Value,
    old: Option<&Value>,
) -> Result<Value, ApiError> {
    let kind = emulator.table.get(resource).clone();
    let operation = if old.is_some() { "UPDATE" } else { "CREATE" };
    for (plural, mutating) in [
        ("mutatingwebhookconfigurations", true),
        ("validatingwebhookconfigurations", false),
    ] {
        for call in calls(emulator, plural, &kind, operation, &object, namespace) {
            let body = serde_json::to_vec(&review(&kind, operation, namespace, &object, old))
                .unwrap_or_default();
            let answer = tokio::time::timeout(call.timeout, post(&call, body))
                .await
                .unwrap_or_else(|_| Err("timed out".into()));
            let response = match answer {
                Ok(answer) => answer["response"].clone(),
                Err(problem) if call.ignore_failures => {
                    tracing::warn!(webhook = %call.name, %problem, "webhook failed; ignored (failurePolicy Ignore)");
                    continue;
                }
                Err(problem) => {
                    return Err(ApiError::new(
                        500,
                        "InternalError",
                        format!(
                            "Internal error occurred: failed calling webhook \"{}\": {problem}",
                            call.name
                        ),
                    ))
                }
            };
            if response["allowed"].as_bool() != Some(true) {
                let message = response["status"]["message"]
                    .as_str()
                    .unwrap_or("without explanation");
                let code = response["status"]["code"]
                    .as_u64()
                    .filter(|c| *c >= 400)
                    .unwrap_or(400);
                return Err(ApiError::new(
                    code as u16,
                    "BadRequest",
                    format!(
                        "admission webhook \"{}\" denied the request: {message}",
                        call.name
                    ),
                ));
            }
            if !mutating {
                continue;
            }
            if let Some(patch) = response.get("patch").filter(|p| !p.is_null()) {
                let applied = patch
                    .as_str()
                    .ok_or_else(|| "the patch is not base64 text".to_string())
                    .and_then(|patch| {
                        base64::engine::general_purpose::STANDARD
                            .decode(patch)
                            .map_err(|e| e.to_string())
                    })
                    .and_then(|bytes| {
                        serde_json::from_slice::<json_patch::Patch>(&bytes)
                            .map_err(|e| e.to_string())
                    })
                    .and_then(|patch| {
                        json_patch::patch(&mut object, &patch).map_err(|e| e.to_string())
                    });
                if let Err(problem) = applied {
                    return Err(ApiError::new(
                        500,
                        "InternalError",
                        format!(
                            "webhook \"{}\" returned a patch that does not apply: {problem}",
                            call.name
                        ),
                    ));
                }
            }
        }
    }
    Ok(object)
}
