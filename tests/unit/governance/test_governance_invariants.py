"""Invariants on the shipped templates and on copies with one deliberate hole, checking that
the counterexample names the principal, path, action, resource and deciding statement."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hubspoke.config import load_config, project_root
from hubspoke.governance import INVARIANTS, InvariantResult, build_model, check_model, run_check
from hubspoke.governance.scenario import Scenario

INFRA = project_root() / "infra"
ACCOUNTS = load_config().accounts


def check_with(tmp_path: Path, filename: str, old: str, new: str) -> dict[str, InvariantResult]:
    infra = tmp_path / "infra"
    shutil.copytree(INFRA, infra)
    text = (infra / filename).read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {filename}"
    (infra / filename).write_text(text.replace(old, new), encoding="utf-8")
    return {r.name: r for r in check_model(build_model(infra, load_config()))}


def test_shipped_templates_satisfy_every_invariant() -> None:
    results = run_check(INFRA, project_root() / "config")
    assert [r.name for r in results] == [i.name for i in INVARIANTS]
    failing = {r.name: r.counterexample for r in results if not r.holds}
    assert failing == {}
    assert all(r.checked > 0 for r in results)


def test_assume_graph_on_shipped_templates() -> None:
    scenario = Scenario(build_model(INFRA, load_config()))
    orchestrator = ACCOUNTS.orchestrator_arn
    reached = scenario.reachable(orchestrator)
    for spoke in ("dev", "staging", "prod"):
        assert ACCOUNTS.deployer_arn(spoke) in reached
        # ... and, by passing it to SageMaker, that spoke's execution role.
        hops = reached[ACCOUNTS.execution_role_arn(spoke)]
        assert [h.how for h in hops] == ["assume", "pass to sagemaker.amazonaws.com"]
    dev_root = scenario.root(ACCOUNTS.account_id("dev"))
    assert set(scenario.reachable(dev_root)) == {dev_root, ACCOUNTS.execution_role_arn("dev")}


def test_dev_bucket_shared_with_staging_names_the_granting_statement(tmp_path: Path) -> None:
    orchestrator = (
        "AWS: !Sub arn:${AWS::Partition}:iam::${HubAccountId}:role/${OrchestratorRoleName}"
    )
    results = check_with(
        tmp_path,
        "spoke.yaml",
        f"              {orchestrator}\n            Action: s3:GetObject",
        "              AWS:\n"
        f"                - {orchestrator[5:]}\n"
        f"                - arn:aws:iam::{ACCOUNTS.account_id('staging')}:root\n"
        "            Action: s3:GetObject",
    )
    result = results["serving-spokes-cannot-read-dev-bucket"]
    assert not result.holds
    example = result.counterexample
    assert example is not None
    assert example.principal.startswith(f"arn:aws:iam::{ACCOUNTS.account_id('staging')}:")
    assert example.action == "s3:GetObject"
    assert example.resource.startswith(f"arn:aws:s3:::{ACCOUNTS.dev_bucket}/")
    assert (example.policy, example.sid) == ("dev/DevBucketPolicy", "HubOrchestratorReadsObjects")
    assert example.outcome == "allowed"


def test_transitive_path_from_a_spoke_into_the_hub(tmp_path: Path) -> None:
    # The approver also trusts the dev account: anyone there can then act as the hub approver.
    dev_root = f"arn:aws:iam::{ACCOUNTS.account_id('dev')}:root"
    results = check_with(
        tmp_path,
        "hub.yaml",
        "          - Sid: PeopleAsIamUsersWithMfa\n",
        "          - Sid: DevAccountToo\n"
        "            Effect: Allow\n"
        f"            Principal: {{AWS: {dev_root}}}\n"
        "            Action: sts:AssumeRole\n"
        "          - Sid: PeopleAsIamUsersWithMfa\n",
    )
    example = results["no-assume-path-out-of-spokes"].counterexample
    assert example is not None
    assert example.via[-1] == ACCOUNTS.approver_arn
    assert example.action == "sts:AssumeRole"
    assert example.sid == "DevAccountToo"
    assert example.principal == dev_root
    # From the approver, dev could approve models: the registry invariant sees it too.
    registry = results["spokes-cannot-write-registry"].counterexample
    assert registry is not None
    assert (registry.principal, registry.via) == (dev_root, (ACCOUNTS.approver_arn,))
    assert registry.action == "sagemaker:UpdateModelPackage"


def test_trusting_a_role_that_cannot_call_assume_role_is_no_path(tmp_path: Path) -> None:
    # The dev deployer's own policy has no sts:AssumeRole: naming it in a hub trust policy
    # opens nothing (cross-account needs both sides), and nothing in dev can become it.
    results = check_with(
        tmp_path,
        "hub.yaml",
        "          - Sid: PeopleAsIamUsersWithMfa\n",
        "          - Sid: DevDeployerToo\n"
        "            Effect: Allow\n"
        f"            Principal: {{AWS: {ACCOUNTS.deployer_arn('dev')}}}\n"
        "            Action: sts:AssumeRole\n"
        "          - Sid: PeopleAsIamUsersWithMfa\n",
    )
    assert results["no-assume-path-out-of-spokes"].holds


@pytest.mark.parametrize("spoke", ["staging", "prod"])
def test_guardrail_counterexample_when_an_scp_is_detached(tmp_path: Path, spoke: str) -> None:
    other = "prod" if spoke == "staging" else "staging"
    ou = {"staging": "StagingOu", "prod": "ProdOu"}
    results = check_with(
        tmp_path,
        "organization.yaml",
        f"        - !GetAtt {ou['staging']}.Id\n        - !GetAtt {ou['prod']}.Id\n",
        f"        - !GetAtt {ou[other]}.Id\n",
    )
    result = results["scp-only-deployer-creates-endpoints"]
    assert not result.holds and result.counterexample is not None
    assert result.counterexample.principal.split(":")[4] == ACCOUNTS.account_id(spoke)
    assert result.counterexample.action == "sagemaker:CreateEndpoint"
    assert "expected an explicit deny from an SCP" in result.counterexample.message
