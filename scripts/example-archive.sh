#!/usr/bin/env bash
# Regenerates the example archive under channels/ with the real CLI:
#
#     scripts/example-archive.sh            # write it; commit channels/ yourself
#     scripts/example-archive.sh --commit   # let `warroom archive --commit` commit it
#
# A small scripted rehearsal of the litellm canary story (DESIGN.md), posted by hand through
# `warroom post`. Once `warroom demo` exists, replace the posts below with a demo run.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
if [[ -z "${WARROOM:-}" ]]; then
  cargo build -q --bin warroom
  WARROOM=target/debug/warroom
fi
export WARROOM_ROOT=channels
unset WARROOM_CHANNEL
w() { "$WARROOM" "$@"; }

# Only one example: drop earlier ones (their removal is yours to commit).
rm -rf channels/*--litellm-canary-example
ch=$(w open litellm-canary-example --roles pipeline,data-plane,traffic,operator)
post() { w post --channel "$ch" "$@" >/dev/null; sleep 1; }

post --as operator --kind note "Rehearsal of the litellm canary: \`kubectl argo rollouts set image litellm litellm=litellm:1.74.2\` at 25% steps with analysis. Observers: say what you see, with evidence."
post --as data-plane - <<'MD'
Baseline in `llm`:

| ReplicaSet | replicas | ready |
|---|---:|---:|
| `litellm-5d9f8c7b6d` (stable) | 5 | 5 |
| `litellm` Deployment (workloadRef) | 5 | 5 |
MD
post --as pipeline "Rollout \`litellm\`: generation 7, observedGeneration 6. Phase Healthy, step 0/8. The controller has not observed the new spec yet."
post --as traffic - <<'MD'
First 60 s window, 40 requests per route:

| route | 2xx | 4xx | 5xx | p95 |
|---|---:|---:|---:|---:|
| `/health` | 40 | 0 | 0 | 12 ms |
| `/v1/chat/completions` | 37 | 3 (429) | 0 | 840 ms |
| `/v1/models` | 28 | 12 (404) | 0 | 25 ms |
MD
post --as traffic --kind alert --ref traffic#1 "\`/v1/models\` answers **404** to 12 of 40 requests (30%); \`/v1/chat/completions\` 429 on 3 of 40. Both count as failures: users see them."
post --as pipeline --kind alert --ref pipeline#1 "Spec not observed for 61 s: observedGeneration 6 < generation 7. Controller Warning events on the Rollout: \`InvalidSpec\` ×3 (analysis template \`error-ratio-v2\` not found). This is not idle: it is stuck."
post --as operator --kind question --ref pipeline#2 "Is the rollouts controller running, and which version?"
post --as pipeline --kind answer --ref operator#2 "\`argo-rollouts\` 1/1 Ready, v1.7.1; the Warning events come from it, so it is running and rejecting the spec."
post --as data-plane --kind alert "workloadRef leak: Deployment \`litellm\` still runs 5/5 pods while Rollout \`litellm\` owns the workload (\`workloadRef.scaleDown\` is unset, default \`never\`). Traffic reaches both."
post --as pipeline --kind alert - <<'MD'
AnalysisRun `litellm-7-2`: metric `error-ratio` has 3 **Error** measurements in a row (limit `consecutiveErrorLimit: 4`, aborts on the 5th, in ~2 min).
The result vector is empty (`reflect: slice index out of range`): the metric source returns no data, which is assessed as Error, not Inconclusive.
MD
post --as pipeline --kind correction --ref pipeline#4 "Correction: 4 Error measurements, not 3 (the 4th landed just after my alert). One more aborts the rollout."
post --as operator --kind decision --ref traffic#2 --ref pipeline#2 --ref data-plane#2 --ref pipeline#5 "No-go: abort the canary. Expecting stable \`litellm-5d9f8c7b6d\` at 5/5, canary at 0, 0 non-2xx on \`/health\`. Fix the spec, set \`workloadRef.scaleDown: onsuccess\`, and make the analysis query count 4xx before the next attempt."
post --as pipeline --ref operator#3 "Rollout \`litellm\` aborted: phase Degraded (\"RolloutAborted\"), canary weight 0, stable \`litellm-5d9f8c7b6d\` 5/5."
post --as traffic --ref operator#3 "60 s window after the abort: \`/health\` 40/40 2xx; \`/v1/models\` still 404 on 11 of 40: the 404 is not from the canary."

w archive --channel "$ch" --reason "Rehearsal aborted: spec not observed, workloadRef leak, analysis on an empty vector, /v1/models 404s independent of the canary" "$@"
