"""From registry approvals to promotions: the hub's event queue plus a reconciliation poll.

SageMaker puts a "SageMaker Model Package State Change" event on the hub bus for every
registration and approval change; EventBridge delivers it (best effort, possibly twice) to
the orchestrator's queue. :func:`pending_promotions` drains the queue, keeps approvals of our
groups, and — because events can be lost — also asks the registry directly for approved
versions that the ledger has never seen deployed. Each model yields at most one version per
poll: the newest approved one not yet deployed to staging.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig, ModelConfig
    from hubspoke.ledger import Ledger

DETAIL_TYPE = "SageMaker Model Package State Change"
QUEUE_NAME = "hubspoke-model-package-events"


@dataclass(frozen=True)
class Approval:
    model: str
    package_arn: str
    version: int
    source: str  # "event" | "reconciliation"


def approval_from_message(body: str, models: set[str]) -> Approval | None:
    """The approval a queue message announces, or None (not ours, not an approval)."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    detail = event.get("detail") or {}
    if event.get("detail-type") != DETAIL_TYPE or detail.get("ModelApprovalStatus") != "Approved":
        return None
    group = detail.get("ModelPackageGroupName")
    arn = detail.get("ModelPackageArn")
    if group not in models or not arn:
        return None
    return Approval(
        group, arn, int(detail.get("ModelPackageVersion") or arn.rsplit("/", 1)[-1]), "event"
    )


def drain_queue(
    sqs: Any, queue_url: str, models: set[str], max_batches: int = 20
) -> list[Approval]:
    """Receive and delete every message now on the queue; return the approvals among them."""
    approvals = []
    for _ in range(max_batches):
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            approval = approval_from_message(message["Body"], models)
            if approval is not None:
                approvals.append(approval)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return approvals


def _handled_versions(ledger: Ledger, model: str) -> set[int]:
    """Versions already deployed somewhere or already announced for promotion."""
    return {
        r.version
        for r in ledger.records(model)
        if r.event in {"deployed", "rolled_back", "promotion_requested"} and r.version is not None
    }


def reconcile(sagemaker: Any, accounts: AccountsConfig, model: ModelConfig) -> list[Approval]:
    """Approved versions in the registry (newest first), whether or not an event arrived."""
    from hubspoke.registry import group_arn, package_version

    response = sagemaker.list_model_packages(
        ModelPackageGroupName=group_arn(accounts, model),
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=10,
    )
    return [
        Approval(
            model.name,
            s["ModelPackageArn"],
            package_version(s["ModelPackageArn"]),
            "reconciliation",
        )
        for s in response.get("ModelPackageSummaryList", [])
    ]


def pending_promotions(
    *,
    sqs: Any,
    sagemaker: Any,
    ledger: Ledger,
    accounts: AccountsConfig,
    models: list[ModelConfig],
) -> dict[str, Approval]:
    """Per model, the newest approved version never deployed nor announced (deduplicated:
    repeated events, and the poll re-finding an announced version, yield nothing new)."""
    names = {m.name for m in models}
    queue_url = sqs.get_queue_url(QueueName=QUEUE_NAME)["QueueUrl"]
    candidates = drain_queue(sqs, queue_url, names)
    for model in models:
        candidates += reconcile(sagemaker, accounts, model)
    chosen: dict[str, Approval] = {}
    for model in models:
        done = _handled_versions(ledger, model.name)
        newest_done = max(done, default=0)
        fresh = [
            a
            for a in candidates
            if a.model == model.name and a.version not in done and a.version > newest_done
        ]
        if fresh:
            # Prefer the event over the poll when both saw the same version.
            best = max(fresh, key=lambda a: (a.version, a.source == "event"))
            chosen[model.name] = best
    return chosen
