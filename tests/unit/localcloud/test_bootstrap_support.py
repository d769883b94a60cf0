"""A stack localcloud cannot build is refused before anything of it is created."""

from __future__ import annotations

import pytest

from hubspoke.governance.cfn import ResolvedResource, ResolvedStack, StackEnv
from localcloud.bootstrap.resources import UnsupportedTemplate, check_supported

ENV = StackEnv(
    stack_name="s",
    account="111111111111",
    region="us-east-1",
    partition="aws",
    organization_id="o-1234567890",
    organization_root_id="r-abcd",
    management_account="123456789012",
)


def _stack(*resources: ResolvedResource) -> ResolvedStack:
    return ResolvedStack("hub.yaml", ENV, {}, {}, {r.logical_id: r for r in resources})


def test_supported_stack_passes() -> None:
    check_supported(_stack(ResolvedResource("R", "AWS::IAM::Role", {"RoleName": "r"}, "r")))


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (ResolvedResource("T", "AWS::SNS::Topic", {}, "t"), "cannot bootstrap AWS::SNS::Topic"),
        (
            ResolvedResource("R", "AWS::IAM::Role", {"ManagedPolicyArns": ["arn:x"]}, "r"),
            "R: managed policies and boundaries are not bootstrapped locally",
        ),
    ],
)
def test_unsupported_stack_is_refused(resource: ResolvedResource, message: str) -> None:
    with pytest.raises(UnsupportedTemplate, match=message):
        check_supported(_stack(resource))
