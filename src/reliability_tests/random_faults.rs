//! Random scenarios under random AWS faults (issue: reliability, part 1). proptest generates a
//! scenario — Services and Ingresses created, edited, moved between groups and deleted — and a
//! fault for each AWS call (20 % of calls: throttled, 5xx, or an answer lost after the write
//! took effect), with created resources missing from the tag lookups for a few calls. After
//! each step the stacks it touches are reconciled once, faults and all; at the end the faults
//! stop, the world settles, and the invariants hold (see `World::check_invariants`).
//!
//! Seeded and shrinking (see `config`).

use super::{ServiceShape, World};
use crate::cloud::simulator::{Fault, FaultScript};
use proptest::prelude::*;

const SERVICES: [&str; 2] = ["api", "edge"];
const INGRESSES: [&str; 3] = ["shop", "blog", "docs"];
const GROUPS: [&str; 2] = ["front", "back"];
const PATHS: [&[&str]; 3] = [&["/"], &["/a", "/b"], &["/c"]];

#[derive(Debug, Clone)]
enum Step {
    PutService(usize, ServiceShape),
    DeleteService(usize),
    PutIngress {
        ingress: usize,
        group: usize,
        paths: usize,
    },
    DeleteIngress(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let shape = prop_oneof![
        Just(ServiceShape::Instance),
        Just(ServiceShape::Ip),
        Just(ServiceShape::Protected),
    ];
    prop_oneof![
        3 => (0..SERVICES.len(), shape).prop_map(|(s, shape)| Step::PutService(s, shape)),
        1 => (0..SERVICES.len()).prop_map(Step::DeleteService),
        4 => (0..INGRESSES.len(), 0..GROUPS.len(), 0..PATHS.len())
            .prop_map(|(ingress, group, paths)| Step::PutIngress { ingress, group, paths }),
        2 => (0..INGRESSES.len()).prop_map(Step::DeleteIngress),
    ]
}

/// One call's fault: none `none` times in `none + 4` (throttled 2, 5xx 1, answer lost 1).
pub(super) fn fault_weighted(none: u32) -> impl Strategy<Value = Option<Fault>> {
    prop_oneof![
        none => Just(None),
        2 => Just(Some(Fault::Throttled)),
        1 => Just(Some(Fault::ServerError)),
        1 => Just(Some(Fault::LostAnswer)),
    ]
}

/// Runs the scenario, then checks the invariants (a broken one panics, which fails the case).
async fn run_scenario(steps: &[Step], faults: Vec<Option<Fault>>, hidden_for_calls: u64) {
    let mut world = World::new().await;
    world.cloud.script_faults(FaultScript {
        faults,
        afterwards: None,
        hidden_for_calls,
    });
    for step in steps {
        match step {
            Step::PutService(s, shape) => {
                world.put_service(SERVICES[*s], *shape);
                let _ = world.reconcile_service(SERVICES[*s]).await;
            }
            Step::DeleteService(s) => {
                world.delete_service(SERVICES[*s]);
                let _ = world.reconcile_service(SERVICES[*s]).await;
            }
            Step::PutIngress {
                ingress,
                group,
                paths,
            } => {
                let before = world.group_of(INGRESSES[*ingress]);
                world.put_ingress(INGRESSES[*ingress], GROUPS[*group], PATHS[*paths]);
                for group in before.into_iter().chain([GROUPS[*group].to_string()]) {
                    let _ = world.reconcile_group(&group).await;
                }
            }
            Step::DeleteIngress(i) => {
                if let Some(group) = world.group_of(INGRESSES[*i]) {
                    world.delete_ingress(INGRESSES[*i]);
                    let _ = world.reconcile_group(&group).await;
                }
            }
        }
    }
    world.settle(6).await;
    world.check_invariants().await;
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Found by the random scenarios: a protected internet-facing Service made internal (its load
/// balancer must be replaced). The apply created the new target groups, then AWS refused the
/// delete, every time: extra groups left with the ids of the live ones. Now the plan refuses
/// before any write, saying what to do.
#[tokio::test]
async fn a_protected_load_balancer_that_must_be_replaced_is_refused_before_any_write() {
    let mut world = World::new().await;
    world.put_service("api", ServiceShape::Protected);
    world.reconcile_service("api").await.unwrap();
    world.put_service("api", ServiceShape::Ip);
    world.cloud.calls.clear();
    let refused = world.reconcile_service("api").await.unwrap_err();
    assert!(
        refused.contains("deletion_protection.enabled=false first"),
        "{refused}"
    );
    assert!(world.cloud.calls.writes().is_empty());
    world.settle(2).await;
    world.check_invariants().await;
}

/// 48 scenarios from a fixed seed in CI; `RELIABILITY_CASES` and `RELIABILITY_SEED` change
/// them for a longer run on demand. A failure prints the smallest scenario found (it is not
/// saved: its regression test is written by hand, named after it).
pub(super) fn config() -> ProptestConfig {
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    ProptestConfig {
        cases: number("RELIABILITY_CASES", 48) as u32,
        rng_seed: proptest::test_runner::RngSeed::Fixed(number("RELIABILITY_SEED", 17)),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_scenarios_under_random_aws_faults_settle_without_leaks_or_duplicates(
        steps in prop::collection::vec(step(), 1..10),
        // None 80 % of the time.
        faults in prop::collection::vec(fault_weighted(16), 400),
        hidden_for_calls in 0u64..6,
    ) {
        runtime().block_on(run_scenario(&steps, faults, hidden_for_calls));
    }
}

/// Found by the random scenarios: an internal ip-mode Service made internet-facing and
/// instance-mode (its load balancer and target groups replaced) with the apply throttled
/// before the listeners were created. The old and the new target group then both carried the
/// resource id `shop/api:80`, the listener was created forwarding to the old one, and the old
/// one could never be deleted ("used by a listener"): the stack never settled.
#[tokio::test]
async fn a_replacement_cut_short_leaves_two_target_groups_with_one_id_and_still_settles() {
    let mut world = World::new().await;
    world.put_service("api", ServiceShape::Ip);
    world.reconcile_service("api").await.unwrap();
    world.put_service("api", ServiceShape::Protected);
    world
        .cloud
        .fail_call("CreateListener", 1, crate::cloud::ErrorKind::Throttled);
    assert!(world.reconcile_service("api").await.is_err());
    assert_eq!(
        world.target_groups_of_service("api"),
        3,
        "the old ip group and the two new instance groups"
    );
    let (_, rounds) = world.settle(3).await;
    assert_eq!(rounds, 1, "the next reconcile converges");
    world.check_invariants().await;
    assert_eq!(
        world.target_groups_of_service("api"),
        2,
        "the old ip group is gone"
    );
}
