//! One member's group-wide wishes (scheme, IP address type, name, tags, subnets, attributes,
//! security groups), read from its IngressClassParams first and its annotations second, and the
//! rule that members must agree. Pure.

use super::member::{annotations, problem, Member, MemberProblem, MemberSettings, INGRESS_PREFIX};
use std::collections::BTreeSet;

/// One value a member asks for (params first, else its annotation).
fn member_choice(
    member: &Member,
    from_params: Option<&str>,
    annotation: &str,
    allowed: &[&str],
) -> Result<Option<String>, MemberProblem> {
    let value = from_params
        .map(str::to_string)
        .or_else(|| annotations(member).string(annotation).map(str::to_string));
    match value {
        Some(value) if !allowed.contains(&value.as_str()) => Err(problem(
            member,
            format!(
                "{INGRESS_PREFIX}{annotation}: {value:?} is not one of {}",
                allowed.join(", ")
            ),
        )),
        other => Ok(other),
    }
}

/// What each member asks for, as `(value, member)` for [`agreed`]; members asking nothing are
/// left out.
pub(super) fn choices<T>(
    wishes: &[(String, T)],
    get: impl Fn(&T) -> Option<String>,
) -> Vec<(String, String)> {
    wishes
        .iter()
        .filter_map(|(member, wish)| get(wish).map(|value| (value, member.clone())))
        .collect()
}

/// Who asked for a group setting, to end an error about it:
/// ` (alb.ingress.kubernetes.io/<key> of ns/a, ns/b)`. A value from IngressClassParams is
/// named by the same key (the params stand in for the annotation).
pub(super) fn asked_by<T>(wishes: &[(String, T)], key: &str, asks: impl Fn(&T) -> bool) -> String {
    let who: Vec<&str> = wishes
        .iter()
        .filter(|(_, wish)| asks(wish))
        .map(|(member, _)| member.as_str())
        .collect();
    format!(" ({INGRESS_PREFIX}{key} of {})", who.join(", "))
}

/// The single value members agree on, or an error naming who disagrees.
pub(super) fn agreed(what: &str, choices: &[(String, String)]) -> Result<Option<String>, String> {
    let distinct: BTreeSet<&str> = choices.iter().map(|(v, _)| v.as_str()).collect();
    match distinct.len() {
        0 => Ok(None),
        1 => Ok(choices.first().map(|(v, _)| v.clone())),
        _ => Err(format!(
            "members disagree on the {what}: {}",
            choices
                .iter()
                .map(|(value, member)| format!("{member} wants {value}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The member's settings, parsed once (the result is kept on the member).
pub(super) fn member_settings(member: &Member) -> Result<MemberSettings, MemberProblem> {
    member
        .parsed
        .settings
        .get_or_init(|| parse_member_settings(member))
        .clone()
}

fn parse_member_settings(member: &Member) -> Result<MemberSettings, MemberProblem> {
    let params = member.params.as_ref().map(|p| &p.spec);
    let scheme = member_choice(
        member,
        params.and_then(|p| p.scheme).map(|s| match s {
            crate::crd::ingress_class_params::ParamsScheme::Internal => "internal",
            crate::crd::ingress_class_params::ParamsScheme::InternetFacing => "internet-facing",
        }),
        "scheme",
        &["internal", "internet-facing"],
    )?;
    let ip_address_type = member_choice(
        member,
        params.and_then(|p| p.ip_address_type).map(|t| match t {
            crate::crd::ingress_class_params::ParamsIpAddressType::Ipv4 => "ipv4",
            crate::crd::ingress_class_params::ParamsIpAddressType::Dualstack => "dualstack",
            crate::crd::ingress_class_params::ParamsIpAddressType::DualstackWithoutPublicIpv4 => {
                "dualstack-without-public-ipv4"
            }
        }),
        "ip-address-type",
        &["ipv4", "dualstack", "dualstack-without-public-ipv4"],
    )?;
    let name = params
        .and_then(|p| p.load_balancer_name.clone())
        .or_else(|| {
            annotations(member)
                .string("load-balancer-name")
                .map(str::to_string)
        });
    if name.as_ref().is_some_and(|n| n.len() > 32) {
        return Err(problem(
            member,
            format!("{INGRESS_PREFIX}load-balancer-name: the name is longer than 32 characters"),
        ));
    }
    let mut tags = annotations(member)
        .string_map("tags")
        .map_err(|e| problem(member, e.to_string()))?
        .unwrap_or_default();
    for tag in params.and_then(|p| p.tags.clone()).unwrap_or_default() {
        tags.insert(tag.key, tag.value);
    }
    let mut subnets = annotations(member).string_list("subnets");
    if let Some(list) = subnets.as_mut() {
        list.sort();
    }
    let attributes = annotations(member)
        .string_map("load-balancer-attributes")
        .map_err(|e| problem(member, e.to_string()))?
        .unwrap_or_default();
    let security_groups = annotations(member).string_list("security-groups");
    let manage_backend_rules = annotations(member)
        .boolean("manage-backend-security-group-rules")
        .map_err(|e| problem(member, e.to_string()))?;
    let wafv2_acl_name = params
        .and_then(|p| p.wafv2_acl_name.clone())
        .filter(|n| !n.is_empty())
        .or_else(|| {
            annotations(member)
                .string("wafv2-acl-name")
                .map(str::to_string)
        })
        .filter(|n| !n.is_empty());
    let wafv2_acl_arn = params
        .and_then(|p| p.wafv2_acl_arn.clone())
        .filter(|a| !a.is_empty())
        .or_else(|| {
            annotations(member)
                .string("wafv2-acl-arn")
                .map(str::to_string)
        })
        .map(|arn| {
            if arn.is_empty() {
                crate::model::NO_WEB_ACL.to_string()
            } else {
                arn
            }
        });
    let customer_owned_ipv4_pool = annotations(member)
        .string("customer-owned-ipv4-pool")
        .map(str::to_string);
    if customer_owned_ipv4_pool.as_deref() == Some("") {
        return Err(problem(
            member,
            format!("{INGRESS_PREFIX}customer-owned-ipv4-pool is present but empty"),
        ));
    }
    let ipv4_ipam_pool = params
        .and_then(|p| p.ipam_configuration.as_ref())
        .and_then(|c| c.ipv4_ipam_pool_id.clone())
        .or_else(|| {
            annotations(member)
                .string("ipam-ipv4-pool-id")
                .map(str::to_string)
        })
        .filter(|pool| !pool.is_empty());
    let waf_classic_acl = annotations(member)
        .string("waf-acl-id")
        .or_else(|| annotations(member).string("web-acl-id"))
        .filter(|id| !id.is_empty())
        .map(str::to_string);
    // Read by the group (its redirect port); checked here, so a bad value holds its member only.
    annotations(member)
        .integer("ssl-redirect")
        .map_err(|e| problem(member, e.to_string()))?;
    let shield = annotations(member)
        .boolean("shield-advanced-protection")
        .map_err(|e| problem(member, e.to_string()))?;
    let capacity_units = match params.and_then(|p| p.minimum_load_balancer_capacity.as_ref()) {
        Some(capacity) => Some(capacity.capacity_units),
        None => capacity_annotation(member)?,
    };
    Ok(MemberSettings {
        waf_classic_acl,
        shield,
        capacity_units,
        customer_owned_ipv4_pool,
        ipv4_ipam_pool,
        wafv2_acl_name,
        wafv2_acl_arn,
        scheme,
        ip_address_type,
        name,
        tags,
        subnets,
        attributes,
        security_groups,
        manage_backend_rules,
    })
}

/// `minimum-load-balancer-capacity`: a map whose only key is `CapacityUnits`, an int32.
fn capacity_annotation(member: &Member) -> Result<Option<i32>, MemberProblem> {
    let key = "minimum-load-balancer-capacity";
    let Some(map) = annotations(member)
        .string_map(key)
        .map_err(|e| problem(member, e.to_string()))?
    else {
        return Ok(None);
    };
    let mut units = None;
    for (name, value) in map {
        if name != "CapacityUnits" {
            return Err(problem(
                member,
                format!("{INGRESS_PREFIX}{key}: only CapacityUnits may be given, not {name}"),
            ));
        }
        units = Some(value.parse::<i32>().map_err(|_| {
            problem(
                member,
                format!("{INGRESS_PREFIX}{key}: CapacityUnits {value:?} is not an integer"),
            )
        })?);
    }
    Ok(units)
}

/// The user's security groups, by id or `Name` tag (every group of the VPC carrying the name is
/// taken), in the order given, each once.
pub(super) fn resolve_security_groups(
    facts: &crate::facts::CloudFacts,
    vpc_id: &str,
    entries: &[String],
) -> Result<Vec<crate::model::SecurityGroupRef>, String> {
    let mut groups = Vec::new();
    let mut missing = Vec::new();
    for entry in entries {
        let found: Vec<&crate::facts::SecurityGroup> = facts
            .security_groups
            .iter()
            .filter(|g| {
                g.vpc_id == vpc_id
                    && (g.group_id == *entry
                        || g.tags().get("Name").map(String::as_str) == Some(entry.as_str()))
            })
            .collect();
        if found.is_empty() {
            missing.push(entry.clone());
        }
        for group in found {
            let id = crate::model::SecurityGroupRef::Id(group.group_id.clone());
            if !groups.contains(&id) {
                groups.push(id);
            }
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "security groups {missing:?} were not found in the VPC"
        ));
    }
    Ok(groups)
}
