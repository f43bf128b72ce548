//! The controller's CustomResourceDefinitions, as Rust types: TargetGroupBinding (`v1beta1`, the
//! storage version, and `v1alpha1`, still served) and IngressClassParams (`v1beta1`, cluster
//! scoped). The YAML in `crds/` is generated from these types (`aws-load-balancer-controller
//! crds`), and a test keeps the files and the types equal.
//!
//! Only the schema and the typed access live here; what the controller does with the objects is
//! elsewhere.

pub mod ingress_class_params;
pub mod target_group_binding;

use kube::core::crd::merge_crds;
use kube::CustomResourceExt;

/// The TargetGroupBinding CRD with both served versions, `v1beta1` stored.
pub fn target_group_binding_crd() -> Result<
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    String,
> {
    merge_crds(
        vec![
            target_group_binding::v1alpha1::TargetGroupBinding::crd(),
            target_group_binding::TargetGroupBinding::crd(),
        ],
        "v1beta1",
    )
    .map_err(|error| format!("merging the TargetGroupBinding versions: {error}"))
}

type Crd =
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// The IngressClassParams CRD, with upstream's CEL rule: `prefixListsIDs` and the legacy
/// `PrefixListsIDs` are not both set.
pub fn ingress_class_params_crd() -> Result<Crd, String> {
    let mut crd = serde_json::to_value(ingress_class_params::IngressClassParams::crd())
        .map_err(|error| error.to_string())?;
    let spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        .as_object_mut()
        .ok_or("the IngressClassParams schema has no spec")?;
    spec.insert(
        "x-kubernetes-validations".into(),
        serde_json::json!([{
            "rule": "!(has(self.prefixListsIDs) && has(self.PrefixListsIDs))",
            "message": "only one of prefixListsIDs and PrefixListsIDs may be set"
        }]),
    );
    serde_json::from_value(crd).map_err(|error| error.to_string())
}

const GENERATED: &str =
    "# Generated from the Rust types in src/crd/ by `aws-load-balancer-controller crds`; do not edit.";

/// Each CRD file of `crds/`: its name and its content.
pub fn crd_files() -> Result<Vec<(&'static str, String)>, String> {
    let yaml = |crd: &Crd| serde_yaml::to_string(crd).map_err(|error| error.to_string());
    Ok(vec![
        (
            "elbv2.k8s.aws_targetgroupbindings.yaml",
            format!("{GENERATED}\n---\n{}", yaml(&target_group_binding_crd()?)?),
        ),
        (
            "elbv2.k8s.aws_ingressclassparams.yaml",
            format!("{GENERATED}\n---\n{}", yaml(&ingress_class_params_crd()?)?),
        ),
    ])
}

/// Every CRD of the controller, as one multi-document YAML file.
pub fn all_crds_yaml() -> Result<String, String> {
    Ok(crd_files()?
        .into_iter()
        .map(|(_, content)| content)
        .collect::<Vec<_>>()
        .join(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crd_files_match_the_types() {
        for (name, generated) in crd_files().unwrap() {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("crds")
                .join(name);
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                std::fs::write(&path, &generated).unwrap();
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == generated,
                "crds/{name} is out of date: run `UPDATE_GOLDEN=1 cargo test crd` and review the diff"
            );
        }
    }

    #[test]
    fn ingress_class_params_has_upstreams_names_scope_columns_and_rules() {
        let crd = ingress_class_params_crd().unwrap();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("ingressclassparams.elbv2.k8s.aws")
        );
        assert_eq!(crd.spec.scope, "Cluster");
        assert_eq!(
            (
                crd.spec.names.plural.as_str(),
                crd.spec.names.singular.as_deref()
            ),
            ("ingressclassparams", Some("ingressclassparam"))
        );
        let version = &crd.spec.versions[0];
        assert_eq!(
            (version.name.as_str(), version.served, version.storage),
            ("v1beta1", true, true)
        );
        let columns: Vec<(&str, &str)> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.json_path.as_str()))
            .collect();
        assert_eq!(
            columns,
            [
                ("GROUP-NAME", ".spec.group.name"),
                ("SCHEME", ".spec.scheme"),
                ("IP-ADDRESS-TYPE", ".spec.ipAddressType"),
                ("AGE", ".metadata.creationTimestamp"),
            ]
        );
        let schema = serde_json::to_value(version.schema.as_ref().unwrap()).unwrap();
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
        for field in [
            "namespaceSelector",
            "group",
            "scheme",
            "ipAddressType",
            "tags",
            "loadBalancerName",
            "sslPolicy",
            "sslRedirectPort",
            "certificateArn",
            "subnets",
            "inboundCIDRs",
            "loadBalancerAttributes",
            "listeners",
            "targetType",
            "minimumLoadBalancerCapacity",
            "ipamConfiguration",
            "prefixListsIDs",
            "PrefixListsIDs",
            "wafv2AclArn",
            "wafv2AclName",
        ] {
            assert!(
                spec["properties"].get(field).is_some(),
                "spec.{field} is in the schema"
            );
        }
        // Optional enums are nullable, so `null` is listed too.
        assert_eq!(
            spec["properties"]["scheme"]["enum"],
            serde_json::json!(["internal", "internet-facing", null])
        );
        assert_eq!(
            spec["properties"]["subnets"]["properties"]["ids"]["items"]["pattern"],
            "^subnet-[0-9a-f]+$"
        );
        assert_eq!(
            spec["x-kubernetes-validations"][0]["rule"],
            "!(has(self.prefixListsIDs) && has(self.PrefixListsIDs))"
        );
    }

    #[test]
    fn the_crd_has_upstreams_names_versions_and_columns() {
        let crd = target_group_binding_crd().unwrap();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("targetgroupbindings.elbv2.k8s.aws")
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        let names = &crd.spec.names;
        assert_eq!(
            (
                names.kind.as_str(),
                names.plural.as_str(),
                names.singular.as_deref()
            ),
            (
                "TargetGroupBinding",
                "targetgroupbindings",
                Some("targetgroupbinding")
            )
        );
        assert!(
            names.short_names.as_ref().is_none_or(|s| s.is_empty()),
            "upstream has no short names"
        );
        let mut versions: Vec<(&str, bool, bool)> = crd
            .spec
            .versions
            .iter()
            .map(|v| (v.name.as_str(), v.served, v.storage))
            .collect();
        versions.sort();
        assert_eq!(
            versions,
            [("v1alpha1", true, false), ("v1beta1", true, true)]
        );
        let beta = crd
            .spec
            .versions
            .iter()
            .find(|v| v.name == "v1beta1")
            .unwrap();
        assert!(
            beta.subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "status subresource"
        );
        let columns: Vec<(&str, &str)> = beta
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| (c.name.as_str(), c.json_path.as_str()))
            .collect();
        assert_eq!(
            columns,
            [
                ("SERVICE-NAME", ".spec.serviceRef.name"),
                ("SERVICE-PORT", ".spec.serviceRef.port"),
                ("TARGET-TYPE", ".spec.targetType"),
                ("ARN", ".spec.targetGroupARN"),
                ("NAME", ".spec.targetGroupName"),
                ("AGE", ".metadata.creationTimestamp"),
            ]
        );
        let schema = serde_json::to_value(beta.schema.as_ref().unwrap()).unwrap();
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
        for field in [
            "targetGroupARN",
            "targetGroupName",
            "targetType",
            "targetGroupProtocol",
            "serviceRef",
            "networking",
            "nodeSelector",
            "ipAddressType",
            "vpcID",
            "multiClusterTargetGroup",
            "iamRoleArnToAssume",
            "assumeRoleExternalId",
        ] {
            assert!(spec.get(field).is_some(), "spec.{field} is in the schema");
        }
        assert_eq!(
            schema["openAPIV3Schema"]["properties"]["spec"]["required"],
            serde_json::json!(["serviceRef"])
        );
    }
}
