"""Building each model's DAGs from its entry in config/models.yaml.

Nothing here touches the network when a DAG file is parsed: the factories only read the
configuration; every AWS call happens inside a task, through an account connection.
"""

from __future__ import annotations

from hubspoke.dagfactory.approval_events import approval_events_dag
from hubspoke.dagfactory.promote import promote_dag
from hubspoke.dagfactory.retrain import retrain_dag
from hubspoke.dagfactory.rollback import rollback_dag

__all__ = ["approval_events_dag", "promote_dag", "retrain_dag", "rollback_dag"]
