"""Policy grammar, Action/Resource matching, case rules and policy variables."""

from __future__ import annotations

from typing import Any

import pytest
from iam_worlds import allow, deny, doc, stmt

from hubspoke.iam import PolicyValidationError, parse_policy
from hubspoke.iam.context import RequestContext
from hubspoke.iam.matching import normalize_arn
from hubspoke.iam.principals import Caller, parse_principal


def verdict(document: dict[str, Any], action: str, resource: str, **context: Any) -> str:
    """'deny', 'allow' or 'none' for one identity-based document."""
    policy = parse_policy(document, "p")
    ctx = RequestContext.build({k.replace("__", ":"): v for k, v in context.items()}, {})
    outcome = policy.evaluate(action.lower(), normalize_arn(resource), ctx)
    return "deny" if outcome.deny else "allow" if outcome.allow else "none"


# -- actions ---------------------------------------------------------------------------------
def test_actions_are_case_insensitive_with_wildcards() -> None:
    assert verdict(allow("S3:getobject"), "s3:GetObject", "*") == "allow"
    assert verdict(allow("s3:Get*"), "s3:GetObjectAcl", "*") == "allow"
    assert verdict(allow("s3:?etObject"), "s3:GetObject", "*") == "allow"
    assert verdict(allow("s3:Get*"), "s3:PutObject", "*") == "none"
    assert verdict(allow("*"), "anything:At", "*") == "allow"
    assert (
        verdict(allow("sagemaker:*ModelPackage*"), "sagemaker:UpdateModelPackage", "*") == "allow"
    )


def test_not_action_and_not_resource() -> None:
    everything_but_iam = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert verdict(everything_but_iam, "s3:GetObject", "*") == "allow"
    assert verdict(everything_but_iam, "iam:CreateUser", "*") == "none"
    not_logs = doc({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::logs/*"})
    assert verdict(not_logs, "s3:GetObject", "arn:aws:s3:::data/x") == "deny"
    assert verdict(not_logs, "s3:GetObject", "arn:aws:s3:::logs/x") == "none"


# -- resources ---------------------------------------------------------------------------------
def test_resource_arns_are_case_sensitive_except_the_service() -> None:
    assert (
        verdict(
            allow("s3:GetObject", "arn:aws:s3:::Bucket/*"), "s3:GetObject", "arn:aws:s3:::bucket/k"
        )
        == "none"
    )
    assert (
        verdict(
            allow("s3:GetObject", "arn:aws:S3:::bucket/*"), "s3:GetObject", "arn:aws:s3:::bucket/k"
        )
        == "allow"
    )


def test_resource_wildcards_stay_inside_a_segment() -> None:
    pattern = "arn:aws:sagemaker:*:111111111111:model-package/*"
    hit = "arn:aws:sagemaker:us-east-1:111111111111:model-package/churn/3"
    miss = "arn:aws:sagemaker:us-east-1:222222222222:x:111111111111:model-package/churn/3"
    assert verdict(allow("sagemaker:*", pattern), "sagemaker:DescribeModelPackage", hit) == "allow"
    assert verdict(allow("sagemaker:*", pattern), "sagemaker:DescribeModelPackage", miss) == "none"
    # The resource segment takes the rest, colons included; a short pattern's '*' runs on.
    assert (
        verdict(allow("s3:*", "arn:aws:s3:::b/*"), "s3:GetObject", "arn:aws:s3:::b/a:b:c")
        == "allow"
    )
    assert verdict(allow("s3:*", "arn:aws:*"), "s3:GetObject", "arn:aws:s3:::b/k") == "allow"
    # A specific pattern never covers the resource "*".
    assert (
        verdict(allow("s3:ListAllMyBuckets", "arn:aws:s3:::*"), "s3:ListAllMyBuckets", "*")
        == "none"
    )


def test_statement_without_resource_covers_every_resource() -> None:
    assert (
        verdict(doc({"Effect": "Allow", "Action": "s3:*"}), "s3:GetObject", "arn:aws:s3:::b/k")
        == "allow"
    )


# -- variables -----------------------------------------------------------------------------------
def test_variables_in_resource() -> None:
    home = allow("s3:*", "arn:aws:s3:::mybucket/home/${aws:username}/*")
    assert (
        verdict(home, "s3:GetObject", "arn:aws:s3:::mybucket/home/david/a", aws__username="david")
        == "allow"
    )
    assert (
        verdict(home, "s3:GetObject", "arn:aws:s3:::mybucket/home/maria/a", aws__username="david")
        == "none"
    )


def test_special_and_default_variables() -> None:
    star = allow("s3:GetObject", "arn:aws:s3:::b/literal${*}star")
    assert verdict(star, "s3:GetObject", "arn:aws:s3:::b/literal*star") == "allow"
    assert verdict(star, "s3:GetObject", "arn:aws:s3:::b/literalXstar") == "none"
    dollar = allow("s3:GetObject", "arn:aws:s3:::b/${$}x${?}")
    assert verdict(dollar, "s3:GetObject", "arn:aws:s3:::b/$x?") == "allow"
    team = allow("s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/*")
    assert verdict(team, "s3:GetObject", "arn:aws:s3:::b/shared/x") == "allow"
    assert (
        verdict(team, "s3:GetObject", "arn:aws:s3:::b/ml/x", **{"aws__PrincipalTag/team": "ml"})
        == "allow"
    )


def test_unresolved_variable_invalidates_the_statement_for_allow_and_deny() -> None:
    resource = "arn:aws:s3:::b/${aws:username}/*"
    assert verdict(allow("s3:*", resource), "s3:GetObject", "arn:aws:s3:::b/x/y") == "none"
    cond = {"StringNotEquals": {"s3:prefix": "${aws:username}"}}
    assert (
        verdict(deny("s3:*", "*", Condition=cond), "s3:ListBucket", "*", s3__prefix="a") == "none"
    )


def test_version_2008_keeps_variables_literal() -> None:
    old = {
        "Version": "2008-10-17",
        "Statement": stmt("Allow", "s3:*", "arn:aws:s3:::b/${aws:username}"),
    }
    assert (
        verdict(old, "s3:GetObject", "arn:aws:s3:::b/${aws:username}", aws__username="x") == "allow"
    )
    assert verdict(old, "s3:GetObject", "arn:aws:s3:::b/x", aws__username="x") == "none"


# -- grammar --------------------------------------------------------------------------------------
def test_single_statement_object_and_string_fields() -> None:
    single = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    }
    assert verdict(single, "s3:GetObject", "*") == "allow"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"Statement": [{"Effect": "Permit", "Action": "s3:*", "Resource": "*"}]},
            r"Statement\[0\]\.Effect",
        ),
        ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "needs Action or NotAction"),
        (
            {"Statement": [{"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*"}]},
            "both Action",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]},
            "service:action",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resources": "*"}]},
            "unknown element",
        ),
        ({"Version": "2020-01-01", "Statement": []}, "Version"),
        ({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}, "non-empty"),
        (
            {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Principal": "*"}]},
            "cannot name a Principal",
        ),
    ],
)
def test_validation_errors_name_the_element(document: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyValidationError, match=message):
        parse_policy(document, "p")


def test_resource_policies_must_name_a_principal() -> None:
    with pytest.raises(PolicyValidationError, match="must name a Principal"):
        parse_policy(allow("s3:*"), "bucket", resource_based=True)


def test_principal_forms() -> None:
    spec = parse_principal(
        {"AWS": ["111111111111", "arn:aws:iam::222222222222:root",
                 "arn:aws:iam::333333333333:role/r"],
         "Service": "SageMaker.amazonaws.com"},
        "Principal",
    )  # fmt: skip
    assert spec.accounts == {"111111111111", "222222222222"}
    assert spec.arns == {"arn:aws:iam::333333333333:role/r"}
    assert spec.services == {"sagemaker.amazonaws.com"}
    assert parse_principal("*", "Principal").everyone
    assert parse_principal({"AWS": "*"}, "Principal").everyone
    with pytest.raises(PolicyValidationError, match="principal type"):
        parse_principal({"Aws": "*"}, "Principal")
    with pytest.raises(PolicyValidationError, match="not an account ID"):
        parse_principal({"AWS": "bob"}, "Principal")


def test_not_principal_excludes_only_when_every_level_is_listed() -> None:
    session = Caller(
        "s", "role", "444455556666", "arn:aws:iam::444455556666:role/audit",
        "arn:aws:sts::444455556666:assumed-role/audit/app", "audit",
    )  # fmt: skip
    full = parse_principal(
        {"AWS": ["arn:aws:sts::444455556666:assumed-role/audit/app",
                 "arn:aws:iam::444455556666:role/audit", "arn:aws:iam::444455556666:root"]},
        "NotPrincipal",
    )  # fmt: skip
    assert full.excludes(session)
    role_only = parse_principal({"AWS": "arn:aws:iam::444455556666:role/audit"}, "NotPrincipal")
    assert not role_only.excludes(session)
