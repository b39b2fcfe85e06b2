//! Operator actions in process, for the scenario player's `promote`, `abort`, `retry`,
//! `pause`, `resume` and `undo` steps: the requests [`crate::rollout::actions`] builds (the
//! Argo Rollouts plugin's) go through the same write path as the HTTP API — the status
//! subresource, the plugin's 404 fallback, one resourceVersion and one watch event each — so
//! a scenario's action and `warroom rollout promote` against `warroom sim` store the same
//! thing. It must not decide what the controller does next: the model reacts to the stored
//! object.

use serde_json::Value;

use super::SimHandle;
use super::patch::PatchType;
use super::resource::{self, RESOURCES};
use super::selector::LabelSelector;
use super::write::{self, Refusal, WriteTarget};
use crate::rollout::actions::{self, Action, PatchFormat, Plan, Request};

/// What an in-process action did.
#[derive(Debug, Clone)]
pub struct ActionOutcome {
    /// The plugin's line (`rollout 'x' promoted`, `skipped rollback …`).
    pub message: String,
    /// Every request sent (`PATCH path (content type) body`) and the status it got.
    pub sent: Vec<(String, u16)>,
    /// Why the controller will do nothing, when the Rollout as read tells.
    pub note: Option<String>,
}

/// Why an in-process action could not be performed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("rollouts.argoproj.io \"{name}\" not found in namespace \"{namespace}\"")]
    NotFound { namespace: String, name: String },
    #[error(transparent)]
    Plan(#[from] actions::ActionError),
    #[error("{request} was refused: {source}")]
    Refused {
        request: String,
        #[source]
        source: Refusal,
    },
}

impl SimHandle {
    /// Performs `action` on Rollout `namespace/name` as `warroom rollout ACTION` (and the
    /// plugin) would against this simulator's API.
    pub fn operator_action(
        &self,
        namespace: &str,
        name: &str,
        action: Action,
    ) -> Result<ActionOutcome, ActionError> {
        let rollouts = resource::by_kind("argoproj.io/v1alpha1", "Rollout")
            .expect("the simulator serves Rollouts");
        let key = (rollouts, namespace.to_string(), name.to_string());
        let rollout = self.get(&key).ok_or_else(|| ActionError::NotFound {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })?;
        let plan = match action {
            Action::Promote { full } => actions::promote(&rollout, full),
            Action::Abort => actions::abort(name),
            Action::Retry => actions::retry(name),
            Action::Pause => actions::pause(name),
            Action::Resume => actions::resume(name),
            Action::Undo { to_revision } => {
                let selector =
                    LabelSelector::parse(&actions::selector(&rollout)).unwrap_or_default();
                let replica_sets: Vec<Value> = self
                    .list_objects("apps/v1", "ReplicaSet", Some(namespace))
                    .iter()
                    .filter(|rs| selector.matches_object(rs))
                    .map(|rs| (**rs).clone())
                    .collect();
                actions::undo(&rollout, &replica_sets, to_revision)?
            }
        };
        let sent = self.send_plan(namespace, &plan)?;
        Ok(ActionOutcome {
            message: plan.skipped.clone().unwrap_or_else(|| action.done(name)),
            sent,
            note: actions::controller_note(action, &rollout),
        })
    }

    /// Sends a plan's requests in the plugin's order: the status patch, then the object patch
    /// (or, when the status subresource is 404, the fallback instead).
    pub fn send_plan(
        &self,
        namespace: &str,
        plan: &Plan,
    ) -> Result<Vec<(String, u16)>, ActionError> {
        let mut sent = Vec::new();
        let mut object = plan.object.as_ref();
        if let Some(status) = &plan.status {
            match self.send_request(namespace, status) {
                Ok(()) => sent.push((status.describe(namespace), 200)),
                Err(refusal) if refusal.code.as_u16() == 404 && plan.fallback.is_some() => {
                    sent.push((status.describe(namespace), 404));
                    object = plan.fallback.as_ref();
                }
                Err(source) => {
                    return Err(ActionError::Refused {
                        request: status.describe(namespace),
                        source,
                    });
                }
            }
        }
        if let Some(request) = object {
            self.send_request(namespace, request)
                .map_err(|source| ActionError::Refused {
                    request: request.describe(namespace),
                    source,
                })?;
            sent.push((request.describe(namespace), 200));
        }
        Ok(sent)
    }

    fn send_request(&self, namespace: &str, request: &Request) -> Result<(), Refusal> {
        let Some(resource) = resource::by_path(
            request.kind.group,
            request.kind.version,
            request.kind.plural,
        ) else {
            return Err(Refusal::new(
                axum::http::StatusCode::NOT_FOUND,
                "NotFound",
                format!(
                    "the server could not find the requested resource ({} is not served)",
                    request.kind.plural
                ),
            ));
        };
        let target = WriteTarget {
            resource,
            namespace: RESOURCES[resource]
                .namespaced
                .then(|| namespace.to_string()),
            name: Some(request.name.clone()),
            status: request.status,
        };
        let patch_type = match request.format {
            PatchFormat::Merge => PatchType::Merge,
            PatchFormat::Json => PatchType::Json,
        };
        let body = request.body.to_string();
        write::patch_with(
            self,
            &target,
            &request.name,
            patch_type,
            body.as_bytes(),
            false,
        )
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Scenario;

    fn sim() -> SimHandle {
        SimHandle::new(Scenario::resolve("story-objects").unwrap(), 1.0).unwrap()
    }

    #[test]
    fn an_abort_goes_through_the_status_subresource() {
        let sim = sim();
        let before = sim.resource_version();
        let outcome = sim
            .operator_action("llm", "litellm", Action::Abort)
            .unwrap();
        assert_eq!(outcome.message, "rollout 'litellm' aborted");
        assert_eq!(outcome.sent.len(), 1);
        assert!(outcome.sent[0].0.ends_with(
            r#"/rollouts/litellm/status (application/merge-patch+json) {"status":{"abort":true}}"#
        ));
        assert_eq!(sim.resource_version(), before + 1);
        let ro = &sim.list_objects("argoproj.io/v1alpha1", "Rollout", Some("llm"))[0];
        assert_eq!(ro["status"]["abort"], true);
        // A pause is a spec change: a new generation.
        sim.operator_action("llm", "litellm", Action::Pause)
            .unwrap();
        let ro = &sim.list_objects("argoproj.io/v1alpha1", "Rollout", Some("llm"))[0];
        assert_eq!(
            (
                ro["spec"]["paused"].clone(),
                ro["metadata"]["generation"].clone()
            ),
            (serde_json::json!(true), serde_json::json!(2))
        );
    }

    #[test]
    fn unknown_rollouts_and_revisions_are_refused_without_a_write() {
        let sim = sim();
        let before = sim.resource_version();
        assert!(matches!(
            sim.operator_action("llm", "nosuch", Action::Abort),
            Err(ActionError::NotFound { .. })
        ));
        let err = sim
            .operator_action("llm", "litellm", Action::Undo { to_revision: 9 })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find specified revision 9 in history"
        );
        assert_eq!(sim.resource_version(), before);
    }
}
