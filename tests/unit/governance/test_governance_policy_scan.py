"""The static least-privilege rules, one statement at a time."""

from __future__ import annotations

from typing import Any

import pytest

from hubspoke.governance.policy_scan import (
    confinement_findings,
    share_findings,
    wildcard_findings,
)

ROLE = "arn:aws:iam::111111111111:role/r"
KEY = "arn:aws:kms:us-east-1:111111111111:key/k"
BUCKET = "arn:aws:s3::111111111111:hub-bucket"


def allow(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Resource": "arn:aws:s3:::b/*", **fields}


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        (allow(Action="*"), "grants every action"),
        (allow(Action="sagemaker:*"), "wildcard over write actions"),
        (allow(Action="s3:*Object"), "wildcard over write actions"),
        (allow(NotAction="s3:GetObject"), "NotAction in an Allow grants every other action"),
        (allow(Action="s3:PutObject", Resource="*"), "action on every resource"),
        (allow(Action="s3:GetObject", Resource="*"), "action on every resource"),
    ],
)
def test_identity_findings(statement: dict[str, Any], rule: str) -> None:
    assert rule in [f[0] for f in wildcard_findings(ROLE, "identity", statement)]


@pytest.mark.parametrize(
    "statement",
    [
        allow(Action=["s3:Get*", "s3:List*", "sagemaker:Describe*"]),
        allow(Action="cloudwatch:PutMetricData", Resource="*"),  # allowlisted: no resource ARN
        allow(Action="sagemaker:ListModelPackages", Resource="*"),
        allow(Action="kms:GenerateDataKey*", Resource=KEY),
    ],
)
def test_identity_statements_that_pass(statement: dict[str, Any]) -> None:
    assert list(wildcard_findings(ROLE, "identity", statement)) == []


def test_kms_star_only_for_the_keys_own_account_root() -> None:
    own = allow(Action="kms:*", Resource="*", Principal={"AWS": "arn:aws:iam::111111111111:root"})
    other = allow(Action="kms:*", Resource="*", Principal={"AWS": "arn:aws:iam::222222222222:root"})
    assert list(wildcard_findings(KEY, "resource", own)) == []
    assert [f[0] for f in wildcard_findings(KEY, "resource", other)] == [
        "wildcard over write actions"
    ]


def test_resource_policies_may_say_resource_star() -> None:
    statement = allow(Action="kms:Decrypt", Resource="*", Principal={"AWS": "222222222222"})
    assert list(wildcard_findings(KEY, "resource", statement)) == []


@pytest.mark.parametrize(
    ("statement", "found"),
    [
        (allow(Principal="*", Action="s3:GetObject"), True),
        (allow(Principal={"AWS": "*"}, Action="s3:GetObject"), True),
        (
            allow(
                Principal="*",
                Action="s3:GetObject",
                Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
            ),
            False,
        ),
        (
            allow(
                Principal="*",
                Action="s3:GetObject",
                Condition={"Bool": {"aws:SecureTransport": "true"}},
            ),
            True,
        ),
        (allow(Principal={"Service": "events.amazonaws.com"}, Action="sqs:SendMessage"), True),
        (
            allow(
                Principal={"Service": "events.amazonaws.com"},
                Action="sqs:SendMessage",
                Condition={"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/r"}},
            ),
            False,
        ),
        ({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}, False),
    ],
)
def test_confinement(statement: dict[str, Any], found: bool) -> None:
    findings = list(confinement_findings(BUCKET, "resource", statement))
    assert bool(findings) is found or statement["Effect"] == "Deny"


def test_hub_shares_are_read_only() -> None:
    rule = share_findings("111111111111")
    read = allow(Principal={"AWS": "arn:aws:iam::333333333333:root"}, Action=["s3:GetObject"])
    write = allow(Principal={"AWS": "333333333333"}, Action=["s3:GetObject", "s3:PutObject"])
    own = allow(Principal={"AWS": "arn:aws:iam::111111111111:root"}, Action="s3:PutObject")
    create_model = allow(Principal={"AWS": "333333333333"}, Action="sagemaker:CreateModel")
    assert list(rule(BUCKET, "resource", read)) == []
    assert [f[1] for f in rule(BUCKET, "resource", write)] == ["s3:PutObject"]
    assert list(rule(BUCKET, "resource", own)) == []
    assert list(rule(BUCKET, "resource", create_model)) == []
    # Only hub resources are held to it.
    spoke_bucket = "arn:aws:s3::222222222222:dev-bucket"
    assert list(rule(spoke_bucket, "resource", write)) == []
