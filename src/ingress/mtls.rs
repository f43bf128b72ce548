//! `mutual-authentication` (upstream's §3.5.8): mutual TLS per HTTPS listener port, validated as
//! upstream does; a trust store given by name is resolved against the trust stores the discover
//! step looked up. Members declaring a port must give identical settings for it. Pure.

use super::member::{annotations, Member};
use crate::cloud::MutualAuthentication;
use crate::facts::TrustStore;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct EntryJson {
    port: i64,
    #[serde(default)]
    mode: String,
    #[serde(rename = "truststore")]
    trust_store: Option<String>,
    #[serde(rename = "ignoreclientcertificateexpiry")]
    ignore_expiry: Option<bool>,
    #[serde(rename = "advertisetruststorecanames")]
    advertise_ca_names: Option<String>,
}

/// The member's mutual TLS by port, validated; trust stores as written (ARN or name). Parsed
/// once, kept on the member (the discover step, the member's contribution and each HTTPS
/// listener ask).
pub fn member_mutual_authentication(
    member: &Member,
) -> Result<BTreeMap<i32, MutualAuthentication>, String> {
    member
        .parsed
        .mutual_authentication
        .get_or_init(|| parse_mutual_authentication(member))
        .clone()
}

fn parse_mutual_authentication(
    member: &Member,
) -> Result<BTreeMap<i32, MutualAuthentication>, String> {
    let Some(raw) = annotations(member).string("mutual-authentication") else {
        return Ok(BTreeMap::new());
    };
    let fail = |text: String| format!("mutual-authentication: {text}");
    let entries: Vec<EntryJson> = super::actions::decode(raw).map_err(fail)?;
    if entries.is_empty() {
        return Err(fail("the list is empty".into()));
    }
    let mut by_port = BTreeMap::new();
    for entry in entries {
        let port = i32::try_from(entry.port)
            .ok()
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| fail(format!("port {} is not 1-65535", entry.port)))?;
        let verify = match entry.mode.as_str() {
            "verify" => true,
            "off" | "passthrough" => false,
            other => {
                return Err(fail(format!(
                    "mode {other:?} is not off, passthrough or verify"
                )))
            }
        };
        if verify && entry.trust_store.is_none() {
            return Err(fail(format!("port {port}: verify needs a trustStore")));
        }
        if !verify && (entry.trust_store.is_some() || entry.ignore_expiry.is_some()) {
            return Err(fail(format!(
                "port {port}: trustStore and ignoreClientCertificateExpiry go with verify only"
            )));
        }
        if let Some(advertise) = &entry.advertise_ca_names {
            if !verify || !matches!(advertise.as_str(), "on" | "off") {
                return Err(fail(format!(
                    "port {port}: advertiseTrustStoreCaNames is on or off, with verify only"
                )));
            }
        }
        by_port.insert(
            port,
            MutualAuthentication {
                mode: entry.mode,
                trust_store_arn: entry.trust_store,
                ignore_client_certificate_expiry: verify
                    .then(|| entry.ignore_expiry.unwrap_or(false)),
                advertise_trust_store_ca_names: verify
                    .then(|| entry.advertise_ca_names.unwrap_or_else(|| "off".into())),
            },
        );
    }
    Ok(by_port)
}

/// The trust stores members name by name (not ARN), for the discover step.
pub fn trust_store_names(members: &[Member]) -> Vec<String> {
    let mut names: Vec<String> = members
        .iter()
        .filter_map(|m| member_mutual_authentication(m).ok())
        .flat_map(|ports| ports.into_values())
        .filter_map(|m| m.trust_store_arn)
        .filter(|store| !store.starts_with("arn:"))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The member's mutual TLS with trust store names resolved to ARNs.
pub fn resolved_mutual_authentication(
    member: &Member,
    trust_stores: &[TrustStore],
) -> Result<BTreeMap<i32, MutualAuthentication>, String> {
    let mut by_port = member_mutual_authentication(member)?;
    for settings in by_port.values_mut() {
        if let Some(store) = settings
            .trust_store_arn
            .as_mut()
            .filter(|s| !s.starts_with("arn:"))
        {
            let found = trust_stores
                .iter()
                .find(|t| t.name == *store)
                .ok_or_else(|| format!("mutual-authentication: no trust store is named {store}"))?;
            *store = found.trust_store_arn.clone();
        }
    }
    Ok(by_port)
}

/// The mutual TLS of the listener on `port`: what the members declaring it give (identical,
/// or an error naming them); `None` when none gives any.
pub fn listener_mutual_authentication(
    declaring: &[&Member],
    port: i32,
    trust_stores: &[TrustStore],
) -> Result<Option<MutualAuthentication>, String> {
    let mut agreed: Option<(MutualAuthentication, String)> = None;
    for member in declaring {
        // A member whose settings do not resolve was held before this point.
        let Ok(mut own) = resolved_mutual_authentication(member, trust_stores) else {
            continue;
        };
        let Some(settings) = own.remove(&port) else {
            continue;
        };
        match &agreed {
            Some((first, who)) if *first != settings => {
                return Err(format!(
                    "members disagree on the mutual authentication of port {port}: {who} and {}",
                    member.key()
                ))
            }
            Some(_) => {}
            None => agreed = Some((settings, member.key())),
        }
    }
    Ok(agreed.map(|(settings, _)| settings))
}
