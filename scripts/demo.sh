#!/usr/bin/env bash
# The README's main job: bring up the lab (a simulated XenServer pool over real SSH), break it the
# way the 2012 leap second did, dry-run and apply the fix, kill a run halfway and resume it, show
# the journal, and take the lab down again. Everything lives in a temporary state folder.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUNBOOK_STATE_DIR="${RUNBOOK_DEMO_DIR:-$(mktemp -d /tmp/runbook-demo.XXXXXX)}"
export NO_COLOR="${NO_COLOR-}"
rb() { node bin/runbook.mjs "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
trap 'rb lab down >/dev/null 2>&1 || true' EXIT

say "runbook lab up: three XenServer hosts, an Ubuntu guest and a Windows XenApp server on 127.0.0.1"
rb lab up --port-base 0
INV="$RUNBOOK_STATE_DIR/lab/inventory.yaml"

say "the leap second strikes: ntpd livelocked on every XenServer host"
for host in xs-01 xs-02 xs-03; do rb lab fault "$host" leap-second; done

say "runbook describe leap-second"
rb describe leap-second

say "runbook apply leap-second --dry-run: what would change, and the exact commands"
rb apply leap-second --inventory "$INV" --dry-run

say "runbook apply leap-second --serial 1, killed with SIGKILL after the first host is done"
# Started directly (not through the rb function) so that $! is the runbook process itself.
node bin/runbook.mjs apply leap-second --inventory "$INV" --serial 1 --json > "$RUNBOOK_STATE_DIR/killed.jsonl" &
run_pid=$!
for _ in $(seq 1 600); do
  grep -q '"kind":"host-end"' "$RUNBOOK_STATE_DIR/killed.jsonl" 2>/dev/null && break
  sleep 0.05
done
kill -9 "$run_pid" 2>/dev/null || true
wait "$run_pid" 2>/dev/null || true
echo "killed run $run_pid"

say "runbook runs: the killed run is unfinished"
rb runs

say "runbook resume: the first host is skipped, the rest is done"
rb resume

say "runbook apply leap-second again: everything is already fixed"
rb apply leap-second --inventory "$INV"

say "runbook show: the whole story of the resumed run"
run_id=$(head -n 1 "$RUNBOOK_STATE_DIR/killed.jsonl" | sed 's/.*"runId":"\([^"]*\)".*/\1/')
rb show "$run_id" --host xs-01

say "the lab's view: the livelock is gone"
rb lab state xs-01 | head -20

say "runbook lab down"
rb lab down
trap - EXIT
echo
echo "demo state (journals, logs) kept in $RUNBOOK_STATE_DIR"
