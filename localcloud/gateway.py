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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from localcloud.protocol import AwsRequest, error_response, protocol_of, service_name
from localcloud.sigv4 import SignatureError, parse_authorization, verify

if TYPE_CHECKING:
    from localcloud.credentials import CredentialStore, Session

log = logging.getLogger("localcloud")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_STATUS_TEXT = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}


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
ControlHandler = Callable[[str, str, bytes], tuple[int, dict[str, str], bytes]]
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
        # localcloud's own API under /_localcloud/ (credentials, health): not AWS, unsigned.
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
            return self._error(
                start_response, "sts", 500, "InternalFailure", f"localcloud error: {exc!r}"
            )

    def _handle(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = _read_body(environ)
        path, query = _raw_target(environ)
        headers = _headers(environ)
        # Only the gateway decides which account a request runs in.
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
        if path.startswith("/moto-api"):
            return self._respond(
                start_response, 404, {"Content-Type": "text/plain"}, b"Not Found\n"
            )
        if path.startswith(CONTROL_PREFIX):
            if self.control is None:
                return self._respond(start_response, 404, {}, b"")
            status, out_headers, out_body = self.control(
                environ["REQUEST_METHOD"], path[len(CONTROL_PREFIX) :], body
            )
            return self._respond(start_response, status, out_headers, out_body)
        query_pairs = _query_pairs(query)
        try:
            signed = parse_authorization(headers, query_pairs)
        except SignatureError as exc:
            return self._error(
                start_response, _guess_service(headers, path), 403, exc.code, exc.message
            )
        service = service_name(signed.service, path)
        try:
            protocol_of(service)
        except Exception:  # an unknown service name in the scope
            return self._error(
                start_response, "sts", 400, "UnknownService", f"unknown service {signed.service}"
            )
        session = self.credentials.get(signed.access_key_id)
        if session is None:
            code = "InvalidAccessKeyId" if service == "s3" else _invalid_token_code(service)
            return self._error(
                start_response,
                service,
                403 if protocol_of(service) != "json" else 400,
                code,
                "The security token included in the request is invalid."
                if code != "InvalidAccessKeyId"
                else "The AWS Access Key Id you provided does not exist in our records.",
            )
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
            return self._error(start_response, service, 403, exc.code, exc.message)
        token = headers.get("x-amz-security-token") or dict(query_pairs).get("X-Amz-Security-Token")
        if session.session_token and token != session.session_token:
            return self._error(
                start_response,
                service,
                403,
                _invalid_token_code(service),
                "The security token included in the request is invalid.",
            )
        if session.expired:
            return self._error(
                start_response,
                service,
                400 if protocol_of(service) == "json" else 403,
                "ExpiredTokenException" if protocol_of(service) == "json" else "ExpiredToken",
                "The security token included in the request is expired",
            )
        request = AwsRequest.decode(
            service, environ["REQUEST_METHOD"], path, headers, body, query_pairs, signed.region
        )
        denial = self.authorizer.authorize(session, request)
        if denial is not None:
            return self._error(
                start_response,
                service,
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
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = session.account
        response = self.backend(environ, start_response)
        # moto has applied the change by now: let the authorizer see policies as they are.
        self.authorizer.after(session, request)
        return response

    def _error(
        self,
        start_response: StartResponse,
        service: str,
        status: int,
        code: str,
        message: str,
        request_id: str = "",
    ) -> Iterable[bytes]:
        import uuid

        status, headers, body = error_response(
            service, status, code, message, request_id or str(uuid.uuid4())
        )
        return self._respond(start_response, status, headers, body)

    @staticmethod
    def _respond(
        start_response: StartResponse, status: int, headers: dict[str, str], body: bytes
    ) -> Iterable[bytes]:
        headers = {**headers, "Content-Length": str(len(body))}
        start_response(f"{status} {_STATUS_TEXT.get(status, 'Error')}", list(headers.items()))
        return [body]


def _invalid_token_code(service: str) -> str:
    # JSON services say UnrecognizedClientException; query and XML ones InvalidClientTokenId.
    return (
        "UnrecognizedClientException" if protocol_of(service) == "json" else "InvalidClientTokenId"
    )


def _guess_service(headers: dict[str, str], path: str) -> str:
    """Best guess of the protocol for an unsigned request, to shape its error."""
    if headers.get("x-amz-target"):
        return "sagemaker"
    return "sts" if path in {"", "/"} else "s3"
