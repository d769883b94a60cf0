"""localcloud enforces IAM on every request, as AWS would answer it (hand-made policies;
the bootstrapped organization's matrix lives with the bootstrap tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from localcloud.credentials import Session
from localcloud.server import LocalCloud

# Accounts outside the bootstrapped organization: no SCPs apply to them.
A, B = "555555555555", "666666666666"
READER = f"arn:aws:iam::{A}:role/reader"


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(port=0, known_accounts=[A, B]) as running:
        yield running


@pytest.fixture(scope="module")
def reader(cloud: LocalCloud) -> Session:
    """A session of a role in A that may read bucket-a and bucket-b objects, nothing else."""
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
    return cloud.assume(READER, "tester", via=_operator(cloud))


def _operator(cloud: LocalCloud) -> Session:
    """A session of a role in A allowed to assume the reader (AWS refuses AssumeRole to
    root credentials, so someone in A assumes it as a role)."""
    iam = cloud.client("iam", cloud.root_session(A))
    if not any(r["RoleName"] == "operator" for r in iam.list_roles()["Roles"]):
        iam.create_role(
            RoleName="operator",
            AssumeRolePolicyDocument=_policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                    "Action": "sts:AssumeRole",
                }
            ),
        )
        iam.put_role_policy(
            RoleName="operator",
            PolicyName="assume-reader",
            PolicyDocument=_policy(
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": READER}
            ),
        )
    return cloud.credentials.issue_role_session(f"arn:aws:iam::{A}:role/operator", "operator")


def _denied(call) -> ClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call()
    return info.value


SESSION = f"arn:aws:sts::{A}:assumed-role/reader/tester"


def test_assume_gives_a_session_acting_as_the_role(cloud: LocalCloud, reader: Session) -> None:
    assert cloud.client("sts", reader).get_caller_identity()["Arn"] == SESSION
    assert (reader.caller_arn, reader.principal_arn, reader.account) == (SESSION, READER, A)
    again = cloud.assume(READER, "tester-2", via=_operator(cloud))
    assert again.access_key_id != reader.access_key_id
    assert cloud.client("sts", again).get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{A}:assumed-role/reader/tester-2"
    )


def test_assume_is_refused_by_the_trust_policy_and_creates_no_session(
    cloud: LocalCloud,
) -> None:
    outsider = cloud.root_session(B)  # the reader role trusts A's root only
    issued = len(cloud.credentials)
    error = _denied(lambda: cloud.assume(READER, "intruder", via=outsider))
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert "sts:AssumeRole" in error.response["Error"]["Message"]
    assert len(cloud.credentials) == issued


def test_identity_policy_allows_same_account_read(cloud: LocalCloud, reader: Session) -> None:
    s3 = cloud.client("s3", reader)
    assert s3.get_object(Bucket="enforce-a", Key="k")["Body"].read() == b"a"


def test_write_without_identity_allow_is_denied_with_aws_wording(
    cloud: LocalCloud, reader: Session
) -> None:
    error = _denied(
        lambda: cloud.client("s3", reader).put_object(Bucket="enforce-a", Key="x", Body=b"x")
    )
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Message"] == (
        f"User: {SESSION} is not authorized to perform: s3:PutObject on resource: "
        "arn:aws:s3:::enforce-a/x because no identity-based policy allows the s3:PutObject action"
    )


def test_cross_account_needs_the_bucket_policy_too(cloud: LocalCloud, reader: Session) -> None:
    s3 = cloud.client("s3", reader)
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


def test_json_service_denial_shape(cloud: LocalCloud, reader: Session) -> None:
    error = _denied(lambda: cloud.client("sagemaker", reader).list_models())
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.response["Error"]["Message"] == (
        f"User: {SESSION} is not authorized to perform: sagemaker:ListModels on resource: * "
        "because no identity-based policy allows the sagemaker:ListModels action"
    )


def test_trust_policy_decides_assume_role(cloud: LocalCloud, reader: Session) -> None:
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
        lambda: cloud.client("sts", reader).assume_role(
            RoleArn=f"arn:aws:iam::{B}:role/b-only", RoleSessionName="x1"
        )
    )
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert "sts:AssumeRole" in error.response["Error"]["Message"]


def test_policy_changes_take_effect_at_once(cloud: LocalCloud, reader: Session) -> None:
    iam = cloud.client("iam", cloud.root_session(A))
    iam.put_role_policy(
        RoleName="reader",
        PolicyName="deny-a",
        PolicyDocument=_policy(
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::enforce-a/*"}
        ),
    )
    try:
        error = _denied(lambda: cloud.client("s3", reader).get_object(Bucket="enforce-a", Key="k"))
        assert error.response["Error"]["Message"].endswith(
            "with an explicit deny in an identity-based policy"
        )
    finally:
        iam.delete_role_policy(RoleName="reader", PolicyName="deny-a")
    assert cloud.client("s3", reader).get_object(Bucket="enforce-a", Key="k")["Body"].read() == b"a"


def test_root_credentials_cannot_assume_a_role(cloud: LocalCloud, reader: Session) -> None:
    # The reader's trust policy allows A's root, but AWS refuses AssumeRole to root users.
    error = _denied(lambda: cloud.assume(READER, "as-root", via=cloud.root_session(A)))
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["Error"]["Message"] == "Roles may not be assumed by root accounts."
