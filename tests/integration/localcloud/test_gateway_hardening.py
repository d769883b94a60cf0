"""What moto acts on is what the gateway authorized: moto's own API is unreachable, S3 is
path-style only and DeleteObjects is checked per object, signatures bind the body and the
time, KMS ciphertexts are checked on their key, and the unsigned control API wants the
server's control token and refuses what a web page could send. Over HTTP, as the bootstrapped
roles and account roots."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests
from botocore.auth import S3SigV4Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from localcloud.credentials import Session
from localcloud.server import LocalCloud
from localcloud.sigv4 import SignedRequest, canonical_request, expected_signature, signing_key

HUB, DEV, STAGING = "111111111111", "222222222222", "333333333333"
BUCKET = f"hubspoke-artifacts-{HUB}"
DEV_BUCKET = f"hubspoke-dev-{DEV}"
ORCHESTRATOR = f"arn:aws:iam::{HUB}:role/hubspoke-orchestrator"
APPROVER = f"arn:aws:iam::{HUB}:role/hubspoke-approver"


def _execution(account: str) -> str:
    return f"arn:aws:iam::{account}:role/hubspoke-sagemaker-execution"


def _role(cloud: LocalCloud, arn: str) -> Session:
    return cloud.credentials.issue_role_session(arn, "hardening")


def _credentials(session: Session) -> Credentials:
    return Credentials(session.access_key_id, session.secret_access_key, session.session_token)


def _signed(
    cloud: LocalCloud,
    session: Session,
    method: str,
    target: str,
    *,
    service: str = "s3",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    host: str | None = None,
    when: datetime.datetime | None = None,
) -> tuple[int, bytes]:
    """Send a request signed as ``session`` exactly as given: ``target`` is the path and query
    on the wire (percent-encodings included), ``host`` the Host header, ``when`` the signing
    time; every header sent is signed."""
    netloc = cloud.url.split("//", 1)[1]
    amz_date = (when or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")
    sent = {"host": host or netloc, "x-amz-date": amz_date}
    if service == "s3":
        sent["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    if session.session_token:
        sent["x-amz-security-token"] = session.session_token
    sent.update({k.lower(): v for k, v in (headers or {}).items()})
    names = tuple(sorted(sent))
    signed = SignedRequest(
        session.access_key_id, amz_date[:8], "us-east-1", service, names, "", amz_date
    )
    path, _, query = target.partition("?")
    pairs = [(k, v) for k, _, v in (p.partition("=") for p in query.split("&"))] if query else []
    canonical = canonical_request(
        method=method, raw_path=path, query_pairs=pairs, headers=sent, body=body, signed=signed
    )
    signature = expected_signature(session.secret_access_key, signed, canonical)
    sent["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={session.access_key_id}/{signed.scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    connection = http.client.HTTPConnection(netloc, timeout=30)
    connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in sent.items():
        connection.putheader(name, value)
    connection.putheader("content-length", str(len(body)))
    connection.endheaders(body)
    answer = connection.getresponse()
    return answer.status, answer.read()


def _code(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith("{"):
        return str(json.loads(text).get("__type"))
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text


def _error(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def _bucket_names(cloud: LocalCloud, account: str) -> list[str]:
    return [
        b["Name"] for b in cloud.client("s3", cloud.root_session(account)).list_buckets()["Buckets"]
    ]


def _ledger_entry(cloud: LocalCloud) -> tuple[str, str]:
    """A fresh ledger object written as the orchestrator: (key, version id)."""
    key = f"ledger/hardening-{uuid.uuid4().hex[:8]}.json"
    written = cloud.client("s3", _role(cloud, ORCHESTRATOR)).put_object(
        Bucket=BUCKET, Key=key, Body=b'{"entry": 1}'
    )
    return key, written["VersionId"]


def _versions(cloud: LocalCloud, key: str) -> list[str]:
    listed = cloud.client("s3", cloud.root_session(HUB)).list_object_versions(
        Bucket=BUCKET, Prefix=key
    )
    return [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key]


# ---------------------------------------------------------------------- moto's own API


@pytest.mark.parametrize(
    "target",
    [
        "/moto-api/reset",
        "/%6doto-api/reset",
        "/%6Doto-api/reset",
        "//moto-api/reset",
        "/./moto-api/reset",
        "/x/../moto-api/reset",
        "/%2e/moto-api/reset",
        "/%252e/moto-api/reset",
        "/MOTO-API/reset",
        "/%6doto-api/data.json",
        "/latest/meta-data/iam/",
    ],
)
def test_moto_api_cannot_be_reached_in_any_spelling(localcloud: LocalCloud, target: str) -> None:
    before = _bucket_names(localcloud, HUB)
    staging = _role(localcloud, _execution(STAGING))
    for service, headers in [
        ("s3", {}),
        (
            "monitoring",
            {
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics",
            },
        ),
    ]:
        for method in ("GET", "POST"):
            status, body = _signed(
                localcloud, staging, method, target, service=service, body=b"{}", headers=headers
            )
            assert status in {400, 403, 404}, (service, method, status, body[:200])
            assert b'"iam"' not in body and b"FakeBucket" not in body
    assert _bucket_names(localcloud, HUB) == before


def test_presigned_requests_are_routed_by_their_signed_service(localcloud: LocalCloud) -> None:
    # Without an Authorization header moto would route by the path (`/<service>_<region>/`):
    # an allowed IAM call must not reach S3 (or anything but IAM) through it.
    hub_root = localcloud.root_session(HUB)

    def presigned(path: str) -> requests.Response:
        request = AWSRequest(
            method="GET", url=f"{localcloud.url}{path}?Action=ListRoles&Version=2010-05-08"
        )
        SigV4QueryAuth(_credentials(hub_root), "iam", "us-east-1", expires=60).add_auth(request)
        return requests.get(request.url, timeout=30)

    assert "<ListRolesResponse" in presigned("/").text
    answer = presigned(f"/s3_us-east-1/{BUCKET}")
    # IAM has nothing at that path; moto's S3 would have listed the bucket.
    assert answer.status_code == 404
    assert "ListBucketResult" not in answer.text and "NoSuchBucket" not in answer.text


# ---------------------------------------------------------------------- S3 addressing


@pytest.mark.parametrize(
    "host",
    [
        f"{BUCKET}.s3.amazonaws.com",
        f"{BUCKET}.s3.us-east-1.amazonaws.com",
        f"{BUCKET}.localcloud.example",
        f"{BUCKET}.s3-accesspoint.us-east-1.amazonaws.com",
    ],
)
def test_s3_hosts_naming_a_bucket_are_refused(localcloud: LocalCloud, host: str) -> None:
    dev_root = localcloud.root_session(DEV)
    key, version = _ledger_entry(localcloud)
    forged = f"forged-{uuid.uuid4().hex[:6]}.json"
    # The path names the caller's own bucket; the Host the hub's.
    status, body = _signed(
        localcloud, dev_root, "PUT", f"/{DEV_BUCKET}/{forged}", body=b"forged", host=host
    )
    assert (status, _code(body)) == (400, "InvalidRequest")
    status, body = _signed(localcloud, dev_root, "GET", "/?list-type=2", host=host)
    assert (status, _code(body)) == (400, "InvalidRequest")
    xml = f"<Delete><Object><Key>{key}</Key><VersionId>{version}</VersionId></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(xml.encode()).digest()).decode()
    status, body = _signed(
        localcloud,
        dev_root,
        "POST",
        "/?delete",
        body=xml.encode(),
        host=host,
        headers={"Content-MD5": md5},
    )
    assert (status, _code(body)) == (400, "InvalidRequest")
    hub_s3 = localcloud.client("s3", localcloud.root_session(HUB))
    assert forged not in [
        o["Key"] for o in hub_s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    ]
    assert _versions(localcloud, key) == [version]


def test_path_style_s3_keeps_working_on_loopback_names(localcloud: LocalCloud) -> None:
    orchestrator = _role(localcloud, ORCHESTRATOR)
    port = localcloud.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        key = f"models/hardening-{uuid.uuid4().hex[:6]}"
        status, _ = _signed(
            localcloud, orchestrator, "PUT", f"/{BUCKET}/{key}", body=b"m", host=host
        )
        assert status == 200
        status, body = _signed(localcloud, orchestrator, "GET", f"/{BUCKET}/{key}", host=host)
        assert (status, body) == (200, b"m")


def test_an_encoded_slash_in_the_bucket_is_not_read_as_a_key(localcloud: LocalCloud) -> None:
    key, version = _ledger_entry(localcloud)
    hub_root = localcloud.root_session(HUB)
    encoded = urllib.parse.quote(f"{BUCKET}/{key}", safe="")
    status, _ = _signed(localcloud, hub_root, "DELETE", f"/{encoded}")
    assert status >= 400  # no bucket is named so
    # moto reads `//b/k` as bucket b, key `b/k`, and so is it checked: the ledger entry stays.
    _signed(localcloud, hub_root, "DELETE", f"//{BUCKET}/{key}")
    assert _versions(localcloud, key) == [version]


# ---------------------------------------------------------------------- S3 operations


def test_delete_objects_is_checked_for_every_object(localcloud: LocalCloud) -> None:
    key, version = _ledger_entry(localcloud)
    hub_s3 = localcloud.client("s3", localcloud.root_session(HUB))
    deleted = f"models/hardening-{uuid.uuid4().hex[:6]}"
    hub_s3.put_object(Bucket=BUCKET, Key=deleted, Body=b"x")
    # The bucket policy denies deleting ledger/ objects: one such object refuses the batch.
    code, message, status = _error(
        lambda: hub_s3.delete_objects(
            Bucket=BUCKET,
            Delete={"Objects": [{"Key": deleted}, {"Key": key, "VersionId": version}]},
        )
    )
    assert (code, status) == ("AccessDenied", 403)
    assert f"s3:DeleteObjectVersion on resource: arn:aws:s3:::{BUCKET}/{key}" in message
    assert _versions(localcloud, key) == [version]
    code, message, _ = _error(
        lambda: hub_s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key}]})
    )
    assert f"s3:DeleteObject on resource: arn:aws:s3:::{BUCKET}/{key}" in message
    # Objects the policies allow to delete are deleted as before.
    answer = hub_s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": deleted}]})
    assert [d["Key"] for d in answer["Deleted"]] == [deleted]


def test_malformed_delete_objects_bodies_are_refused(localcloud: LocalCloud) -> None:
    hub_root = localcloud.root_session(HUB)
    for xml in (b"<Delete></Delete>", b"<Delete><Object>", b"<Nothing/>"):
        md5 = base64.b64encode(hashlib.md5(xml).digest()).decode()
        status, body = _signed(
            localcloud,
            hub_root,
            "POST",
            f"/{BUCKET}?delete",
            body=xml,
            headers={"Content-MD5": md5},
        )
        assert (status, _code(body)) == (400, "MalformedXML")


def test_object_versions_are_their_own_actions(localcloud: LocalCloud) -> None:
    key, version = _ledger_entry(localcloud)
    hub_s3 = localcloud.client("s3", localcloud.root_session(HUB))
    code, message, _ = _error(
        lambda: hub_s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)
    )
    assert code == "AccessDenied"
    assert "s3:DeleteObjectVersion" in message
    assert _versions(localcloud, key) == [version]
    # The orchestrator may GetObject on ledger/* but was given no GetObjectVersion.
    orchestrator = localcloud.client("s3", _role(localcloud, ORCHESTRATOR))
    assert orchestrator.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b'{"entry": 1}'
    code, message, _ = _error(
        lambda: orchestrator.get_object(Bucket=BUCKET, Key=key, VersionId=version)
    )
    assert code == "AccessDenied"
    assert f"s3:GetObjectVersion on resource: arn:aws:s3:::{BUCKET}/{key}" in message


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("PUT", f"/{BUCKET}?no-such-subresource"),
        ("POST", f"/{BUCKET}?%64elete-not"),
        ("PUT", f"/{BUCKET}/models/x?no-such-subresource"),
    ],
)
def test_unknown_s3_sub_resources_are_refused(
    localcloud: LocalCloud, method: str, target: str
) -> None:
    status, body = _signed(localcloud, localcloud.root_session(HUB), method, target, body=b"")
    assert (status, _code(body)) == (501, "NotImplemented")


def test_encoded_query_names_are_read_as_moto_reads_them(localcloud: LocalCloud) -> None:
    key, version = _ledger_entry(localcloud)
    status, body = _signed(
        localcloud,
        localcloud.root_session(HUB),
        "DELETE",
        f"/{BUCKET}/{key}?%76ersionId={version}",
    )
    assert (status, _code(body)) == (403, "AccessDenied")
    assert b"s3:DeleteObjectVersion" in body
    assert _versions(localcloud, key) == [version]


# ---------------------------------------------------------------------- signatures


def test_a_signed_s3_body_cannot_be_swapped(localcloud: LocalCloud) -> None:
    orchestrator = _role(localcloud, ORCHESTRATOR)
    key = f"ledger/hardening-{uuid.uuid4().hex[:8]}.json"
    url = f"{localcloud.url}/{BUCKET}/{key}"
    request = AWSRequest(method="PUT", url=url, data=b'{"entry": "genuine"}')
    S3SigV4Auth(_credentials(orchestrator), "s3", "us-east-1").add_auth(request)
    replayed = requests.put(url, data=b'{"entry": "FORGED"}', headers=dict(request.headers))
    assert replayed.status_code == 400
    assert _code(replayed.content) == "XAmzContentSHA256Mismatch"
    assert _versions(localcloud, key) == []
    genuine = requests.put(url, data=b'{"entry": "genuine"}', headers=dict(request.headers))
    assert genuine.status_code == 200


def test_a_signed_json_body_cannot_be_swapped(localcloud: LocalCloud) -> None:
    approver = _role(localcloud, APPROVER)
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.DescribeModelPackageGroup",
    }
    genuine = json.dumps({"ModelPackageGroupName": "breast-cancer"}).encode()
    request = AWSRequest(method="POST", url=f"{localcloud.url}/", data=genuine, headers=headers)
    SigV4Auth(_credentials(approver), "sagemaker", "us-east-1").add_auth(request)
    signed = dict(request.headers)
    assert requests.post(f"{localcloud.url}/", data=genuine, headers=signed).status_code == 200
    other = json.dumps({"ModelPackageGroupName": "another-group"}).encode()
    for extra in ({}, {"X-Amz-Content-SHA256": hashlib.sha256(genuine).hexdigest()}):
        answer = requests.post(f"{localcloud.url}/", data=other, headers={**signed, **extra})
        assert answer.status_code == 400
        assert answer.json()["__type"] == "InvalidSignatureException"


def test_streaming_signed_s3_uploads_are_verified_chunk_by_chunk(localcloud: LocalCloud) -> None:
    orchestrator = _role(localcloud, ORCHESTRATOR)
    key = f"models/hardening-{uuid.uuid4().hex[:6]}"
    netloc = localcloud.url.split("//", 1)[1]
    now = datetime.datetime.now(datetime.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    chunks = [b"a" * 70000, b"b" * 100, b""]

    headers = {
        "host": netloc,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-decoded-content-length": str(sum(len(c) for c in chunks)),
        "content-encoding": "aws-chunked",
        "x-amz-security-token": orchestrator.session_token or "",
    }
    names = tuple(sorted(headers))
    signed = SignedRequest(
        orchestrator.access_key_id, amz_date[:8], "us-east-1", "s3", names, "", amz_date
    )
    canonical = canonical_request(
        method="PUT",
        raw_path=f"/{BUCKET}/{key}",
        query_pairs=[],
        headers=headers,
        body=b"",
        signed=signed,
    )
    seed = expected_signature(orchestrator.secret_access_key, signed, canonical)
    signing = signing_key(orchestrator.secret_access_key, signed)

    def body(tamper: bool) -> bytes:
        import hmac

        out, previous = b"", seed
        for chunk in chunks:
            lines = [
                "AWS4-HMAC-SHA256-PAYLOAD",
                amz_date,
                scope,
                previous,
                hashlib.sha256(b"").hexdigest(),
                hashlib.sha256(chunk).hexdigest(),
            ]
            signature = hmac.new(signing, "\n".join(lines).encode(), hashlib.sha256).hexdigest()
            data = chunk.replace(b"b", b"c") if tamper else chunk
            out += f"{len(chunk):x};chunk-signature={signature}\r\n".encode() + data + b"\r\n"
            previous = signature
        return out

    authorization = (
        f"AWS4-HMAC-SHA256 Credential={orchestrator.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={seed}"
    )
    sent = {**headers, "authorization": authorization}
    url = f"{localcloud.url}/{BUCKET}/{key}"
    tampered = requests.put(url, data=body(tamper=True), headers=sent)
    assert (tampered.status_code, _code(tampered.content)) == (403, "SignatureDoesNotMatch")
    genuine = requests.put(url, data=body(tamper=False), headers=sent)
    assert genuine.status_code == 200, genuine.content[:300]
    stored = localcloud.client("s3", orchestrator).get_object(Bucket=BUCKET, Key=key)
    assert stored["Body"].read() == b"".join(chunks)


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("s3", (403, "RequestTimeTooSkewed")),
        ("sagemaker", (400, "InvalidSignatureException")),
        ("sts", (403, "SignatureDoesNotMatch")),
    ],
)
def test_requests_signed_long_ago_or_ahead_are_refused(
    localcloud: LocalCloud, service: str, expected: tuple[int, str]
) -> None:
    approver = _role(localcloud, APPROVER)
    target, headers, body = {
        "s3": (f"/{BUCKET}?list-type=2", {}, b""),
        "sagemaker": (
            "/",
            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.ListModels"},
            b"{}",
        ),
        "sts": (
            "/",
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"Action=GetCallerIdentity&Version=2011-06-15",
        ),
    }[service]
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    for when in (datetime.datetime(2015, 1, 1), now + datetime.timedelta(minutes=20)):
        status, answer = _signed(
            localcloud,
            approver,
            "POST" if body else "GET",
            target,
            service=service,
            body=body,
            headers=headers,
            when=when,
        )
        assert (status, _code(answer)) == expected, answer[:300]
    _, answer = _signed(
        localcloud,
        approver,
        "POST" if body else "GET",
        target,
        service=service,
        body=body,
        headers=headers,
        when=now - datetime.timedelta(minutes=10),
    )
    assert _code(answer) != expected[1]


def test_the_scope_date_must_be_the_request_date(localcloud: LocalCloud) -> None:
    approver = _role(localcloud, APPROVER)
    amz_date = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    status, _ = _signed(
        localcloud,
        approver,
        "POST",
        "/",
        service="sts",
        body=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200

    netloc = localcloud.url.split("//", 1)[1]
    headers = {
        "host": netloc,
        "x-amz-date": amz_date,
        "x-amz-security-token": approver.session_token or "",
    }
    signed = SignedRequest(
        approver.access_key_id, "20150101", "us-east-1", "sts", tuple(sorted(headers)), "", amz_date
    )
    body_bytes = b"Action=GetCallerIdentity&Version=2011-06-15"
    headers["content-type"] = "application/x-www-form-urlencoded"
    canonical = canonical_request(
        method="POST", raw_path="/", query_pairs=[], headers=headers, body=body_bytes, signed=signed
    )
    signature = expected_signature(approver.secret_access_key, signed, canonical)
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={approver.access_key_id}/{signed.scope}, "
        f"SignedHeaders={';'.join(signed.signed_headers)}, Signature={signature}"
    )
    answer = requests.post(f"{localcloud.url}/", data=body_bytes, headers=headers)
    assert answer.status_code == 403
    assert _code(answer.content) == "SignatureDoesNotMatch"
    assert "Date in Credential scope does not match" in answer.text


def test_presigned_urls_expire(localcloud: LocalCloud) -> None:
    from botocore.config import Config

    hub_root = localcloud.root_session(HUB)
    key = f"models/hardening-{uuid.uuid4().hex[:6]}"
    s3 = localcloud.boto3_session(hub_root).client(
        "s3", endpoint_url=localcloud.url, config=Config(signature_version="s3v4")
    )
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"model")
    params = {"Bucket": BUCKET, "Key": key}
    fresh = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=60)
    assert requests.get(fresh, timeout=30).content == b"model"
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=61)
    with mock.patch("localcloud.sigv4.datetime") as clock:
        clock.now.return_value = later
        clock.strptime = datetime.datetime.strptime
        expired = requests.get(fresh, timeout=30)
    assert (expired.status_code, _code(expired.content)) == (403, "AccessDenied")
    assert b"Request has expired" in expired.content
    too_long = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=604801)
    answer = requests.get(too_long, timeout=30)
    assert (answer.status_code, _code(answer.content)) == (400, "AuthorizationQueryParametersError")


def test_presigned_sts_get_caller_identity_works(localcloud: LocalCloud) -> None:
    approver = _role(localcloud, APPROVER)
    url = localcloud.client("sts", approver).generate_presigned_url(
        "get_caller_identity", ExpiresIn=60
    )
    # botocore presigns STS's query operations as POST.
    answer = requests.post(url, timeout=30)
    assert answer.status_code == 200, answer.text
    assert approver.caller_arn in answer.text


# ---------------------------------------------------------------------- KMS and tokens


def test_decrypt_without_key_id_is_checked_on_the_ciphertexts_key(localcloud: LocalCloud) -> None:
    hub_kms = localcloud.client("kms", localcloud.root_session(HUB))
    blob = hub_kms.encrypt(KeyId="alias/hubspoke-artifacts", Plaintext=b"hub")["CiphertextBlob"]
    key_id = hub_kms.describe_key(KeyId="alias/hubspoke-artifacts")["KeyMetadata"]["KeyId"]
    staging = localcloud.client("kms", _role(localcloud, _execution(STAGING)))
    code, message, status = _error(lambda: staging.decrypt(CiphertextBlob=blob))
    assert (code, status) == ("AccessDeniedException", 400)
    assert f"kms:Decrypt on resource: arn:aws:kms:us-east-1:{STAGING}:key/{key_id}" in message
    # A key's own principals still decrypt without naming it.
    dev_root = localcloud.root_session(DEV)
    dev_blob = localcloud.client("kms", dev_root).encrypt(
        KeyId="alias/hubspoke-spoke", Plaintext=b"dev"
    )["CiphertextBlob"]
    dev_execution = localcloud.client("kms", _role(localcloud, _execution(DEV)))
    assert dev_execution.decrypt(CiphertextBlob=dev_blob)["Plaintext"] == b"dev"


def test_a_wrong_session_token_is_refused_like_an_unknown_key(localcloud: LocalCloud) -> None:
    orchestrator = _role(localcloud, ORCHESTRATOR)
    session = localcloud.boto3_session(orchestrator)
    for service, call, expected in [
        ("kms", lambda c: c.list_keys(), ("UnrecognizedClientException", 400)),
        ("sts", lambda c: c.get_caller_identity(), ("InvalidClientTokenId", 403)),
    ]:
        wrong = session.client(
            service,
            endpoint_url=localcloud.url,
            aws_access_key_id=orchestrator.access_key_id,
            aws_secret_access_key=orchestrator.secret_access_key,
            aws_session_token="wrong",
        )
        unknown = session.client(
            service,
            endpoint_url=localcloud.url,
            aws_access_key_id="ASIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="not-a-secret",
            aws_session_token="wrong",
        )
        for client in (wrong, unknown):
            assert _error(lambda c=client, op=call: op(c))[::2] == expected


# ---------------------------------------------------------------------- control API


def _control_headers(cloud: LocalCloud) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Localcloud-Control-Token": cloud.control_token}


def test_control_api_refuses_foreign_hosts(localcloud: LocalCloud) -> None:
    url = f"{localcloud.url}/_localcloud/sessions"
    payload = json.dumps({"admin": True})
    json_type = _control_headers(localcloud)
    for host in ("evil.example.com", f"evil.example.com:{localcloud.port}", "127.0.0.1.nip.io"):
        answer = requests.post(url, data=payload, headers={**json_type, "Host": host})
        assert answer.status_code == 421
        assert "AccessKeyId" not in answer.text
    for host in (
        f"127.0.0.1:{localcloud.port}",
        f"localhost:{localcloud.port}",
        "localcloud:4599",
        "[::1]:4599",
    ):
        answer = requests.post(url, data=payload, headers={**json_type, "Host": host})
        assert answer.status_code == 200, host
        assert answer.json()["AccessKeyId"]


def test_control_api_takes_json_only(localcloud: LocalCloud) -> None:
    url = f"{localcloud.url}/_localcloud/sessions"
    payload = json.dumps({"admin": True})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = requests.post(url, data=payload, headers={"Content-Type": content_type})
        assert answer.status_code == 415
        assert "AccessKeyId" not in answer.text
    answer = requests.post(f"{localcloud.url}/_localcloud/bootstrap", data="{}")
    assert answer.status_code == 415
    health = requests.get(f"{localcloud.url}/_localcloud/health", timeout=30)
    assert health.json()["status"] == "ok"


def test_control_api_extra_hosts_come_from_the_environment(
    localcloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{localcloud.url}/_localcloud/health"
    assert requests.get(url, headers={"Host": "localcloud.internal:4599"}).status_code == 421
    monkeypatch.setenv("LOCALCLOUD_CONTROL_HOSTS", "other.example, localcloud.internal")
    assert requests.get(url, headers={"Host": "localcloud.internal:4599"}).status_code == 200


def test_control_api_wants_the_control_token(localcloud: LocalCloud) -> None:
    base = f"{localcloud.url}/_localcloud"
    admin = json.dumps({"admin": True})
    role = json.dumps({"role_arn": ORCHESTRATOR})
    json_type = {"Content-Type": "application/json"}
    for headers in (
        json_type,
        {**json_type, "X-Localcloud-Control-Token": ""},
        {**json_type, "X-Localcloud-Control-Token": "wrong"},
        {**json_type, "X-Localcloud-Control-Token": localcloud.control_token + "x"},
        {**json_type, "Authorization": f"Bearer {localcloud.control_token}"},
    ):
        for path, payload in (("sessions", admin), ("sessions", role), ("bootstrap", "{}")):
            answer = requests.post(f"{base}/{path}", data=payload, headers=headers, timeout=30)
            assert answer.status_code == 403, (path, headers)
            assert "AccessKeyId" not in answer.text
            error = answer.json()["error"]
            assert "X-Localcloud-Control-Token" in error
            assert "LOCALCLOUD_CONTROL_TOKEN" in error
            assert "localcloud-<port>.token" in error
        assert requests.get(f"{base}/nope", headers=headers, timeout=30).status_code == 403
    right = _control_headers(localcloud)
    for payload in (admin, role):
        answer = requests.post(f"{base}/sessions", data=payload, headers=right, timeout=30)
        assert answer.status_code == 200
        assert answer.json()["AccessKeyId"]
    assert requests.get(f"{base}/nope", headers=right, timeout=30).status_code == 404
    # Health needs no token: compose and `make up` poll it before they have one.
    health = requests.get(f"{base}/health", timeout=30)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"


def test_the_control_token_comes_from_the_environment_or_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCALCLOUD_CONTROL_TOKEN", "given-token")
    assert LocalCloud(port=0).control_token == "given-token"
    monkeypatch.delenv("LOCALCLOUD_CONTROL_TOKEN")
    made = {LocalCloud(port=0).control_token for _ in range(2)}
    assert len(made) == 2
    assert all(len(token) >= 40 for token in made)


# --------------------------------------------------- `hubspoke localcloud serve` and its token

HUBSPOKE = str(Path(sys.executable).with_name("hubspoke"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _creds(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            HUBSPOKE,
            "localcloud",
            "creds",
            "--admin",
            "--json",
            "--endpoint",
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_serve_keeps_its_token_in_a_private_file_while_it_runs(tmp_path: Path) -> None:
    port = _free_port()
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k != "LOCALCLOUD_CONTROL_TOKEN"}
    env["HUBSPOKE_STATE"] = str(state)
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [HUBSPOKE, "localcloud", "serve", "--port", str(port), "--no-bootstrap"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    token_file = state / f"localcloud-{port}.token"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/_localcloud/health", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "localcloud serve never became healthy"
                time.sleep(0.5)
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 40
        assert str(token_file) in (tmp_path / "serve.log").read_text()
        assert token not in (tmp_path / "serve.log").read_text()

        from_file = _creds(env, port)
        assert from_file.returncode == 0, from_file.stderr
        assert json.loads(from_file.stdout)["AccessKeyId"]
        from_env = _creds(
            {
                **env,
                "HUBSPOKE_STATE": str(tmp_path / "elsewhere"),
                "LOCALCLOUD_CONTROL_TOKEN": token,
            },
            port,
        )
        assert from_env.returncode == 0, from_env.stderr
        assert json.loads(from_env.stdout)["AccessKeyId"]
        wrong = _creds({**env, "LOCALCLOUD_CONTROL_TOKEN": "wrong"}, port)
        assert wrong.returncode != 0
        assert "AccessKeyId" not in wrong.stdout
        neither = _creds({**env, "HUBSPOKE_STATE": str(tmp_path / "elsewhere")}, port)
        assert neither.returncode != 0
        assert neither.stdout == ""
        assert neither.stderr.count("\n") == 1, neither.stderr
        assert "LOCALCLOUD_CONTROL_TOKEN" in neither.stderr
        assert str(tmp_path / "elsewhere" / f"localcloud-{port}.token") in neither.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()
    assert not token_file.exists()
    assert "localcloud stopped" in (tmp_path / "serve.log").read_text()
