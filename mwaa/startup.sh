#!/usr/bin/env bash
# MWAA startup script for hubspoke (mwaa/build.py writes it to dist/mwaa/startup.sh with the
# revision filled in). MWAA runs it on every Airflow component before Airflow starts.
set -euo pipefail

airflow_home="${AIRFLOW_HOME:-/usr/local/airflow}"
dags_bundle="${airflow_home}/dags"

# config/accounts.yaml and config/models.yaml travel in the DAG bundle.
export HUBSPOKE_CONFIG_DIR="${dags_bundle}/config"
# The code revision recorded as lineage on every registered model version.
export HUBSPOKE_GIT_REVISION="__HUBSPOKE_GIT_REVISION__"

# pipelines/ travels in the DAG bundle beside config/: hubspoke resolves each model's
# pipeline directory against the config folder's parent when it holds pipelines/.

# The waits keep their AWS defaults; export any of these here to change them:
#   HUBSPOKE_APPROVAL_POLL_SECONDS    (30)   how often promote_<model> checks the registry approval
#   HUBSPOKE_APPROVAL_TIMEOUT_HOURS   (168)  how long a promotion waits for an approval before failing
#   HUBSPOKE_PIPELINE_POLL_SECONDS    (60)   how often retrain_<model> checks its pipeline execution
#   HUBSPOKE_PIPELINE_TIMEOUT_HOURS   (24)   how long it waits before stopping the execution and failing
