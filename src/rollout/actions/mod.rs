//! Operator actions on a Rollout — promote (`--full`), abort, retry, pause, resume, undo
//! (`--to-revision`) — as the exact API requests the Argo Rollouts kubectl plugin makes
//! (`pkg/kubectl-argo-rollouts/cmd/{promote,abort,retry,pause,undo}`): JSON merge patches to
//! the Rollout and to its `status` subresource, and undo's JSON patch that copies a
//! ReplicaSet's pod template back into the Rollout (or its workloadRef).
//!
//! The builders are pure (the objects in, a [`Plan`] of requests out) so the CLI, the
//! scenario player and the tests share one definition; [`perform`] sends a plan to a cluster
//! with kube-rs and records every answer. Nothing here decides whether an action is wise: an
//! action the controller will ignore is sent as the plugin sends it, and [`controller_note`]
//! says, from the Rollout as read, why nothing will follow. It never posts to a channel.

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use super::cluster::{DEPLOYMENTS, Kind, REPLICA_SETS, ROLLOUTS};
use super::model::{POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION};

mod send;

pub use send::{Outcome, Sent, perform, send_plan};

/// The kind of PodTemplates (a workloadRef may name one; the simulator does not serve it).
pub const POD_TEMPLATES: Kind = Kind {
    group: "",
    version: "v1",
    kind: "PodTemplate",
    plural: "podtemplates",
};

/// An operator action, as the plugin's commands name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `promote`: past the current pause or step; `full`: skip every remaining step.
    Promote { full: bool },
    /// `abort`: back to the stable ReplicaSet.
    Abort,
    /// `retry rollout`: clear an abort so the update starts again.
    Retry,
    /// `pause`: `spec.paused = true`.
    Pause,
    /// The inverse of `pause` (`spec.paused = false`). The plugin has no `resume`: its
    /// `promote` unpauses and also moves past a pause step.
    Resume,
    /// `undo`: copy an earlier revision's pod template back; 0 is the previous revision.
    Undo { to_revision: i64 },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Promote { full: false } => "promote",
            Action::Promote { full: true } => "promote --full",
            Action::Abort => "abort",
            Action::Retry => "retry",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Undo { .. } => "undo",
        }
    }

    /// The plugin's line on success (`rollout 'x' promoted`).
    pub fn done(&self, name: &str) -> String {
        let verb = match self {
            Action::Promote { full: false } => "promoted",
            Action::Promote { full: true } => "fully promoted",
            Action::Abort => "aborted",
            Action::Retry => "retried",
            Action::Pause => "paused",
            Action::Resume => "resumed",
            Action::Undo { .. } => "undo",
        };
        format!("rollout '{name}' {verb}")
    }
}

/// Serialized as it is written on the command line (`promote --full`, `undo --to-revision 3`).
impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Undo { to_revision } if *to_revision > 0 => {
                write!(f, "undo --to-revision {to_revision}")
            }
            other => f.write_str(other.name()),
        }
    }
}

/// The two patch formats the plugin uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PatchFormat {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json` (undo).
    Json,
}

impl PatchFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            PatchFormat::Merge => "application/merge-patch+json",
            PatchFormat::Json => "application/json-patch+json",
        }
    }
}

/// One PATCH request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    #[serde(skip)]
    pub kind: Kind,
    pub name: String,
    /// `true`: the `status` subresource.
    pub status: bool,
    pub format: PatchFormat,
    pub body: Value,
}

impl Request {
    fn merge(kind: Kind, name: &str, status: bool, body: Value) -> Request {
        Request {
            kind,
            name: name.to_string(),
            status,
            format: PatchFormat::Merge,
            body,
        }
    }

    /// The request path in `namespace`.
    pub fn path(&self, namespace: &str) -> String {
        let base = if self.kind.group.is_empty() {
            format!("/api/{}", self.kind.version)
        } else {
            format!("/apis/{}/{}", self.kind.group, self.kind.version)
        };
        let status = if self.status { "/status" } else { "" };
        format!(
            "{base}/namespaces/{namespace}/{}/{}{status}",
            self.kind.plural, self.name
        )
    }

    /// `PATCH /apis/…/rollouts/x/status (application/merge-patch+json) {"status":…}`.
    pub fn describe(&self, namespace: &str) -> String {
        format!(
            "PATCH {} ({}) {}",
            self.path(namespace),
            self.format.content_type(),
            self.body
        )
    }
}

/// What an action sends, in the plugin's order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Sent first: the patch of the status subresource.
    pub status: Option<Request>,
    /// Sent next: the patch of the object.
    pub object: Option<Request>,
    /// Sent instead of `object` when the status patch got 404 NotFound: a controller older
    /// than v0.10 has no status subresource, so the plugin patches spec and status together.
    pub fallback: Option<Request>,
    /// Nothing to send, with the plugin's line for it (undo to the current template).
    pub skipped: Option<String>,
}

/// Why an action could not be planned or sent, in the plugin's words where it has them.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("unable to find specified revision {0} in history")]
    RevisionNotFound(i64),
    #[error("no revision found for rollout {0:?}")]
    NoRevision(String),
    #[error("workload of type {0} is not supported")]
    UnsupportedWorkload(String),
    #[error("rollout {name:?} has no spec.template to restore a revision into")]
    NoTemplate { name: String },
    /// The API refused a request (the answer is kept as evidence).
    #[error("{request} was refused: {message}")]
    Refused {
        request: String,
        code: u16,
        reason: String,
        message: String,
    },
    #[error(transparent)]
    Rollout(#[from] super::RolloutError),
}

impl ActionError {
    /// 2 for what the user can fix by naming something else (a missing object or revision),
    /// 3 for refusals and the environment.
    pub fn exit_code(&self) -> u8 {
        match self {
            ActionError::RevisionNotFound(_)
            | ActionError::NoRevision(_)
            | ActionError::UnsupportedWorkload(_)
            | ActionError::NoTemplate { .. } => 2,
            ActionError::Refused { code: 404, .. } => 2,
            ActionError::Refused { .. } => 3,
            ActionError::Rollout(e) => e.exit_code(),
        }
    }
}

pub(crate) fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn name_of(object: &Value) -> &str {
    text(object, "/metadata/name")
}

fn canary_steps(rollout: &Value) -> Option<usize> {
    rollout
        .pointer("/spec/strategy/canary/steps")
        .and_then(Value::as_array)
        .map(Vec::len)
}

/// `GetCurrentCanaryStep`'s index: `None` without canary steps, else `status.currentStepIndex`
/// (0 when unset).
fn current_step_index(rollout: &Value) -> Option<i64> {
    canary_steps(rollout).filter(|n| *n > 0)?;
    Some(
        rollout
            .pointer("/status/currentStepIndex")
            .and_then(Value::as_i64)
            .unwrap_or(0),
    )
}

fn next_step_index(rollout: &Value) -> Option<i64> {
    let steps = canary_steps(rollout)? as i64;
    current_step_index(rollout).map(|i| if i < steps { i + 1 } else { i })
}

fn is_paused(rollout: &Value) -> bool {
    rollout.pointer("/spec/paused") == Some(&Value::Bool(true))
}

fn pause_conditions(rollout: &Value) -> usize {
    rollout
        .pointer("/status/pauseConditions")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// The plugin's `promote` (`getPatches` in promote.go) for the Rollout as read.
pub fn promote(rollout: &Value, full: bool) -> Plan {
    let name = name_of(rollout);
    let status = |body: Value| Some(Request::merge(ROLLOUTS, name, true, body));
    let object = |body: Value| Some(Request::merge(ROLLOUTS, name, false, body));
    let unpause = json!({"spec": {"paused": false}});
    let mut plan = Plan::default();
    if full {
        if is_paused(rollout) {
            plan.object = object(unpause);
        }
        if text(rollout, "/status/currentPodHash") != text(rollout, "/status/stableRS") {
            plan.status = status(json!({"status": {"promoteFull": true}}));
        }
        plan.fallback = object(json!({"spec": {"paused": false}, "status": {"promoteFull": true}}));
        return plan;
    }
    plan.fallback = object(json!({"spec": {"paused": false}, "status": {"pauseConditions": null}}));
    if is_paused(rollout) {
        plan.object = object(unpause);
    }
    let is_canary = rollout.pointer("/spec/strategy/canary").is_some();
    let inconclusive = is_canary
        && text(
            rollout,
            "/status/canary/currentStepAnalysisRunStatus/status",
        ) == "Inconclusive";
    let controller_pause = rollout.pointer("/status/controllerPause") == Some(&Value::Bool(true));
    if inconclusive && pause_conditions(rollout) > 0 && controller_pause {
        if let Some(next) = next_step_index(rollout) {
            plan.status = status(json!({"status": {
                "pauseConditions": null, "controllerPause": false, "currentStepIndex": next,
            }}));
        }
    } else if pause_conditions(rollout) > 0 {
        plan.status = status(json!({"status": {"pauseConditions": null}}));
    } else if is_canary && let Some(next) = next_step_index(rollout) {
        // Promoting while analysis or an experiment runs: move to the next step.
        plan.status =
            status(json!({"status": {"pauseConditions": null, "currentStepIndex": next}}));
        plan.fallback = object(json!({
            "spec": {"paused": false},
            "status": {"pauseConditions": null, "currentStepIndex": next},
        }));
    }
    plan
}

/// A status patch with the plugin's fallback to the same patch of the object.
fn status_with_fallback(name: &str, body: Value) -> Plan {
    Plan {
        status: Some(Request::merge(ROLLOUTS, name, true, body.clone())),
        fallback: Some(Request::merge(ROLLOUTS, name, false, body)),
        ..Plan::default()
    }
}

/// The plugin's `abort`: `{"status":{"abort":true}}`.
pub fn abort(name: &str) -> Plan {
    status_with_fallback(name, json!({"status": {"abort": true}}))
}

/// The plugin's `retry rollout`: `{"status":{"abort":false}}`.
pub fn retry(name: &str) -> Plan {
    status_with_fallback(name, json!({"status": {"abort": false}}))
}

/// The plugin's `pause`: `{"spec":{"paused":true}}`.
pub fn pause(name: &str) -> Plan {
    Plan {
        object: Some(Request::merge(
            ROLLOUTS,
            name,
            false,
            json!({"spec": {"paused": true}}),
        )),
        ..Plan::default()
    }
}

/// `resume`: `{"spec":{"paused":false}}`, the inverse of `pause`.
pub fn resume(name: &str) -> Plan {
    Plan {
        object: Some(Request::merge(
            ROLLOUTS,
            name,
            false,
            json!({"spec": {"paused": false}}),
        )),
        ..Plan::default()
    }
}

fn revision(rs: &Value) -> Option<i64> {
    match rs.pointer(&format!(
        "/metadata/annotations/{}",
        REVISION_ANNOTATION.replace('/', "~1")
    )) {
        None => Some(0),
        Some(v) => v.as_str().and_then(|s| s.parse().ok()),
    }
}

fn controlled_by(rs: &Value, uid: &str) -> bool {
    rs.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r["controller"] == Value::Bool(true) && r["uid"].as_str() == Some(uid))
        })
}

/// `rolloutRevision` in undo.go: the ReplicaSet of `to_revision`, or with 0 the second newest.
fn revision_replica_set<'a>(
    rollout: &Value,
    replica_sets: &'a [Value],
    to_revision: i64,
) -> Result<&'a Value, ActionError> {
    let uid = text(rollout, "/metadata/uid");
    let mut latest: Option<(i64, &Value)> = None;
    let mut previous: Option<(i64, &Value)> = None;
    for rs in replica_sets.iter().filter(|rs| controlled_by(rs, uid)) {
        let Some(v) = revision(rs) else { continue };
        if to_revision == 0 {
            if latest.is_none_or(|(l, _)| l < v) {
                previous = latest;
                latest = Some((v, rs));
            } else if previous.is_none_or(|(p, _)| p < v) {
                previous = Some((v, rs));
            }
        } else if to_revision == v {
            return Ok(rs);
        }
    }
    if to_revision > 0 {
        return Err(ActionError::RevisionNotFound(to_revision));
    }
    previous
        .map(|(_, rs)| rs)
        .ok_or_else(|| ActionError::NoRevision(name_of(rollout).to_string()))
}

fn without_hash(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    template
}

/// apimachinery's `DeepDerivative`: every field set in `a` equals `b`'s; unset or empty
/// fields of `a` are ignored.
fn derivative(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, _) => true,
        (Value::String(s), _) if s.is_empty() => true,
        (Value::Object(m), _) if m.is_empty() => true,
        (Value::Array(v), _) if v.is_empty() => true,
        (Value::Object(ma), Value::Object(mb)) => ma
            .iter()
            .all(|(k, va)| derivative(va, mb.get(k).unwrap_or(&Value::Null))),
        (Value::Array(va), Value::Array(vb)) => {
            va.len() <= vb.len() && va.iter().zip(vb).all(|(x, y)| derivative(x, y))
        }
        _ => a == b,
    }
}

/// The plugin's `undo`: the Rollout (whose ReplicaSets are `replica_sets`, those its
/// `spec.selector` selects) gets the chosen revision's pod template back with a JSON patch,
/// sent to the Rollout or, with a workloadRef, to the referenced workload.
pub fn undo(
    rollout: &Value,
    replica_sets: &[Value],
    to_revision: i64,
) -> Result<Plan, ActionError> {
    let name = name_of(rollout);
    let rs = revision_replica_set(rollout, replica_sets, to_revision)?;
    let rs_template = without_hash(rs.pointer("/spec/template").unwrap_or(&Value::Null));
    if let Some(current) = rollout.pointer("/spec/template")
        && derivative(&without_hash(current), &rs_template)
    {
        return Ok(Plan {
            skipped: Some(format!(
                "skipped rollback (current template already matches revision {to_revision})"
            )),
            ..Plan::default()
        });
    }
    let body = json!([{"op": "replace", "path": "/spec/template", "value": rs_template}]);
    let (kind, target) = match rollout.pointer("/spec/workloadRef") {
        None | Some(Value::Null) => {
            if rollout.pointer("/spec/template").is_none() {
                return Err(ActionError::NoTemplate {
                    name: name.to_string(),
                });
            }
            (ROLLOUTS, name.to_string())
        }
        Some(workload) => {
            let kind = match text(workload, "/kind") {
                "Deployment" => DEPLOYMENTS,
                "ReplicaSet" => REPLICA_SETS,
                "PodTemplate" => POD_TEMPLATES,
                other => return Err(ActionError::UnsupportedWorkload(other.to_string())),
            };
            (kind, text(workload, "/name").to_string())
        }
    };
    Ok(Plan {
        object: Some(Request {
            kind,
            name: target,
            status: false,
            format: PatchFormat::Json,
            body,
        }),
        ..Plan::default()
    })
}

/// Why the controller will do nothing after `action` on `rollout` as read (Argo's plugin
/// sends the request anyway, and so do we); `None` when something should follow.
pub fn controller_note(action: Action, rollout: &Value) -> Option<String> {
    let name = name_of(rollout);
    let aborted = rollout.pointer("/status/abort") == Some(&Value::Bool(true));
    let settled = text(rollout, "/status/currentPodHash") == text(rollout, "/status/stableRS")
        && !text(rollout, "/status/stableRS").is_empty();
    match action {
        Action::Promote { .. }
            if settled && !is_paused(rollout) && pause_conditions(rollout) == 0 =>
        {
            Some(format!(
                "rollout '{name}' is fully promoted (status.currentPodHash is status.stableRS) and not paused: the controller has nothing to promote"
            ))
        }
        Action::Abort if aborted => Some(format!(
            "rollout '{name}' was already aborted (status.abort is true): the controller has nothing more to abort"
        )),
        Action::Retry if !aborted => Some(format!(
            "rollout '{name}' is not aborted (status.abort is not true): retry changes nothing"
        )),
        Action::Pause if is_paused(rollout) => Some(format!(
            "rollout '{name}' is already paused (spec.paused is true)"
        )),
        Action::Resume if !is_paused(rollout) => Some(if pause_conditions(rollout) > 0 {
            format!(
                "rollout '{name}' is not paused by an operator (spec.paused is false); it waits at a pause step (status.pauseConditions): `warroom rollout promote {name}` moves it on"
            )
        } else {
            format!("rollout '{name}' is not paused (spec.paused is false): resume changes nothing")
        }),
        _ => None,
    }
}

/// The label selector string of `spec.selector` (matchLabels and matchExpressions).
pub fn selector(rollout: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(labels) = rollout
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
    {
        for (k, v) in labels {
            parts.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    }
    if let Some(exprs) = rollout
        .pointer("/spec/selector/matchExpressions")
        .and_then(Value::as_array)
    {
        for e in exprs {
            let key = text(e, "/key");
            let values: Vec<&str> = e["values"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            parts.push(match text(e, "/operator") {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.to_string(),
                _ => format!("!{key}"),
            });
        }
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary(status: Value) -> Value {
        json!({
            "metadata": {"name": "litellm", "uid": "u-ro"},
            "spec": {"strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]}}},
            "status": status,
        })
    }

    fn bodies(plan: &Plan) -> (Option<Value>, Option<Value>, Option<Value>) {
        (
            plan.status.as_ref().map(|r| r.body.clone()),
            plan.object.as_ref().map(|r| r.body.clone()),
            plan.fallback.as_ref().map(|r| r.body.clone()),
        )
    }

    /// The cases of the plugin's promote_test.go, by what each sends.
    #[test]
    fn promote_at_a_pause_step_clears_the_pause_conditions() {
        let ro = canary(
            json!({"currentStepIndex": 1, "pauseConditions": [{"reason": "CanaryPauseStep"}], "controllerPause": true}),
        );
        let plan = promote(&ro, false);
        assert_eq!(
            bodies(&plan),
            (
                Some(json!({"status": {"pauseConditions": null}})),
                None,
                Some(json!({"spec": {"paused": false}, "status": {"pauseConditions": null}})),
            )
        );
        assert!(plan.status.as_ref().unwrap().status);
        assert_eq!(
            plan.status.unwrap().path("llm"),
            "/apis/argoproj.io/v1alpha1/namespaces/llm/rollouts/litellm/status"
        );
    }

    #[test]
    fn promote_while_analysis_runs_moves_to_the_next_step() {
        let ro = canary(json!({"currentStepIndex": 0}));
        assert_eq!(
            bodies(&promote(&ro, false)).0,
            Some(json!({"status": {"pauseConditions": null, "currentStepIndex": 1}}))
        );
        // Past the last step the index stays.
        let done = canary(json!({"currentStepIndex": 3}));
        assert_eq!(
            bodies(&promote(&done, false)).0,
            Some(json!({"status": {"pauseConditions": null, "currentStepIndex": 3}}))
        );
    }

    #[test]
    fn promote_an_inconclusive_step_unsets_the_controller_pause() {
        let ro = canary(json!({"currentStepIndex": 1, "controllerPause": true,
            "pauseConditions": [{"reason": "InconclusiveAnalysisRun"}],
            "canary": {"currentStepAnalysisRunStatus": {"status": "Inconclusive"}}}));
        assert_eq!(
            bodies(&promote(&ro, false)).0,
            Some(
                json!({"status": {"pauseConditions": null, "controllerPause": false, "currentStepIndex": 2}})
            )
        );
    }

    #[test]
    fn promote_a_user_paused_rollout_unpauses_the_spec() {
        let mut ro = canary(
            json!({"currentStepIndex": 1, "pauseConditions": [{"reason": "CanaryPauseStep"}]}),
        );
        ro["spec"]["paused"] = json!(true);
        let plan = promote(&ro, false);
        assert_eq!(bodies(&plan).1, Some(json!({"spec": {"paused": false}})));
        assert!(!plan.object.unwrap().status);
    }

    #[test]
    fn promote_full() {
        let ro = canary(json!({"currentPodHash": "new", "stableRS": "old"}));
        assert_eq!(
            bodies(&promote(&ro, true)),
            (
                Some(json!({"status": {"promoteFull": true}})),
                None,
                Some(json!({"spec": {"paused": false}, "status": {"promoteFull": true}})),
            )
        );
        // Nothing to promote: nothing sent.
        let settled = canary(json!({"currentPodHash": "old", "stableRS": "old"}));
        let plan = promote(&settled, true);
        assert!(plan.status.is_none() && plan.object.is_none());
        assert!(controller_note(Action::Promote { full: true }, &settled).is_some());
    }

    #[test]
    fn abort_retry_pause_resume() {
        assert_eq!(
            bodies(&abort("x")),
            (
                Some(json!({"status": {"abort": true}})),
                None,
                Some(json!({"status": {"abort": true}}))
            )
        );
        assert_eq!(
            bodies(&retry("x")).0,
            Some(json!({"status": {"abort": false}}))
        );
        assert_eq!(
            bodies(&pause("x")).1,
            Some(json!({"spec": {"paused": true}}))
        );
        assert_eq!(
            bodies(&resume("x")).1,
            Some(json!({"spec": {"paused": false}}))
        );
        let aborted = canary(json!({"abort": true}));
        assert!(controller_note(Action::Abort, &aborted).is_some());
        assert!(controller_note(Action::Retry, &aborted).is_none());
        assert!(controller_note(Action::Retry, &canary(json!({}))).is_some());
        let waiting = canary(json!({"pauseConditions": [{"reason": "CanaryPauseStep"}]}));
        assert!(
            controller_note(Action::Resume, &waiting)
                .unwrap()
                .contains("promote")
        );
    }

    fn rs(revision: &str, image: &str, owner: &str) -> Value {
        json!({
            "metadata": {"name": format!("litellm-{revision}"),
                "annotations": {"rollout.argoproj.io/revision": revision},
                "ownerReferences": [{"kind": "Rollout", "name": "litellm", "uid": owner, "controller": true}]},
            "spec": {"template": {"metadata": {"labels": {"app": "litellm", "rollouts-pod-template-hash": format!("h{revision}")}},
                "spec": {"containers": [{"name": "litellm", "image": image}]}}},
        })
    }

    #[test]
    fn undo_copies_the_previous_template_back() {
        let mut ro = canary(json!({}));
        ro["spec"]["template"] = json!({"metadata": {"labels": {"app": "litellm"}},
            "spec": {"containers": [{"name": "litellm", "image": "v3"}]}});
        let sets = [
            rs("1", "v1", "u-ro"),
            rs("2", "v2", "u-ro"),
            rs("3", "v3", "u-ro"),
            rs("4", "v9", "someone-else"),
        ];
        let plan = undo(&ro, &sets, 0).unwrap();
        let request = plan.object.unwrap();
        assert_eq!(request.format, PatchFormat::Json);
        assert_eq!(request.body[0]["op"], "replace");
        assert_eq!(request.body[0]["path"], "/spec/template");
        assert_eq!(
            request.body[0]["value"]["spec"]["containers"][0]["image"],
            "v2"
        );
        assert!(
            request.body[0]["value"]["metadata"]["labels"]
                .get("rollouts-pod-template-hash")
                .is_none()
        );
        assert_eq!(
            undo(&ro, &sets, 1).unwrap().object.unwrap().body[0]["value"]["spec"]["containers"][0]
                ["image"],
            "v1"
        );
        assert_eq!(
            undo(&ro, &sets, 3).unwrap().skipped.as_deref(),
            Some("skipped rollback (current template already matches revision 3)")
        );
        assert_eq!(
            undo(&ro, &sets, 4).unwrap_err().to_string(),
            "unable to find specified revision 4 in history"
        );
        assert_eq!(
            undo(&ro, &sets[..1], 0).unwrap_err().to_string(),
            "no revision found for rollout \"litellm\""
        );
        // With a workloadRef the Deployment's template is patched.
        ro["spec"]["workloadRef"] =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "litellm-deploy"});
        let request = undo(&ro, &sets, 1).unwrap().object.unwrap();
        assert_eq!(
            request.path("llm"),
            "/apis/apps/v1/namespaces/llm/deployments/litellm-deploy"
        );
    }

    #[test]
    fn selectors_and_derivatives() {
        let ro = json!({"spec": {"selector": {"matchLabels": {"app": "litellm"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}}});
        assert_eq!(selector(&ro), "app=litellm,tier in (a,b)");
        assert!(derivative(
            &json!({"a": 1, "b": ""}),
            &json!({"a": 1, "c": 2})
        ));
        assert!(!derivative(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!derivative(&json!({"l": [1, 2]}), &json!({"l": [1]})));
    }
}
