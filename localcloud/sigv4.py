"""Verifying AWS Signature Version 4 on incoming requests.

The canonical request is rebuilt from what arrived on the wire (raw path, raw query, the signed
headers, the payload hash) exactly as AWS documents it, so a request signed with a secret that
localcloud did not issue fails as it would on AWS.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from botocore.utils import normalize_url_path

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class SignatureError(Exception):
    """The request is unsigned, malformed or signed with the wrong secret."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SignedRequest:
    """What the Authorization header (or presigned query) claims."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    presigned: bool = False

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def parse_authorization(
    headers: dict[str, str], query_pairs: list[tuple[str, str]]
) -> SignedRequest:
    """Read the claimed credential scope from the headers or a presigned URL."""
    auth = headers.get("authorization")
    if auth:
        match = _AUTH.match(auth.strip())
        if not match:
            raise SignatureError(
                "IncompleteSignature", "Authorization header is not a valid SigV4 header"
            )
        credential, signed, signature = match["credential"], match["signed"], match["signature"]
        amz_date = headers.get("x-amz-date", "")
        presigned = False
    else:
        query = {unquote(k): unquote(v) for k, v in query_pairs}
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise SignatureError(
                "MissingAuthenticationToken", "Request is missing Authentication Token"
            )
        credential = query.get("X-Amz-Credential", "")
        signed = query.get("X-Amz-SignedHeaders", "")
        signature = query.get("X-Amz-Signature", "")
        amz_date = query.get("X-Amz-Date", "")
        presigned = True
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureError("IncompleteSignature", f"Credential scope is malformed: {credential}")
    if not amz_date:
        raise SignatureError("IncompleteSignature", "Request is missing X-Amz-Date")
    return SignedRequest(
        access_key_id=parts[0],
        date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=tuple(signed.split(";")),
        signature=signature,
        amz_date=amz_date,
        presigned=presigned,
    )


def _canonical_query(query_pairs: list[tuple[str, str]], drop_signature: bool) -> str:
    pairs = []
    for key, value in query_pairs:
        if drop_signature and unquote(key) == "X-Amz-Signature":
            continue
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(
    *,
    method: str,
    raw_path: str,
    query_pairs: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    signed: SignedRequest,
) -> str:
    if signed.service == "s3":
        # S3 signs the path as sent; every other service normalises and encodes it again.
        path = raw_path or "/"
    else:
        path = quote(normalize_url_path(raw_path or "/"), safe="/~")
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed.signed_headers
    )
    if signed.presigned:
        payload_hash = "UNSIGNED-PAYLOAD"
    else:
        payload_hash = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    return "\n".join(
        [
            method.upper(),
            path,
            _canonical_query(query_pairs, drop_signature=signed.presigned),
            canonical_headers,
            ";".join(signed.signed_headers),
            payload_hash,
        ]
    )


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def expected_signature(secret_key: str, signed: SignedRequest, canonical: str) -> str:
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            signed.amz_date,
            signed.scope,
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        ]
    )
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), signed.date)
    key = _hmac(key, signed.region)
    key = _hmac(key, signed.service)
    key = _hmac(key, "aws4_request")
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(
    *,
    secret_key: str,
    method: str,
    raw_path: str,
    query_pairs: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    signed: SignedRequest,
) -> None:
    """Raise :class:`SignatureError` unless ``signed.signature`` is right for this request."""
    canonical = canonical_request(
        method=method,
        raw_path=raw_path,
        query_pairs=query_pairs,
        headers=headers,
        body=body,
        signed=signed,
    )
    expected = expected_signature(secret_key, signed, canonical)
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
