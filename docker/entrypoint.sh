#!/usr/bin/env bash
# Entrypoint of the Airflow containers in docker-compose.yaml (local only).
#
# Airflow runs as the hub orchestrator. Locally that identity comes from localcloud: wait until
# localcloud answers /_localcloud/health, take a session of $HUBSPOKE_ORCHESTRATOR_ARN with
# `hubspoke localcloud creds` (which sends $LOCALCLOUD_CONTROL_TOKEN), then hand over to the
# official image's /entrypoint with the Airflow component (api-server, scheduler,
# dag-processor, triggerer) as arguments.
#
# On AWS (MWAA) this script is not used: the environment's execution role, which is
# hubspoke-orchestrator, provides the credentials, and the account connections carry no
# endpoint URLs.
set -euo pipefail

endpoint="${HUBSPOKE_LOCALCLOUD_URL:-http://localcloud:4599}"
role_arn="${HUBSPOKE_ORCHESTRATOR_ARN:?set HUBSPOKE_ORCHESTRATOR_ARN to the hub orchestrator role ARN}"
wait_seconds="${HUBSPOKE_LOCALCLOUD_WAIT_SECONDS:-300}"

deadline=$((SECONDS + wait_seconds))
until curl --fail --silent --output /dev/null "${endpoint}/_localcloud/health"; do
    if ((SECONDS >= deadline)); then
        echo "localcloud at ${endpoint} did not become healthy within ${wait_seconds} s;" \
            "check the localcloud service's logs" >&2
        exit 1
    fi
    sleep 2
done

credentials="$(hubspoke localcloud creds "${role_arn}" --endpoint "${endpoint}")"
eval "${credentials}"
# The account connections carry endpoint_url themselves, as on AWS they carry none: keep the
# process-wide override out so that nothing reaches localcloud except through a connection.
unset AWS_ENDPOINT_URL
echo "Airflow runs as ${role_arn} (session from localcloud at ${endpoint})" >&2

exec /entrypoint "$@"
