"""Approvals become promotion requests: the event path, duplicates, and lost events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hubspoke.config import load_config
from hubspoke.ledger import Ledger
from localcloud.server import LocalCloud

CONFIG = load_config()
ACCOUNTS = CONFIG.accounts

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_db", "airflow_as_orchestrator")]


def _register(localcloud: LocalCloud) -> str:
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "events")
    return str(
        localcloud.client("sagemaker", orchestrator).create_model_package(
            ModelPackageGroupName="breast-cancer",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": "sklearn", "ModelDataUrl": "s3://x/models/m.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
    )


def _announced(run: Any) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(
                AssetModel.name == "hubspoke-approved-breast-cancer",
                AssetEvent.source_run_id == run.run_id,
            )
        ).all()
        return [dict(r.extra) for r in rows]


def test_an_approval_is_announced_once(
    localcloud: LocalCloud, dags: dict[str, Any], approve: Callable[..., None]
) -> None:
    arn = _register(localcloud)
    approve(arn)
    first = dags["hubspoke_approval_events"].test()
    assert str(first.state) == "success"
    assert _announced(first) == [{"package_arn": arn, "source": "event"}]
    # The same approval again (a repeated event) and the poll re-finding it: nothing new.
    second = dags["hubspoke_approval_events"].test()
    assert str(second.state) == "success"
    assert _announced(second) == []
    hub = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("hub")))
    version = int(arn.rsplit("/", 1)[-1])
    records = Ledger(hub, ACCOUNTS.artifacts_bucket).records("breast-cancer", version)
    assert [r.event for r in records] == ["promotion_requested"]


def test_a_lost_event_is_caught_by_reconciliation(
    localcloud: LocalCloud, dags: dict[str, Any], approve: Callable[..., None]
) -> None:
    arn = _register(localcloud)
    approve(arn)
    sqs = localcloud.client("sqs", localcloud.root_session(ACCOUNTS.account_id("hub")))
    sqs.purge_queue(
        QueueUrl=sqs.get_queue_url(QueueName="hubspoke-model-package-events")["QueueUrl"]
    )
    run = dags["hubspoke_approval_events"].test()
    assert _announced(run) == [{"package_arn": arn, "source": "reconciliation"}]
