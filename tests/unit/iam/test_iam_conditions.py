"""Condition operators, following "IAM JSON policy elements: Condition operators" and
"Creating a condition with multiple keys or values"."""

from __future__ import annotations

from typing import Any

import pytest

from hubspoke.iam import PolicyValidationError
from hubspoke.iam.conditions import parse_condition
from hubspoke.iam.context import RequestContext
from hubspoke.iam.variables import Unresolved


def holds(block: dict[str, Any], variables: bool = True, /, **context: Any) -> bool:
    """Evaluate a Condition block against ``context`` (``__`` in names stands for ``:``)."""
    ctx = RequestContext.build({k.replace("__", ":"): v for k, v in context.items()}, {})
    try:
        return all(c.holds(ctx) for c in parse_condition(block, variables=variables))
    except Unresolved:
        return False


# -- string operators --------------------------------------------------------------------
def test_string_equals_is_case_sensitive_and_ignorecase_is_not() -> None:
    block = {"StringEquals": {"aws:PrincipalTag/team": "ml"}}
    assert holds(block, **{"aws__PrincipalTag/team": "ml"})
    assert not holds(block, **{"aws__PrincipalTag/team": "ML"})
    ignore = {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "ml"}}
    assert holds(ignore, **{"aws__PrincipalTag/team": "ML"})
    assert not holds({"StringNotEqualsIgnoreCase": {"k": "ml"}}, k="Ml")


def test_context_keys_are_case_insensitive() -> None:
    assert holds(
        {"StringEquals": {"AWS:SourceAccount": "111111111111"}}, aws__sourceaccount="111111111111"
    )


def test_string_like_wildcards() -> None:
    block = {"StringLike": {"s3:prefix": ["home/*", "tmp/?"]}}
    assert holds(block, s3__prefix="home/david/x")
    assert holds(block, s3__prefix="tmp/a")
    assert not holds(block, s3__prefix="tmp/ab")
    assert not holds(block, s3__prefix="HOME/x")  # case-sensitive
    assert holds({"StringNotLike": {"s3:prefix": "home/*"}}, s3__prefix="etc/x")


def test_multiple_values_are_ored_and_negated_operators_need_no_match() -> None:
    assert holds({"StringEquals": {"k": ["a", "b"]}}, k="b")
    # StringNotEquals with several values: true only if the value matches none of them.
    assert not holds({"StringNotEquals": {"k": ["a", "b"]}}, k="b")
    assert holds({"StringNotEquals": {"k": ["a", "b"]}}, k="c")


def test_multiple_keys_and_operators_are_anded() -> None:
    block = {"StringEquals": {"a": "1", "b": "2"}, "Bool": {"aws:SecureTransport": "true"}}
    assert holds(block, a="1", b="2", aws__SecureTransport=True)
    assert not holds(block, a="1", b="3", aws__SecureTransport=True)
    assert not holds(block, a="1", b="2", aws__SecureTransport=False)


# -- missing keys ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", False),
        ("StringLike", False),
        ("StringNotEquals", True),  # negated operators are true on a missing key
        ("StringNotLike", True),
        ("ArnNotLike", True),
        ("NumericNotEquals", True),
        ("Bool", False),
        ("StringEqualsIfExists", True),
        ("StringNotEqualsIfExists", True),
        ("BoolIfExists", True),
    ],
)
def test_missing_key(operator: str, expected: bool) -> None:
    value = "true" if operator.startswith("Bool") else "1"
    if operator.startswith("Arn"):
        value = "arn:aws:sns:us-east-1:111111111111:t"
    assert holds({operator: {"absent:key": value}}) is expected


def test_if_exists_still_tests_a_present_key() -> None:
    block = {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
    assert holds(block)
    assert holds(block, ec2__InstanceType="t2.micro")
    assert not holds(block, ec2__InstanceType="p4d.24xlarge")


def test_null() -> None:
    assert holds({"Null": {"aws:TokenIssueTime": "true"}})
    assert not holds(
        {"Null": {"aws:TokenIssueTime": "true"}}, aws__TokenIssueTime="2024-01-01T00:00:00Z"
    )
    assert holds(
        {"Null": {"aws:TokenIssueTime": "false"}}, aws__TokenIssueTime="2024-01-01T00:00:00Z"
    )
    assert holds({"Null": {"aws:TagKeys": "true"}}, aws__TagKeys=[])  # an empty set is null
    with pytest.raises(PolicyValidationError, match="IfExists"):
        parse_condition({"NullIfExists": {"k": "true"}}, variables=True)


# -- set operators -----------------------------------------------------------------------
def test_for_all_values_is_true_on_a_missing_key_or_empty_set() -> None:
    # The documented gotcha: an Allow with ForAllValues alone lets a request without the key in.
    block = {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}
    assert holds(block)
    assert holds(block, aws__TagKeys=[])
    assert holds(block, aws__TagKeys=["env"])
    assert not holds(block, aws__TagKeys=["env", "owner"])


def test_for_any_value_is_false_on_a_missing_key_or_empty_set() -> None:
    block = {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "Post*"]}}
    assert not holds(block)
    assert not holds(block, dynamodb__requestedAttributes=[])
    assert holds(block, dynamodb__requestedAttributes=["UserName", "PostDateTime"])
    assert holds({"ForAnyValue:StringEqualsIfExists": {"k": "a"}})


def test_set_operators_with_negated_operators() -> None:
    all_not = {"ForAllValues:StringNotEquals": {"k": ["a", "b"]}}
    assert holds(all_not, k=["c", "d"])
    assert not holds(all_not, k=["c", "a"])
    any_not = {"ForAnyValue:StringNotEquals": {"k": ["a", "b"]}}
    assert holds(any_not, k=["a", "c"])
    assert not holds(any_not, k=["a", "b"])


def test_org_paths_is_multivalued() -> None:
    block = {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc/r-root/ou-wl/*"}}
    assert holds(block, aws__PrincipalOrgPaths=["o-abc/r-root/ou-wl/ou-stg/"])
    assert not holds(block, aws__PrincipalOrgPaths=["o-abc/r-root/ou-hub/"])


# -- other operator families ----------------------------------------------------------------
def test_numeric() -> None:
    assert holds({"NumericLessThanEquals": {"s3:max-keys": "10"}}, **{"s3__max-keys": 10})
    assert not holds({"NumericLessThanEquals": {"s3:max-keys": "10"}}, **{"s3__max-keys": 11})
    assert not holds({"NumericLessThan": {"n": "10"}}, n="10")
    assert holds({"NumericGreaterThanEquals": {"n": "1.5"}}, n="2")
    assert holds({"NumericNotEquals": {"n": ["1", "2"]}}, n="3")
    assert not holds({"NumericEquals": {"n": "1"}}, n="not-a-number")
    with pytest.raises(PolicyValidationError, match="not a valid value"):
        parse_condition({"NumericEquals": {"n": "ten"}}, variables=True)


def test_dates_accept_iso_8601_and_epoch() -> None:
    block = {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}
    assert holds(block, aws__TokenIssueTime="2020-06-01T00:00:00Z")
    assert not holds(block, aws__TokenIssueTime="2019-12-31T23:59:59Z")
    assert holds({"DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}})  # filled in
    assert holds({"DateEquals": {"t": "1577836800"}}, t="2020-01-01T00:00:00Z")


def test_bool_and_binary() -> None:
    assert holds({"Bool": {"aws:SecureTransport": "false"}}, aws__SecureTransport=False)
    assert holds({"Bool": {"aws:SecureTransport": True}}, aws__SecureTransport="TRUE")
    assert holds(
        {"BinaryEquals": {"k": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, k="QmluYXJ5VmFsdWVJbkJhc2U2NA=="
    )


def test_ip_address() -> None:
    block = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}
    assert holds(block, aws__SourceIp="203.0.113.7")
    assert holds(block, aws__SourceIp="2001:db8:1234:5678::1")
    assert not holds(block, aws__SourceIp="198.51.100.1")
    assert holds({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, aws__SourceIp="10.0.0.1")
    assert holds({"IpAddress": {"aws:SourceIp": "10.0.0.1"}}, aws__SourceIp="10.0.0.1")  # /32


def test_arn_operators_match_segment_by_segment() -> None:
    # The example from the docs: StringLike matches, ArnLike does not.
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert holds({"StringLike": {"aws:SourceArn": pattern}}, aws__SourceArn=value)
    assert not holds({"ArnLike": {"aws:SourceArn": pattern}}, aws__SourceArn=value)
    assert holds(
        {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:111111111111:topic-*"}},
        aws__SourceArn="arn:aws:sns:us-east-1:111111111111:topic-a",
    )
    assert holds(
        {"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}},
        aws__SourceArn="arn:aws:sqs:us-east-1:1:q",
    )


def test_variables_in_condition_values() -> None:
    block = {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}
    assert holds(block, s3__prefix="home/david/notes", aws__username="david")
    assert not holds(block, s3__prefix="home/maria/notes", aws__username="david")
    # A value produced by a variable is literal: a '*' in it is not a wildcard.
    assert not holds({"StringLike": {"k": "${aws:username}"}}, k="anything", aws__username="*")
    # Before 2012-10-17 variables are plain text.
    assert holds({"StringEquals": {"k": "${aws:username}"}}, False, k="${aws:username}")


def test_unknown_operator_is_a_clear_error() -> None:
    with pytest.raises(PolicyValidationError, match="unknown condition operator 'StringEqual'"):
        parse_condition({"StringEqual": {"k": "v"}}, variables=True)
