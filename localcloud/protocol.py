"""What a request is (service, operation, parameters) and how AWS shapes its errors.

Each AWS service speaks one wire protocol; an error must come back in that protocol's shape
or the SDK cannot read it (a SageMaker denial as S3 XML would surface as a parse error).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import botocore.session

# Signing name → botocore service name, where they differ or are ambiguous.
_BY_SIGNING_NAME = {"monitoring": "cloudwatch"}


@cache
def _botocore() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def protocol_of(service: str) -> str:
    return str(_botocore().get_service_model(service).protocol)


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
        request = cls(service, None, method, path, headers, body, query_pairs, region=region)
        protocol = protocol_of(service)
        if protocol == "json":
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


def error_response(
    service: str, status: int, code: str, message: str, request_id: str
) -> tuple[int, dict[str, str], bytes]:
    """An AWS error in ``service``'s wire protocol: (status, headers, body)."""
    protocol = protocol_of(service)
    headers = {"x-amzn-RequestId": request_id, "x-amz-request-id": request_id}
    if protocol in {"json", "rest-json", "smithy-rpc-v2-cbor"}:
        headers["Content-Type"] = "application/x-amz-json-1.1"
        headers["x-amzn-ErrorType"] = code
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
