//! A crash after every AWS call (issue: reliability, part 2): for the create and the delete of
//! a representative Service and Ingress group, the process stops after call k — for every k
//! of the undisturbed run — with everything it remembered lost; the restarted process must
//! converge with no duplicate and no leak (creates find what the crashed run made by its tags
//! and names).

use super::{ServiceShape, World};
use crate::cloud::simulator::{Fault, FaultScript};

/// After `calls` calls nothing more reaches AWS: the process is gone.
fn crash_after(calls: usize) -> FaultScript {
    FaultScript {
        faults: vec![None; calls],
        afterwards: Some(Fault::ServerError),
        hidden_for_calls: 0,
    }
}

/// What one scenario does before the crash: `prepare` runs undisturbed, `act` is cut short.
#[derive(Debug, Clone, Copy)]
enum Scenario {
    CreateService,
    DeleteService,
    CreateGroup,
    DeleteGroup,
}

impl Scenario {
    async fn prepare(self, world: &mut World) {
        match self {
            Scenario::CreateService | Scenario::CreateGroup => {}
            Scenario::DeleteService => {
                world.put_service("api", ServiceShape::Instance);
                world.reconcile_service("api").await.unwrap();
            }
            Scenario::DeleteGroup => {
                world.put_ingress("shop", "front", &["/"]);
                world.put_ingress("blog", "front", &["/a", "/b"]);
                world.reconcile_group("front").await.unwrap();
            }
        }
    }

    async fn act(self, world: &mut World) -> Result<(), String> {
        match self {
            Scenario::CreateService => {
                world.put_service("api", ServiceShape::Instance);
                world.reconcile_service("api").await
            }
            Scenario::DeleteService => {
                world.delete_service("api");
                world.reconcile_service("api").await
            }
            Scenario::CreateGroup => {
                world.put_ingress("shop", "front", &["/"]);
                world.put_ingress("blog", "front", &["/a", "/b"]);
                world.reconcile_group("front").await
            }
            Scenario::DeleteGroup => {
                world.delete_ingress("shop");
                world.delete_ingress("blog");
                world.reconcile_group("front").await
            }
        }
    }
}

/// Runs `scenario` crashing after every call of its undisturbed run; the number of crash
/// points tried.
async fn crash_at_every_call(scenario: Scenario) -> usize {
    let mut undisturbed = World::new().await;
    scenario.prepare(&mut undisturbed).await;
    undisturbed.cloud.calls.clear();
    scenario.act(&mut undisturbed).await.unwrap();
    let calls = undisturbed.cloud.calls.calls().len();
    assert!(calls > 0);
    for k in 0..calls {
        let mut world = World::new().await;
        scenario.prepare(&mut world).await;
        world.cloud.script_faults(crash_after(k));
        assert!(
            scenario.act(&mut world).await.is_err(),
            "the run crashed after call {k} of {calls}"
        );
        world.restart();
        let (tally, _) = world.settle(4).await;
        assert!(tally.faulted > 0, "the crash cut the run short");
        world.check_invariants().await;
    }
    calls
}

#[tokio::test]
async fn a_service_create_crashed_after_any_call_converges_without_a_duplicate() {
    assert!(crash_at_every_call(Scenario::CreateService).await >= 5);
}

#[tokio::test]
async fn a_service_delete_crashed_after_any_call_converges_without_a_leak() {
    assert!(crash_at_every_call(Scenario::DeleteService).await >= 5);
}

#[tokio::test]
async fn a_group_create_crashed_after_any_call_converges_without_a_duplicate() {
    assert!(crash_at_every_call(Scenario::CreateGroup).await >= 5);
}

#[tokio::test]
async fn a_group_delete_crashed_after_any_call_converges_without_a_leak() {
    assert!(crash_at_every_call(Scenario::DeleteGroup).await >= 5);
}
