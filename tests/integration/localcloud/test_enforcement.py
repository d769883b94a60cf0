"""localcloud enforces IAM on every request, as AWS would answer it (hand-made policies;
the bootstrapped organization's matrix lives with the bootstrap tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from localcloud.server import LocalCloud

# Accounts outside the bootstrapped organization: no SCPs apply to them.
A, B = "555555555555", "666666666666"


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(port=0, known_accounts=[A, B]) as running:
        yield running


def _as(cloud: LocalCloud, key: str, secret: str, token: str | None, service: str):  # type: ignore[no-untyped-def]
    session = boto3.Session(key, secret, token, region_name="us-east-1")
    return session.client(service, endpoint_url=cloud.url)


@pytest.fixture(scope="module")
def reader(cloud: LocalCloud) -> dict[str, str]:
    """A role in A that may read bucket-a and bucket-b objects, nothing else."""
    root_a = cloud.root_session(A)
    iam = cloud.client("iam", root_a)
    iam.create_role(
        RoleName="reader",
        AssumeRolePolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    iam.put_role_policy(
        RoleName="reader",
        PolicyName="read",
        PolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": ["arn:aws:s3:::enforce-a/*", "arn:aws:s3:::enforce-b/*"],
            }
        ),
    )
    cloud.client("s3", root_a).create_bucket(Bucket="enforce-a")
    cloud.client("s3", root_a).put_object(Bucket="enforce-a", Key="k", Body=b"a")
    root_b = cloud.root_session(B)
    cloud.client("s3", root_b).create_bucket(Bucket="enforce-b")
    cloud.client("s3", root_b).put_object(Bucket="enforce-b", Key="k", Body=b"b")
    creds = cloud.client("sts", root_a).assume_role(
        RoleArn=f"arn:aws:iam::{A}:role/reader", RoleSessionName="tester"
    )["Credentials"]
    return {
        "key": creds["AccessKeyId"],
        "secret": creds["SecretAccessKey"],
        "token": creds["SessionToken"],
    }


def _client(cloud: LocalCloud, creds: dict[str, str], service: str):  # type: ignore[no-untyped-def]
    return _as(cloud, creds["key"], creds["secret"], creds["token"], service)


def _denied(call) -> ClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call()
    return info.value


SESSION = f"arn:aws:sts::{A}:assumed-role/reader/tester"


def test_identity_policy_allows_same_account_read(
    cloud: LocalCloud, reader: dict[str, str]
) -> None:
    s3 = _client(cloud, reader, "s3")
    assert s3.get_object(Bucket="enforce-a", Key="k")["Body"].read() == b"a"


def test_write_without_identity_allow_is_denied_with_aws_wording(
    cloud: LocalCloud, reader: dict[str, str]
) -> None:
    error = _denied(
        lambda: _client(cloud, reader, "s3").put_object(Bucket="enforce-a", Key="x", Body=b"x")
    )
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Message"] == (
        f"User: {SESSION} is not authorized to perform: s3:PutObject on resource: "
        "arn:aws:s3:::enforce-a/x because no identity-based policy allows the s3:PutObject action"
    )


def test_cross_account_needs_the_bucket_policy_too(
    cloud: LocalCloud, reader: dict[str, str]
) -> None:
    s3 = _client(cloud, reader, "s3")
    error = _denied(lambda: s3.get_object(Bucket="enforce-b", Key="k"))
    assert error.response["Error"]["Message"].endswith(
        "because no resource-based policy allows the s3:GetObject action"
    )
    cloud.client("s3", cloud.root_session(B)).put_bucket_policy(
        Bucket="enforce-b",
        Policy=_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{A}:role/reader"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::enforce-b/*",
            }
        ),
    )
    assert s3.get_object(Bucket="enforce-b", Key="k")["Body"].read() == b"b"


def test_json_service_denial_shape(cloud: LocalCloud, reader: dict[str, str]) -> None:
    error = _denied(lambda: _client(cloud, reader, "sagemaker").list_models())
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.response["Error"]["Message"] == (
        f"User: {SESSION} is not authorized to perform: sagemaker:ListModels on resource: * "
        "because no identity-based policy allows the sagemaker:ListModels action"
    )


def test_trust_policy_decides_assume_role(cloud: LocalCloud, reader: dict[str, str]) -> None:
    cloud.client("iam", cloud.root_session(B)).create_role(
        RoleName="b-only",
        AssumeRolePolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )
    error = _denied(
        lambda: _client(cloud, reader, "sts").assume_role(
            RoleArn=f"arn:aws:iam::{B}:role/b-only", RoleSessionName="x1"
        )
    )
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert "sts:AssumeRole" in error.response["Error"]["Message"]


def test_policy_changes_take_effect_at_once(cloud: LocalCloud, reader: dict[str, str]) -> None:
    iam = cloud.client("iam", cloud.root_session(A))
    iam.put_role_policy(
        RoleName="reader",
        PolicyName="deny-a",
        PolicyDocument=_policy(
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::enforce-a/*"}
        ),
    )
    try:
        error = _denied(
            lambda: _client(cloud, reader, "s3").get_object(Bucket="enforce-a", Key="k")
        )
        assert error.response["Error"]["Message"].endswith(
            "with an explicit deny in an identity-based policy"
        )
    finally:
        iam.delete_role_policy(RoleName="reader", PolicyName="deny-a")
    assert (
        _client(cloud, reader, "s3").get_object(Bucket="enforce-a", Key="k")["Body"].read() == b"a"
    )
