"""`hubspoke governance check` and `hubspoke iam simulate` as a user runs them, on the shipped
infra/ and config/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hubspoke.config import load_config
from hubspoke.governance import INVARIANTS

pytestmark = pytest.mark.slow

HUBSPOKE = str(Path(sys.executable).parent / "hubspoke")
ACCOUNTS = load_config().accounts
HUB = ACCOUNTS.account_id("hub")
REGION = ACCOUNTS.region
PACKAGE = f"arn:aws:sagemaker:{REGION}:{HUB}:model-package/breast-cancer/1"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HUBSPOKE, *args], capture_output=True, text=True, timeout=120, check=False
    )


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return run("iam", "simulate", *args)


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run("governance", "world", "--json")
    assert result.returncode == 0, result.stderr
    path = tmp_path_factory.mktemp("world") / "world.json"
    path.write_text(result.stdout, encoding="utf-8")
    return path


def test_check_passes_on_shipped_infra_and_names_every_invariant() -> None:
    result = run("governance", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    for invariant in INVARIANTS:
        assert invariant.name in result.stdout
    assert "VIOLATED" not in result.stdout
    assert f"{len(INVARIANTS)} invariants: {len(INVARIANTS)} hold, 0 violated" in result.stdout


def test_check_json() -> None:
    result = run("governance", "check", "--json")
    payload = json.loads(result.stdout)
    assert payload["holds"] is True
    assert [i["name"] for i in payload["invariants"]] == [i.name for i in INVARIANTS]


def test_staging_deployer_cannot_approve_a_hub_package_scp_says_no() -> None:
    result = simulate(
        "--principal", ACCOUNTS.deployer_arn("staging"),
        "--action", "sagemaker:UpdateModelPackage",
        "--resource", PACKAGE,
        "--context", "sagemaker:ModelApprovalStatus=Approved",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("DENIED (explicit deny by scp:")
    assert "with an explicit deny in a service control policy" in result.stdout


@pytest.mark.parametrize(
    ("principal", "action", "resource"),
    [
        (ACCOUNTS.deployer_arn("prod"), "sagemaker:DescribeModelPackage", PACKAGE),
        (ACCOUNTS.deployer_arn("prod"), "sagemaker:CreateModel", PACKAGE),
        (
            ACCOUNTS.execution_role_arn("prod"),
            "s3:GetObject",
            f"arn:aws:s3:::{ACCOUNTS.artifacts_bucket}/models/breast-cancer/1/model.tar.gz",
        ),
    ],
)
def test_prod_reads_of_the_hub_package_are_allowed(
    principal: str, action: str, resource: str
) -> None:
    result = simulate("--principal", principal, "--action", action, "--resource", resource)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ALLOWED"), result.stdout


def test_dev_deployer_cannot_assume_the_staging_deployer() -> None:
    result = simulate(
        "--principal", ACCOUNTS.deployer_arn("dev"),
        "--action", "sts:AssumeRole",
        "--resource", ACCOUNTS.deployer_arn("staging"),
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stdout.startswith("DENIED")


@pytest.mark.parametrize("spoke", ["dev", "staging", "prod"])
def test_orchestrator_assumes_each_deployer_from_inside_the_org_only(
    spoke: str, world_file: Path
) -> None:
    org_id = json.loads(world_file.read_text())["organization"]["id"]
    request = [
        "--principal", ACCOUNTS.orchestrator_arn,
        "--action", "sts:AssumeRole",
        "--resource", ACCOUNTS.deployer_arn(spoke),
        "--json",
    ]  # fmt: skip
    inside = json.loads(simulate(*request, "--context", f"aws:PrincipalOrgID={org_id}").stdout)
    assert inside["allowed"] is True, inside["message"]
    outside = json.loads(simulate(*request, "--context", "aws:PrincipalOrgID=o-zzzzzzzzzz").stdout)
    assert outside["allowed"] is False
    assert outside["denied_by"] == "resource"


def test_simulate_with_a_world_file(world_file: Path) -> None:
    result = simulate(
        "--world", str(world_file),
        "--principal", ACCOUNTS.execution_role_arn("staging"),
        "--action", "s3:GetObject",
        "--resource", f"arn:aws:s3:::{ACCOUNTS.artifacts_bucket}/ledger/0001.json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("DENIED")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--principal", "arn:aws:iam::333333333333:role/nobody"], "unknown principal"),
        (["--resource", "not-an-arn"], "is not an ARN"),
        (["--action", "UpdateModelPackage"], "is not an IAM action"),
        (["--context", "no-equals-sign"], "expected key=value"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], expected: str) -> None:
    request = {
        "--principal": ACCOUNTS.deployer_arn("staging"),
        "--action": "sagemaker:DescribeModelPackage",
        "--resource": PACKAGE,
    }
    for flag, value in zip(args[::2], args[1::2], strict=True):
        request[flag] = value
    flat = [item for pair in request.items() for item in pair]
    result = simulate(*flat)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert expected in result.stderr


def test_bad_world_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "world.json"
    bad.write_text('{"principals": {"not-an-arn": {}}}', encoding="utf-8")
    result = simulate(
        "--world", str(bad),
        "--principal", ACCOUNTS.deployer_arn("staging"),
        "--action", "sagemaker:DescribeModelPackage",
        "--resource", PACKAGE,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: --world:") and result.stderr.count("\n") == 1


def test_check_exits_1_on_a_violation(tmp_path: Path) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    shipped = Path(__file__).resolve().parents[2] / "infra"
    for name in ("organization.yaml", "hub.yaml"):
        (infra / name).write_text((shipped / name).read_text())
    spoke = (shipped / "spoke.yaml").read_text()
    # Let every role of the organization assume the deployers, not just the orchestrator.
    widened = spoke.replace(
        "AWS: !Sub arn:${AWS::Partition}:iam::${HubAccountId}:role/${OrchestratorRoleName}\n"
        "            Action: sts:AssumeRole",
        'AWS: "*"\n            Action: sts:AssumeRole',
        1,
    )
    assert widened != spoke
    (infra / "spoke.yaml").write_text(widened)
    result = run("governance", "check", "--infra", str(infra))
    assert result.returncode == 1
    assert "only-orchestrator-assumes-deployers" in result.stdout
    assert "VIOLATED" in result.stdout
