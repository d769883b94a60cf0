"""localcloud's own small API (not AWS): health and credentials for bootstrapped roles.

``POST /_localcloud/sessions {"role_arn": ARN}`` returns a session of that role as if the
service its trust policy names had assumed it; ``{"admin": true}`` returns the management
account's admin key. It is how `hubspoke localcloud creds` works; it exists only locally.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]


def _json(status: int, payload: dict[str, Any]) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


class ControlApi:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud

    def __call__(self, method: str, path: str, body: bytes) -> Response:
        if path == "health" and method == "GET":
            return _json(200, {"status": "ok", "region": self.cloud.region})
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
