//! Target registration under random AWS faults (issue: reliability, the registration path).
//! proptest generates a rollout — the wanted targets of a binding changing step by step — and a
//! fault for each AWS call (about 25 %: throttled, 5xx, or a register/deregister whose answer is
//! lost after it took effect). Each step syncs once, faults and all; then the faults stop, one
//! more sync runs, and the invariants hold:
//!
//! - the target group holds exactly the last wanted targets (plus, when it is shared with
//!   another cluster, that cluster's targets): no registration lost, no stale target left;
//! - a shared group's foreign targets are never deregistered, at any step.
//!
//! Seeded like the other reliability tests (`RELIABILITY_CASES`, `RELIABILITY_SEED`).

use super::random_faults::{config, fault_weighted};
use crate::cloud::ports::*;
use crate::cloud::simulator::{Fault, FaultScript, Simulator};
use crate::cloud::Target;
use crate::targets::{sync_shared_targets, sync_targets};
use proptest::prelude::*;
use std::collections::BTreeSet;

const TARGET_GROUP: &str = "k8s-shop-web-0000000000";

fn pod(index: u8) -> Target {
    Target {
        id: format!("10.0.1.{index}"),
        port: 8080,
    }
}

/// Targets another cluster registered in a shared target group.
fn foreign_targets() -> BTreeSet<Target> {
    [Target {
        id: "10.9.0.1".into(),
        port: 8080,
    }]
    .into()
}

async fn target_group(cloud: &Simulator) -> String {
    cloud.create_ip_target_group(TARGET_GROUP).await.unwrap()
}

fn registered(cloud: &Simulator) -> BTreeSet<Target> {
    cloud.targets_of(TARGET_GROUP).into_iter().collect()
}

/// What the process keeps between syncs of one binding (lost only with the process).
struct Binding {
    shared: bool,
    ours: BTreeSet<Target>,
}

impl Binding {
    async fn sync(&mut self, cloud: &Simulator, arn: &str, desired: &BTreeSet<Target>) -> bool {
        let synced = if self.shared {
            sync_shared_targets(cloud, arn, desired, &mut self.ours).await
        } else {
            sync_targets(cloud, arn, desired).await
        };
        synced.is_ok()
    }
}

async fn run_rollout(shared: bool, steps: &[BTreeSet<u8>], faults: Vec<Option<Fault>>) {
    let cloud = Simulator::default();
    let arn = target_group(&cloud).await;
    if shared {
        let foreign: Vec<Target> = foreign_targets().into_iter().collect();
        cloud.register_targets(&arn, &foreign).await.unwrap();
    }
    let mut binding = Binding {
        shared,
        ours: BTreeSet::new(),
    };
    cloud.script_faults(FaultScript {
        faults,
        afterwards: None,
        hidden_for_calls: 0,
    });
    let mut wanted = BTreeSet::new();
    for step in steps {
        wanted = step.iter().copied().map(pod).collect();
        binding.sync(&cloud, &arn, &wanted).await;
        if shared {
            assert!(
                registered(&cloud).is_superset(&foreign_targets()),
                "a foreign target was deregistered: {:?}",
                registered(&cloud)
            );
        }
    }
    cloud.stop_faults();
    assert!(
        binding.sync(&cloud, &arn, &wanted).await,
        "settles once faults stop"
    );
    let mut expected = wanted.clone();
    if shared {
        expected.extend(foreign_targets());
    }
    assert_eq!(
        registered(&cloud),
        expected,
        "the group holds what is wanted"
    );
    cloud.calls.clear();
    binding.sync(&cloud, &arn, &wanted).await;
    assert!(
        cloud.calls.writes().is_empty(),
        "a settled binding writes nothing"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_rollout_under_random_aws_faults_loses_no_registration_and_leaves_no_stale_target(
        shared in any::<bool>(),
        steps in prop::collection::vec(prop::collection::btree_set(1u8..9, 0..6), 1..12),
        // None 75 % of the time.
        faults in prop::collection::vec(fault_weighted(12), 40),
    ) {
        runtime().block_on(run_rollout(shared, &steps, faults));
    }
}

/// Found by the rollout scenarios: in a target group shared with another cluster, a
/// RegisterTargets whose answer was lost (it took effect) was not remembered as ours, so when
/// the pod went away its target was never deregistered — traffic kept going to a dead pod.
#[tokio::test]
async fn a_shared_group_deregisters_a_target_whose_register_answer_was_lost() {
    let cloud = Simulator::default();
    let arn = target_group(&cloud).await;
    let mut binding = Binding {
        shared: true,
        ours: BTreeSet::new(),
    };
    cloud.script_faults(FaultScript {
        faults: vec![None, Some(Fault::LostAnswer)],
        afterwards: None,
        hidden_for_calls: 0,
    });
    let first: BTreeSet<Target> = [pod(1), pod(2)].into();
    assert!(
        !binding.sync(&cloud, &arn, &first).await,
        "the answer is lost"
    );
    assert_eq!(registered(&cloud), first, "the register took effect");
    cloud.stop_faults();
    let scaled_down: BTreeSet<Target> = [pod(1)].into();
    assert!(binding.sync(&cloud, &arn, &scaled_down).await);
    assert_eq!(registered(&cloud), scaled_down, "pod 2's target is gone");
}
