//! Which VPC the cluster is in, when `--aws-vpc-id` does not say: as upstream, the one VPC
//! carrying every tag of `--aws-vpc-tags`; else the VPC of the instance this pod runs on (instance
//! metadata); else the VPC of the instance named by the `NODENAME` environment variable (set by
//! the chart from the pod's node, when it is an instance id). Startup only.
//!
//! It does not read instance metadata itself (the caller passes what metadata said), so the
//! order and the errors are tested without a metadata service.

use crate::cloud::Cloud;
use crate::model::Tags;

/// Where the VPC may come from, besides the flag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpcSources {
    /// `--aws-vpc-tags`: when set, the only source.
    pub tags: Tags,
    /// The `NODENAME` environment variable.
    pub node_name: Option<String>,
}

/// The cluster's VPC from `sources`; `metadata` is what instance metadata answered (asked only
/// when no tags are given). The error names every source tried and why it failed.
pub async fn discover_vpc_id(
    cloud: &impl Cloud,
    sources: &VpcSources,
    metadata: impl std::future::Future<Output = Result<String, String>>,
) -> Result<String, String> {
    if !sources.tags.is_empty() {
        let found = cloud
            .find_vpcs(&sources.tags)
            .await
            .map_err(|e| format!("failed to get VPC ID: --aws-vpc-tags: {e}"))?;
        return match found.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err("failed to get VPC ID: no VPC carries the tags of --aws-vpc-tags".into()),
            several => Err(format!(
                "failed to get VPC ID: {} VPCs carry the tags of --aws-vpc-tags ({}): give --aws-vpc-id",
                several.len(),
                several.join(", ")
            )),
        };
    }
    let metadata_error = match metadata.await {
        Ok(vpc_id) => return Ok(vpc_id),
        Err(error) => error,
    };
    let failed = |node: &str| {
        format!(
            "failed to get VPC ID: give --aws-vpc-id (instance metadata: {metadata_error}; {node})"
        )
    };
    let node = match sources.node_name.as_deref() {
        Some(name) if name.starts_with("i-") => name,
        Some(name) => return Err(failed(&format!("NODENAME {name} is not an instance id"))),
        None => return Err(failed("NODENAME is not set")),
    };
    let interfaces = cloud
        .describe_instance_interfaces(&[node.to_string()])
        .await
        .map_err(|e| failed(&format!("instance {node}: {e}")))?;
    interfaces
        .into_iter()
        .find_map(|interface| interface.vpc_id)
        .ok_or_else(|| failed(&format!("instance {node} has no interface in a VPC")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::simulator::Simulator;
    use crate::cloud::NetworkInterface;

    fn unreachable() -> std::future::Ready<Result<String, String>> {
        std::future::ready(Err("no metadata service".to_string()))
    }

    fn cloud() -> Simulator {
        let cloud = Simulator::with_subnets(Vec::new());
        cloud.add_vpc("vpc-prod", &Tags::from([("env".into(), "prod".into())]));
        cloud.add_vpc("vpc-dev", &Tags::from([("env".into(), "dev".into())]));
        cloud.add_interface(NetworkInterface {
            id: "eni-node".into(),
            instance_id: Some("i-0node".into()),
            device_index: Some(0),
            vpc_id: Some("vpc-prod".into()),
            ..NetworkInterface::default()
        });
        cloud
    }

    #[tokio::test]
    async fn the_tags_name_exactly_one_vpc_and_instance_metadata_is_then_not_asked() {
        let sources = VpcSources {
            tags: Tags::from([("env".into(), "prod".into())]),
            node_name: None,
        };
        let asked = std::cell::Cell::new(false);
        let metadata = async {
            asked.set(true);
            Ok("vpc-metadata".to_string())
        };
        assert_eq!(
            discover_vpc_id(&cloud(), &sources, metadata).await.unwrap(),
            "vpc-prod"
        );
        assert!(!asked.get());

        let none = VpcSources {
            tags: Tags::from([("env".into(), "test".into())]),
            node_name: None,
        };
        let refused = discover_vpc_id(&cloud(), &none, unreachable()).await;
        assert!(refused.unwrap_err().contains("no VPC carries"));
    }

    #[tokio::test]
    async fn several_vpcs_with_the_tags_is_an_error_naming_them() {
        let sources = VpcSources {
            tags: Tags::from([("env".into(), "dev".into())]),
            node_name: None,
        };
        let cloud = cloud();
        cloud.add_vpc("vpc-dev2", &Tags::from([("env".into(), "dev".into())]));
        let refused = discover_vpc_id(&cloud, &sources, unreachable())
            .await
            .unwrap_err();
        assert!(
            refused.contains("vpc-dev") && refused.contains("vpc-dev2"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn metadata_first_then_the_node_instance_then_a_clear_error() {
        let cloud = cloud();
        let from_metadata = std::future::ready(Ok("vpc-metadata".to_string()));
        assert_eq!(
            discover_vpc_id(&cloud, &VpcSources::default(), from_metadata)
                .await
                .unwrap(),
            "vpc-metadata"
        );
        let node = VpcSources {
            tags: Tags::new(),
            node_name: Some("i-0node".into()),
        };
        assert_eq!(
            discover_vpc_id(&cloud, &node, unreachable()).await.unwrap(),
            "vpc-prod"
        );
        let hybrid = VpcSources {
            tags: Tags::new(),
            node_name: Some("mi-0hybrid".into()),
        };
        let refused = discover_vpc_id(&cloud, &hybrid, unreachable())
            .await
            .unwrap_err();
        assert!(
            refused.starts_with("failed to get VPC ID")
                && refused.contains("no metadata service")
                && refused.contains("mi-0hybrid"),
            "{refused}"
        );
    }
}
