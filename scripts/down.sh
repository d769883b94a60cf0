#!/usr/bin/env bash
# make down: stop what `make up` started, by the PIDs it recorded (each a process group).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${HUBSPOKE_STATE:-$PWD/.hubspoke}"
shopt -s nullglob

# A group is running while any member is not a zombie: where PID 1 does not reap orphans
# (some container inits), exited members stay as zombies and `kill -0` still finds them.
running() {  # pgid
    ps -eo pgid=,stat= | awk -v group="$1" '$1 == group && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}
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
    while running "$pid" && ((SECONDS < deadline)); do sleep 0.5; done
    if running "$pid"; then
        echo "$(basename "$file" .pid) did not stop in time; killing it"
        kill -KILL -- "-$pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do running "$pid" || break; sleep 0.5; done
    fi
    echo "stopped $(basename "$file" .pid) ($pid)"
    rm -f "$file"
done
