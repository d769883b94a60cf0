#!/usr/bin/env bash
# make up: localcloud (bootstrapped) + Airflow 3.3 (api-server, scheduler, dag-processor,
# triggerer; LocalExecutor on SQLite) on this machine, with the account connections pointing
# at localcloud. Every process is started in its own session and recorded by PID in
# $HUBSPOKE_STATE/pids, so `make down` stops exactly what this started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
STATE="${HUBSPOKE_STATE:-$ROOT/.hubspoke}"
AIRFLOW_PORT="${AIRFLOW_PORT:-8080}"
LOCALCLOUD_PORT="${LOCALCLOUD_PORT:-4599}"
PY="$ROOT/.venv/bin/python"
HUBSPOKE="$ROOT/.venv/bin/hubspoke"
AIRFLOW="$ROOT/.venv/bin/airflow"
mkdir -p "$STATE/logs" "$STATE/pids"

if compgen -G "$STATE/pids/*.pid" >/dev/null; then
    echo "hubspoke: a stack is already recorded in $STATE/pids; run 'make down' first" >&2
    exit 1
fi

start() {  # name, command...
    local name="$1"; shift
    setsid "$@" >"$STATE/logs/$name.log" 2>&1 < /dev/null &
    echo $! >"$STATE/pids/$name.pid"
}

wait_for() {  # what, seconds, check command...
    local what="$1" seconds="$2"; shift 2
    local deadline=$((SECONDS + seconds))
    printf 'waiting for %s ' "$what"
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS > deadline)); then
            echo; echo "hubspoke: $what not ready after ${seconds}s; see $STATE/logs/" >&2
            exit 1
        fi
        printf '.'; sleep 1
    done
    echo " ready"
}

started=$SECONDS
# localcloud hands out keys only to callers with this token (made here, never printed); the
# Airflow components inherit it, as their credential_process asks localcloud for a session.
LOCALCLOUD_CONTROL_TOKEN="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')"
export LOCALCLOUD_CONTROL_TOKEN
start localcloud "$HUBSPOKE" localcloud serve --port "$LOCALCLOUD_PORT"
wait_for "localcloud on :$LOCALCLOUD_PORT" 90 curl -sf "http://127.0.0.1:$LOCALCLOUD_PORT/_localcloud/health"

# Airflow runs as the hub orchestrator (as MWAA's execution role would); the SDKs refresh the
# session by calling credential_process again before it expires.
ORCHESTRATOR="$("$PY" -c 'from hubspoke.config import load_accounts; print(load_accounts().orchestrator_arn)')"
cat >"$STATE/aws-config" <<CONFIG
[default]
region = $("$PY" -c 'from hubspoke.config import load_accounts; print(load_accounts().region)')
credential_process = $HUBSPOKE localcloud creds $ORCHESTRATOR --credential-process --endpoint http://127.0.0.1:$LOCALCLOUD_PORT
CONFIG
export AWS_CONFIG_FILE="$STATE/aws-config" AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_PROFILE

mkdir -p "$STATE/airflow"
printf '{"admin": "admin"}\n' >"$STATE/airflow/passwords.json"
export AIRFLOW_HOME="$STATE/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__PARALLELISM=4          # 2 cores: a few task processes at a time
export AIRFLOW__API__PORT="$AIRFLOW_PORT"
export AIRFLOW__API__WORKERS=1
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$AIRFLOW_PORT/execution/"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$STATE/airflow/passwords.json"
# Tokens of this stack are signed with a secret made for it (a known secret lets anyone
# forge an admin token).
AIRFLOW__API_AUTH__JWT_SECRET="$("$PY" -c 'import secrets; print(secrets.token_hex(32))')"
export AIRFLOW__API_AUTH__JWT_SECRET
export LOCALCLOUD_TIME_SCALE="${LOCALCLOUD_TIME_SCALE:-0.05}"
# The approval and pipeline waits poll every 2 s against localcloud (30 s and 60 s on AWS).
export HUBSPOKE_APPROVAL_POLL_SECONDS="${HUBSPOKE_APPROVAL_POLL_SECONDS:-2}"
export HUBSPOKE_PIPELINE_POLL_SECONDS="${HUBSPOKE_PIPELINE_POLL_SECONDS:-2}"
eval "$("$PY" - "$LOCALCLOUD_PORT" <<'CONNECTIONS'
import shlex, sys
from hubspoke.aws.connections import account_connections, connection_env
from hubspoke.config import load_accounts
url = f"http://127.0.0.1:{sys.argv[1]}"
for name, value in connection_env(account_connections(load_accounts(), "localcloud", url)).items():
    print(f"export {name}={shlex.quote(value)}")
CONNECTIONS
)"

"$AIRFLOW" db migrate >"$STATE/logs/db-migrate.log" 2>&1
start api-server "$AIRFLOW" api-server --port "$AIRFLOW_PORT"
start scheduler "$AIRFLOW" scheduler
start dag-processor "$AIRFLOW" dag-processor
start triggerer "$AIRFLOW" triggerer

healthy() {
    curl -sf "http://127.0.0.1:$AIRFLOW_PORT/api/v2/monitor/health" | "$PY" -c '
import json, sys
health = json.load(sys.stdin)
parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
sys.exit(0 if all(health.get(p, {}).get("status") == "healthy" for p in parts) else 1)'
}
wait_for "Airflow on :$AIRFLOW_PORT (api-server, scheduler, dag-processor, triggerer)" 180 healthy

echo
echo "Airflow UI:  http://127.0.0.1:$AIRFLOW_PORT   (login admin / admin)"
echo "Promotions:  http://127.0.0.1:$AIRFLOW_PORT/hubspoke/"
echo "localcloud:  http://127.0.0.1:$LOCALCLOUD_PORT   (hubspoke localcloud creds --admin --endpoint http://127.0.0.1:$LOCALCLOUD_PORT;"
echo "             its control token is in ${HUBSPOKE_STATE:-$HOME/.cache/hubspoke}/localcloud-$LOCALCLOUD_PORT.token)"
echo "ready in $((SECONDS - started)) s; logs in $STATE/logs; stop with: make down"
