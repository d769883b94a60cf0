"""The real DagBag over dags/: nothing fails to import, every model has its DAGs, and the
DAGs follow the project's rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from hubspoke.config import load_config

DAGS = Path(__file__).resolve().parents[2] / "dags"
MODELS = load_config().models.models
EXPECTED = {f"{kind}_{m.dag_suffix}" for m in MODELS for kind in ("retrain", "promote", "rollback")}


@pytest.fixture(scope="module")
def bag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(bag: DagBag) -> None:
    assert bag.import_errors == {}, bag.import_errors


def test_every_model_has_its_dags(bag: DagBag) -> None:
    assert set(bag.dag_ids) == EXPECTED | {"hubspoke_approval_events"}, sorted(bag.dag_ids)


def test_promote_runs_on_its_models_approval_asset(bag: DagBag) -> None:
    for model in MODELS:
        promote = bag.dags[f"promote_{model.dag_suffix}"]
        events = bag.dags["hubspoke_approval_events"]
        announce = events.get_task(f"announce_{model.dag_suffix}")
        assert [a.name for a in announce.outlets] == [f"hubspoke-approved-{model.name}"]
        assert f"hubspoke-approved-{model.name}" in str(promote.timetable.asset_condition)


def test_dags_have_docs_tags_owner_and_retries(bag: DagBag) -> None:
    for dag_id in EXPECTED:
        dag = bag.dags[dag_id]
        assert dag.doc_md and "hubspoke" in dag.tags
        for task in dag.tasks:
            assert task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} is never retried"


def test_every_aws_task_names_its_account_connection(bag: DagBag) -> None:
    for dag_id in EXPECTED:
        for task in bag.dags[dag_id].tasks:
            conn_id = getattr(task, "aws_conn_id", None)
            if conn_id is not None:
                assert conn_id in {"aws_hub", "aws_dev", "aws_staging", "aws_prod"}, (
                    f"{dag_id}.{task.task_id} uses {conn_id!r}"
                )


def test_no_production_task_runs_before_both_approvals(bag: DagBag) -> None:
    for model in MODELS:
        dag = bag.dags[f"promote_{model.dag_suffix}"]
        prod_tasks = [t for t in dag.tasks if t.task_id.startswith("prod.")]
        assert prod_tasks, "the promote DAG has no prod tasks"
        for prod_task in prod_tasks:
            upstream = prod_task.get_flat_relative_ids(upstream=True)
            assert {"wait_for_approval", "production_gate"} <= upstream, (
                f"{prod_task.task_id} can run before an approval: upstream is {sorted(upstream)}"
            )


def test_manual_production_gate_is_a_human_in_the_loop_approval(bag: DagBag) -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    for model in MODELS:
        gate = bag.dags[f"promote_{model.dag_suffix}"].get_task("production_gate")
        if model.approval.production == "manual":
            assert isinstance(gate, ApprovalOperator)


@pytest.mark.parametrize(
    ("conf", "problem"),
    [
        ({}, None),
        ({"package_arn": None, "version": None}, None),
        ({"version": 3}, None),
        ({"package_arn": "arn:aws:sagemaker:us-east-1:111111111111:model-package/m/7"}, None),
        ({"version": 0}, "less than the minimum"),
        ({"version": "three"}, "is not of type"),
        ({"package_arn": "breast-cancer/7"}, "does not match"),
        ({"package_arn": "arn:aws:sagemaker:us-east-1:111111111111:model-package/m"}, "match"),
    ],
)
def test_promote_params_accept_either_or_neither(
    bag: DagBag, conf: dict[str, object], problem: str | None
) -> None:
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(bag.dags["promote_breast_cancer"].params)
    if problem is None:
        params.update(conf)
        params.validate()
    else:
        with pytest.raises(ParamValidationError, match=problem):
            params.update(conf)
            params.validate()
