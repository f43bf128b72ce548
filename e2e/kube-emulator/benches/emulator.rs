//! Emulator benchmark, run on demand with `cargo bench -p kube-emulator`:
//! write throughput over HTTP, listing 10,000 objects, and a watch fan-out of 10,000 updates to
//! 50 watchers. The figures it prints are recorded in `docs/performance.md`.

use kube_emulator::{ResourceTable, RunningEmulator};
use serde_json::json;
use std::time::{Duration, Instant};

const OBJECTS: usize = 10_000;
const WRITERS: usize = 16;
const WATCHERS: usize = 50;
const LIST_ROUNDS: usize = 20;

fn config_map(name: &str, value: usize) -> String {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"bench": "yes"}},
           "data": {"value": value.to_string(), "payload": "x".repeat(200)}})
    .to_string()
}

/// Runs `total` requests from `WRITERS` concurrent clients; returns the elapsed time.
async fn concurrent_writes<F>(total: usize, request: F) -> Duration
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Clone + Send + Sync + 'static,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for index in (writer..total).step_by(WRITERS) {
                let response = request(&client, index)
                    .send()
                    .await
                    .expect("emulator answers");
                assert!(
                    response.status().is_success(),
                    "write {index}: {}",
                    response.status()
                );
                response.bytes().await.expect("body");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    started.elapsed()
}

async fn watch_until(url: String, expected_events: usize) -> Duration {
    let started = Instant::now();
    let mut response = reqwest::get(url).await.expect("watch starts");
    let mut seen = 0;
    while seen < expected_events {
        let chunk = response
            .chunk()
            .await
            .expect("watch chunk")
            .expect("watch stays open");
        seen += chunk.iter().filter(|byte| **byte == b'\n').count();
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let running = RunningEmulator::start(ResourceTable::kubernetes_built_ins(), 0)
        .await
        .expect("start emulator");
    let collection = format!("{}/api/v1/namespaces/default/configmaps", running.url());

    let url = collection.clone();
    let create_time = concurrent_writes(OBJECTS, move |client, index| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(config_map(&format!("cm-{index}"), 0))
    })
    .await;
    println!(
        "create {OBJECTS} objects over HTTP ({WRITERS} clients): {:.2} s, {:.0} writes/s",
        create_time.as_secs_f64(),
        OBJECTS as f64 / create_time.as_secs_f64()
    );

    let client = reqwest::Client::new();
    let mut list_times = Vec::new();
    let mut list_bytes = 0;
    for _ in 0..LIST_ROUNDS {
        let started = Instant::now();
        let body = client
            .get(&collection)
            .send()
            .await
            .expect("list")
            .bytes()
            .await
            .expect("list body");
        list_times.push(started.elapsed());
        list_bytes = body.len();
    }
    list_times.sort();
    println!(
        "list {OBJECTS} objects ({:.1} MiB): p50 {:.1} ms, max {:.1} ms",
        list_bytes as f64 / 1048576.0,
        list_times[LIST_ROUNDS / 2].as_secs_f64() * 1000.0,
        list_times[LIST_ROUNDS - 1].as_secs_f64() * 1000.0
    );

    let url = collection.clone();
    let quiet_update_time = concurrent_writes(OBJECTS, move |client, index| {
        client
            .patch(format!("{url}/cm-{index}"))
            .header("content-type", "application/merge-patch+json")
            .body(json!({"data": {"value": "quiet"}}).to_string())
    })
    .await;
    println!(
        "update {OBJECTS} objects over HTTP, no watchers: {:.2} s, {:.0} writes/s",
        quiet_update_time.as_secs_f64(),
        OBJECTS as f64 / quiet_update_time.as_secs_f64()
    );

    let version_body = client
        .get(format!("{collection}?limit=1"))
        .send()
        .await
        .expect("list")
        .text()
        .await
        .expect("text");
    let listed: serde_json::Value = serde_json::from_str(&version_body).expect("list JSON");
    let version = listed["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let url = format!("{collection}?watch=true&resourceVersion={version}");
        watchers.push(tokio::spawn(watch_until(url, OBJECTS)));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let url = collection.clone();
    let update_time = concurrent_writes(OBJECTS, move |client, index| {
        client
            .patch(format!("{url}/cm-{index}"))
            .header("content-type", "application/merge-patch+json")
            .body(json!({"data": {"value": "1"}}).to_string())
    })
    .await;
    for watcher in watchers {
        watcher.await.expect("watcher task");
    }
    let delivered = started.elapsed();
    println!(
        "update {OBJECTS} objects with {WATCHERS} watchers: writes {:.2} s ({:.0} writes/s); all watchers had every event after {:.2} s ({:.0} events/s delivered)",
        update_time.as_secs_f64(),
        OBJECTS as f64 / update_time.as_secs_f64(),
        delivered.as_secs_f64(),
        (OBJECTS * WATCHERS) as f64 / delivered.as_secs_f64()
    );
}
