"""hubspoke: one retrain, promote and rollback DAG per model in config/models.yaml.

(The words airflow and dag in this docstring let airflow's safe-mode scan pick the file up.)

Wiring only: the factories in ``hubspoke.dagfactory`` build each DAG from the model's entry;
no AWS call, Variable or Connection is read while this file is parsed.
"""

from __future__ import annotations

from hubspoke.config import load_config
from hubspoke.dagfactory import approval_events_dag, promote_dag, retrain_dag, rollback_dag

_config = load_config()

for _model in _config.models.models:
    for _factory in (retrain_dag, promote_dag, rollback_dag):
        _dag = _factory(_model, _config.accounts)
        globals()[_dag.dag_id] = _dag

_events = approval_events_dag(_config.models.models, _config.accounts)
globals()[_events.dag_id] = _events
