"""Bootstrap builds the organization of config/ and the stacks of infra/, idempotently;
`creds` hands out working sessions of the bootstrapped roles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hubspoke.config import load_config
from localcloud.authz.snapshot import build_world_dict
from localcloud.bootstrap import bootstrap
from localcloud.server import LocalCloud

ROOT = Path(__file__).resolve().parents[3]
HUBSPOKE = str(Path(sys.executable).with_name("hubspoke"))
CONFIG = load_config(ROOT / "config")
ACCOUNTS = CONFIG.accounts


def _state(cloud: LocalCloud) -> dict[str, object]:
    world = build_world_dict(cloud.accounts(), ACCOUNTS.account_id("management"), ACCOUNTS.region)
    world["groups"] = cloud.group_policies.as_resources()
    return world


def test_organization_matches_config(localcloud: LocalCloud) -> None:
    org = localcloud.client("organizations")
    accounts = {a["Id"]: a for a in org.list_accounts()["Accounts"]}
    for name in ("hub", "dev", "staging", "prod"):
        assert ACCOUNTS.account_id(name) in accounts
    roots = org.list_roots()["Roots"]
    (root,) = roots
    ous = {
        o["Name"]: o["Id"]
        for o in org.list_organizational_units_for_parent(ParentId=root["Id"])[
            "OrganizationalUnits"
        ]
    }
    assert set(ous) == {"ml-hub", "ml-workloads"}
    children = org.list_organizational_units_for_parent(ParentId=ous["ml-workloads"])[
        "OrganizationalUnits"
    ]
    assert {o["Name"] for o in children} == {"dev", "staging", "prod"}
    prod_ou = next(o["Id"] for o in children if o["Name"] == "prod")
    assert [a["Id"] for a in org.list_accounts_for_parent(ParentId=prod_ou)["Accounts"]] == [
        ACCOUNTS.account_id("prod")
    ]
    scps = {
        p["Name"]
        for p in org.list_policies_for_target(TargetId=prod_ou, Filter="SERVICE_CONTROL_POLICY")[
            "Policies"
        ]
    }
    assert "hubspoke-serving-deployer-only" in scps


def test_stack_resources_exist_in_their_accounts(localcloud: LocalCloud) -> None:
    hub = localcloud.root_session(ACCOUNTS.account_id("hub"))
    iam = localcloud.client("iam", hub)
    assert (
        iam.get_role(RoleName="hubspoke-orchestrator")["Role"]["Arn"] == ACCOUNTS.orchestrator_arn
    )
    s3 = localcloud.client("s3", hub)
    encryption = s3.get_bucket_encryption(Bucket=ACCOUNTS.artifacts_bucket)
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    policy = json.loads(s3.get_bucket_policy(Bucket=ACCOUNTS.artifacts_bucket)["Policy"])
    assert any("ledger" in json.dumps(st) for st in policy["Statement"])
    sagemaker = localcloud.client("sagemaker", hub)
    group = sagemaker.describe_model_package_group(ModelPackageGroupName="breast-cancer")
    assert group["ModelPackageGroupArn"].endswith(":111111111111:model-package-group/breast-cancer")
    share = json.loads(
        sagemaker.get_model_package_group_policy(ModelPackageGroupName="breast-cancer")[
            "ResourcePolicy"
        ]
    )
    assert "sagemaker:DescribeModelPackage" in json.dumps(share)
    dev = localcloud.root_session(ACCOUNTS.account_id("dev"))
    assert localcloud.client("s3", dev).head_bucket(Bucket=ACCOUNTS.dev_bucket)
    for spoke in ("dev", "staging", "prod"):
        role = localcloud.client(
            "iam", localcloud.root_session(ACCOUNTS.account_id(spoke))
        ).get_role(RoleName="hubspoke-spoke-deployer")["Role"]
        assert ACCOUNTS.orchestrator_arn in json.dumps(role["AssumeRolePolicyDocument"])


def test_bootstrap_twice_changes_nothing(localcloud: LocalCloud) -> None:
    before = _state(localcloud)
    report = bootstrap(localcloud)
    assert report.changes == []
    assert _state(localcloud) == before


def test_creds_output_works_in_a_shell(localcloud: LocalCloud) -> None:
    creds = f"{HUBSPOKE} localcloud creds {ACCOUNTS.orchestrator_arn} --endpoint {localcloud.url}"
    who = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
    script = f'eval "$({creds})" && {sys.executable} -c "{who}"'
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip()
        == "arn:aws:sts::111111111111:assumed-role/hubspoke-orchestrator/localcloud-creds"
    )


def test_creds_for_an_unknown_role_is_one_line(localcloud: LocalCloud) -> None:
    result = subprocess.run(
        [
            HUBSPOKE,
            "localcloud",
            "creds",
            "arn:aws:iam::111111111111:role/nope",
            "--endpoint",
            localcloud.url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: no role 'arn:aws:iam::111111111111:role/nope' in localcloud"
    )


def test_bootstrap_command_is_idempotent(localcloud: LocalCloud) -> None:
    result = subprocess.run(
        [HUBSPOKE, "localcloud", "bootstrap", "--endpoint", localcloud.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "already bootstrapped: nothing changed" in result.stdout
