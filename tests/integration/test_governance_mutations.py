"""Each single mutation of the shipped templates must make `governance check` fail.

The mutations are applied to copies of infra/ in a temporary folder (the shipped files are
never touched), through the Python API so that dozens of checks stay fast.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hubspoke.config import load_config, project_root
from hubspoke.governance import build_model, check_model
from hubspoke.governance.cfn_yaml import load_template

pytestmark = pytest.mark.slow

INFRA = project_root() / "infra"
Template = dict[str, Any]
Mutation = tuple[str, str, Callable[[Template], None]]  # (name, template file, change)


def _dicts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dicts(item)


def statement(template: Template, sid: str) -> dict[str, Any]:
    """The one policy statement with ``sid`` anywhere in the template's Resources."""
    found = [d for d in _dicts(template["Resources"]) if d.get("Sid") == sid and "Effect" in d]
    assert len(found) == 1, f"expected one statement {sid!r}, found {len(found)}"
    return found[0]


def remove_statement(template: Template, sid: str) -> None:
    target = statement(template, sid)
    for node in _dicts(template["Resources"]):
        for value in node.values():
            if isinstance(value, list) and any(item is target for item in value):
                value[:] = [item for item in value if item is not target]
                return
    raise AssertionError(f"statement {sid!r} is not in a list")


def set_key(sid: str, key: str, value: Any) -> Callable[[Template], None]:
    def change(template: Template) -> None:
        statement(template, sid)[key] = copy.deepcopy(value)

    return change


def del_key(sid: str, key: str) -> Callable[[Template], None]:
    def change(template: Template) -> None:
        del statement(template, sid)[key]

    return change


def add_principal(sid: str, principal: str) -> Callable[[Template], None]:
    def change(template: Template) -> None:
        entry = statement(template, sid)["Principal"]
        aws = entry["AWS"]
        entry["AWS"] = [*(aws if isinstance(aws, list) else [aws]), principal]

    return change


def add_statement(resource: str, new: dict[str, Any]) -> Callable[[Template], None]:
    def change(template: Template) -> None:
        template["Resources"][resource]["Properties"]["PolicyDocument"]["Statement"].append(new)

    return change


def set_property(resource: str, key: str, value: Any) -> Callable[[Template], None]:
    def change(template: Template) -> None:
        template["Resources"][resource]["Properties"][key] = value

    return change


def drop_resource(logical_id: str) -> Callable[[Template], None]:
    """Remove a resource and the outputs that mention it."""

    def change(template: Template) -> None:
        del template["Resources"][logical_id]
        outputs = template.get("Outputs") or {}
        for key in [k for k, v in outputs.items() if logical_id in json.dumps(v)]:
            del outputs[key]

    return change


def give_orchestrator_update(template: Template) -> None:
    statement(template, "RegisterPendingModelPackages")["Action"] = [
        "sagemaker:CreateModelPackage",
        "sagemaker:UpdateModelPackage",
    ]
    deny = statement(template, "NeverApproveOrRewriteRegistry")
    deny["Action"] = [a for a in deny["Action"] if a != "sagemaker:UpdateModelPackage"]


ACCOUNTS = load_config().accounts
DEV_DEPLOYER = ACCOUNTS.deployer_arn("dev")
STAGING_ROOT = f"arn:aws:iam::{ACCOUNTS.account_id('staging')}:root"
LEDGER = {"Fn::Sub": "arn:${AWS::Partition}:s3:::hubspoke-artifacts-${AWS::AccountId}/ledger/*"}
OU_ID = {"Fn::GetAtt": ["StagingOu", "Id"]}

MUTATIONS: list[Mutation] = [
    ("orchestrator action widened to sagemaker:*", "hub.yaml",
     set_key("RegisterPendingModelPackages", "Action", "sagemaker:*")),
    ("deployer trust without aws:PrincipalOrgID", "spoke.yaml",
     del_key("HubOrchestratorOnly", "Condition")),
    ("dev deployer added to every deployer's trust", "spoke.yaml",
     add_principal("HubOrchestratorOnly", DEV_DEPLOYER)),
    ("SCP statement against spoke registry writes removed", "organization.yaml",
     lambda t: remove_statement(t, "DenySpokeModelRegistryWrites")),
    ("orchestrator given UpdateModelPackage", "hub.yaml", give_orchestrator_update),
    ("orchestrator's registry deny flipped to Allow", "hub.yaml",
     set_key("NeverApproveOrRewriteRegistry", "Effect", "Allow")),
    ("orchestrator may register packages already Approved", "hub.yaml",
     del_key("RegisterPendingModelPackages", "Condition")),
    ("hub bucket policy allows * on ledger/", "hub.yaml",
     add_statement("ArtifactsBucketPolicy", {"Sid": "LedgerForAll", "Effect": "Allow",
                   "Principal": "*", "Action": "s3:*", "Resource": LEDGER})),
    ("staging added to the dev bucket policy", "spoke.yaml",
     add_principal("HubOrchestratorReadsObjects", STAGING_ROOT)),
    ("dev bucket readable by everyone", "spoke.yaml",
     set_key("HubOrchestratorReadsObjects", "Principal", "*")),
    ("KMS-required SCP dropped", "organization.yaml",
     drop_resource("SageMakerEncryptionScp")),
    ("KMS-required SCP attached to staging only", "organization.yaml",
     set_property("SageMakerEncryptionScp", "TargetIds", [OU_ID])),
    ("endpoint-config KMS statement removed", "organization.yaml",
     lambda t: remove_statement(t, "DenyEndpointConfigWithoutVolumeKmsKey")),
    ("registry group share widened to sagemaker:*", "hub.yaml",
     set_key("ServingAccountsReadGroup", "Action", "sagemaker:*")),
    ("registry group share grants CreateModelPackage", "hub.yaml",
     set_key("ServingAccountsCreateModelFromVersions", "Action",
             ["sagemaker:CreateModel", "sagemaker:CreateModelPackage"])),
    ("execution role trust without aws:SourceAccount", "spoke.yaml",
     del_key("SageMakerOfThisAccount", "Condition")),
    ("deployer trusts the whole hub account", "spoke.yaml",
     set_key("HubOrchestratorOnly", "Principal",
             {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${HubAccountId}:root"}})),
    ("deployer trusts * (org condition kept)", "spoke.yaml",
     set_key("HubOrchestratorOnly", "Principal", "*")),
    ("region SCP statement removed", "organization.yaml",
     lambda t: remove_statement(t, "DenyOutsideAllowedRegions")),
    ("LeaveOrganization SCP statement removed", "organization.yaml",
     lambda t: remove_statement(t, "DenyLeaveOrganization")),
    ("serving SCP detached from prod", "organization.yaml",
     set_property("ServingDeployerOnlyScp", "TargetIds", [OU_ID])),
    ("serving SCP exempts every role", "organization.yaml",
     set_key("DenyServingChangesExceptDeployer", "Condition",
             {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}})),
    ("registry guard SCP attached to ml-hub instead of ml-workloads", "organization.yaml",
     set_property("SpokeRegistryGuardScp", "TargetIds", [{"Fn::GetAtt": ["MlHubOu", "Id"]}])),
    ("serving execution roles lose the models/ grant", "hub.yaml",
     lambda t: remove_statement(t, "ServingExecutionRolesReadModels")),
    ("execution role loses hub key decrypt", "spoke.yaml",
     set_key("DecryptHubModelsThroughS3", "Action", "kms:DescribeKey")),
    ("orchestrator may assume the dev deployer only", "hub.yaml",
     lambda t: statement(t, "AssumeSpokeDeployers").update(
         Resource=statement(t, "AssumeSpokeDeployers")["Resource"][:1])),
    ("deployer loses PassRole on the execution role", "spoke.yaml",
     lambda t: remove_statement(t, "PassExecutionRoleToSageMaker")),
    ("approver widened to sagemaker:*", "hub.yaml",
     set_key("SetApprovalStatus", "Action", "sagemaker:*")),
    ("execution role pulls images from any resource", "spoke.yaml",
     set_key("PullContainerImages", "Resource", "*")),
    ("hub bucket share widened to s3:*", "hub.yaml",
     set_key("ServingExecutionRolesReadModels", "Action", "s3:*")),
]  # fmt: skip


@pytest.fixture(scope="module")
def originals() -> dict[str, Template]:
    return {
        name: load_template(INFRA / name)
        for name in ("organization.yaml", "hub.yaml", "spoke.yaml")
    }


def _check(infra: Path) -> list[str]:
    """Names of the violated invariants for the templates in ``infra``."""
    results = check_model(build_model(infra, load_config()))
    return [r.name for r in results if not r.holds]


def test_unmutated_copy_passes(tmp_path: Path) -> None:
    shutil.copytree(INFRA, tmp_path / "infra")
    assert _check(tmp_path / "infra") == []


def test_every_mutation_is_caught(tmp_path: Path, originals: dict[str, Template]) -> None:
    assert len(MUTATIONS) >= 20
    started = time.perf_counter()
    missed: list[str] = []
    for index, (name, filename, change) in enumerate(MUTATIONS):
        infra = tmp_path / f"m{index:02d}"
        shutil.copytree(INFRA, infra)
        template = copy.deepcopy(originals[filename])
        change(template)
        # Long-form JSON is a valid CloudFormation template and valid YAML.
        (infra / filename).write_text(json.dumps(template, indent=1), encoding="utf-8")
        violated = _check(infra)
        print(f"{'caught' if violated else 'MISSED'}: {name} -> {', '.join(violated) or '-'}")
        if not violated:
            missed.append(name)
    elapsed = time.perf_counter() - started
    rate = 1 - len(missed) / len(MUTATIONS)
    print(
        f"catch rate {rate:.0%} ({len(MUTATIONS) - len(missed)}/{len(MUTATIONS)}) in {elapsed:.1f}s"
    )
    assert rate >= 0.95, f"missed: {missed}"
    assert elapsed < 60
