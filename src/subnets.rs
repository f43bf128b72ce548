//! Choosing a load balancer's subnets from the VPC's subnets, as upstream does: explicit IDs or
//! `Name` tags in the order written, or discovery by role tag (falling back to reachability
//! through an internet gateway), the cluster-tag and free-IP filters, one subnet per
//! Availability Zone, and the locale and minimum-count checks. Shared by NLBs and ALBs.
//!
//! Pure: it reads [`CloudFacts`], never AWS. Reusing the subnets of an existing load balancer is
//! the caller's choice (it passes them as explicit IDs).

use crate::facts::{CloudFacts, Subnet};
use crate::model::{IpAddressType, LoadBalancerType, Scheme};
use std::collections::{BTreeMap, BTreeSet};

const MINIMUM_FREE_ADDRESSES: i64 = 8;
const CLUSTER_TAG_PREFIX: &str = "kubernetes.io/cluster";

pub struct SubnetRequest<'a> {
    pub cluster_name: &'a str,
    pub vpc_id: &'a str,
    pub scheme: Scheme,
    pub load_balancer_type: LoadBalancerType,
    pub ip_address_type: IpAddressType,
    /// Subnet ids (`subnet-…`) or `Name` tag values, when the user chose them.
    pub explicit: Option<&'a [String]>,
    pub cluster_tag_check: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    #[error("unable to resolve at least one subnet: evaluated {evaluated} subnets, {other_clusters} are tagged for other clusters, {few_addresses} have fewer than 8 free IP addresses{without_ipv6}")]
    NoneEligible {
        evaluated: usize,
        other_clusters: usize,
        few_addresses: usize,
        without_ipv6: String,
    },
    #[error("unable to resolve at least one subnet")]
    NoneGiven,
    #[error("could not find subnets {missing:?} in the VPC")]
    NotFound { missing: Vec<String> },
    #[error("subnet name {name:?} is used more often than subnets carry it")]
    NameRepeatedTooOften { name: String },
    #[error("multiple subnets in the same Availability Zone {zone}: {subnets:?}")]
    SameZone { zone: String, subnets: Vec<String> },
    #[error("subnets in multiple locales: {0:?}")]
    MultipleLocales(Vec<String>),
    #[error("subnet count less than the minimum required: {found} < {minimum}")]
    TooFew { found: usize, minimum: usize },
    #[error("subnets {subnets:?} have no associated IPv6 CIDR block, which dualstack load balancers require")]
    WithoutIpv6 { subnets: Vec<String> },
    #[error("the VPC has no main route table, so subnet reachability cannot be decided")]
    NoMainRouteTable,
}

fn role_tag(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::InternetFacing => "kubernetes.io/role/elb",
        Scheme::Internal => "kubernetes.io/role/internal-elb",
    }
}

fn needs_ipv6(ip_address_type: IpAddressType) -> bool {
    !matches!(ip_address_type, IpAddressType::Ipv4)
}

/// The subnets for a load balancer, in the order their mappings are made.
pub fn choose_subnets(
    facts: &CloudFacts,
    request: &SubnetRequest,
) -> Result<Vec<Subnet>, SubnetError> {
    let chosen = match request.explicit {
        Some(entries) => resolve_explicit(facts, request, entries)?,
        None => discover(facts, request)?,
    };
    validate(facts, request, &chosen)?;
    Ok(chosen)
}

fn resolve_explicit(
    facts: &CloudFacts,
    request: &SubnetRequest,
    entries: &[String],
) -> Result<Vec<Subnet>, SubnetError> {
    if entries.is_empty() {
        return Err(SubnetError::NoneGiven);
    }
    let mut missing = Vec::new();
    let mut handed_out: BTreeMap<&str, usize> = BTreeMap::new();
    let mut chosen = Vec::new();
    for entry in entries {
        if entry.starts_with("subnet-") {
            match facts
                .subnets
                .iter()
                .find(|subnet| &subnet.subnet_id == entry)
            {
                Some(subnet) => chosen.push(subnet.clone()),
                None => missing.push(entry.clone()),
            }
            continue;
        }
        let mut named: Vec<&Subnet> = facts
            .subnets
            .iter()
            .filter(|subnet| {
                subnet.vpc_id == request.vpc_id && subnet.tag("Name") == Some(entry.as_str())
            })
            .collect();
        if named.is_empty() {
            missing.push(entry.clone());
            continue;
        }
        named.sort_by(|a, b| a.subnet_id.cmp(&b.subnet_id));
        let used = handed_out.entry(entry.as_str()).or_insert(0);
        let subnet = named
            .get(*used)
            .ok_or_else(|| SubnetError::NameRepeatedTooOften {
                name: entry.clone(),
            })?;
        *used += 1;
        chosen.push((*subnet).clone());
    }
    if !missing.is_empty() {
        return Err(SubnetError::NotFound { missing });
    }
    let mut by_zone: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for subnet in &chosen {
        by_zone
            .entry(subnet.availability_zone.as_str())
            .or_default()
            .push(subnet.subnet_id.clone());
    }
    if let Some((zone, subnets)) = by_zone.into_iter().find(|(_, subnets)| subnets.len() > 1) {
        return Err(SubnetError::SameZone {
            zone: zone.to_string(),
            subnets,
        });
    }
    if needs_ipv6(request.ip_address_type) {
        let without: Vec<String> = chosen
            .iter()
            .filter(|subnet| subnet.ipv6_cidrs().is_empty())
            .map(|subnet| subnet.subnet_id.clone())
            .collect();
        if !without.is_empty() {
            return Err(SubnetError::WithoutIpv6 { subnets: without });
        }
    }
    Ok(chosen)
}

/// Subnets whose route table sends traffic to an internet gateway (public) or not (private).
fn reachable_subnets<'a>(
    facts: &'a CloudFacts,
    request: &SubnetRequest,
) -> Result<Vec<&'a Subnet>, SubnetError> {
    let tables: Vec<_> = facts
        .route_tables
        .iter()
        .filter(|table| table.vpc_id == request.vpc_id)
        .collect();
    let main = tables
        .iter()
        .find(|table| table.associations.iter().any(|a| a.main));
    let mut reachable = Vec::new();
    for subnet in facts
        .subnets
        .iter()
        .filter(|subnet| subnet.vpc_id == request.vpc_id)
    {
        let explicit = tables.iter().find(|table| {
            table
                .associations
                .iter()
                .any(|a| a.subnet_id.as_deref() == Some(subnet.subnet_id.as_str()))
        });
        let table = explicit.or(main).ok_or(SubnetError::NoMainRouteTable)?;
        let public = table.routes.iter().any(|route| {
            route
                .gateway_id
                .as_deref()
                .is_some_and(|gateway| gateway.starts_with("igw"))
        });
        if public == (request.scheme == Scheme::InternetFacing) {
            reachable.push(subnet);
        }
    }
    Ok(reachable)
}

fn discover(facts: &CloudFacts, request: &SubnetRequest) -> Result<Vec<Subnet>, SubnetError> {
    let role = role_tag(request.scheme);
    let mut candidates: Vec<&Subnet> = facts
        .subnets
        .iter()
        .filter(|subnet| {
            subnet.vpc_id == request.vpc_id && matches!(subnet.tag(role), Some("") | Some("1"))
        })
        .collect();
    if candidates.is_empty() && !facts.route_tables.is_empty() {
        candidates = reachable_subnets(facts, request)?;
    }
    let own_cluster_tag = format!("{CLUSTER_TAG_PREFIX}/{}", request.cluster_name);
    let (mut other_clusters, mut few_addresses, mut without_ipv6) = (0, 0, 0);
    let mut eligible = Vec::new();
    for subnet in &candidates {
        let tagged_for_others = subnet.tag(&own_cluster_tag).is_none()
            && subnet
                .tags
                .iter()
                .any(|tag| tag.key.starts_with(CLUSTER_TAG_PREFIX));
        if request.cluster_tag_check && tagged_for_others {
            other_clusters += 1;
        } else if subnet.available_ip_address_count < MINIMUM_FREE_ADDRESSES {
            few_addresses += 1;
        } else if needs_ipv6(request.ip_address_type) && subnet.ipv6_cidrs().is_empty() {
            without_ipv6 += 1;
        } else {
            eligible.push(*subnet);
        }
    }
    let mut per_zone: BTreeMap<&str, &Subnet> = BTreeMap::new();
    for subnet in eligible {
        let preferred = |s: &Subnet| (s.tag(&own_cluster_tag).is_none(), s.subnet_id.clone());
        per_zone
            .entry(subnet.availability_zone.as_str())
            .and_modify(|kept| {
                if preferred(subnet) < preferred(kept) {
                    *kept = subnet;
                }
            })
            .or_insert(subnet);
    }
    let mut chosen: Vec<Subnet> = per_zone.into_values().cloned().collect();
    chosen.sort_by(|a, b| a.subnet_id.cmp(&b.subnet_id));
    if chosen.is_empty() {
        let without_ipv6 = if needs_ipv6(request.ip_address_type) {
            format!(", and {without_ipv6} have no associated IPv6 CIDR block, which dualstack load balancers require")
        } else {
            String::new()
        };
        return Err(SubnetError::NoneEligible {
            evaluated: candidates.len(),
            other_clusters,
            few_addresses,
            without_ipv6,
        });
    }
    Ok(chosen)
}

fn validate(
    facts: &CloudFacts,
    request: &SubnetRequest,
    chosen: &[Subnet],
) -> Result<(), SubnetError> {
    let locales: BTreeSet<String> = chosen
        .iter()
        .map(|subnet| facts.locale_of(subnet))
        .collect();
    if locales.len() > 1 {
        return Err(SubnetError::MultipleLocales(locales.into_iter().collect()));
    }
    let in_regular_zones = locales.iter().all(|locale| locale == "availability-zone");
    let minimum = match request.load_balancer_type {
        LoadBalancerType::Application if in_regular_zones => 2,
        _ => 1,
    };
    if chosen.len() < minimum {
        return Err(SubnetError::TooFew {
            found: chosen.len(),
            minimum,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
