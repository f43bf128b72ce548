//! How each change reads in the dry run and in events: one line, naming what changes.

use super::Change;
use std::fmt;

impl fmt::Display for Change {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateBackendSecurityGroup { name } => {
                write!(formatter, "create shared backend security group {name}")
            }
            Self::CreateSecurityGroup { name, .. } => {
                write!(formatter, "create security group {name}")
            }
            Self::AuthorizeIngress {
                group_id, rules, ..
            } => {
                write!(
                    formatter,
                    "allow {} inbound rule(s) on {}",
                    rules.len(),
                    group_id.as_deref().unwrap_or("the managed security group")
                )
            }
            Self::RevokeIngress { group_id, rules } => write!(
                formatter,
                "revoke {} inbound rule(s) on {group_id}",
                rules.len()
            ),
            Self::CreateTargetGroup { resource_id, name } => {
                write!(formatter, "create target group {name} ({resource_id})")
            }
            Self::ModifyTargetGroup { resource_id, .. } => write!(
                formatter,
                "modify health check of target group {resource_id}"
            ),
            Self::ModifyTargetGroupAttributes {
                resource_id,
                attributes,
                ..
            } => {
                write!(
                    formatter,
                    "set attributes {attributes:?} on target group {resource_id}"
                )
            }
            Self::DeleteLoadBalancer { name, reason, .. } => {
                write!(formatter, "delete load balancer {name} ({reason})")
            }
            Self::CreateLoadBalancer { name } => write!(formatter, "create load balancer {name}"),
            Self::SetSecurityGroups { .. } => {
                write!(formatter, "set the load balancer's security groups")
            }
            Self::SetSubnets { .. } => write!(formatter, "set the load balancer's subnets"),
            Self::SetIpAddressType {
                ip_address_type, ..
            } => write!(
                formatter,
                "set the load balancer's IP address type to {}",
                ip_address_type.as_str()
            ),
            Self::ModifyLoadBalancerAttributes { attributes, .. } => {
                write!(formatter, "set load balancer attributes {attributes:?}")
            }
            Self::UpdateTags { arn, add, remove } => {
                write!(formatter, "retag {arn}: set {add:?}, remove {remove:?}")
            }
            Self::DeleteListener { port, .. } => write!(formatter, "delete listener {port}"),
            Self::CreateListener { port } => write!(formatter, "create listener {port}"),
            Self::ModifyListener { port, .. } => write!(formatter, "modify listener {port}"),
            Self::ModifyListenerAttributes {
                port, attributes, ..
            } => write!(formatter, "set listener {port} attributes {attributes:?}"),
            Self::AssociateClassicWebAcl { web_acl_id, .. } => {
                write!(formatter, "associate WAF Classic web ACL {web_acl_id}")
            }
            Self::DisassociateClassicWebAcl { .. } => {
                write!(formatter, "disassociate the WAF Classic web ACL")
            }
            Self::CreateShieldProtection { .. } => {
                write!(formatter, "protect the load balancer with Shield Advanced")
            }
            Self::DeleteShieldProtection { id } => {
                write!(formatter, "delete Shield Advanced protection {id}")
            }
            Self::SetCapacityReservation { units, .. } => match units {
                Some(units) => write!(formatter, "reserve {units} capacity units"),
                None => write!(formatter, "reset the capacity reservation"),
            },
            Self::SetIpamPool { pool, .. } => match pool {
                Some(pool) => write!(formatter, "take IPv4 addresses from IPAM pool {pool}"),
                None => write!(formatter, "stop taking IPv4 addresses from an IPAM pool"),
            },
            Self::AssociateWebAcl { web_acl_arn, .. } => {
                write!(formatter, "associate WAFv2 web ACL {web_acl_arn}")
            }
            Self::DisassociateWebAcl { .. } => write!(formatter, "disassociate the WAFv2 web ACL"),
            Self::UpdateListenerCertificates {
                port, add, remove, ..
            } => {
                write!(
                    formatter,
                    "listener {port} certificates: add {add:?}, remove {remove:?}"
                )
            }
            Self::DeleteTargetGroup { name, .. } => write!(formatter, "delete target group {name}"),
            Self::DeleteSecurityGroup { name, .. } => {
                write!(formatter, "delete security group {name}")
            }
            Self::RequestCertificate { domain, .. } => {
                write!(formatter, "request an ACM certificate for {domain}")
            }
            Self::DeleteCertificate { domain, .. } => {
                write!(formatter, "delete the ACM certificate for {domain}")
            }
            Self::WriteValidationRecords { arn, records } => write!(
                formatter,
                "write {} validation record(s) of {arn} into Route 53",
                records.len()
            ),
            Self::RegisterAlbTarget { target_group, port } => {
                write!(
                    formatter,
                    "register the ALB on port {port} in {target_group}"
                )
            }
            Self::DeregisterAlbTarget {
                target_group_arn,
                target,
            } => write!(
                formatter,
                "deregister {}:{} from {target_group_arn}",
                target.id, target.port
            ),
        }
    }
}
