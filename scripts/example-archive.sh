#!/usr/bin/env bash
# Regenerates the example archive under channels/ from a real `warroom demo` run:
#
#     scripts/example-archive.sh --commit   # run the demo, archive it, commit it (one commit)
#     scripts/example-archive.sh            # the same without the commit
#     DEMO_LOG=/tmp/demo.txt scripts/example-archive.sh   # also keep the demo's output
#
# The demo plays the litellm canary story in the built-in simulator with the three observers
# (no cluster needed); `warroom archive` seals the channel and renders its README.md and
# TIMELINE.md. SPEED (default 20) sets the demo's speed. Earlier examples are removed from the
# working tree first; their removal is yours to commit (`--commit` refuses unrelated *staged*
# changes, so commit or unstage those first).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
if [[ -z "${WARROOM:-}" ]]; then
  cargo build -q --bin warroom
  WARROOM=target/debug/warroom
fi
export WARROOM_ROOT=channels
unset WARROOM_CHANNEL

# Only one example: drop earlier ones.
rm -rf channels/*--litellm-canary-example channels/*--litellm-canary-demo channels/*--litellm-canary-demo-[0-9]*

# stdout of the demo: the channel's name, then the page's URL; the run and its summary on stderr.
# The docs quote both from the run archived here (README.md, docs/DEMO.md): DEMO_LOG=FILE keeps
# them (stdout, a blank line, stderr).
if [[ -n "${DEMO_LOG:-}" ]]; then
  err=$(mktemp)
  out=$("$WARROOM" demo --speed "${SPEED:-20}" --bind 127.0.0.1:0 2>"$err") || { cat "$err" >&2; exit 1; }
  { printf '%s\n\n' "$out"; cat "$err"; } >"$DEMO_LOG"
  cat "$err" >&2
  rm -f "$err"
else
  out=$("$WARROOM" demo --speed "${SPEED:-20}" --bind 127.0.0.1:0)
fi
ch=$(sed -n 1p <<<"$out")

"$WARROOM" archive --channel "$ch" --reason "Demo of the litellm canary story in the simulator: the release not observed while the controller is down, the workloadRef Deployment still serving, analysis erroring on an empty result until the abort, a 5xx-only analysis query, /v1/embeddings failing with 404/429 on the canary" "$@"
