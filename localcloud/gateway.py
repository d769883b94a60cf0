"""The front door of localcloud: every request is authenticated, authorized, then routed.

A WSGI middleware in front of moto's server app. It verifies the SigV4 signature against
the keys localcloud issued, resolves the caller (account, role, session), asks the
:class:`Authorizer` whether the call is allowed, and forwards it to moto with the caller's
account as moto's routing header. STS is answered here: assuming a role is a governance
decision (trust policy, SCPs), not storage.
"""

from __future__ import annotations

import io
import logging
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote, unquote_plus

from localcloud import rpcv2_cbor
from localcloud.authz import s3 as s3_rules
from localcloud.protocol import (
    AuthRefusals,
    AwsRequest,
    error_response,
    request_protocol,
    service_model,
    service_name,
)
from localcloud.sigv4 import SignatureError, SignedRequest, parse_authorization, verify

if TYPE_CHECKING:
    from localcloud.credentials import CredentialStore, Session

log = logging.getLogger("localcloud")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    415: "Unsupported Media Type",
    421: "Misdirected Request",
    501: "Not Implemented",
}
# moto's own applications: its management API (reset, state dump, seeding) and the EC2
# instance metadata stand-in. No request may reach them through localcloud.
_MOTO_INTERNAL_BACKENDS = {"moto_api", "moto_api._internal", "instance_metadata"}
_MOTO_INTERNAL_PATHS = ("/moto-api", "/latest/meta-data", "/latest/api", "/favicon.ico")


@dataclass(frozen=True)
class Denial:
    """Why a call is refused, in the caller's protocol: code, HTTP status, message."""

    code: str
    message: str
    status: int = 400


class Authorizer(Protocol):
    def authorize(self, session: Session, request: AwsRequest) -> Denial | None:
        """None to allow; a :class:`Denial` worded as AWS words it otherwise."""

    def after(self, session: Session, request: AwsRequest) -> None:
        """Called once the store has handled an allowed request."""


class AllowAll:
    """Enforcement switched off (``--no-enforce``): authentication still applies."""

    def authorize(self, session: Session, request: AwsRequest) -> Denial | None:
        return None

    def after(self, session: Session, request: AwsRequest) -> None:
        return None


CONTROL_PREFIX = "/_localcloud/"
# (method, path under the prefix, headers, body) → (status, headers, body)
ControlHandler = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]
Handler = Callable[["Session", AwsRequest], tuple[int, dict[str, str], bytes] | None]


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    return headers


def _raw_target(environ: dict[str, Any]) -> tuple[str, str]:
    """The path and query exactly as the client sent them (signatures cover the raw form)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        raw = quote(environ.get("PATH_INFO", "/"))
        if environ.get("QUERY_STRING"):
            raw += "?" + environ["QUERY_STRING"]
    path, _, query = raw.partition("?")
    return path, query


def _is_moto_internal(path: str) -> bool:
    """Whether a path, decoded and normalised as any server might, is one of moto's own."""
    decoded = path
    for _ in range(3):  # doubly-encoded forms too
        decoded = unquote(decoded)
    normalised = posixpath.normpath("/" + decoded.replace("\\", "/")).lstrip("/").lower()
    return ("/" + normalised).startswith(_MOTO_INTERNAL_PATHS)


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        pairs.append((key, value))
    return pairs


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        body: bytes = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):  # chunked transfer: the server marks the end
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


class Gateway:
    """WSGI app: authenticate → authorize → handle here or forward to moto."""

    def __init__(
        self,
        backend: WsgiApp,
        credentials: CredentialStore,
        authorizer: Authorizer,
        handlers: dict[str, Handler] | None = None,
        control: ControlHandler | None = None,
    ) -> None:
        self.backend = backend
        self.credentials = credentials
        self.authorizer = authorizer
        # service name → handler answering what moto must not (returns None to fall through).
        self.handlers = handlers or {}
        # localcloud's own API under /_localcloud/ (credentials, health): not AWS, unsigned,
        # guarded by the server's control token (see localcloud.control).
        self.control = control

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._handle(environ, start_response)
        except Exception as exc:  # a localcloud bug must still answer in the caller's protocol
            log.exception(
                "localcloud failed on %s %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
            )
            headers = _headers(environ)
            service = _guess_service(headers, environ.get("PATH_INFO", "/"))
            return self._error(
                start_response,
                service,
                request_protocol(service, headers),
                500,
                "InternalFailure",
                f"localcloud error: {exc!r}",
            )

    def _handle(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = _read_body(environ)
        path, query = _raw_target(environ)
        headers = _headers(environ)
        # Only the gateway decides which account a request runs in.
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
        if not path.startswith("/") or "#" in path:
            # Absolute-form or fragment targets: servers and moto would read another path.
            return self._respond(
                start_response, 400, {"Content-Type": "text/plain"}, b"Bad request target\n"
            )
        if _is_moto_internal(path) or _is_moto_internal(environ.get("PATH_INFO", "")):
            return self._respond(
                start_response, 404, {"Content-Type": "text/plain"}, b"Not Found\n"
            )
        if path.startswith(CONTROL_PREFIX):
            if self.control is None:
                return self._respond(start_response, 404, {}, b"")
            status, out_headers, out_body = self.control(
                environ["REQUEST_METHOD"], path[len(CONTROL_PREFIX) :], headers, body
            )
            return self._respond(start_response, status, out_headers, out_body)
        query_pairs = _query_pairs(query)
        try:
            signed = parse_authorization(headers, query_pairs)
        except SignatureError as exc:
            guessed = _guess_service(headers, path)
            protocol = request_protocol(guessed, headers)
            return self._error(start_response, guessed, protocol, 403, exc.code, exc.message)
        service = service_name(signed.service, path)
        try:
            protocol = request_protocol(service, headers)
        except Exception:  # an unknown service name in the scope
            return self._error(
                start_response,
                "sts",
                None,
                400,
                "UnknownService",
                f"unknown service {signed.service}",
            )
        refused = AuthRefusals(service, protocol)
        session = self.credentials.get(signed.access_key_id)
        if session is None:
            return self._error(start_response, service, protocol, *refused.unknown_key())
        try:
            verify(
                secret_key=session.secret_access_key,
                method=environ["REQUEST_METHOD"],
                raw_path=path,
                query_pairs=query_pairs,
                headers=headers,
                body=body,
                signed=signed,
            )
        except SignatureError as exc:
            return self._error(
                start_response,
                service,
                protocol,
                *refused.signature(exc.code, exc.message, exc.status),
            )
        token = headers.get("x-amz-security-token")
        if token is None and signed.presigned:
            token = next(
                (unquote(v) for k, v in query_pairs if unquote(k) == "X-Amz-Security-Token"), None
            )
        if session.session_token and token != session.session_token:
            return self._error(start_response, service, protocol, *refused.invalid_token())
        if session.expired:
            return self._error(start_response, service, protocol, *refused.expired())
        if service == "s3":
            problem = _s3_addressing_problem(environ, query_pairs)
            if problem is not None:
                return self._error(start_response, service, protocol, *problem)
        try:
            request = AwsRequest.decode(
                service, environ["REQUEST_METHOD"], path, headers, body, query_pairs, signed.region
            )
        except rpcv2_cbor.MalformedRequest as exc:
            return self._error(start_response, service, protocol, exc.status, exc.code, exc.message)
        try:
            denial = self.authorizer.authorize(session, request)
        except s3_rules.UnsupportedRequest as exc:
            return self._error(
                start_response,
                service,
                protocol,
                exc.status,
                exc.code,
                exc.message,
                request.request_id,
            )
        if denial is not None:
            return self._error(
                start_response,
                service,
                protocol,
                denial.status,
                denial.code,
                denial.message,
                request.request_id,
            )
        handler = self.handlers.get(service)
        if handler is not None:
            answer = handler(session, request)
            if answer is not None:
                status, out_headers, out_body = answer
                if status < 300:
                    self.authorizer.after(session, request)
                return self._respond(start_response, status, out_headers, out_body)
        backend = self._backend_for(environ, signed, service)
        if backend is None:
            return self._error(
                start_response,
                service,
                protocol,
                400,
                "InvalidRequest",
                f"localcloud cannot route this {service} request to its service",
                request.request_id,
            )
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = session.account
        if protocol == rpcv2_cbor.PROTOCOL:  # moto cannot read CBOR: translate both ways
            status, out_headers, out_body = rpcv2_cbor.forward(
                backend,
                environ,
                service_model(service),
                request.operation or "",
                request.params,
                request.request_id,
            )
            self.authorizer.after(session, request)
            return self._respond(start_response, status, out_headers, out_body)
        response = backend(environ, start_response)
        # moto has applied the change by now: let the authorizer see policies as they are.
        self.authorizer.after(session, request)
        return response

    def _backend_for(
        self, environ: dict[str, Any], signed: SignedRequest, service: str
    ) -> WsgiApp | None:
        """The moto application for the service the request was signed for.

        moto's dispatcher picks an application from the path (``/moto-api``), then the
        Authorization header; a presigned request has none, and would be routed by its path.
        The choice is made here from the verified scope instead, and refused if it is moto's
        own API, or S3 for another service (or the reverse)."""
        get_application = getattr(self.backend, "get_application", None)
        if get_application is None:  # a plain WSGI app (tests): nothing to choose
            return self.backend
        routing = dict(environ)
        routing["HTTP_AUTHORIZATION"] = (
            f"AWS4-HMAC-SHA256 Credential={signed.access_key_id}/{signed.scope}, "
            "SignedHeaders=host, Signature=0"
        )
        app: WsgiApp = get_application(routing)
        name = getattr(app, "service", None)
        if not isinstance(name, str) or name in _MOTO_INTERNAL_BACKENDS:
            return None
        if (name == "s3") != (service == "s3"):
            return None
        return app

    def _error(
        self,
        start_response: StartResponse,
        service: str,
        protocol: str | None,
        status: int,
        code: str,
        message: str,
        request_id: str = "",
    ) -> Iterable[bytes]:
        import uuid

        status, headers, body = error_response(
            service, status, code, message, request_id or str(uuid.uuid4()), protocol
        )
        return self._respond(start_response, status, headers, body)

    @staticmethod
    def _respond(
        start_response: StartResponse, status: int, headers: dict[str, str], body: bytes
    ) -> Iterable[bytes]:
        headers = {**headers, "Content-Length": str(len(body))}
        start_response(f"{status} {_STATUS_TEXT.get(status, 'Error')}", list(headers.items()))
        return [body]


def _s3_addressing_problem(
    environ: dict[str, Any], query_pairs: list[tuple[str, str]]
) -> tuple[int, str, str] | None:
    """Why an S3 request cannot be served path-style as checked, if it cannot: a Host that
    names a bucket (moto would act on that bucket, not the path's), or a repeated query
    parameter (moto reads the first, a dict the last)."""
    if s3_rules.host_names_bucket(environ):
        host = environ.get("HTTP_HOST", "")
        return (
            400,
            "InvalidRequest",
            f"localcloud serves S3 path-style only: the Host header {host!r} names a bucket; "
            "address the bucket in the path (botocore does so against an endpoint_url)",
        )
    names = [unquote_plus(key) for key, _ in query_pairs]
    if len(names) != len(set(names)):
        return 400, "InvalidArgument", "A query parameter is given more than once"
    return None


def _is_cbor(headers: dict[str, str]) -> bool:
    return headers.get("smithy-protocol") == "rpc-v2-cbor"


def _guess_service(headers: dict[str, str], path: str) -> str:
    """Best guess of the protocol of a request not (yet) tied to a service, to shape its error
    (CloudWatch is the one RPC v2 CBOR service localcloud serves)."""
    if _is_cbor(headers):
        return "cloudwatch"
    if headers.get("x-amz-target"):
        return "sagemaker"
    return "sts" if path in {"", "/"} else "s3"
