"""Smithy RPC v2 CBOR in front of moto, which only speaks awsJson1_0 for the same services.

CloudWatch's model lists ``smithy-rpc-v2-cbor`` as its first protocol; the SDKs that follow
that order send ``POST /service/<targetPrefix>/operation/<Operation>`` with a CBOR body and
``smithy-protocol: rpc-v2-cbor`` (botocore 1.43 itself ranks awsJson first and sends JSON).
moto 5.2.5 understands the same service over awsJson1_0, whose shapes are identical but
whose scalars are written differently (timestamps as epoch numbers instead of CBOR tag 1,
blobs as base64 instead of byte strings, non-finite doubles as strings). So a request is
decoded here, walked along the operation's input shape into its JSON form, sent to moto as
awsJson1_0, and moto's answer is walked along the output (or error) shape back into CBOR,
as AWS itself would have encoded it.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.utils import parse_timestamp

PROTOCOL = "smithy-rpc-v2-cbor"
CONTENT_TYPE = "application/cbor"
_JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# awsJson writes the doubles JSON cannot hold as these strings.
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

# The body moto gets is plain JSON: no CBOR markers, and no longer compressed.
_NOT_FORWARDED = frozenset(
    {"HTTP_SMITHY_PROTOCOL", "HTTP_ACCEPT", "HTTP_X_AMZN_QUERY_MODE", "HTTP_CONTENT_ENCODING"}
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Leaf = Callable[[Shape, Any, str], Any]


class MalformedRequest(Exception):
    """A request the protocol itself rejects, before any operation runs."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# ------------------------------------------------------------------ walking a shape


def _walk(shape: Shape, value: Any, leaf: Leaf, where: str) -> Any:
    """``value`` with every scalar replaced by ``leaf(shape, scalar, where)``.

    Containers are rebuilt along the model, so members the model does not know are dropped
    (as a service deserializer ignores them) and nulls vanish (CBOR null means absent)."""
    kind = shape.type_name
    if kind == "structure" and not getattr(shape, "is_document_type", False):
        if not isinstance(value, dict):
            raise TypeError(f"{where or 'the body'} must be a map (structure {shape.name})")
        members = shape.members
        return {
            name: _walk(member, value[name], leaf, f"{where}.{name}".lstrip("."))
            for name, member in members.items()
            if value.get(name) is not None
        }
    if kind == "list":
        if not isinstance(value, list):
            raise TypeError(f"{where} must be an array")
        member = shape.member
        return [_walk(member, item, leaf, f"{where}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise TypeError(f"{where} must be a map")
        inner = shape.value
        return {key: _walk(inner, item, leaf, f"{where}.{key}") for key, item in value.items()}
    return leaf(shape, value, where)


# ------------------------------------------------------------------ request: CBOR → JSON

_EXPECTED: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "short": (int,),
    "byte": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "blob": (bytes, bytearray),
    "timestamp": (datetime, int, float),
}


def _json_scalar(shape: Shape, value: Any, where: str) -> Any:
    """One CBOR-decoded scalar in awsJson form; a value of the wrong type is refused."""
    kind = shape.type_name
    expected = _EXPECTED.get(kind)
    wrong_bool = isinstance(value, bool) and kind != "boolean"
    if expected is not None and (wrong_bool or not isinstance(value, expected)):
        raise TypeError(f"{where} must be a {kind}, not {type(value).__name__}")
    if kind == "timestamp":
        seconds = value.timestamp() if isinstance(value, datetime) else value
        return round(seconds, 3)
    if kind == "blob":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind in {"float", "double"} and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _decode_cbor(body: bytes) -> Any:
    """Exactly one CBOR data item: trailing bytes mean the body is not what was meant."""
    stream = io.BytesIO(body)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORDecodeError, ValueError, OverflowError) as exc:
        raise MalformedRequest("SerializationException", f"Malformed CBOR body: {exc}") from exc
    if stream.tell() != len(body):
        raise MalformedRequest(
            "SerializationException",
            f"Malformed CBOR body: {len(body) - stream.tell()} bytes after the first data item",
        )
    return item


def operation_of(model: ServiceModel, path: str) -> OperationModel:
    """The operation named by ``/service/<targetPrefix>/operation/<Operation>``."""
    parts = path.strip("/").split("/")
    prefix = model.metadata.get("targetPrefix")
    if len(parts) != 4 or parts[0] != "service" or parts[2] != "operation" or not parts[3]:
        raise MalformedRequest(
            "UnknownOperationException",
            f"Expected POST /service/{prefix}/operation/<Operation>, got {path}",
            404,
        )
    if parts[1] != prefix or parts[3] not in model.operation_names:
        raise MalformedRequest(
            "UnknownOperationException", f"Unknown operation {parts[1]}.{parts[3]}", 404
        )
    return model.operation_model(parts[3])


def decode_request(model: ServiceModel, path: str, body: bytes) -> tuple[str, dict[str, Any]]:
    """(operation, parameters in awsJson form) of an RPC v2 CBOR request.

    The JSON form is what the authorizer reads and what moto receives, so both see one
    decoding of the request."""
    operation = operation_of(model, path)
    data = _decode_cbor(body) if body else {}
    shape = operation.input_shape
    if shape is None:
        return operation.name, {}
    try:
        params = _walk(shape, data, _json_scalar, "")
    except TypeError as exc:
        raise MalformedRequest("SerializationException", f"Malformed request: {exc}") from exc
    return operation.name, params


# ------------------------------------------------------------------ response: JSON → CBOR


def _to_datetime(value: Any) -> datetime:
    """An epoch (to the millisecond, as awsJson carries it) or ISO timestamp, in UTC."""
    if isinstance(value, int | float):
        return _EPOCH + timedelta(milliseconds=round(value * 1000))
    parsed = parse_timestamp(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _cbor_scalar(shape: Shape, value: Any, where: str) -> Any:
    """One awsJson scalar as AWS writes it in CBOR: datetimes (tag 1), bytes, floats."""
    kind = shape.type_name
    if kind == "timestamp":
        return _to_datetime(value)
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if kind in {"float", "double"}:
        return _NON_FINITE[value] if isinstance(value, str) else float(value)
    if kind in {"integer", "long", "short", "byte"} and isinstance(value, float):
        return int(value)
    return value


def encode(value: Any) -> bytes:
    """CBOR with datetimes as tag 1 epoch seconds, the only date form botocore reads."""
    return cbor2.dumps(value, datetime_as_timestamp=True)


def _headers(request_id: str) -> dict[str, str]:
    return {
        "Content-Type": CONTENT_TYPE,
        "smithy-protocol": "rpc-v2-cbor",
        "x-amzn-RequestId": request_id,
    }


def error_response(
    model: ServiceModel, status: int, code: str, message: str, request_id: str
) -> tuple[int, dict[str, str], bytes]:
    """An error the RPC v2 CBOR way: ``__type`` and ``message`` in the body.

    For a service that was a query service (``awsQueryCompatible``), the code its query
    clients know travels in ``x-amzn-query-error`` (``Code;Sender``), which is what botocore
    reports as ``Error.Code``."""
    headers = _headers(request_id)
    if "awsQueryCompatible" in model.metadata:
        fault = "Receiver" if status >= 500 else "Sender"
        headers["x-amzn-query-error"] = f"{code};{fault}"
    return status, headers, encode({"__type": code, "message": message})


def _error_from_json(
    model: ServiceModel, status: int, headers: dict[str, str], body: bytes, request_id: str
) -> tuple[int, dict[str, str], bytes]:
    """moto's awsJson error, re-encoded with the members its error shape models; the query
    code header is kept as it is."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    if not isinstance(parsed, dict) or "__type" not in parsed:
        text = body.decode("utf-8", "replace").strip() or f"HTTP {status}"
        return error_response(model, status, "InternalFailure", text, request_id)
    shape_name = str(parsed["__type"]).rsplit("#", 1)[-1]
    shape = next((s for s in model.error_shapes if s.name == shape_name), None)
    fields = _walk(shape, parsed, _cbor_scalar, "") if shape is not None else {}
    message = parsed.get("message") or parsed.get("Message") or ""
    fields.update({"__type": shape_name, "message": message})
    out_headers = _headers(request_id)
    query_error = {k.lower(): v for k, v in headers.items()}.get("x-amzn-query-error")
    if query_error:
        out_headers["x-amzn-query-error"] = query_error
    return status, out_headers, encode(fields)


def response_from_json(
    operation: OperationModel,
    status: int,
    headers: dict[str, str],
    body: bytes,
    request_id: str,
) -> tuple[int, dict[str, str], bytes]:
    """moto's awsJson1_0 answer to ``operation`` as the RPC v2 CBOR answer AWS gives
    (with moto's request id when it gave one)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    request_id = lowered.get("x-amzn-requestid") or request_id
    if status >= 300:
        return _error_from_json(operation.service_model, status, headers, body, request_id)
    shape = operation.output_shape
    if shape is None:  # no output: an empty body, as for a Unit result
        return status, _headers(request_id), b""
    data = json.loads(body) if body.strip() else {}
    return status, _headers(request_id), encode(_walk(shape, data, _cbor_scalar, ""))


# ------------------------------------------------------------------ forwarding to moto


def _json_environ(
    environ: dict[str, Any], model: ServiceModel, operation: str, body: bytes
) -> dict[str, Any]:
    """The same request as moto's awsJson1_0 route expects it: ``POST /`` with a target."""
    forwarded = {key: value for key, value in environ.items() if key not in _NOT_FORWARDED}
    forwarded.update(
        {
            "PATH_INFO": "/",
            "RAW_URI": "/",
            "REQUEST_URI": "/",
            "QUERY_STRING": "",
            "CONTENT_TYPE": _JSON_CONTENT_TYPE,
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_AMZ_TARGET": f"{model.metadata['targetPrefix']}.{operation}",
            "wsgi.input": io.BytesIO(body),
        }
    )
    return forwarded


def _call(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Run a WSGI app to completion and keep what it answered."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return answer["status"], answer["headers"], body


def forward(
    app: WsgiApp,
    environ: dict[str, Any],
    model: ServiceModel,
    operation: str,
    params: dict[str, Any],
    request_id: str,
) -> tuple[int, dict[str, str], bytes]:
    """Answer a decoded RPC v2 CBOR request with moto's awsJson1_0 implementation."""
    body = json.dumps(params).encode()
    status, headers, out = _call(app, _json_environ(environ, model, operation, body))
    return response_from_json(model.operation_model(operation), status, headers, out, request_id)
