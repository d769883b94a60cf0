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
