//! The order of the paths within one Ingress rule (upstream's §2.5): `Exact` paths first, then
//! `Prefix` paths longest first (ties keep manifest order), then `ImplementationSpecific` and
//! paths without a type, in manifest order. Rule priorities follow this order, so it decides
//! which rule wins when paths overlap. Pure.

use k8s_openapi::api::networking::v1::HTTPIngressPath;

/// The paths of one rule in priority order, or the first unknown `pathType`.
pub fn order_paths(paths: &[HTTPIngressPath]) -> Result<Vec<&HTTPIngressPath>, String> {
    let mut exact = Vec::new();
    let mut prefix = Vec::new();
    let mut other = Vec::new();
    for path in paths {
        match path.path_type.as_str() {
            "Exact" => exact.push(path),
            "Prefix" => prefix.push(path),
            "ImplementationSpecific" | "" => other.push(path),
            unknown => {
                return Err(format!(
                    "path {:?} has pathType {unknown:?} (expected Exact, Prefix or ImplementationSpecific)",
                    path.path.as_deref().unwrap_or_default()
                ))
            }
        }
    }
    // A stable sort: equal lengths keep manifest order.
    prefix.sort_by_key(|path| std::cmp::Reverse(path.path.as_deref().unwrap_or_default().len()));
    Ok(exact.into_iter().chain(prefix).chain(other).collect())
}
