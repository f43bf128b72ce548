//! The listeners of an Ingress group (upstream's §3.3 and §4.7): each member's `listen-ports`
//! (default HTTPS:443 with explicit certificates, else HTTP:80), merged by port with protocols
//! that must agree, and the group's SSL redirect. Pure.

use super::member::InboundSources;
use super::member::{annotations, explicit_certificates, ingress_key, Member, INGRESS_PREFIX};
use crate::model::Protocol;
use std::collections::{BTreeMap, BTreeSet};

/// The member has certificates of its own (params or annotation), which makes HTTPS:443 its
/// default port. Certificates found by discovery do not.
pub fn has_explicit_certificates(member: &Member) -> bool {
    explicit_certificates(member).is_some()
}

/// The ports a member declares, with their protocols (parsed once, kept on the member).
pub fn listen_ports(member: &Member) -> Result<BTreeMap<i32, Protocol>, String> {
    member
        .parsed
        .listen_ports
        .get_or_init(|| parse_listen_ports(member))
        .clone()
}

fn parse_listen_ports(member: &Member) -> Result<BTreeMap<i32, Protocol>, String> {
    let annotations = annotations(member);
    let key = annotations.key("listen-ports");
    let Some(raw) = annotations.string("listen-ports") else {
        return Ok(if has_explicit_certificates(member) {
            BTreeMap::from([(443, Protocol::Https)])
        } else {
            BTreeMap::from([(80, Protocol::Http)])
        });
    };
    let entries: Vec<BTreeMap<String, serde_json::Value>> =
        serde_json::from_str(raw).map_err(|e| {
            format!("annotation {key}: not a JSON list of {{\"HTTP\": port}} objects ({e})")
        })?;
    if entries.is_empty() {
        return Err(format!("annotation {key}: the list is empty"));
    }
    let mut ports = BTreeMap::new();
    for entry in entries {
        for (protocol, port) in entry {
            let protocol = match protocol.as_str() {
                "HTTP" => Protocol::Http,
                "HTTPS" => Protocol::Https,
                other => {
                    return Err(format!(
                        "annotation {key}: protocol {other:?} is not HTTP or HTTPS"
                    ))
                }
            };
            let port = port
                .as_i64()
                .filter(|p| (1..=65535).contains(p))
                .ok_or_else(|| {
                    format!("annotation {key}: port {port} is not a number in 1..65535")
                })?;
            // The same port twice: the later entry wins, as upstream.
            ports.insert(port as i32, protocol);
        }
    }
    Ok(ports)
}

/// The group's listeners: every member's ports, protocols agreeing per port.
pub fn group_listeners(members: &[Member]) -> Result<BTreeMap<i32, Protocol>, String> {
    let mut listeners: BTreeMap<i32, (Protocol, String)> = BTreeMap::new();
    for member in members {
        for (port, protocol) in listen_ports(member)? {
            match listeners.get(&port) {
                Some((existing, first)) if *existing != protocol => {
                    return Err(format!(
                        "port {port} is {} for Ingress {first} but {} for Ingress {}",
                        existing.as_str(),
                        protocol.as_str(),
                        member.key()
                    ))
                }
                Some(_) => {}
                None => {
                    listeners.insert(port, (protocol, member.key()));
                }
            }
        }
    }
    Ok(listeners
        .into_iter()
        .map(|(port, (protocol, _))| (port, protocol))
        .collect())
}

/// The HTTPS port every HTTP listener redirects to, if any member asks for one.
pub fn ssl_redirect_port(
    members: &[Member],
    listeners: &BTreeMap<i32, Protocol>,
) -> Result<Option<i32>, String> {
    let mut ports: Vec<(i32, String)> = Vec::new();
    for member in members {
        let from_params = member
            .params
            .as_ref()
            .and_then(|p| p.spec.ssl_redirect_port.as_deref());
        let port = match from_params {
            // Upstream's quirk: params that do not parse silently disable the redirect.
            Some(raw) => match raw.parse::<i32>() {
                Ok(port) => Some(port),
                Err(_) => return Ok(None),
            },
            None => annotations(member)
                .integer("ssl-redirect")
                .map_err(|e| e.to_string())?,
        };
        if let Some(port) = port {
            if ports.iter().all(|(p, _)| *p != port) {
                ports.push((port, ingress_key(&member.ingress)));
            }
        }
    }
    match ports.as_slice() {
        [] => Ok(None),
        [(port, member)] => match listeners.get(port) {
            Some(Protocol::Https) => Ok(Some(*port)),
            Some(_) => Err(format!(
                "ssl-redirect of Ingress {member}: port {port} is not an HTTPS listener"
            )),
            None => Err(format!(
                "ssl-redirect of Ingress {member}: port {port} is not a listener of the group"
            )),
        },
        several => Err(format!(
            "members ask for different ssl-redirect ports: {}",
            several
                .iter()
                .map(|(port, member)| format!("{port} ({member})"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A member's own `listener-attributes.<PROTOCOL>-<port>` for one of its listeners.
pub fn member_listener_attributes(
    member: &Member,
    port: i32,
    protocol: Protocol,
) -> Result<BTreeMap<String, String>, String> {
    annotations(member)
        .string_map(&format!("listener-attributes.{protocol}-{port}"))
        .map(Option::unwrap_or_default)
        .map_err(|e| e.to_string())
}

/// The attributes of the listener on `port`: the annotations of the members declaring it,
/// merged key by key (two values for one key are an error naming both members, unless the
/// params define the key), under the params `listeners[]` entry of the first of them that
/// matches protocol and port (params win per key).
pub fn listener_attributes(
    declaring: &[&Member],
    port: i32,
    protocol: Protocol,
) -> Result<BTreeMap<String, String>, String> {
    let params: BTreeMap<String, String> = declaring
        .first()
        .and_then(|m| m.params.as_ref())
        .and_then(|p| p.spec.listeners.as_ref())
        .and_then(|listeners| {
            listeners
                .iter()
                .find(|l| l.port == Some(port) && l.protocol.as_deref() == Some(protocol.as_str()))
        })
        .and_then(|l| l.listener_attributes.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|kv| (kv.key, kv.value))
        .collect();
    let mut merged: BTreeMap<String, (String, String)> = BTreeMap::new();
    for member in declaring {
        // A malformed annotation holds its member before the group's listeners are built.
        let own = member_listener_attributes(member, port, protocol).unwrap_or_default();
        for (key, value) in own {
            match merged.get(&key) {
                Some((existing, first)) if *existing != value && !params.contains_key(&key) => {
                    return Err(format!(
                        "members disagree on listener {protocol}-{port} attribute {key}: {first} wants {existing}, {} wants {value}",
                        member.key()
                    ))
                }
                Some(_) => {}
                None => {
                    merged.insert(key, (value, member.key()));
                }
            }
        }
    }
    let mut attributes: BTreeMap<String, String> =
        merged.into_iter().map(|(k, (v, _))| (k, v)).collect();
    attributes.extend(params);
    Ok(attributes)
}

/// A member's own inbound sources for its listeners: CIDRs (params `inboundCIDRs`, else
/// `inbound-cidrs`) and prefix lists (params `prefixListsIDs`, else
/// `security-group-prefix-lists`), each `None` when it gives none. A CIDR that does not parse
/// is the member's problem (host bits are tolerated, as upstream).
/// Parsed once, kept on the member.
pub fn member_inbound_sources(member: &Member) -> Result<InboundSources, String> {
    member
        .parsed
        .inbound_sources
        .get_or_init(|| parse_member_inbound_sources(member))
        .clone()
}

fn parse_member_inbound_sources(member: &Member) -> Result<InboundSources, String> {
    let params = member.params.as_ref().map(|p| &p.spec);
    let from_params = params
        .and_then(|p| p.inbound_cidrs.clone())
        .filter(|c| !c.is_empty());
    let source = if from_params.is_some() {
        "IngressClassParams spec.inboundCIDRs".to_string()
    } else {
        format!("{INGRESS_PREFIX}inbound-cidrs")
    };
    let cidrs = from_params
        .or_else(|| annotations(member).string_list("inbound-cidrs"))
        .filter(|c| !c.is_empty());
    if let Some(cidrs) = &cidrs {
        for cidr in cidrs {
            cidr.parse::<ipnet::IpNet>()
                .map_err(|_| format!("{source}: {cidr:?} is not a CIDR"))?;
        }
    }
    let prefix_lists = params
        .and_then(|p| p.prefix_lists().cloned())
        .filter(|l| !l.is_empty())
        .or_else(|| annotations(member).string_list("security-group-prefix-lists"))
        .filter(|l| !l.is_empty());
    Ok(InboundSources {
        cidrs: cidrs.map(|c| c.into_iter().collect()),
        prefix_lists: prefix_lists.map(|l| l.into_iter().collect()),
    })
}

/// The sources the managed security group admits on one listener port: the CIDRs and prefix
/// lists of the members declaring it (members that give some must give the same set), else
/// `0.0.0.0/0` (and `::/0` for a dual-stack load balancer). IPv6 CIDRs are left out of an
/// IPv4-only load balancer.
pub fn listener_sources(
    declaring: &[&Member],
    port: i32,
    dual_stack: bool,
) -> Result<Vec<String>, String> {
    let mut cidrs: Option<(BTreeSet<String>, String)> = None;
    let mut prefix_lists: Option<(BTreeSet<String>, String)> = None;
    for member in declaring {
        // A member whose sources do not parse was held before this point.
        let Ok(own) = member_inbound_sources(member) else {
            continue;
        };
        for (own, agreed, what) in [
            (own.cidrs, &mut cidrs, "inbound CIDRs"),
            (
                own.prefix_lists,
                &mut prefix_lists,
                "security group prefix lists",
            ),
        ] {
            let Some(own) = own else { continue };
            match agreed {
                Some((first, first_member)) if *first != own => {
                    return Err(format!(
                        "members disagree on the {what} of port {port}: {first_member} gives {first:?}, {} gives {own:?}",
                        member.key()
                    ))
                }
                Some(_) => {}
                None => *agreed = Some((own, member.key())),
            }
        }
    }
    let mut sources: Vec<String> = match (&cidrs, &prefix_lists) {
        (None, None) => {
            let mut defaults = vec!["0.0.0.0/0".to_string()];
            if dual_stack {
                defaults.push("::/0".to_string());
            }
            defaults
        }
        _ => cidrs
            .map(|(set, _)| set.into_iter().collect())
            .unwrap_or_default(),
    };
    sources.retain(|cidr| dual_stack || !cidr.contains(':'));
    sources.extend(prefix_lists.into_iter().flat_map(|(set, _)| set));
    Ok(sources)
}
