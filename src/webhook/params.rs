//! The IngressClassParams validator (`vingressclassparams.elbv2.k8s.aws`): inbound CIDRs that
//! parse and are in network form, subnets given by ids or by tags (not both, not neither),
//! no repeated subnet id, no empty tag map or repeated tag value; also the group name rule,
//! which upstream only checks when an Ingress loads. All problems are returned together. Pure.

use crate::crd::ingress_class_params::IngressClassParamsSpec;
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::IpAddr;

fn cidr_problem(index: usize, cidr: &str) -> Option<String> {
    let field = format!("spec.inboundCIDRs[{index}]");
    match cidr.parse::<IpNet>() {
        Ok(net) if net.network() != net.addr() => Some(format!(
            "{field}: {cidr:?} has bits set beyond its prefix; did you mean {:?}?",
            net.trunc().to_string()
        )),
        Ok(_) => None,
        Err(_) => match cidr.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => Some(format!(
                "{field}: {cidr:?} is an address, not a CIDR; did you mean \"{cidr}/32\"?"
            )),
            Ok(IpAddr::V6(_)) => Some(format!(
                "{field}: {cidr:?} is an address, not a CIDR; did you mean \"{cidr}/64\"?"
            )),
            Err(_) => Some(format!("{field}: {cidr:?} is not a CIDR")),
        },
    }
}

/// Every problem of the spec, each naming its field; empty when it is valid.
pub fn params_problems(spec: &IngressClassParamsSpec) -> Vec<String> {
    let mut problems: Vec<String> = spec
        .inbound_cidrs
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, cidr)| cidr_problem(index, cidr))
        .collect();
    if let Some(subnets) = &spec.subnets {
        match (&subnets.ids, &subnets.tags) {
            (None, None) => problems.push("spec.subnets: give either ids or tags".into()),
            (Some(_), Some(_)) => problems.push("spec.subnets: give ids or tags, not both".into()),
            (Some(ids), None) => {
                let mut seen = BTreeSet::new();
                for id in ids {
                    if !seen.insert(id) {
                        problems.push(format!("spec.subnets.ids: {id} is listed twice"));
                    }
                }
            }
            (None, Some(tags)) => {
                if tags.is_empty() {
                    problems.push("spec.subnets.tags: the map is empty".into());
                }
                for (key, values) in tags {
                    let mut seen = BTreeSet::new();
                    for value in values {
                        if !seen.insert(value) {
                            problems.push(format!(
                                "spec.subnets.tags[{key}]: value {value:?} is listed twice"
                            ));
                        }
                    }
                }
            }
        }
    }
    if let Some(group) = &spec.group {
        if let Err(problem) = crate::ingress::group::validate_group_name(&group.name) {
            problems.push(format!("spec.group.name: {problem}"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> IngressClassParamsSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn valid_params_pass() {
        let valid = spec(json!({
            "inboundCIDRs": ["10.0.0.0/8", "2001:db8::/32"],
            "subnets": {"tags": {"kubernetes.io/role/elb": ["1"]}},
            "group": {"name": "team.web"}
        }));
        assert!(params_problems(&valid).is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let problems = params_problems(&spec(json!({
            "inboundCIDRs": ["10.0.0.1", "10.0.0.1/8", "2001:db8::1", "nonsense"],
            "subnets": {"ids": ["subnet-1", "subnet-1"]},
            "group": {"name": "Team"}
        })));
        assert_eq!(problems.len(), 6, "{problems:#?}");
        assert!(problems[0].contains("[0]") && problems[0].contains("10.0.0.1/32"));
        assert!(problems[1].contains("10.0.0.0/8"), "{}", problems[1]);
        assert!(problems[2].contains("2001:db8::1/64"));
        assert!(problems[3].contains("spec.inboundCIDRs[3]"));
        assert!(problems[4].contains("spec.subnets.ids: subnet-1"));
        assert!(problems[5].contains("spec.group.name"));
    }

    #[test]
    fn subnets_need_exactly_one_way_and_tags_must_be_sensible() {
        let both = spec(json!({"subnets": {"ids": ["subnet-1"], "tags": {"a": ["b"]}}}));
        assert_eq!(
            params_problems(&both),
            vec!["spec.subnets: give ids or tags, not both"]
        );
        let neither = spec(json!({"subnets": {}}));
        assert_eq!(
            params_problems(&neither),
            vec!["spec.subnets: give either ids or tags"]
        );
        let empty = spec(json!({"subnets": {"tags": {}}}));
        assert_eq!(
            params_problems(&empty),
            vec!["spec.subnets.tags: the map is empty"]
        );
        let repeated = spec(json!({"subnets": {"tags": {"k": ["v", "v"]}}}));
        assert!(params_problems(&repeated)[0].contains("spec.subnets.tags[k]"));
    }
}
