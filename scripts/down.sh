#!/usr/bin/env bash
# make down: stop what `make up` started, by the PIDs it recorded (each a process group).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${HUBSPOKE_STATE:-$PWD/.hubspoke}"
shopt -s nullglob
pids=("$STATE"/pids/*.pid)
if ((${#pids[@]} == 0)); then
    echo "nothing to stop (no PIDs in $STATE/pids)"
    exit 0
fi
for file in "${pids[@]}"; do
    pid="$(cat "$file")"
    # Components were started with setsid: their PID is their process group.
    kill -TERM -- "-$pid" 2>/dev/null || true
done
deadline=$((SECONDS + 30))
for file in "${pids[@]}"; do
    pid="$(cat "$file")"
    while kill -0 -- "-$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
    if kill -0 -- "-$pid" 2>/dev/null; then
        echo "$(basename "$file" .pid) did not stop in time; killing it"
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    echo "stopped $(basename "$file" .pid) ($pid)"
    rm -f "$file"
done
