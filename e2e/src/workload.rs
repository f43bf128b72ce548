//! Workloads for the benchmarks: pods as a cluster holds them and the EndpointSlices of their
//! Services. Pod `pod` of Service `service` is `svc-{service}-{pod}` in namespace `bench`, with
//! label `app: svc-{service}`, on node `node-{pod % 50}`, at [`pod_ip`] (up to 150 Services of
//! 62,500 pods each).

use serde_json::{json, Value};

/// The IP of pod `pod` of Service `service`.
pub fn pod_ip(service: usize, pod: usize) -> String {
    format!("10.{}.{}.{}", 100 + service, pod / 250, pod % 250 + 1)
}

/// A pod as a cluster holds it: labels, two containers, status with conditions and container
/// statuses, managed fields. About 3 KiB of JSON.
pub fn realistic_pod(service: usize, pod: usize) -> Value {
    let name = format!("svc-{service}-{pod}");
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "bench",
            "labels": {"app": format!("svc-{service}"), "pod-template-hash": "7d4b9c6f5d", "tier": "web"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-24T10:00:00Z", "prometheus.io/scrape": "true"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("svc-{service}-7d4b9c6f5d"), "uid": "5c1f3b9e-2a0d-4b43-9a57-0c1e7e0f9d21", "controller": true}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {"f:image": {}, "f:ports": {}}}}}}]
        },
        "spec": {
            "nodeName": format!("node-{}", pod % 50),
            "serviceAccountName": "default",
            "containers": [
                {"name": "app", "image": "registry.example.com/team/app:1.42.0", "ports": [{"name": "http", "containerPort": 8080}],
                 "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
                 "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]},
                {"name": "sidecar", "image": "registry.example.com/platform/proxy:2.3.1", "args": ["--listen=:15001", "--upstream=127.0.0.1:8080"]}
            ],
            "volumes": [{"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
        },
        "status": {
            "phase": "Running", "podIP": pod_ip(service, pod), "hostIP": format!("192.168.0.{}", pod % 50 + 1),
            "conditions": [
                {"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"},
                {"type": "ContainersReady", "status": "True"}, {"type": "PodScheduled", "status": "True"}
            ],
            "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "image": "registry.example.com/team/app:1.42.0", "imageID": "registry.example.com/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "containerID": "containerd://0123456789abcdef", "state": {"running": {"startedAt": "2026-11-24T10:00:05Z"}}},
                {"name": "sidecar", "ready": true, "restartCount": 0, "image": "registry.example.com/platform/proxy:2.3.1", "imageID": "registry.example.com/platform/proxy@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", "containerID": "containerd://fedcba9876543210", "state": {"running": {"startedAt": "2026-11-24T10:00:04Z"}}}
            ]
        }
    })
}

/// The one EndpointSlice of Service `svc-{service}`, holding its first `ready_pods` pods, ready.
pub fn slice(service: usize, ready_pods: usize) -> Value {
    let endpoints: Vec<Value> = (0..ready_pods)
        .map(|pod| json!({
            "addresses": [pod_ip(service, pod)],
            "conditions": {"ready": true},
            "nodeName": format!("node-{}", pod % 50),
            "targetRef": {"kind": "Pod", "name": format!("svc-{service}-{pod}"), "namespace": "bench"}
        }))
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("svc-{service}-abcde"), "namespace": "bench",
                     "labels": {"kubernetes.io/service-name": format!("svc-{service}")}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": endpoints
    })
}
