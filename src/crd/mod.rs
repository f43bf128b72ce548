//! The controller's CustomResourceDefinitions, as Rust types: TargetGroupBinding (`v1beta1`, the
//! storage version, and `v1alpha1`, still served). The YAML in `crds/` is generated from these
//! types (`aws-load-balancer-controller crds`), and a test keeps the file and the types equal.
//!
//! Only the schema and the typed access live here; what the controller does with the objects is
//! elsewhere.

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

/// Every CRD of the controller, as one multi-document YAML file.
pub fn all_crds_yaml() -> Result<String, String> {
    let crd = target_group_binding_crd()?;
    let yaml = serde_yaml::to_string(&crd).map_err(|error| error.to_string())?;
    Ok(format!("# Generated from the Rust types in src/crd/ by `aws-load-balancer-controller crds`; do not edit.\n---\n{yaml}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crd_file_matches_the_types() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crds/elbv2.k8s.aws_targetgroupbindings.yaml");
        let generated = all_crds_yaml().unwrap();
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "crds/ is out of date: run `UPDATE_GOLDEN=1 cargo test crd` and review the diff"
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
