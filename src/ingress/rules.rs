//! The rules of one listener of a group (upstream's §2.5 and §4.8.1–4.8.2): members declaring the
//! port in member order, their `spec.rules` in manifest order, paths in `paths::order_paths`
//! order; one rule per path with a `host-header` condition (when the rule has a host) and a
//! `path-pattern` condition; priorities 1, 2, 3… in that order. Pure.
//!
//! `conditions.<backend name>` adds its host and path values to the rule's and its other
//! conditions before them (upstream's order). Not yet: regex path matching, the rule optimizer.
//! The rule's backend is kept as a reference; the model turns it into an action.

use super::actions::ServicePortRef;
use super::listen::listen_ports;
use super::member::{Member, MemberProblem};
use super::paths::order_paths;
use crate::cloud::RuleCondition;
use k8s_openapi::api::networking::v1::{HTTPIngressPath, IngressBackend};

/// Where a path's traffic goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendRef {
    Service {
        name: String,
        port: ServicePortRef,
    },
    /// `port.name: use-annotation`: the action is in `actions.<name>`.
    Annotation {
        name: String,
    },
}

/// One rule before it becomes AWS's: the member it comes from, its conditions, its backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateRule {
    /// `namespace/name` of the member.
    pub ingress: String,
    pub priority: i32,
    pub conditions: Vec<RuleCondition>,
    /// From `transforms.<backend service name>`.
    pub transforms: Vec<crate::cloud::RuleTransform>,
    pub backend: BackendRef,
}

/// The `path-pattern` values of a path, or none for an empty path.
pub fn path_values(path: &HTTPIngressPath) -> Result<Vec<String>, String> {
    let raw = path.path.clone().unwrap_or_default();
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let wildcard = raw.contains('*') || raw.contains('?');
    match path.path_type.as_str() {
        "Exact" | "Prefix" if wildcard => Err(format!(
            "path {raw:?}: {} paths cannot hold '*' or '?'",
            path.path_type
        )),
        "Exact" => Ok(vec![raw]),
        "Prefix" if raw == "/" => Ok(vec!["/*".to_string()]),
        "Prefix" => {
            let trimmed = raw.strip_suffix('/').unwrap_or(&raw).to_string();
            Ok(vec![trimmed.clone(), format!("{trimmed}/*")])
        }
        _ => Ok(vec![raw]),
    }
}

pub fn backend_ref(backend: &IngressBackend) -> Result<BackendRef, String> {
    let Some(service) = &backend.service else {
        return Err("a backend without a service (resource backends are not supported)".into());
    };
    let port = service.port.clone().unwrap_or_default();
    match (port.name, port.number) {
        (Some(name), _) if name == "use-annotation" => Ok(BackendRef::Annotation {
            name: service.name.clone(),
        }),
        (Some(name), _) => Ok(BackendRef::Service {
            name: service.name.clone(),
            port: ServicePortRef::Name(name),
        }),
        (None, Some(number)) => Ok(BackendRef::Service {
            name: service.name.clone(),
            port: ServicePortRef::Number(number),
        }),
        (None, None) => Err(format!("backend service {} names no port", service.name)),
    }
}

/// The rules of one member for any listener it declares.
/// One rule of a member before priorities: conditions, transforms, backend.
type MemberRule = (
    Vec<RuleCondition>,
    Vec<crate::cloud::RuleTransform>,
    BackendRef,
);

fn member_rules(member: &Member) -> Result<Vec<MemberRule>, MemberProblem> {
    let problem = |problem: String| MemberProblem {
        ingress: member.key(),
        problem,
    };
    let mut rules = Vec::new();
    let regex_paths = super::member::annotations(member)
        .boolean("use-regex-path-match")
        .map_err(|e| problem(e.to_string()))?
        .unwrap_or(false);
    let spec = member.ingress.spec.clone().unwrap_or_default();
    for rule in spec.rules.unwrap_or_default() {
        let Some(http) = rule.http else {
            continue;
        };
        let host = rule.host.unwrap_or_default();
        for path in order_paths(&http.paths).map_err(problem)? {
            let backend = backend_ref(&path.backend).map_err(problem)?;
            let name = match &backend {
                BackendRef::Service { name, .. } | BackendRef::Annotation { name } => name.clone(),
            };
            let mut hosts: Vec<String> = if host.is_empty() {
                Vec::new()
            } else {
                vec![host.clone()]
            };
            let mut host_regex: Vec<String> = Vec::new();
            let typed = matches!(path.path_type.as_str(), "Exact" | "Prefix");
            let (mut paths, mut path_regex) = match path.path.as_deref() {
                // `use-regex-path-match`: untyped paths are regular expressions without the
                // leading `/` Kubernetes insists on.
                Some(raw) if regex_paths && !typed && !raw.is_empty() => {
                    (Vec::new(), vec![raw[1..].to_string()])
                }
                _ => (path_values(path).map_err(problem)?, Vec::new()),
            };
            let mut conditions = Vec::new();
            if let Some(annotated) = super::member::annotated_conditions(member).get(name.as_str())
            {
                let annotated = annotated.clone().map_err(|e| {
                    problem(format!(
                        "{}conditions.{name}: {e}",
                        super::member::INGRESS_PREFIX
                    ))
                })?;
                for condition in annotated {
                    match condition {
                        RuleCondition::HostHeader { values } => hosts.extend(values),
                        RuleCondition::PathPattern { values } => paths.extend(values),
                        RuleCondition::HostHeaderRegex { regex_values } => {
                            host_regex.extend(regex_values)
                        }
                        RuleCondition::PathPatternRegex { regex_values } => {
                            path_regex.extend(regex_values)
                        }
                        other => conditions.push(other),
                    }
                }
            }
            let mixed = |what: &str| {
                problem(format!(
                    "a rule cannot match its {what} by values and by regexValues at once"
                ))
            };
            match (hosts.is_empty(), host_regex.is_empty()) {
                (false, false) => return Err(mixed("host")),
                (false, true) => conditions.push(RuleCondition::HostHeader { values: hosts }),
                (true, false) => conditions.push(RuleCondition::HostHeaderRegex {
                    regex_values: host_regex,
                }),
                (true, true) => {}
            }
            match (paths.is_empty(), path_regex.is_empty()) {
                (false, false) => return Err(mixed("path")),
                (false, true) => conditions.push(RuleCondition::PathPattern { values: paths }),
                (true, false) => conditions.push(RuleCondition::PathPatternRegex {
                    regex_values: path_regex,
                }),
                (true, true) => {}
            }
            if conditions.is_empty() {
                conditions.push(RuleCondition::PathPattern {
                    values: vec!["/*".into()],
                });
            }
            let key = format!("transforms.{name}");
            let transforms = match super::member::annotations(member).string(&key) {
                None => Vec::new(),
                Some(raw) => super::actions::parse_transforms(raw)
                    .map_err(|e| problem(format!("{}{key}: {e}", super::member::INGRESS_PREFIX)))?,
            };
            rules.push((conditions, transforms, backend));
        }
    }
    Ok(rules)
}

/// The rules of the listener on `port`, with priorities. `redirected`: the listener is HTTP and
/// the group redirects HTTP to HTTPS, so it has no rules.
pub fn listener_rules(
    members: &[Member],
    port: i32,
    redirected: bool,
) -> Result<Vec<CandidateRule>, MemberProblem> {
    if redirected {
        return Ok(Vec::new());
    }
    let mut rules = Vec::new();
    for member in members {
        let ports = listen_ports(member).map_err(|problem| MemberProblem {
            ingress: member.key(),
            problem,
        })?;
        if !ports.contains_key(&port) {
            continue;
        }
        for (conditions, transforms, backend) in member_rules(member)? {
            rules.push(CandidateRule {
                ingress: member.key(),
                priority: rules.len() as i32 + 1,
                conditions,
                transforms,
                backend,
            });
        }
    }
    Ok(rules)
}
