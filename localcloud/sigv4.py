"""Verifying AWS Signature Version 4 on incoming requests.

The canonical request is rebuilt from what arrived on the wire (raw path, raw query, the signed
headers, the payload hash) exactly as AWS documents it, so a request signed with a secret that
localcloud did not issue fails as it would on AWS. As on AWS, the signature binds the body too
(the payload hash a request claims must be the hash of the body it carries; S3's streaming
chunks are verified chunk by chunk), and binds the time: a request signed more than 15 minutes
from now, or a presigned URL past its ``X-Amz-Expires``, is refused.

Errors carry S3's codes for S3 and the generic ones (``SignatureDoesNotMatch``,
``IncompleteSignature``) otherwise; the gateway words the generic ones per protocol.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from botocore.utils import normalize_url_path

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
# The payload-hash literals S3 accepts in place of a digest (SigV4a's ECDSA forms are not served).
_S3_PAYLOAD_LITERALS = {
    UNSIGNED_PAYLOAD,
    STREAMING_UNSIGNED_TRAILER,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
}
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
# AWS refuses a request signed more than 15 minutes before or after its own clock.
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 604800  # one week, in seconds
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method."
)


class SignatureError(Exception):
    """The request is unsigned, malformed, stale or signed with the wrong secret."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


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
    expires: str = ""

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
        expires = ""
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
        expires = query.get("X-Amz-Expires", "")
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
        expires=expires,
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
    payload_hash = claimed_payload_hash(signed, headers, query_pairs, body)
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


def claimed_payload_hash(
    signed: SignedRequest,
    headers: dict[str, str],
    query_pairs: list[tuple[str, str]],
    body: bytes,
) -> str:
    """The payload hash of the canonical request.

    S3 takes what the request claims (``x-amz-content-sha256``, or for a presigned URL
    ``UNSIGNED-PAYLOAD`` unless the query names a hash); :func:`verify` then holds a claimed
    digest to the body. Every other service hashes the body it received, whatever a header
    says, so a body can never be swapped under a signature."""
    if signed.service != "s3":
        return hashlib.sha256(body).hexdigest()
    if signed.presigned:
        query = {unquote(k): unquote(v) for k, v in query_pairs}
        return query.get("X-Amz-Content-SHA256") or UNSIGNED_PAYLOAD
    return headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, signed: SignedRequest) -> bytes:
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), signed.date)
    key = _hmac(key, signed.region)
    key = _hmac(key, signed.service)
    return _hmac(key, "aws4_request")


def _sign(key: bytes, *lines: str) -> str:
    return hmac.new(key, "\n".join(lines).encode("utf-8"), hashlib.sha256).hexdigest()


def expected_signature(secret_key: str, signed: SignedRequest, canonical: str) -> str:
    return _sign(
        signing_key(secret_key, signed),
        "AWS4-HMAC-SHA256",
        signed.amz_date,
        signed.scope,
        hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    )


def verify(
    *,
    secret_key: str,
    method: str,
    raw_path: str,
    query_pairs: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    signed: SignedRequest,
    now: datetime | None = None,
) -> None:
    """Raise :class:`SignatureError` unless the request is signed right, in time, for this
    body."""
    s3 = signed.service == "s3"
    if not _REGION.match(signed.region):
        if s3:
            raise SignatureError(
                "AuthorizationHeaderMalformed",
                f"The authorization header is malformed; the region '{signed.region}' is wrong",
                400,
            )
        raise SignatureError(
            "SignatureDoesNotMatch", "Credential should be scoped to a valid region."
        )
    check_time(signed, now or datetime.now(UTC))
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
        raise SignatureError("SignatureDoesNotMatch", _MISMATCH)
    if s3:
        claimed = claimed_payload_hash(signed, headers, query_pairs, body)
        _check_s3_payload(claimed, headers, body, signing_key(secret_key, signed), signed)


def _parse_amz_date(signed: SignedRequest) -> datetime:
    try:
        return datetime.strptime(signed.amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        if signed.service == "s3":
            raise SignatureError(
                "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
            ) from None
        raise SignatureError(
            "IncompleteSignature",
            f"Date must be in ISO-8601 'basic format'. Got '{signed.amz_date}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601",
        ) from None


def check_time(signed: SignedRequest, now: datetime) -> None:
    """The scope date is the request's date; the request is within 15 minutes of ``now`` or,
    presigned, not yet past its ``X-Amz-Expires``."""
    s3 = signed.service == "s3"
    at = _parse_amz_date(signed)
    if signed.date != signed.amz_date[:8]:
        if s3 and signed.presigned:
            raise SignatureError(
                "AuthorizationQueryParametersError",
                f'Invalid credential date "{signed.date}". This date is not the same as '
                f'X-Amz-Date: "{signed.amz_date[:8]}".',
                400,
            )
        if s3:
            raise SignatureError(
                "AuthorizationHeaderMalformed",
                "The authorization header is malformed; Invalid credential date. "
                "Date is not the same as X-Amz-Date.",
                400,
            )
        raise SignatureError(
            "SignatureDoesNotMatch",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{signed.date}' != '{signed.amz_date[:8]}', from '{signed.amz_date}'.",
        )
    stamp = now.strftime(_AMZ_DATE)
    if signed.presigned:
        _check_expiry(signed, at, now)
        return
    if at < now - MAX_SKEW:
        if s3:
            raise SignatureError(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )
        raise SignatureError(
            "SignatureDoesNotMatch",
            f"Signature expired: {signed.amz_date} is now earlier than "
            f"{(now - MAX_SKEW).strftime(_AMZ_DATE)} ({stamp} - 15 min.)",
        )
    if at > now + MAX_SKEW:
        if s3:
            raise SignatureError(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )
        raise SignatureError(
            "SignatureDoesNotMatch",
            f"Signature not yet current: {signed.amz_date} is still later than "
            f"{(now + MAX_SKEW).strftime(_AMZ_DATE)} ({stamp} + 15 min.)",
        )


def _check_expiry(signed: SignedRequest, at: datetime, now: datetime) -> None:
    s3 = signed.service == "s3"
    try:
        expires = int(signed.expires)
    except ValueError:
        expires = -1
    if not 0 < expires <= MAX_PRESIGNED_EXPIRES:
        message = (
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
            if expires > MAX_PRESIGNED_EXPIRES
            else "X-Amz-Expires must be a positive number of seconds"
        )
        if s3:
            raise SignatureError("AuthorizationQueryParametersError", message, 400)
        raise SignatureError("IncompleteSignature", message)
    if at > now + MAX_SKEW:
        if s3:
            raise SignatureError("AccessDenied", "Request is not valid yet")
        raise SignatureError(
            "SignatureDoesNotMatch",
            f"Signature not yet current: {signed.amz_date} is still later than "
            f"{(now + MAX_SKEW).strftime(_AMZ_DATE)} ({now.strftime(_AMZ_DATE)} + 15 min.)",
        )
    if now > at + timedelta(seconds=expires):
        if s3:
            raise SignatureError("AccessDenied", "Request has expired")
        raise SignatureError(
            "SignatureDoesNotMatch",
            f"Signature expired: {signed.amz_date} is now earlier than "
            f"{(now - timedelta(seconds=expires)).strftime(_AMZ_DATE)} "
            f"({now.strftime(_AMZ_DATE)} - {expires} sec.)",
        )


def _check_s3_payload(
    claimed: str, headers: dict[str, str], body: bytes, key: bytes, signed: SignedRequest
) -> None:
    if claimed in {UNSIGNED_PAYLOAD, STREAMING_UNSIGNED_TRAILER}:
        return
    if claimed in {STREAMING_SIGNED, STREAMING_SIGNED_TRAILER}:
        _verify_chunks(body, headers, key, signed, trailer=claimed == STREAMING_SIGNED_TRAILER)
        return
    if not _HEX_SHA256.match(claimed):
        raise SignatureError(
            "InvalidArgument",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or "
            "a valid sha256 value.",
            400,
        )
    if not hmac.compare_digest(claimed, hashlib.sha256(body).hexdigest()):
        raise SignatureError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            400,
        )


def _verify_chunks(
    body: bytes, headers: dict[str, str], key: bytes, signed: SignedRequest, *, trailer: bool
) -> None:
    """``aws-chunked`` bodies: each chunk signed over the previous signature (the first over
    the request's), then, for the trailer form, the trailing headers signed over the last."""

    def bad(message: str = _MISMATCH) -> SignatureError:
        return SignatureError("SignatureDoesNotMatch", message)

    previous, pos, decoded = signed.signature, 0, 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            raise SignatureError("IncompleteBody", "The request body terminated unexpectedly", 400)
        size_hex, _, extension = body[pos:end].decode("latin-1").partition(";")
        name, _, signature = extension.partition("=")
        try:
            size = int(size_hex, 16)
        except ValueError:
            raise SignatureError(
                "IncompleteBody", "Malformed chunk in aws-chunked body", 400
            ) from None
        data = body[end + 2 : end + 2 + size]
        if name != "chunk-signature" or len(data) != size:
            raise SignatureError("IncompleteBody", "Malformed chunk in aws-chunked body", 400)
        expected = _sign(
            key,
            "AWS4-HMAC-SHA256-PAYLOAD",
            signed.amz_date,
            signed.scope,
            previous,
            EMPTY_SHA256,
            hashlib.sha256(data).hexdigest(),
        )
        if not hmac.compare_digest(expected, signature):
            raise bad()
        previous, pos, decoded = signature, end + 2 + size, decoded + size
        if size == 0:
            break
        if body[pos : pos + 2] != b"\r\n":
            raise SignatureError("IncompleteBody", "Malformed chunk in aws-chunked body", 400)
        pos += 2
    if str(decoded) != headers.get("x-amz-decoded-content-length", str(decoded)):
        raise SignatureError(
            "IncompleteBody",
            "You did not provide the number of bytes specified by the "
            "x-amz-decoded-content-length header",
            400,
        )
    rest = body[pos:]
    if not trailer:
        if rest.strip(b"\r\n"):
            raise SignatureError("IncompleteBody", "Malformed chunk in aws-chunked body", 400)
        return
    lines = [line for line in rest.decode("latin-1").split("\r\n") if line]
    fields = [line.partition(":") for line in lines]
    trailer_signature = next(
        (value.strip() for name, _, value in fields if name.lower() == "x-amz-trailer-signature"),
        None,
    )
    if trailer_signature is None:
        raise bad("The trailing headers carry no x-amz-trailer-signature")
    canonical_trailer = "".join(
        f"{name.strip().lower()}:{value.strip()}\n"
        for name, _, value in fields
        if name.lower() != "x-amz-trailer-signature"
    )
    expected = _sign(
        key,
        "AWS4-HMAC-SHA256-TRAILER",
        signed.amz_date,
        signed.scope,
        previous,
        hashlib.sha256(canonical_trailer.encode("utf-8")).hexdigest(),
    )
    if not hmac.compare_digest(expected, trailer_signature):
        raise bad()
