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


def test_retrain_runs_its_pipeline_once_per_run(bag: DagBag) -> None:
    from hubspoke.operators.pipeline import (
        RunPipelineOperator,
        pipeline_poll_seconds,
        pipeline_timeout,
    )

    for model in MODELS:
        train = bag.dags[f"retrain_{model.dag_suffix}"].get_task("train")
        assert isinstance(train, RunPipelineOperator)
        assert (train.pipeline_name, train.aws_conn_id) == (model.name, "aws_dev")
        assert "{{ run_id }}" in train.display_name
        # The waits take their settings from the environment (2 s polls in this suite).
        assert train.poll_interval == pipeline_poll_seconds() == 2.0
        assert train.wait_timeout == pipeline_timeout()


def test_the_approval_wait_takes_its_settings_from_the_environment(bag: DagBag) -> None:
    from hubspoke.operators.approval import approval_poll_seconds, approval_timeout

    for model in MODELS:
        wait = bag.dags[f"promote_{model.dag_suffix}"].get_task("wait_for_approval")
        assert wait.poll_interval == approval_poll_seconds() == 2.0
        assert wait.wait_timeout == approval_timeout()


def test_the_approval_wait_polls_at_the_operators_default_interval(bag: DagBag) -> None:
    from hubspoke.operators.approval import WaitForApprovalOperator

    default = WaitForApprovalOperator(task_id="probe", package_arn="arn").poll_interval
    for model in MODELS:
        wait = bag.dags[f"promote_{model.dag_suffix}"].get_task("wait_for_approval")
        assert wait.poll_interval == default


def test_a_deployment_is_recorded_before_it_is_validated(bag: DagBag) -> None:
    for model in MODELS:
        dag = bag.dags[f"promote_{model.dag_suffix}"]
        for environment in ("staging", "prod"):
            record = dag.get_task(f"{environment}.record_deployment")
            assert record.upstream_task_ids == {f"{environment}.deploy"}
            assert dag.get_task(f"{environment}.validate").upstream_task_ids == {record.task_id}


def test_failures_are_recorded_without_hiding_them(bag: DagBag) -> None:
    """Each environment's failure recorder runs when its deploy or validate task fails, and
    nothing depends on it: the run's other leaves still fail, so the run fails."""
    watched = {
        "promote": {env: {f"{env}.deploy", f"{env}.validate"} for env in ("staging", "prod")},
        "rollback": {env: {f"{env}.deploy"} for env in ("staging", "prod")},
    }
    for model in MODELS:
        for kind, environments in watched.items():
            dag = bag.dags[f"{kind}_{model.dag_suffix}"]
            for environment, upstream in environments.items():
                recorder = dag.get_task(f"{environment}.record_failure")
                assert recorder.trigger_rule == "one_failed"
                assert recorder.upstream_task_ids == upstream
                assert recorder.downstream_task_ids == set()
                for task_id in upstream:
                    assert dag.get_task(task_id).on_failure_callback, task_id
        promote = bag.dags[f"promote_{model.dag_suffix}"]
        rejection = promote.get_task("record_rejection")
        assert rejection.trigger_rule == "one_failed"
        assert rejection.upstream_task_ids == {"wait_for_approval"}
        assert rejection.downstream_task_ids == set()
        # The leaf that only succeeds when everything did.
        assert promote.get_task("promoted").upstream_task_ids == {"prod.validate"}
