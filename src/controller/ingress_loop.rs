//! The Ingress loop's driver: fills the stores, schedules every group once they are filled,
//! then the groups each change touches and each reconcile's requeue, on a work queue that
//! never runs one group twice at once. The work of one reconcile is
//! `IngressReconciler::reconcile`.

use super::ingress::{GroupNext, IngressReconciler};
use super::ingress_watch::IngressStores;
use super::work_queue::WorkQueue;
use crate::cloud::Cloud;
use crate::ingress::group::GroupId;
use crate::watched::services::WatchedServices;
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::time::Instant as TokioInstant;
use tracing::Instrument;

/// Runs the Ingress loop until its watches end: every group once the stores are filled, then
/// the groups each change touches and each reconcile's requeue, `max_concurrent_reconciles` at
/// a time, one group never twice at once. `services` is the process's shared Service watch.
pub async fn run_ingress_controller<C: Cloud + 'static>(
    reconciler: Arc<IngressReconciler<C>>,
    services: WatchedServices,
) {
    let (stores, changes) = IngressStores::new(&reconciler.client, services);
    let queue: WorkQueue<GroupId> = WorkQueue::default();
    let ready = AtomicBool::new(false);
    let flag = reconciler.ingress_class.as_str();
    let watching = changes.for_each(|change| {
        // Before the stores are filled, the first pass over every group covers the change.
        if ready.load(Ordering::Acquire) {
            for group in stores.groups_touched(&change, flag) {
                queue.schedule_now(group);
            }
        }
        async {}
    });
    let working = async {
        if stores.wait_until_ready().await.is_err() {
            return;
        }
        ready.store(true, Ordering::Release);
        crate::lifecycle::cache_synced();
        for group in stores.all_groups(flag) {
            queue.schedule_now(group);
        }
        let workers = (0..reconciler.max_concurrent_reconciles.max(1))
            .map(|_| work(&reconciler, &stores, &queue));
        futures::future::join_all(workers).await;
    };
    tokio::select! {
        _ = watching => {}
        _ = working => {}
    }
}

/// One worker: takes the next due group, reconciles it, schedules its next look.
async fn work<C: Cloud + 'static>(
    reconciler: &IngressReconciler<C>,
    stores: &IngressStores,
    queue: &WorkQueue<GroupId>,
) {
    let depth = crate::metrics::metrics()
        .workqueue_depth
        .with_label_values(&["ingress"]);
    loop {
        let id = queue.next().await;
        depth.set(queue.waiting() as i64);
        let span = tracing::info_span!("reconcile", controller = "ingress", stack = %id.stack_id());
        let outcome =
            crate::metrics::observe_reconcile("ingress", reconciler.reconcile(&id, stores))
                .instrument(span)
                .await;
        match outcome {
            Ok(GroupNext::After(wait)) => queue.schedule(id.clone(), TokioInstant::now() + wait),
            Ok(GroupNext::Gone) => {}
            Err(error) => {
                tracing::warn!(stack = %id.stack_id(), %error, "reconcile failed");
                let wait = reconciler.backoff(&id, &error);
                queue.schedule(id.clone(), TokioInstant::now() + wait);
            }
        }
        queue.done(&id);
        depth.set(queue.waiting() as i64);
    }
}
