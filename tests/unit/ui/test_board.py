"""The promotion board against localcloud: it matches the registry, the endpoints and the
ledger as they are when the test runs (other tests may have promoted versions already)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from hubspoke.board import config_version, promotion_board
from hubspoke.config import load_config
from hubspoke.deploy import plan
from hubspoke.ledger import Ledger, verify_records
from hubspoke.registry import group_arn, package_arn
from localcloud.server import LocalCloud

CONFIG = load_config()
ACCOUNTS = CONFIG.accounts
MODEL = CONFIG.models.get("breast-cancer")


def _register(localcloud: LocalCloud, metrics: dict[str, float]) -> str:
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "board")
    created = localcloud.client("sagemaker", orchestrator).create_model_package(
        ModelPackageGroupName=group_arn(ACCOUNTS, MODEL),
        ModelPackageDescription=f"board test {uuid.uuid4().hex[:6]}",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "sklearn", "ModelDataUrl": "s3://x/models/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={
            "hubspoke:dag-run-id": "manual__board",
            **{f"hubspoke:metric:{k}": f"{v:.6f}" for k, v in metrics.items()},
        },
    )
    return str(created["ModelPackageArn"])


def _deployer(localcloud: LocalCloud, env: str, service: str) -> Any:
    session = localcloud.credentials.issue_role_session(ACCOUNTS.deployer_arn(env), "board")
    return localcloud.client(service, session)


def _board(localcloud: LocalCloud) -> dict[str, Any]:
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "board")
    envs = ("staging", "prod")
    return promotion_board(
        localcloud.client("sagemaker", orchestrator),
        localcloud.client("s3", orchestrator),
        {env: _deployer(localcloud, env, "sagemaker") for env in envs},
        ACCOUNTS,
        [MODEL],
        {env: _deployer(localcloud, env, "cloudwatch") for env in envs},
    )


@pytest.fixture(scope="module")
def journey(localcloud: LocalCloud) -> dict[str, Any]:
    """Two fresh versions: the first approved in the registry, the second left pending."""
    approved = _register(localcloud, {"roc_auc": 0.975, "accuracy": 0.9})
    pending = _register(localcloud, {"roc_auc": 0.96})
    approver = localcloud.credentials.issue_role_session(ACCOUNTS.approver_arn, "reviewer")
    localcloud.client("sagemaker", approver).update_model_package(
        ModelPackageArn=approved,
        ModelApprovalStatus="Approved",
        ApprovalDescription="metrics reviewed on the board",
    )
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "ledger")
    ledger = Ledger(localcloud.client("s3", orchestrator), ACCOUNTS.artifacts_bucket)
    first, second = (int(arn.rsplit("/", 1)[-1]) for arn in (approved, pending))
    actor = ACCOUNTS.orchestrator_arn
    ledger.append(MODEL.name, "registered", actor=actor, version=first)
    ledger.append(MODEL.name, "registered", actor=actor, version=second)
    ledger.append(MODEL.name, "approved", actor=ACCOUNTS.approver_arn, version=first)
    return {"approved": approved, "pending": pending, "board": _board(localcloud)}


def _model(board: dict[str, Any]) -> dict[str, Any]:
    (model,) = board["models"]
    assert model["name"] == MODEL.name
    return dict(model)


def _version(board: dict[str, Any], arn: str) -> dict[str, Any]:
    (version,) = [v for v in _model(board)["versions"] if v["arn"] == arn]
    return dict(version)


def test_board_is_json(journey: dict[str, Any]) -> None:
    board = journey["board"]
    assert json.loads(json.dumps(board)) == board
    assert board["environments"] == ["staging", "prod"]
    assert board["hub_account"] == ACCOUNTS.account_id("hub")
    assert _model(board)["promote_dag_id"] == "promote_breast_cancer"


def test_versions_match_the_registry(localcloud: LocalCloud, journey: dict[str, Any]) -> None:
    hub = localcloud.client("sagemaker", localcloud.root_session(ACCOUNTS.account_id("hub")))
    listed = hub.list_model_packages(
        ModelPackageGroupName=group_arn(ACCOUNTS, MODEL), MaxResults=100
    )["ModelPackageSummaryList"]
    model = _model(journey["board"])
    assert [v["arn"] for v in model["versions"]] == sorted(
        (s["ModelPackageArn"] for s in listed),
        key=lambda arn: int(arn.rsplit("/", 1)[-1]),
        reverse=True,
    )
    for entry in model["versions"]:
        described = hub.describe_model_package(ModelPackageName=entry["arn"])
        assert entry["status"] == described["ModelApprovalStatus"]
        assert entry["approval_description"] == described.get("ApprovalDescription")
        assert entry["created"] == described["CreationTime"].isoformat()
    pending = [v["arn"] for v in model["versions"] if v["status"] == "PendingManualApproval"]
    assert [p["arn"] for p in model["pending_approvals"]] == pending


def test_approved_and_pending_versions(journey: dict[str, Any]) -> None:
    board = journey["board"]
    approved = _version(board, journey["approved"])
    assert approved["status"] == "Approved"
    assert approved["approval_description"] == "metrics reviewed on the board"
    assert approved["metrics"] == {"accuracy": 0.9, "roc_auc": 0.975}
    assert [(e["event"], e["environment"]) for e in approved["ledger"]] == [
        ("registered", None),
        ("approved", None),
    ]
    assert approved["ledger"][-1]["actor"] == ACCOUNTS.approver_arn
    pending = _version(board, journey["pending"])
    assert pending["status"] == "PendingManualApproval"
    assert pending["metrics"] == {"roc_auc": 0.96}
    assert [e["event"] for e in pending["ledger"]] == ["registered"]
    pending_arns = [p["arn"] for p in _model(board)["pending_approvals"]]
    assert journey["pending"] in pending_arns
    assert journey["approved"] not in pending_arns


def test_ledger_summary_matches_the_ledger(localcloud: LocalCloud, journey: dict[str, Any]) -> None:
    hub = localcloud.client("s3", localcloud.root_session(ACCOUNTS.account_id("hub")))
    ledger = Ledger(hub, ACCOUNTS.artifacts_bucket)
    raw = ledger.raw(MODEL.name)
    result = verify_records(MODEL.name, raw)
    summary = _model(journey["board"])["ledger"]
    assert summary["verification"] == {
        "ok": result.ok,
        "records": len(raw),
        "verified": result.records,
        "problem": result.problem,
    }
    newest = ledger.records(MODEL.name)[-10:][::-1]
    assert [(e["seq"], e["event"], e["at"]) for e in summary["recent"]] == [
        (r.seq, r.event, r.at) for r in newest
    ]
    # The fixture appended last, so the newest entry is its approval.
    first = int(journey["approved"].rsplit("/", 1)[-1])
    assert (summary["recent"][0]["event"], summary["recent"][0]["version"]) == ("approved", first)


def test_live_endpoints_match_the_spokes(localcloud: LocalCloud, journey: dict[str, Any]) -> None:
    live = _model(journey["board"])["live"]
    for env in ("staging", "prod"):
        spoke = localcloud.client("sagemaker", localcloud.root_session(ACCOUNTS.account_id(env)))
        names = [e["EndpointName"] for e in spoke.list_endpoints()["Endpoints"]]
        if f"{MODEL.name}-{env}" not in names:
            assert live[env] is None
            continue
        described = spoke.describe_endpoint(EndpointName=f"{MODEL.name}-{env}")
        assert live[env]["status"] == described["EndpointStatus"]
        assert live[env]["config"] == described["EndpointConfigName"]
        assert live[env]["version"] == config_version(
            described["EndpointConfigName"], MODEL.name, env
        )
        assert live[env]["rolled_back"] == (
            bool(described.get("FailureReason")) and described["EndpointStatus"] != "Failed"
        )


def test_config_version_reads_the_deterministic_name() -> None:
    kms = f"arn:aws:kms:{ACCOUNTS.region}:{ACCOUNTS.account_id('prod')}:key/k"
    for env in ("staging", "prod"):
        name = plan(MODEL, env, package_arn(ACCOUNTS, MODEL, 12), kms).config_name
        assert config_version(name, MODEL.name, env) == 12
    assert config_version("breast-cancer-v3-staging-0a1b2c3d", MODEL.name, "prod") is None
    assert config_version("hand-made-config", MODEL.name, "prod") is None
    assert config_version("breast-cancer-extra-v3-prod-0a1b2c3d", MODEL.name, "prod") is None


def test_rollback_alarms_show_their_state(localcloud: LocalCloud) -> None:
    from hubspoke.alarms import ensure_rollback_alarms

    prod = _deployer(localcloud, "prod", "cloudwatch")
    names = MODEL.environments.prod.deployment.alarm_names
    ensure_rollback_alarms(prod, MODEL, "prod", f"{MODEL.name}-prod")
    states = {a["AlarmName"]: a for a in prod.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    alarms = _model(_board(localcloud))["rollback_alarms"]
    assert alarms["staging"] == []  # config gives staging none
    assert [a["name"] for a in alarms["prod"]] == names
    for shown in alarms["prod"]:
        assert shown["state"] == states[shown["name"]]["StateValue"]
        assert shown["reason"] == states[shown["name"]]["StateReason"]
    json.dumps(alarms)


def test_a_rollback_alarm_not_created_yet_shows_as_missing(localcloud: LocalCloud) -> None:
    from hubspoke.board import rollback_alarms

    prod = MODEL.environments.prod
    strategy = prod.deployment.model_copy(
        update={"rollback_alarms": [f"nobody-{uuid.uuid4().hex[:6]}"]}
    )
    environments = MODEL.environments.model_copy(
        update={"prod": prod.model_copy(update={"deployment": strategy})}
    )
    named = MODEL.model_copy(update={"environments": environments})
    (shown,) = rollback_alarms(_deployer(localcloud, "prod", "cloudwatch"), named, "prod")
    assert (shown["state"], shown["reason"]) == ("MISSING", None)
