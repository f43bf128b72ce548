//! The table of resource kinds the emulator serves, and the discovery documents built from it
//! (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`) that kubectl and dynamic clients read.
//!
//! The table is fixed when the emulator starts: built-in kinds plus the custom resources given
//! to it. It does not validate object schemas; it only knows names, scope and subresources.

use serde_json::{json, Value};

/// One kind of resource: where it lives in the URL space and how it behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    /// Lower-case plural used in URLs, e.g. `ingresses`.
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    /// Whether `/status` is a separate subresource (status isolated from the main resource).
    pub status_subresource: bool,
    /// Built-in kinds accept strategic merge patches; custom resources answer 415.
    pub built_in: bool,
    pub short_names: Vec<String>,
}

impl ResourceType {
    fn built_in(group: &str, version: &str, plural: &str, kind: &str, namespaced: bool) -> Self {
        Self {
            group: group.to_string(),
            version: version.to_string(),
            plural: plural.to_string(),
            singular: kind.to_lowercase(),
            kind: kind.to_string(),
            namespaced,
            status_subresource: false,
            built_in: true,
            short_names: Vec::new(),
        }
    }

    /// A custom resource (served from a CRD): merge, JSON and apply patches only.
    pub fn custom(group: &str, version: &str, plural: &str, kind: &str, namespaced: bool) -> Self {
        Self {
            built_in: false,
            ..Self::built_in(group, version, plural, kind, namespaced)
        }
    }

    pub fn with_status(mut self) -> Self {
        self.status_subresource = true;
        self
    }

    pub fn with_short_names(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|name| name.to_string()).collect();
        self
    }

    /// `apiVersion` as written in objects: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The group-qualified plural used in error messages, e.g. `leases.coordination.k8s.io`.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// All kinds the emulator serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTable {
    types: Vec<ResourceType>,
}

impl ResourceTable {
    /// The built-in kinds a load-balancer controller, its tests and its Helm chart touch.
    pub fn kubernetes_built_ins() -> Self {
        let core = |plural: &str, kind: &str, namespaced: bool| {
            ResourceType::built_in("", "v1", plural, kind, namespaced)
        };
        let types = vec![
            core("namespaces", "Namespace", false)
                .with_status()
                .with_short_names(&["ns"]),
            core("services", "Service", true)
                .with_status()
                .with_short_names(&["svc"]),
            core("endpoints", "Endpoints", true).with_short_names(&["ep"]),
            core("pods", "Pod", true)
                .with_status()
                .with_short_names(&["po"]),
            core("secrets", "Secret", true),
            core("configmaps", "ConfigMap", true).with_short_names(&["cm"]),
            core("serviceaccounts", "ServiceAccount", true).with_short_names(&["sa"]),
            core("nodes", "Node", false)
                .with_status()
                .with_short_names(&["no"]),
            core("events", "Event", true).with_short_names(&["ev"]),
            ResourceType::built_in("apps", "v1", "deployments", "Deployment", true)
                .with_status()
                .with_short_names(&["deploy"]),
            ResourceType::built_in("networking.k8s.io", "v1", "ingresses", "Ingress", true)
                .with_status()
                .with_short_names(&["ing"]),
            ResourceType::built_in(
                "networking.k8s.io",
                "v1",
                "ingressclasses",
                "IngressClass",
                false,
            ),
            ResourceType::built_in(
                "discovery.k8s.io",
                "v1",
                "endpointslices",
                "EndpointSlice",
                true,
            ),
            ResourceType::built_in("coordination.k8s.io", "v1", "leases", "Lease", true),
            ResourceType::built_in("events.k8s.io", "v1", "events", "Event", true)
                .with_short_names(&["ev"]),
            ResourceType::built_in("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
            ResourceType::built_in(
                "rbac.authorization.k8s.io",
                "v1",
                "rolebindings",
                "RoleBinding",
                true,
            ),
            ResourceType::built_in(
                "rbac.authorization.k8s.io",
                "v1",
                "clusterroles",
                "ClusterRole",
                false,
            ),
            ResourceType::built_in(
                "rbac.authorization.k8s.io",
                "v1",
                "clusterrolebindings",
                "ClusterRoleBinding",
                false,
            ),
            ResourceType::built_in(
                "autoscaling",
                "v2",
                "horizontalpodautoscalers",
                "HorizontalPodAutoscaler",
                true,
            )
            .with_status()
            .with_short_names(&["hpa"]),
            ResourceType::built_in(
                "policy",
                "v1",
                "poddisruptionbudgets",
                "PodDisruptionBudget",
                true,
            )
            .with_status()
            .with_short_names(&["pdb"]),
            ResourceType::built_in(
                "admissionregistration.k8s.io",
                "v1",
                "mutatingwebhookconfigurations",
                "MutatingWebhookConfiguration",
                false,
            ),
            ResourceType::built_in(
                "admissionregistration.k8s.io",
                "v1",
                "validatingwebhookconfigurations",
                "ValidatingWebhookConfiguration",
                false,
            ),
            ResourceType::built_in(
                "apiextensions.k8s.io",
                "v1",
                "customresourcedefinitions",
                "CustomResourceDefinition",
                false,
            )
            .with_status()
            .with_short_names(&["crd", "crds"]),
        ];
        Self { types }
    }

    /// Built-ins plus the controller's custom resources (IngressClassParams, TargetGroupBinding).
    pub fn for_load_balancer_controller() -> Self {
        Self::kubernetes_built_ins()
            .with(ResourceType::custom(
                "elbv2.k8s.aws",
                "v1beta1",
                "ingressclassparams",
                "IngressClassParams",
                false,
            ))
            .with(
                ResourceType::custom(
                    "elbv2.k8s.aws",
                    "v1beta1",
                    "targetgroupbindings",
                    "TargetGroupBinding",
                    true,
                )
                .with_status(),
            )
    }

    pub fn with(mut self, resource: ResourceType) -> Self {
        self.types.push(resource);
        self
    }

    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    pub fn get(&self, index: usize) -> &ResourceType {
        &self.types[index]
    }

    /// The index of the kind served at `/api(s)/{group}/{version}/{plural}`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<usize> {
        self.types
            .iter()
            .position(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// The index of the kind an object declares through `apiVersion` and `kind`.
    pub fn find_by_kind(&self, api_version: &str, kind: &str) -> Option<usize> {
        self.types
            .iter()
            .position(|t| t.api_version() == api_version && t.kind == kind)
    }

    fn group_versions(&self) -> Vec<(String, String)> {
        let mut seen: Vec<(String, String)> = Vec::new();
        for t in &self.types {
            let pair = (t.group.clone(), t.version.clone());
            if !seen.contains(&pair) {
                seen.push(pair);
            }
        }
        seen
    }

    /// `/api`.
    pub fn core_versions_document(&self) -> Value {
        json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
    }

    fn group_document(group: &str, versions: &[String]) -> Value {
        let listed: Vec<Value> = versions
            .iter()
            .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
            .collect();
        json!({"name": group, "versions": listed, "preferredVersion": listed.first().cloned().unwrap_or(Value::Null)})
    }

    fn versions_of(&self, group: &str) -> Vec<String> {
        self.group_versions()
            .into_iter()
            .filter(|(g, _)| g == group)
            .map(|(_, v)| v)
            .collect()
    }

    /// `/apis`.
    pub fn group_list_document(&self) -> Value {
        let mut groups: Vec<String> = Vec::new();
        for (group, _) in self.group_versions() {
            if !group.is_empty() && !groups.contains(&group) {
                groups.push(group);
            }
        }
        let documents: Vec<Value> = groups
            .iter()
            .map(|group| Self::group_document(group, &self.versions_of(group)))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": documents})
    }

    /// `/apis/{group}`, if the group is served.
    pub fn group_document_for(&self, group: &str) -> Option<Value> {
        let versions = self.versions_of(group);
        if versions.is_empty() {
            return None;
        }
        let mut document = Self::group_document(group, &versions);
        document["kind"] = json!("APIGroup");
        document["apiVersion"] = json!("v1");
        Some(document)
    }

    /// `/api/v1` or `/apis/{group}/{version}`, if that group version is served.
    pub fn resource_list_document(&self, group: &str, version: &str) -> Option<Value> {
        let verbs = json!(["create", "delete", "get", "list", "patch", "update", "watch"]);
        let mut resources = Vec::new();
        for t in self
            .types
            .iter()
            .filter(|t| t.group == group && t.version == version)
        {
            resources.push(json!({
                "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                "kind": t.kind, "verbs": verbs, "shortNames": t.short_names,
            }));
            if t.status_subresource {
                resources.push(json!({
                    "name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced,
                    "kind": t.kind, "verbs": ["get", "patch", "update"],
                }));
            }
        }
        if resources.is_empty() {
            return None;
        }
        let group_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_resources_are_found_by_path_and_kind() {
        let table = ResourceTable::for_load_balancer_controller();
        let index = table
            .find("elbv2.k8s.aws", "v1beta1", "targetgroupbindings")
            .unwrap();
        assert!(table.get(index).status_subresource);
        assert!(!table.get(index).built_in);
        assert_eq!(
            table.find_by_kind("elbv2.k8s.aws/v1beta1", "TargetGroupBinding"),
            Some(index)
        );
        assert_ne!(
            table.find("", "v1", "events"),
            table.find("events.k8s.io", "v1", "events")
        );
    }

    #[test]
    fn discovery_lists_status_subresources_and_groups() {
        let table = ResourceTable::for_load_balancer_controller();
        let core = table.resource_list_document("", "v1").unwrap();
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.contains(&"services/status"));
        assert!(!names.contains(&"secrets/status"));
        let groups = table.group_list_document();
        let group_names: Vec<&str> = groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|g| g["name"].as_str())
            .collect();
        assert!(group_names.contains(&"elbv2.k8s.aws"));
        assert!(!group_names.contains(&""));
        assert!(table.resource_list_document("nope.io", "v1").is_none());
    }
}
