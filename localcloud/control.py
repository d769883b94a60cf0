"""localcloud's own small API (not AWS): health and credentials for bootstrapped roles.

``POST /_localcloud/sessions {"role_arn": ARN}`` returns a session of that role as if the
service its trust policy names had assumed it; ``{"admin": true}`` returns the management
account's admin key. It is how `hubspoke localcloud creds` works; it exists only locally.

It is not signed (it is where keys come from). Every request but ``GET health`` must carry
the server's control token in the ``X-Localcloud-Control-Token`` header (403 otherwise): the
token is ``LOCALCLOUD_CONTROL_TOKEN`` when set, else made at start; `hubspoke localcloud serve`
writes it to a file only its user can read, and the clients send it. So another user of the
machine, or a process that cannot read that file or environment, gets no keys.

It also guards against the two ways a web page in a local browser could reach it: a request
whose ``Host`` is not a name this machine or its containers use (DNS rebinding: a page's own
domain made to resolve to 127.0.0.1) is refused with 421, and a POST must be
``Content-Type: application/json`` (415 otherwise), which no cross-origin page can send
without a CORS preflight, and localcloud answers no preflight.
Accepted hosts: loopback names (``localhost``, ``*.localhost``), IP addresses, names without a
dot (container and service names such as ``localcloud``), the address localcloud is bound to,
and the names listed, comma-separated, in ``LOCALCLOUD_CONTROL_HOSTS``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]


def _json(status: int, payload: dict[str, Any]) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


HOSTS_ENV = "LOCALCLOUD_CONTROL_HOSTS"
TOKEN_ENV = "LOCALCLOUD_CONTROL_TOKEN"
TOKEN_HEADER = "X-Localcloud-Control-Token"


def control_token_from_environment() -> str:
    """``$LOCALCLOUD_CONTROL_TOKEN`` if set, else a new random token."""
    return os.environ.get(TOKEN_ENV, "").strip() or secrets.token_urlsafe(32)


def token_matches(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _host_name(host: str) -> str:
    """The name of a Host header value, without port or IPv6 brackets, lower-cased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(host: str, bound: str) -> bool:
    """Whether a Host header names this localcloud in a way no web page can borrow."""
    name = _host_name(host)
    if not name:
        return False
    extra = {_host_name(h) for h in os.environ.get(HOSTS_ENV, "").split(",") if h.strip()}
    return (
        name == "localhost"
        or name.endswith(".localhost")
        or _is_ip(name)
        or "." not in name
        or name == _host_name(bound)
        or name in extra
    )


class ControlApi:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud

    def __call__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if not host_allowed(headers.get("host", ""), self.cloud.host):
            return _json(
                421,
                {
                    "error": f"localcloud does not answer to Host {headers.get('host', '')!r}; "
                    f"use 127.0.0.1 or localhost, or list the name in {HOSTS_ENV}"
                },
            )
        if method == "POST":
            media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
            if media_type != "application/json":
                return _json(415, {"error": "the body must be sent as application/json"})
        if path == "health" and method == "GET":
            return _json(200, {"status": "ok", "region": self.cloud.region})
        if not token_matches(headers.get(TOKEN_HEADER.lower(), ""), self.cloud.control_token):
            return _json(
                403,
                {
                    "error": f"missing or wrong {TOKEN_HEADER}: the localcloud control token "
                    f"is ${TOKEN_ENV} if the server was started with it, else in the file "
                    "`hubspoke localcloud serve` printed at start (localcloud-<port>.token in "
                    "$HUBSPOKE_STATE or ~/.cache/hubspoke)"
                },
            )
        if path == "sessions" and method == "POST":
            return self._session(body)
        if path == "bootstrap" and method == "POST":
            return self._bootstrap()
        return _json(404, {"error": f"no such localcloud endpoint: {method} /{path}"})

    def _bootstrap(self) -> Response:
        from localcloud.bootstrap import bootstrap

        try:
            report = bootstrap(self.cloud)
        except ValueError as exc:  # a template or config problem
            return _json(400, {"error": str(exc)})
        return _json(200, {"changes": report.changes, "seconds": round(report.seconds, 3)})

    def _session(self, body: bytes) -> Response:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _json(400, {"error": "the body must be JSON"})
        if request.get("admin"):
            session = self.cloud.admin
        else:
            role_arn = str(request.get("role_arn", ""))
            if not self.cloud.directory.role_exists(role_arn):
                return _json(
                    404,
                    {
                        "error": f"no role {role_arn!r} in localcloud; "
                        "run `hubspoke localcloud bootstrap` or check the ARN"
                    },
                )
            session = self.cloud.credentials.issue_role_session(
                role_arn, str(request.get("session_name") or "localcloud-creds")
            )
        return _json(
            200,
            {
                "AccessKeyId": session.access_key_id,
                "SecretAccessKey": session.secret_access_key,
                "SessionToken": session.session_token,
                "Expiration": session.expiration.isoformat(),
                "Arn": session.caller_arn,
                "Region": self.cloud.region,
            },
        )
