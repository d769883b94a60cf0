"""What a request is (service, operation, parameters) and how AWS shapes its errors.

An error must come back in the wire protocol of the request or the SDK cannot read it (a
SageMaker denial as S3 XML would surface as a parse error). Most services speak one
protocol; CloudWatch accepts three (RPC v2 CBOR, awsJson1_0, query), so the protocol is read
from each request, not assumed from the service.
"""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import ServiceModel

from localcloud import rpcv2_cbor

# Signing name → botocore service name, where they differ or are ambiguous.
_BY_SIGNING_NAME = {"monitoring": "cloudwatch"}


@cache
def _botocore() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service_model(service: str) -> ServiceModel:
    return _botocore().get_service_model(service)


def protocol_of(service: str) -> str:
    """The protocol botocore's clients speak to ``service`` (the first of the service's
    protocols botocore supports, e.g. awsJson1_0 for CloudWatch, not its first listed)."""
    return str(service_model(service).resolved_protocol)


def request_protocol(service: str, headers: dict[str, str]) -> str:
    """The protocol a request was sent in, among those ``service`` accepts."""
    content_type = headers.get("content-type", "")
    if headers.get("smithy-protocol") == "rpc-v2-cbor" and accepts(service, rpcv2_cbor.PROTOCOL):
        return rpcv2_cbor.PROTOCOL
    if content_type.startswith("application/x-amz-json") and accepts(service, "json"):
        return "json"
    if content_type.startswith("application/x-www-form-urlencoded") and accepts(service, "query"):
        return "query"
    return protocol_of(service)


def accepts(service: str, protocol: str) -> bool:
    """Whether ``service`` takes requests in ``protocol`` (its model's ``protocols`` list)."""
    model = service_model(service)
    return protocol in (model.metadata.get("protocols") or [model.protocol])


def is_query_compatible(service: str) -> bool:
    """A former query service now also on JSON or CBOR (``awsQueryCompatible``): its clients
    still expect the query error codes, which travel in ``x-amzn-query-error``."""
    return "awsQueryCompatible" in service_model(service).metadata


def service_name(signing_name: str, path: str) -> str:
    """The botocore service a request is for, from its signing scope and path."""
    if signing_name == "sagemaker" and path.startswith("/endpoints/"):
        return "sagemaker-runtime"
    return _BY_SIGNING_NAME.get(signing_name, signing_name)


@dataclass
class AwsRequest:
    """One incoming call, decoded enough to authorize it."""

    service: str
    operation: str | None
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query_pairs: list[tuple[str, str]]
    params: dict[str, Any] = field(default_factory=dict)
    region: str = "us-east-1"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def decode(
        cls,
        service: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        query_pairs: list[tuple[str, str]],
        region: str = "us-east-1",
    ) -> AwsRequest:
        """Raises :class:`~localcloud.rpcv2_cbor.MalformedRequest` for a CBOR request whose
        path or body cannot be decoded (AWS refuses those before authorizing anything)."""
        request = cls(service, None, method, path, headers, body, query_pairs, region=region)
        protocol = request_protocol(service, headers)
        if protocol in {rpcv2_cbor.PROTOCOL, "json", "query"}:  # never an S3 object's body
            body = _decompressed(headers, body)
        if protocol == rpcv2_cbor.PROTOCOL:
            model = service_model(service)
            request.operation, request.params = rpcv2_cbor.decode_request(model, path, body)
        elif protocol == "json":
            target = headers.get("x-amz-target", "")
            request.operation = target.rsplit(".", 1)[-1] or None
            try:
                request.params = json.loads(body) if body else {}
            except ValueError:
                request.params = {}
        elif protocol == "query":
            form = dict(parse_qsl(body.decode("utf-8", "replace"))) if body else {}
            form.update(dict(query_pairs))
            request.operation = form.get("Action")
            request.params = form
        return request


def _decompressed(headers: dict[str, str], body: bytes) -> bytes:
    """The body as sent before compression: botocore gzips large PutMetricData bodies, and
    the parameters must be read for authorization all the same (the signature covers the
    compressed bytes, so only this decoding sees them uncompressed)."""
    if "gzip" not in headers.get("content-encoding", "") or not body:
        return body
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as exc:
        raise rpcv2_cbor.MalformedRequest(
            "SerializationException", f"Content-Encoding is gzip but the body is not: {exc}"
        ) from exc


_INVALID_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True)
class AuthRefusals:
    """(status, code, message) of the authentication failures, as ``service`` words them in
    ``protocol``: JSON services say ``UnrecognizedClientException`` (400); query and XML
    services ``InvalidClientTokenId`` (403), and so does a service that still accepts query
    (CloudWatch) on whichever wire the request came, as its query clients always knew it."""

    service: str
    protocol: str

    @property
    def _json_style(self) -> bool:
        json_family = self.protocol in {"json", rpcv2_cbor.PROTOCOL}
        return json_family and not accepts(self.service, "query")

    def unknown_key(self) -> tuple[int, str, str]:
        if self.service == "s3":
            return (
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            )
        if self._json_style:
            return 400, "UnrecognizedClientException", _INVALID_TOKEN
        return 403, "InvalidClientTokenId", _INVALID_TOKEN

    def invalid_token(self) -> tuple[int, str, str]:
        # A key with the wrong session token is refused as an unknown key is.
        if self._json_style:
            return 400, "UnrecognizedClientException", _INVALID_TOKEN
        return 403, "InvalidClientTokenId", _INVALID_TOKEN

    def signature(self, code: str, message: str, status: int = 403) -> tuple[int, str, str]:
        """A signature refusal (:mod:`localcloud.sigv4`'s generic code) in this service's
        words: JSON services say ``InvalidSignatureException`` and
        ``IncompleteSignatureException`` (400); S3's own codes pass as they are."""
        if self.service == "s3":
            return status, code, message
        if code == "SignatureDoesNotMatch" and self._json_style:
            return 400, "InvalidSignatureException", message
        if code == "IncompleteSignature":
            return 400, "IncompleteSignatureException" if self._json_style else code, message
        return status, code, message

    def expired(self) -> tuple[int, str, str]:
        message = "The security token included in the request is expired"
        if self._json_style:
            return 400, "ExpiredTokenException", message
        return 403, "ExpiredToken", message


def error_response(
    service: str,
    status: int,
    code: str,
    message: str,
    request_id: str,
    protocol: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """An AWS error in ``protocol`` (default: ``service``'s): (status, headers, body)."""
    protocol = protocol or protocol_of(service)
    if protocol == rpcv2_cbor.PROTOCOL:
        return rpcv2_cbor.error_response(service_model(service), status, code, message, request_id)
    headers = {"x-amzn-RequestId": request_id, "x-amz-request-id": request_id}
    if protocol in {"json", "rest-json"}:
        headers["Content-Type"] = "application/x-amz-json-1.1"
        headers["x-amzn-ErrorType"] = code
        if is_query_compatible(service):
            headers["x-amzn-query-error"] = f"{code};{'Receiver' if status >= 500 else 'Sender'}"
        body = json.dumps({"__type": code, "message": message, "Message": message})
        return status, headers, body.encode()
    headers["Content-Type"] = "text/xml"
    if protocol == "rest-xml":
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
    else:
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return status, headers, xml.encode()
