//! Any JSON as a TargetGroupBinding: admitted (created and updated) and its `spec.networking`
//! turned into security group rules. Nothing may panic; every problem names its field.
#![no_main]

use aws_load_balancer_controller::crd::target_group_binding::TargetGroupBinding;
use aws_load_balancer_controller::target_rules::binding_permissions;
use aws_load_balancer_controller::webhook::bindings::binding_problems;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(binding) = serde_json::from_slice::<TargetGroupBinding>(bytes) else {
        return;
    };
    let problems = binding_problems(&binding, None, &[]);
    let updated = binding_problems(&binding, Some(&binding), std::slice::from_ref(&binding));
    for problem in problems.iter().chain(&updated) {
        assert!(problem.starts_with("spec."), "names no field: {problem}");
    }
    if let Some(networking) = &binding.spec.networking {
        if let Err(problem) = binding_permissions(networking, None) {
            assert!(problem.starts_with("spec.networking."), "names no field: {problem}");
        }
    }
});
