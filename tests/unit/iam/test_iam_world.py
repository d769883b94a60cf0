"""The World contract: loading, validation errors, and the lookups the evaluator relies on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from iam_worlds import (
    BUCKET,
    DEV,
    GROUP,
    HUB,
    MGMT,
    ORCHESTRATOR,
    PACKAGE,
    PROD,
    deployer,
    hub_spoke,
    with_changes,
)

from hubspoke.iam import World, WorldValidationError


@pytest.fixture(scope="module")
def world() -> World:
    return World.from_dict(hub_spoke())


def test_round_trip(tmp_path: Path, world: World) -> None:
    assert world.to_dict() == hub_spoke()
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world.to_dict()))
    assert World.from_json_file(path).to_dict() == hub_spoke()
    assert World.from_dict({}).to_dict() == {}


def test_resource_policy_lookup(world: World) -> None:
    bucket = world.resource_policy_for(f"{BUCKET}/models/churn/model.tar.gz")
    assert bucket is not None and bucket.arn == BUCKET and bucket.account == HUB
    group = world.resource_policy_for(PACKAGE)
    assert group is not None and group.arn == GROUP
    trust = world.resource_policy_for(deployer(DEV), "sts:AssumeRole")
    assert trust is not None and trust.trust and trust.account == DEV
    assert world.resource_policy_for(deployer(DEV), "iam:GetRole") is None
    assert world.resource_policy_for("arn:aws:s3:::someone-elses-bucket/k") is None


def test_accounts_and_org_paths(world: World) -> None:
    assert world.account_of(f"{BUCKET}/k") == HUB  # from the entry's "account"
    assert world.account_of(PACKAGE) == HUB
    assert world.account_of("arn:aws:s3:::unknown-bucket") is None
    assert world.ou_path(PROD) == "o-abc123example/r-root/ou-wl/ou-prod/"
    assert world.ou_path(HUB) == "o-abc123example/r-root/ou-hub/"
    assert world.ou_path("999999999999") is None
    levels = world.scp_levels(PROD)
    assert levels is not None
    assert [level.label for level in levels] == ["Root", "ml-workloads", "prod"]
    assert world.scp_levels(MGMT) is None  # the management account is exempt


def test_account_level_scps() -> None:
    data = hub_spoke()
    data["organization"]["account_policies"] = {PROD: ["FullAWSAccess"]}
    levels = World.from_dict(data).scp_levels(PROD)
    assert levels is not None and levels[-1].label == f"account {PROD}"


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    data = hub_spoke()
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (with_changes(hub_spoke(), principal={}), "unknown top-level key"),
        (_broken(["organization", "management_account"], "12"), "organization.management_account"),
        (_broken(["organization", "root", "children", 0, "policies"], ["Nope"]),
         r"organization\.root\.children\[0\]\.policies\[0\]: SCP 'Nope' is not defined"),
        (_broken(["organization", "root", "children", 0, "accounts"], [MGMT]), "appears twice"),
        (_broken(["organization", "root", "polices"], []), "unknown key"),
        (_broken(["principals", ORCHESTRATOR, "policies", "registry", "Statement"],
                 [{"Effect": "Allow"}]),
         r"principals\['arn:aws:iam::111111111111:role/hubspoke-orchestrator'\]\.policies\['registry'\]"),
        (_broken(["principals", "arn:aws:iam::111111111111:group/g"], {}), "IAM role or user ARNs"),
        (_broken(["resources", BUCKET, "account"], "hub"), r"resources\['arn:aws:s3:::hubspoke"),
        (_broken(["resources", BUCKET, "policy"],
                 {"Statement": {"Effect": "Allow", "Action": "s3:*"}}),
         "must name a Principal"),
        (_broken(["scps", "Bad"], {"Statement": {"Effect": "Maybe", "Action": "*"}}),
         r"scps\['Bad'\]"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_bad_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(WorldValidationError, match=message):
        World.from_dict(data)


def test_users_have_no_trust_policy() -> None:
    data: dict[str, Any] = {
        "principals": {"arn:aws:iam::111111111111:user/u": {"trust_policy": {"Statement": []}}}
    }
    with pytest.raises(WorldValidationError, match="only roles have a trust policy"):
        World.from_dict(data)


def test_bad_json_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{")
    with pytest.raises(WorldValidationError, match="cannot read world JSON"):
        World.from_json_file(path)
    path.write_text(json.dumps({"resources": {"not-an-arn": {"policy": {}}}}))
    with pytest.raises(WorldValidationError, match=r"broken\.json: resources\['not-an-arn'\]"):
        World.from_json_file(path)
