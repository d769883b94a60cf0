"""Static checks of the CloudFormation templates in infra/.

cfn-lint and checkov must be clean, and the templates must keep the shape the governance
resolver reads: every policy inline, only the intrinsic functions it can evaluate, no wildcard
action anywhere, every SCP statement a named deny.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
TEMPLATES = ("organization.yaml", "hub.yaml", "spoke.yaml")

# What the resolver evaluates (plus Fn::ForEach::<Loop> keys and Condition references).
ALLOWED_INTRINSICS = {
    "Ref",
    "Fn::Sub",
    "Fn::GetAtt",
    "Fn::If",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::Equals",
    "Fn::Not",
    "Fn::And",
    "Fn::Or",
}
NO_VALUE = {"Ref": "AWS::NoValue"}


def load(name: str) -> dict[str, Any]:
    template = cfn_yaml.load(str(INFRA / name))
    assert isinstance(template, dict), f"{name} is not a mapping"
    return template


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def policies(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every policy document: IAM, trust, key, bucket, queue, SCP, model package group."""
    for node in walk(template.get("Resources", {})):
        if isinstance(node, dict) and "Statement" in node and "Version" in node:
            yield node


def statements(policy: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Statements of a policy, both branches of Fn::If, without AWS::NoValue."""
    raw = policy["Statement"]
    pending = list(raw) if isinstance(raw, list) else [raw]
    while pending:
        item = pending.pop(0)
        if isinstance(item, dict) and set(item) == {"Fn::If"}:
            _, yes, no = item["Fn::If"]
            pending.extend(branch for branch in (yes, no) if branch != NO_VALUE)
        else:
            assert isinstance(item, dict), f"statement is not a mapping: {item!r}"
            yield item


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    found = template["Resources"][logical_id]
    assert isinstance(found, dict)
    return found


def role_statements(template: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    props = resource(template, logical_id)["Properties"]
    return [s for p in props["Policies"] for s in statements(p["PolicyDocument"])]


def model_package_group(template: dict[str, Any]) -> dict[str, Any]:
    loop = template["Resources"]["Fn::ForEach::ModelPackageGroups"]
    _identifier, _collection, fragment = loop
    (group,) = fragment.values()
    assert group["Type"] == "AWS::SageMaker::ModelPackageGroup"
    return group


# --------------------------------------------------------------------------- parsing, linting


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_parses(name: str) -> None:
    template = load(name)
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Resources"], f"{name} declares no resources"


@pytest.mark.parametrize("name", TEMPLATES)
def test_cfn_lint_reports_no_errors_or_warnings(name: str) -> None:
    matches = lint_file(INFRA / name)
    problems = [m for m in matches if m.rule.id[0] in ("E", "W")]
    assert not problems, "\n".join(str(m) for m in problems)


@pytest.mark.slow
def test_checkov_has_no_failed_checks(uv_command: list[str]) -> None:
    # checkov runs in its own locked environment (tools/checkov) through uv.
    completed = subprocess.run(
        [
            *uv_command,
            "run",
            "--project",
            "tools/checkov",
            "--locked",
            "checkov",
            "-d",
            "infra",
            "--framework",
            "cloudformation",
            "--quiet",
            "--skip-download",
            "--output",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.stdout.strip(), f"checkov printed nothing:\n{completed.stderr[-3000:]}"
    report = json.loads(completed.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for r in reports
        for check in r.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)
    assert sum(r["summary"]["passed"] for r in reports) > 0, "checkov checked nothing"


# --------------------------------------------------------------------------- shape for the resolver


@pytest.mark.parametrize("name", TEMPLATES)
def test_only_resolvable_intrinsic_functions(name: str) -> None:
    used: set[str] = set()
    for node in walk(load(name)):
        if isinstance(node, dict):
            used.update(
                k for k in node if k.startswith("Fn::") and not k.startswith("Fn::ForEach::")
            )
            if "Ref" in node and len(node) == 1:
                used.add("Ref")
    assert used <= ALLOWED_INTRINSICS, f"{name} uses {sorted(used - ALLOWED_INTRINSICS)}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_managed_policy_attached_by_arn(name: str) -> None:
    for logical_id, res in load(name)["Resources"].items():
        if isinstance(res, dict) and res.get("Type") == "AWS::IAM::Role":
            assert "ManagedPolicyArns" not in res.get("Properties", {}), logical_id


def test_spoke_has_no_transform() -> None:
    # StackSets with service-managed permissions refuse templates with a Transform.
    assert "Transform" not in load("spoke.yaml")


# --------------------------------------------------------------------------- policy hygiene


@pytest.mark.parametrize("name", TEMPLATES)
def test_no_policy_grants_every_action(name: str) -> None:
    for policy in policies(load(name)):
        for statement in statements(policy):
            for action in as_list(statement.get("Action", [])):
                assert action not in ("*", "*:*"), f"{name}: {statement.get('Sid')} has Action '*'"
            if statement.get("Effect") == "Allow":
                assert "NotAction" not in statement, f"{name}: Allow with NotAction"
                assert statement.get("Principal") != "*", f"{name}: Allow to everyone"


@pytest.mark.parametrize("name", TEMPLATES)
def test_sids_are_unique_within_each_policy(name: str) -> None:
    for policy in policies(load(name)):
        sids = [s["Sid"] for s in statements(policy) if "Sid" in s]
        assert len(sids) == len(set(sids)), f"{name}: duplicate Sid in {sids}"


def test_every_scp_statement_is_a_named_deny() -> None:
    template = load("organization.yaml")
    scps = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Organizations::Policy"
        and r["Properties"]["Type"] == "SERVICE_CONTROL_POLICY"
    ]
    assert len(scps) >= 4
    for scp in scps:
        props = scp["Properties"]
        assert props["TargetIds"], props["Name"]
        for statement in statements(props["Content"]):
            assert statement.get("Sid"), f"{props['Name']}: statement without Sid"
            assert statement["Effect"] == "Deny", f"{props['Name']}: {statement['Sid']}"


def test_root_scp_keeps_the_baseline() -> None:
    template = load("organization.yaml")
    baseline = resource(template, "BaselineGuardrailsScp")["Properties"]
    assert baseline["TargetIds"] == [{"Ref": "OrganizationRootId"}]
    sids = {s["Sid"] for s in statements(baseline["Content"])}
    assert {"DenyLeaveOrganization", "DenyCloudTrailTampering", "DenyOutsideAllowedRegions"} <= sids


# --------------------------------------------------------------------------- separation of duties


def _grants(statement: dict[str, Any], action: str) -> bool:
    service, name = action.split(":")
    for pattern in as_list(statement.get("Action", [])):
        p_service, _, p_name = pattern.partition(":")
        if p_service == service and (
            p_name == name or (p_name.endswith("*") and name.startswith(p_name[:-1]))
        ):
            return True
    return False


def test_orchestrator_can_register_but_never_approve() -> None:
    hub = load("hub.yaml")
    stmts = role_statements(hub, "OrchestratorRole")
    allows = [s for s in stmts if s["Effect"] == "Allow"]
    assert not any(_grants(s, "sagemaker:UpdateModelPackage") for s in allows)
    assert any(_grants(s, "sagemaker:UpdateModelPackage") for s in stmts if s["Effect"] == "Deny")
    (register,) = [s for s in allows if _grants(s, "sagemaker:CreateModelPackage")]
    assert register["Condition"]["StringEquals"]["sagemaker:ModelApprovalStatus"] == (
        "PendingManualApproval"
    )
    assert not any(_grants(s, "s3:DeleteObject") for s in allows)


def test_approver_only_sets_approval_status() -> None:
    hub = load("hub.yaml")
    allows = [s for s in role_statements(hub, "ApproverRole") if s["Effect"] == "Allow"]
    writes = [
        s
        for s in allows
        if not all(a.split(":")[1].startswith(("Describe", "List")) for a in as_list(s["Action"]))
    ]
    assert len(writes) == 1
    (update,) = writes
    assert as_list(update["Action"]) == ["sagemaker:UpdateModelPackage"]
    assert sorted(update["Condition"]["StringEquals"]["sagemaker:ModelApprovalStatus"]) == [
        "Approved",
        "Rejected",
    ]


def test_model_package_group_policy_is_promotable() -> None:
    group = model_package_group(load("hub.yaml"))
    policy = group["Properties"]["ModelPackageGroupPolicy"]
    for statement in statements(policy):
        assert statement["Effect"] == "Allow"
        for principal in as_list(statement["Principal"]["AWS"]):
            assert principal["Fn::Sub"].endswith(":root"), "RAM promotion needs account principals"
        for action in as_list(statement["Action"]):
            assert "*" not in action
            assert action.split(":")[1].startswith(("Describe", "List", "CreateModel"))
            assert action != "sagemaker:CreateModelPackage"


def test_spoke_deployer_trusts_only_the_hub_orchestrator_in_the_org() -> None:
    spoke = load("spoke.yaml")
    trust = resource(spoke, "DeployerRole")["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = list(statements(trust))
    orchestrator = "arn:${AWS::Partition}:iam::${HubAccountId}:role/${OrchestratorRoleName}"
    assert statement["Principal"] == {"AWS": {"Fn::Sub": orchestrator}}
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrgId"}}}


def test_hub_ledger_is_append_only_and_hub_only() -> None:
    hub = load("hub.yaml")
    policy = resource(hub, "ArtifactsBucketPolicy")["Properties"]["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in statements(policy)}
    assert by_sid["DenyLedgerDeletes"]["Effect"] == "Deny"
    assert "Condition" not in by_sid["DenyLedgerDeletes"]
    assert by_sid["DenyLedgerOutsideHub"]["Condition"] == {
        "StringNotEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}
    }
    assert by_sid["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
