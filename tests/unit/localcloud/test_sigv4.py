"""SigV4 verification without a server: time, scope, payload hash, region."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from localcloud.sigv4 import (
    SignatureError,
    SignedRequest,
    canonical_request,
    expected_signature,
    verify,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SECRET = "secret"


def _signed_request(
    service: str,
    body: bytes,
    *,
    at: datetime = NOW,
    scope_date: str | None = None,
    region: str = "us-east-1",
    content_sha: str | None = None,
) -> tuple[SignedRequest, dict[str, str]]:
    amz_date = at.strftime("%Y%m%dT%H%M%SZ")
    headers = {"host": "127.0.0.1:4599", "x-amz-date": amz_date}
    if content_sha is not None:
        headers["x-amz-content-sha256"] = content_sha
    names = tuple(sorted(headers))
    unsigned = SignedRequest(
        "AKID", scope_date or amz_date[:8], region, service, names, "", amz_date
    )
    canonical = canonical_request(
        method="PUT", raw_path="/b/k", query_pairs=[], headers=headers, body=body, signed=unsigned
    )
    signature = expected_signature(SECRET, unsigned, canonical)
    return (
        SignedRequest("AKID", unsigned.date, region, service, names, signature, amz_date),
        headers,
    )


def _verify(signed: SignedRequest, headers: dict[str, str], body: bytes) -> None:
    verify(
        secret_key=SECRET,
        method="PUT",
        raw_path="/b/k",
        query_pairs=[],
        headers=headers,
        body=body,
        signed=signed,
        now=NOW,
    )


def _refusal(signed: SignedRequest, headers: dict[str, str], body: bytes) -> tuple[str, int]:
    with pytest.raises(SignatureError) as info:
        _verify(signed, headers, body)
    return info.value.code, info.value.status


def test_a_right_signature_in_time_passes() -> None:
    body = b"payload"
    signed, headers = _signed_request("s3", body, content_sha=hashlib.sha256(body).hexdigest())
    _verify(signed, headers, body)
    signed, headers = _signed_request("sagemaker", body, at=NOW - timedelta(minutes=14))
    _verify(signed, headers, body)


def test_s3_payload_hash_must_be_the_body_hash() -> None:
    signed, headers = _signed_request(
        "s3", b"genuine", content_sha=hashlib.sha256(b"genuine").hexdigest()
    )
    assert _refusal(signed, headers, b"forged") == ("XAmzContentSHA256Mismatch", 400)
    signed, headers = _signed_request("s3", b"x", content_sha="not-a-hash")
    assert _refusal(signed, headers, b"x") == ("InvalidArgument", 400)
    signed, headers = _signed_request("s3", b"any", content_sha="UNSIGNED-PAYLOAD")
    _verify(signed, headers, b"other body: not covered, as on AWS")


def test_other_services_hash_the_body_whatever_the_header_says() -> None:
    signed, headers = _signed_request("sagemaker", b"genuine")
    headers["x-amz-content-sha256"] = hashlib.sha256(b"genuine").hexdigest()
    assert _refusal(signed, headers, b"forged") == ("SignatureDoesNotMatch", 403)


@pytest.mark.parametrize(
    ("service", "expected"),
    [("s3", ("RequestTimeTooSkewed", 403)), ("sts", ("SignatureDoesNotMatch", 403))],
)
def test_skew_beyond_fifteen_minutes_is_refused(service: str, expected: tuple[str, int]) -> None:
    sha = hashlib.sha256(b"").hexdigest() if service == "s3" else None
    for at in (NOW - timedelta(minutes=16), NOW + timedelta(minutes=16)):
        signed, headers = _signed_request(service, b"", at=at, content_sha=sha)
        assert _refusal(signed, headers, b"") == expected


def test_scope_date_and_region_are_checked() -> None:
    signed, headers = _signed_request("sts", b"", scope_date="20150101")
    assert _refusal(signed, headers, b"") == ("SignatureDoesNotMatch", 403)
    signed, headers = _signed_request(
        "s3", b"", scope_date="20150101", content_sha=hashlib.sha256(b"").hexdigest()
    )
    assert _refusal(signed, headers, b"") == ("AuthorizationHeaderMalformed", 400)
    signed, headers = _signed_request("sqs", b"", region="x.s3")
    assert _refusal(signed, headers, b"") == ("SignatureDoesNotMatch", 403)
