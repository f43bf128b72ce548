//! The pure steps stay pure: no module of collect, build or plan (nor the values they share)
//! reaches the AWS port, the loops, the pipeline, Kubernetes' client, the clock or any I/O. A
//! source check rather than a crate boundary for now (`docs/architecture.md`); test code inside
//! those files (`#[cfg(test)]` modules, `*_tests` files) is left out.

use std::path::{Path, PathBuf};

/// The pure modules, as paths under `src/` (a directory: every file in it).
const PURE: &[&str] = &[
    "annotations.rs",
    "facts.rs",
    "ingress",
    "ingress.rs",
    "manifests.rs",
    "model",
    "model.rs",
    "naming.rs",
    "networking.rs",
    "observe/offline.rs",
    "plan",
    "plan.rs",
    "service",
    "subnets",
    "subnets.rs",
    "target_rules.rs",
    "targets/gates.rs",
    "targets/instance.rs",
    "targets/mod.rs",
    "webhook/bindings.rs",
    "webhook/ingresses.rs",
    "webhook/params.rs",
    "webhook/pods.rs",
    "webhook/services.rs",
];

/// What a pure module must not contain (regular expressions), and why.
const FORBIDDEN: &[(&str, &str)] = &[
    (r"\.await\b", "waits on I/O"),
    (r"\basync\b", "does I/O"),
    (r"\btokio::", "uses the runtime"),
    (r"\b(Instant|SystemTime)::now\b", "reads the clock"),
    (r"\bstd::fs\b", "reads files"),
    (r"\b(TcpStream|TcpListener|UdpSocket)\b", "opens sockets"),
    (r"\bkube::(Api|Client)\b", "calls Kubernetes"),
    (r"(impl|:|dyn|&)\s*Cloud\b|\bcloud::Cloud\b", "calls AWS"),
    (r"\baws_sdk_", "calls AWS"),
    (r"\bcrate::(controller|registration)\b", "reaches the loops"),
    (r"\bcrate::pipeline\b", "reaches the pipeline"),
    (
        r"\bcrate::(deploy|discover|apply)\b",
        "reaches the AWS steps",
    ),
    (r"\bcrate::cli\b", "reaches the process"),
];

fn forbidden() -> Vec<(regex::Regex, &'static str, &'static str)> {
    FORBIDDEN
        .iter()
        .map(|(pattern, why)| (regex::Regex::new(pattern).unwrap(), *pattern, *why))
        .collect()
}

fn files_under(path: &Path, found: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for entry in entries {
            files_under(&entry, found);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        found.push(path.to_path_buf());
    }
}

/// `text` without its test code.
fn production_part(path: &Path, text: &str) -> Option<String> {
    let relative = path.to_string_lossy();
    if relative.contains("_tests") || relative.contains("/tests") || relative.ends_with("tests.rs")
    {
        return None;
    }
    let end = text.find("#[cfg(test)]\nmod ").unwrap_or(text.len());
    Some(text[..end].to_string())
}

#[test]
fn no_pure_module_reaches_io_the_port_or_the_loops() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for module in PURE {
        let path = source.join(module);
        if path.exists() {
            files_under(&path, &mut files);
        }
    }
    assert!(
        files.len() > 40,
        "the pure modules were found: {}",
        files.len()
    );
    let rules = forbidden();
    let mut breaches = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let Some(code) = production_part(file, &text) else {
            continue;
        };
        for (number, line) in code.lines().enumerate() {
            let line_code = line.split("//").next().unwrap_or_default();
            for (rule, pattern, why) in &rules {
                if rule.is_match(line_code) {
                    breaches.push(format!(
                        "{}:{}: `{pattern}` {why}",
                        file.strip_prefix(&source).unwrap().display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(breaches.is_empty(), "{}", breaches.join("\n"));
}

#[test]
fn the_check_sees_a_breach() {
    let sample = "fn f() {}\nasync fn g(cloud: &impl Cloud) { cloud.call().await }\n#[cfg(test)]\nmod tests { async fn t() {} }\n";
    let code = production_part(Path::new("src/ingress/x.rs"), sample).unwrap();
    let hits: Vec<&str> = forbidden()
        .into_iter()
        .filter(|(rule, _, _)| rule.is_match(&code))
        .map(|(_, _, why)| why)
        .collect();
    assert_eq!(hits, ["waits on I/O", "does I/O", "calls AWS"]);
    let pure = "impl CloudFacts {}\nfn f(a: std::net::IpAddr, facts: &CloudFacts) {}\n";
    assert!(forbidden().iter().all(|(rule, _, _)| !rule.is_match(pure)));
    assert!(production_part(Path::new("src/ingress/pipeline_tests/a.rs"), sample).is_none());
}

/// `(module, what it must not import)`: the shared vocabulary (`model`) imports no step,
/// `observe` does not reach into `plan` (both read resource ids from `model::identity`), and
/// `naming` does not reach into the builds (group ids are `model::identity`'s).
const LAYERS: &[(&str, &str)] = &[
    (
        "model.rs",
        r"\bcrate::(cloud|observe|plan|ingress|service|naming|deploy|apply)\b",
    ),
    (
        "model",
        r"\bcrate::(cloud|observe|plan|ingress|service|naming|deploy|apply)\b",
    ),
    ("observe", r"\bcrate::plan\b"),
    ("naming.rs", r"\bcrate::(ingress|service|plan|observe)\b"),
];

#[test]
fn the_vocabulary_imports_no_step_and_observe_and_naming_stay_below_the_steps() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut breaches = Vec::new();
    for (module, pattern) in LAYERS {
        let rule = regex::Regex::new(pattern).unwrap();
        let mut files = Vec::new();
        files_under(&source.join(module), &mut files);
        assert!(!files.is_empty(), "{module} was found");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let Some(code) = production_part(&file, &text) else {
                continue;
            };
            for (number, line) in code.lines().enumerate() {
                if rule.is_match(line.split("//").next().unwrap_or_default()) {
                    breaches.push(format!("{}:{}: {line}", file.display(), number + 1));
                }
            }
        }
    }
    assert!(breaches.is_empty(), "{}", breaches.join("\n"));
}

/// The modules of `ingress/` another module of it uses (`super::x`, `crate::ingress::x`; `mod`
/// for the items of `ingress/mod.rs`), production code only.
fn ingress_imports() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ingress");
    let mut files = Vec::new();
    files_under(&directory, &mut files);
    let modules: std::collections::BTreeSet<String> = files
        .iter()
        .filter(|f| f.parent() == Some(directory.as_path()))
        .map(|f| f.file_stem().unwrap().to_string_lossy().to_string())
        .collect();
    let child = regex::Regex::new(r"(?:\bsuper|\bcrate::ingress)::(\w+)").unwrap();
    let from_mod = regex::Regex::new(r"(?:^|[^:\w])(\w+)::").unwrap();
    let mut graph = std::collections::BTreeMap::new();
    for file in files
        .iter()
        .filter(|f| f.parent() == Some(directory.as_path()))
    {
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        let Some(code) = production_part(file, &text) else {
            continue;
        };
        let mut uses = std::collections::BTreeSet::new();
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or_default();
            let pattern = if name == "mod" { &from_mod } else { &child };
            for capture in pattern.captures_iter(line) {
                let used = capture[1].to_string();
                if used != name && modules.contains(&used) {
                    uses.insert(used);
                } else if name != "mod" && !modules.contains(&used) {
                    uses.insert("mod".to_string());
                }
            }
        }
        graph.insert(name, uses);
    }
    graph
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn a_cycle(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_ingress_modules_import_each_other_in_layers_without_a_cycle() {
    let graph = ingress_imports();
    assert!(graph.len() > 15, "the ingress modules were read: {graph:?}");
    assert!(
        graph["build"].contains("contribution"),
        "imports are seen: {graph:?}"
    );
    let all_cycles: Vec<Vec<String>> = {
        let mut found = Vec::new();
        let mut remaining = graph.clone();
        while let Some(cycle) = a_cycle(&remaining) {
            let (from, to) = (&cycle[cycle.len() - 2], &cycle[cycle.len() - 1]);
            remaining.get_mut(from).unwrap().remove(to);
            found.push(cycle);
        }
        found
    };
    assert!(
        all_cycles.is_empty(),
        "import cycles among ingress/ modules:\n{}",
        all_cycles
            .iter()
            .map(|c| c.join(" → "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_cycle_finder_finds_a_cycle_and_no_false_one() {
    let graph = |edges: &[(&str, &str)]| {
        let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for (from, to) in edges {
            graph
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            graph.entry(to.to_string()).or_default();
        }
        graph
    };
    assert_eq!(
        a_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(a_cycle(&graph(&[("a", "b"), ("a", "c"), ("b", "c")])), None);
}
