//! Sending a [`Plan`] to a cluster with kube-rs, as the plugin does (the status patch first,
//! the object patch next, the fallback on a 404), and recording every answer. The only I/O of
//! [`super`].

use kube::Client;
use kube::api::{Patch, PatchParams};
use serde::Serialize;
use serde_json::Value;

use super::{
    Action, ActionError, PatchFormat, Plan, Request, abort, controller_note, pause, promote,
    resume, retry, selector, undo,
};
use crate::rollout::RolloutError;
use crate::rollout::cluster::{self, REPLICA_SETS, ROLLOUTS};

/// One request as sent, and the API's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub request: String,
    /// HTTP status of the answer (200 on success).
    pub code: u16,
    /// The answer: `resourceVersion N, generation G` or the refusal's message.
    pub answer: String,
}

/// What an action did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub action: Action,
    pub namespace: String,
    pub name: String,
    /// The plugin's line (`rollout 'x' promoted`, `skipped rollback …`).
    pub message: String,
    /// Every request sent, in order, with its answer.
    pub sent: Vec<Sent>,
    /// Why the controller will do nothing, when that can be told from the Rollout as read.
    pub note: Option<String>,
    /// The Rollout after the last request (as the last answer, or read again).
    #[serde(skip)]
    pub rollout: Option<Value>,
}

async fn send(
    client: &Client,
    namespace: &str,
    request: &Request,
    sent: &mut Vec<Sent>,
) -> Result<Value, ActionError> {
    let api = request.kind.api(client, namespace);
    let params = PatchParams::default();
    let result = match request.format {
        PatchFormat::Merge => {
            let patch = Patch::Merge(&request.body);
            if request.status {
                api.patch_status(&request.name, &params, &patch).await
            } else {
                api.patch(&request.name, &params, &patch).await
            }
        }
        PatchFormat::Json => {
            let ops: json_patch::Patch =
                serde_json::from_value(request.body.clone()).map_err(|e| ActionError::Refused {
                    request: request.describe(namespace),
                    code: 0,
                    reason: "BadRequest".into(),
                    message: e.to_string(),
                })?;
            api.patch(&request.name, &params, &Patch::Json::<()>(ops))
                .await
        }
    };
    match result {
        Ok(object) => {
            let value = serde_json::to_value(&object).unwrap_or(Value::Null);
            sent.push(Sent {
                request: request.describe(namespace),
                code: 200,
                answer: format!(
                    "resourceVersion {}, generation {}",
                    object.metadata.resource_version.as_deref().unwrap_or("?"),
                    object.metadata.generation.unwrap_or_default()
                ),
            });
            Ok(value)
        }
        Err(kube::Error::Api(status)) => {
            sent.push(Sent {
                request: request.describe(namespace),
                code: status.code,
                answer: format!("{} {}: {}", status.code, status.reason, status.message),
            });
            Err(ActionError::Refused {
                request: request.describe(namespace),
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            })
        }
        Err(other) => Err(ActionError::Rollout(RolloutError::Api {
            what: format!("sending {}", request.describe(namespace)),
            kubectl: format!(
                "get {}.{} -n {namespace}",
                request.kind.plural, request.kind.group
            ),
            detail: other.to_string(),
        })),
    }
}

fn is_not_found(err: &ActionError) -> bool {
    matches!(err, ActionError::Refused { code: 404, .. })
}

/// Sends `plan` as the plugin does: the status patch, then the object patch — or, when the
/// status subresource is 404, the fallback patch instead.
pub async fn send_plan(
    client: &Client,
    namespace: &str,
    plan: &Plan,
    sent: &mut Vec<Sent>,
) -> Result<Option<Value>, ActionError> {
    let mut last = None;
    let mut object = plan.object.as_ref();
    if let Some(status) = &plan.status {
        match send(client, namespace, status, sent).await {
            Ok(v) => last = Some(v),
            Err(e) if is_not_found(&e) && plan.fallback.is_some() => {
                object = plan.fallback.as_ref();
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(request) = object {
        last = Some(send(client, namespace, request, sent).await?);
    }
    Ok(last)
}

async fn get_rollout_value(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Value, ActionError> {
    let rollout = ROLLOUTS
        .api(client, namespace)
        .get_opt(name)
        .await
        .map_err(|e| RolloutError::Api {
            what: format!("getting rollout \"{name}\" in namespace \"{namespace}\""),
            kubectl: format!("get rollouts.argoproj.io -n {namespace}"),
            detail: e.to_string(),
        })?
        .ok_or_else(|| RolloutError::NotFound {
            kind: "rollouts.argoproj.io",
            name: name.to_string(),
            location: format!(" in namespace \"{namespace}\""),
        })?;
    Ok(serde_json::to_value(&rollout).unwrap_or(Value::Null))
}

/// Performs `action` on rollout `name` in `namespace`: reads what the plugin reads (the
/// Rollout; for undo its ReplicaSets), builds the plan and sends it.
pub async fn perform(
    client: &Client,
    namespace: &str,
    name: &str,
    action: Action,
) -> Result<Outcome, ActionError> {
    let before = get_rollout_value(client, namespace, name).await?;
    let plan = match action {
        Action::Promote { full } => promote(&before, full),
        Action::Abort => abort(name),
        Action::Retry => retry(name),
        Action::Pause => pause(name),
        Action::Resume => resume(name),
        Action::Undo { to_revision } => {
            let replica_sets =
                cluster::list_values(client, namespace, &REPLICA_SETS, &selector(&before)).await?;
            undo(&before, &replica_sets, to_revision)?
        }
    };
    let mut sent = Vec::new();
    let after = send_plan(client, namespace, &plan, &mut sent).await?;
    Ok(Outcome {
        action,
        namespace: namespace.to_string(),
        name: name.to_string(),
        message: plan.skipped.clone().unwrap_or_else(|| action.done(name)),
        sent,
        note: controller_note(action, &before),
        rollout: after.or(Some(before)),
    })
}
