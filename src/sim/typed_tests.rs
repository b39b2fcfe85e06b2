use super::*;
use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};

fn check<K: serde::de::DeserializeOwned>(scenario: &str, object: &Value) {
    if let Err(err) = serde_json::from_value::<K>(object.clone()) {
        panic!(
            "{scenario}: {} {} does not parse as k8s-openapi's type: {err}",
            object["kind"], object["metadata"]["name"]
        );
    }
}

/// Observers decode core kinds with k8s-openapi: every object of every built-in
/// scenario, at every step, must parse.
#[test]
fn builtin_objects_parse_as_k8s_openapi_types() {
    for (name, _) in scenario::BUILTIN {
        let sim = SimHandle::new(Scenario::resolve(name).unwrap(), 1.0).unwrap();
        let clock = sim.clock();
        let mut steps = sim.scenario().steps.clone().into_iter();
        loop {
            for (av, kind) in [
                ("v1", "Pod"),
                ("v1", "Service"),
                ("v1", "Event"),
                ("v1", "Namespace"),
                ("apps/v1", "ReplicaSet"),
                ("apps/v1", "Deployment"),
                ("batch/v1", "Job"),
            ] {
                for o in sim.list_objects(av, kind, None) {
                    match kind {
                        "Pod" => check::<core::Pod>(name, &o),
                        "Service" => check::<core::Service>(name, &o),
                        "Event" => check::<core::Event>(name, &o),
                        "Namespace" => check::<core::Namespace>(name, &o),
                        "ReplicaSet" => check::<apps::ReplicaSet>(name, &o),
                        "Deployment" => check::<apps::Deployment>(name, &o),
                        _ => check::<batch::Job>(name, &o),
                    }
                }
            }
            let Some(step) = steps.next() else { break };
            sim.perform(&step, clock.at(step.at)).unwrap();
        }
    }
}
