"""localcloud's front door over HTTP with boto3: signatures, sessions, account routing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from localcloud.credentials import Session
from localcloud.server import LocalCloud, PortBusyError

TRUST_ANYONE_IN_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(port=0) as running:
        yield running


def _client(cloud: LocalCloud, service: str, key: str, secret: str, token: str | None = None):  # type: ignore[no-untyped-def]
    session = boto3.Session(key, secret, token, region_name="us-east-1")
    return session.client(service, endpoint_url=cloud.url)


def test_signed_requests_reach_the_store(cloud: LocalCloud) -> None:
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="gateway-test")
    # Spaces, non-ASCII and '+' exercise the canonical path rules of S3 signing.
    key = "a dir/ünï key+x.txt"
    s3.put_object(Bucket="gateway-test", Key=key, Body=b"payload" * 2000)
    assert s3.get_object(Bucket="gateway-test", Key=key)["Body"].read() == b"payload" * 2000
    listed = s3.list_objects_v2(Bucket="gateway-test", Prefix="a dir/")
    assert [o["Key"] for o in listed["Contents"]] == [key]


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId"),
        ("iam", lambda c: c.list_roles(), "InvalidClientTokenId"),
        ("sagemaker", lambda c: c.list_models(), "UnrecognizedClientException"),
        ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId"),
    ],
)
def test_unknown_keys_are_refused_in_each_protocol(cloud: LocalCloud, service, call, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call(_client(cloud, service, "AKIAIOSFODNN7EXAMPLE", "not-a-secret"))
    assert info.value.response["Error"]["Code"] == code


def test_wrong_secret_fails_the_signature(cloud: LocalCloud) -> None:
    client = _client(cloud, "sts", cloud.admin.access_key_id, "wrong-secret")
    with pytest.raises(ClientError) as info:
        client.get_caller_identity()
    assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_unsigned_request_is_refused(cloud: LocalCloud) -> None:
    from botocore import UNSIGNED
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=cloud.url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED),
    )
    with pytest.raises(ClientError) as info:
        s3.list_buckets()
    assert info.value.response["Error"]["Code"] == "MissingAuthenticationToken"


@pytest.fixture(scope="module")
def operator(cloud: LocalCloud) -> Session:
    """A role session of the management account that may assume any of its roles (root
    credentials cannot call AssumeRole)."""
    iam = cloud.client("iam")
    iam.create_role(
        RoleName="gateway-operator", AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE_IN_ACCOUNT)
    )
    iam.put_role_policy(
        RoleName="gateway-operator",
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    return cloud.credentials.issue_role_session(
        "arn:aws:iam::123456789012:role/gateway-operator", "operator"
    )


def test_assumed_role_session_lands_in_the_roles_account(
    cloud: LocalCloud, operator: Session
) -> None:
    cloud.client("iam").create_role(
        RoleName="gateway-role", AssumeRolePolicyDocument=json.dumps(TRUST_ANYONE_IN_ACCOUNT)
    )
    creds = cloud.client("sts", operator).assume_role(
        RoleArn="arn:aws:iam::123456789012:role/gateway-role", RoleSessionName="tester"
    )["Credentials"]
    sts = _client(
        cloud, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    )
    identity = sts.get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::123456789012:assumed-role/gateway-role/tester"
    assert identity["Account"] == "123456789012"
    # The token is part of the credential: a session key without it is refused.
    no_token = _client(cloud, "sts", creds["AccessKeyId"], creds["SecretAccessKey"])
    with pytest.raises(ClientError) as info:
        no_token.get_caller_identity()
    assert info.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_assuming_a_missing_role_is_denied(cloud: LocalCloud, operator: Session) -> None:
    with pytest.raises(ClientError) as info:
        cloud.client("sts", operator).assume_role(
            RoleArn="arn:aws:iam::123456789012:role/no-such-role", RoleSessionName="x1"
        )
    assert info.value.response["Error"]["Code"] == "AccessDenied"


def test_moto_admin_api_is_not_exposed(cloud: LocalCloud) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{cloud.url}/moto-api/reset", data=b"")
    assert info.value.code == 404


def test_busy_port_is_refused_clearly(cloud: LocalCloud) -> None:
    with pytest.raises(PortBusyError, match=f"port {cloud.port} .* already in use"):
        LocalCloud(port=cloud.port).start()
