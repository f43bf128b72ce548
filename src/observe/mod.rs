//! Observe: what AWS holds for one stack, found by the stack's tags — never by memory — and read
//! with as few calls as the stack's size allows: one tag search for the load balancer and target
//! groups, then their descriptions and listeners, and one read of the security groups attached
//! to the load balancer. How many other load balancers the account holds does not change the
//! number of calls. Attributes and web ACLs are not read here: the deploy step reads them only
//! where the desired stack names some.
//!
//! Reads only; deciding what to change is `plan`'s job.

mod offline;

pub use offline::observe_from_facts;

use crate::cloud::{
    Cloud, CloudResult, ObservedListener, ObservedLoadBalancer, ObservedSecurityGroup,
    ObservedTargetGroup, TaggedKind,
};
use crate::model::{Protocol, Tags};
use std::collections::BTreeMap;

pub const CLUSTER_TAG: &str = "elbv2.k8s.aws/cluster";
pub const BACKEND_RESOURCE_TAG: &str = "elbv2.k8s.aws/resource";
pub const BACKEND_RESOURCE_VALUE: &str = "backend-sg";

/// How one stack's resources are tagged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackIdentity {
    pub cluster_name: String,
    /// `service.k8s.aws/stack` or `ingress.k8s.aws/stack`.
    pub stack_tag_key: String,
    pub stack_id: String,
    /// `service.k8s.aws/resource` or `ingress.k8s.aws/resource`.
    pub resource_tag_key: String,
}

impl StackIdentity {
    pub fn for_service(cluster_name: &str, stack_id: &str) -> Self {
        Self {
            cluster_name: cluster_name.to_string(),
            stack_tag_key: "service.k8s.aws/stack".into(),
            stack_id: stack_id.to_string(),
            resource_tag_key: "service.k8s.aws/resource".into(),
        }
    }

    pub fn for_ingress(cluster_name: &str, stack_id: &str) -> Self {
        Self {
            cluster_name: cluster_name.to_string(),
            stack_tag_key: "ingress.k8s.aws/stack".into(),
            stack_id: stack_id.to_string(),
            resource_tag_key: "ingress.k8s.aws/resource".into(),
        }
    }

    /// An Ingress group's stack (not a Service's).
    pub fn is_ingress(&self) -> bool {
        self.stack_tag_key == "ingress.k8s.aws/stack"
    }

    /// The tags every resource of the stack carries.
    pub fn tags(&self) -> Tags {
        Tags::from([
            (CLUSTER_TAG.to_string(), self.cluster_name.clone()),
            (self.stack_tag_key.clone(), self.stack_id.clone()),
        ])
    }

    pub fn backend_tags(&self) -> Tags {
        Tags::from([
            (CLUSTER_TAG.to_string(), self.cluster_name.clone()),
            (
                BACKEND_RESOURCE_TAG.to_string(),
                BACKEND_RESOURCE_VALUE.to_string(),
            ),
        ])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerState {
    pub load_balancer: ObservedLoadBalancer,
    pub resource_id: Option<String>,
    pub tags: Tags,
    pub attributes: BTreeMap<String, String>,
    pub listeners: Vec<ObservedListener>,
    /// The associated WAFv2 web ACL; read only when the desired stack says something of it.
    pub web_acl: Option<String>,
    /// The other add-ons, read likewise only when the desired stack says something of them.
    pub add_ons: LoadBalancerAddOns,
}

/// WAF Classic, Shield Advanced and capacity reservation of a load balancer, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadBalancerAddOns {
    pub classic_web_acl: Option<String>,
    pub protection: Option<crate::cloud::ShieldProtection>,
    pub capacity_units: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroupState {
    pub target_group: ObservedTargetGroup,
    pub resource_id: Option<String>,
    pub tags: Tags,
    pub attributes: BTreeMap<String, String>,
    /// Registered targets (not draining); read by the deploy step for `alb` target groups only.
    pub targets: Vec<crate::cloud::Target>,
}

/// Everything AWS holds for one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedStack {
    pub load_balancers: Vec<LoadBalancerState>,
    pub target_groups: Vec<TargetGroupState>,
    /// Security groups carrying the stack's tags (the managed group).
    pub security_groups: Vec<ObservedSecurityGroup>,
    /// The cluster's shared backend security group, when it exists.
    pub backend_security_group: Option<String>,
    /// Whether the account has an active Shield Advanced subscription; read only when the
    /// desired stack asks for a protection.
    pub shield_subscribed: bool,
    /// ACM certificates carrying the stack's tags (read with gate `EnableCertificateManagement`).
    pub certificates: Vec<crate::cloud::ObservedCertificate>,
}

impl ObservedStack {
    /// The stack's load balancer as the build sees it, when AWS holds one.
    pub fn existing_load_balancer(&self) -> Option<crate::model::ExistingLoadBalancer> {
        self.load_balancers
            .iter()
            .find(|state| {
                state.resource_id.as_deref() == Some(crate::model::identity::LOAD_BALANCER_ID)
            })
            .map(|state| crate::model::ExistingLoadBalancer {
                scheme: state.load_balancer.scheme,
                subnet_ids: state
                    .load_balancer
                    .subnet_mappings
                    .iter()
                    .map(|m| m.subnet_id.clone())
                    .collect(),
                has_security_groups: !state.load_balancer.security_groups.is_empty(),
            })
    }

    pub fn is_empty(&self) -> bool {
        self.load_balancers.is_empty()
            && self.target_groups.is_empty()
            && self.security_groups.is_empty()
            && self.certificates.is_empty()
    }

    /// The certificates this controller requested for the stack, as the build needs them.
    pub fn owned_certificates(&self) -> Vec<crate::facts::OwnedCertificate> {
        self.certificates
            .iter()
            .filter_map(|c| {
                Some(crate::facts::OwnedCertificate {
                    resource_id: crate::model::identity::ingress_resource_id(&c.tags)?.to_string(),
                    arn: c.arn.clone(),
                    issued: c.status == "ISSUED",
                    problem: None,
                })
            })
            .collect()
    }

    /// The stack without its frontend NLB, and the frontend NLB's part (its load balancer and
    /// target groups, found by resource id; security groups stay with the stack).
    pub fn split_frontend(&self) -> (ObservedStack, ObservedStack) {
        let frontend =
            |id: &Option<String>| id.as_deref().is_some_and(crate::model::FrontendNlb::owns);
        let (front_balancers, balancers): (Vec<_>, Vec<_>) = self
            .load_balancers
            .iter()
            .cloned()
            .partition(|state| frontend(&state.resource_id));
        let (front_groups, groups): (Vec<_>, Vec<_>) = self
            .target_groups
            .iter()
            .cloned()
            .partition(|state| frontend(&state.resource_id));
        let main = ObservedStack {
            load_balancers: balancers,
            target_groups: groups,
            ..self.clone()
        };
        let front = ObservedStack {
            load_balancers: front_balancers,
            target_groups: front_groups,
            security_groups: Vec::new(),
            backend_security_group: self.backend_security_group.clone(),
            shield_subscribed: false,
            certificates: Vec::new(),
        };
        (main, front)
    }
}

fn classify_security_groups(
    identity: &StackIdentity,
    groups: Vec<ObservedSecurityGroup>,
    observed: &mut ObservedStack,
) {
    let stack_tags = identity.tags();
    let backend_tags = identity.backend_tags();
    let carries = |group: &ObservedSecurityGroup, tags: &Tags| {
        tags.iter().all(|(k, v)| group.tags.get(k) == Some(v))
    };
    for group in groups {
        if carries(&group, &backend_tags) {
            observed.backend_security_group = Some(group.id.clone());
        } else if carries(&group, &stack_tags) {
            observed.security_groups.push(group);
        }
    }
    // The managed group first, then its extra shards in order.
    observed
        .security_groups
        .sort_by_key(|group| crate::model::identity::shard_of(&group.tags));
}

/// Reads the stack identified by `identity` in `vpc_id`. `wants_backend_group` asks for the shared
/// backend security group to be looked up when no load balancer shows it.
pub async fn observe_stack(
    cloud: &impl Cloud,
    identity: &StackIdentity,
    vpc_id: &str,
    wants_backend_group: bool,
) -> CloudResult<ObservedStack> {
    let mut observed = ObservedStack::default();
    let tagged = cloud.find_tagged(&identity.tags()).await?;
    let resource_id = |tags: &Tags| tags.get(&identity.resource_tag_key).cloned();
    let (load_balancers, target_groups): (Vec<_>, Vec<_>) = tagged
        .into_iter()
        .partition(|r| r.kind == TaggedKind::LoadBalancer);

    if !load_balancers.is_empty() {
        let arns: Vec<String> = load_balancers.iter().map(|r| r.arn.clone()).collect();
        for load_balancer in cloud.describe_load_balancers(&arns).await? {
            let tags = load_balancers
                .iter()
                .find(|r| r.arn == load_balancer.arn)
                .map(|r| r.tags.clone())
                .unwrap_or_default();
            let mut listeners = cloud.describe_listeners(&load_balancer.arn).await?;
            for listener in listeners
                .iter_mut()
                .filter(|l| matches!(l.protocol, Protocol::Tls | Protocol::Https))
            {
                // DescribeListeners reports the default certificate only.
                listener
                    .certificates
                    .extend(cloud.describe_listener_certificates(&listener.arn).await?);
            }
            observed.load_balancers.push(LoadBalancerState {
                web_acl: None,
                add_ons: Default::default(),
                resource_id: resource_id(&tags),
                load_balancer,
                tags,
                // Read by the deploy step only where the desired stack names some.
                attributes: BTreeMap::new(),
                listeners,
            });
        }
    }
    if !target_groups.is_empty() {
        let arns: Vec<String> = target_groups.iter().map(|r| r.arn.clone()).collect();
        for target_group in cloud.describe_target_groups(&arns).await? {
            let tags = target_groups
                .iter()
                .find(|r| r.arn == target_group.arn)
                .map(|r| r.tags.clone())
                .unwrap_or_default();
            observed.target_groups.push(TargetGroupState {
                resource_id: resource_id(&tags),
                target_group,
                tags,
                // Read by the deploy step only where the desired stack names some.
                attributes: BTreeMap::new(),
                targets: Vec::new(),
            });
        }
    }

    // Each group once: a frontend NLB shares its ALB's groups.
    let attached: Vec<String> = observed
        .load_balancers
        .iter()
        .flat_map(|lb| lb.load_balancer.security_groups.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if attached.is_empty() {
        let groups = cloud.find_security_groups(vpc_id, &identity.tags()).await?;
        classify_security_groups(identity, groups, &mut observed);
        if wants_backend_group {
            let backend = cloud
                .find_security_groups(vpc_id, &identity.backend_tags())
                .await?;
            classify_security_groups(identity, backend, &mut observed);
        }
    } else {
        let groups = cloud.describe_security_groups(&attached).await?;
        classify_security_groups(identity, groups, &mut observed);
        if observed.security_groups.is_empty() {
            // No attached group is the stack's own: one may still exist detached (the Service moved
            // to its own groups and the delete failed), and must not be forgotten.
            let stack_groups = cloud.find_security_groups(vpc_id, &identity.tags()).await?;
            classify_security_groups(identity, stack_groups, &mut observed);
        }
        if wants_backend_group && observed.backend_security_group.is_none() {
            let backend = cloud
                .find_security_groups(vpc_id, &identity.backend_tags())
                .await?;
            classify_security_groups(identity, backend, &mut observed);
        }
    }
    Ok(observed)
}
