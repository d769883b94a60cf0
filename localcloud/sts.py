"""STS answered by localcloud: sessions are issued here so every later call can be traced
to a principal whose policies localcloud evaluates."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from localcloud.protocol import error_response

if TYPE_CHECKING:
    from localcloud.credentials import CredentialStore, Session
    from localcloud.directory import Directory
    from localcloud.protocol import AwsRequest

_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
# Role chaining caps a session at one hour, whatever the role's maximum.
_CHAINED_MAX = 3600


def _xml(operation: str, result: str, request_id: str) -> tuple[int, dict[str, str], bytes]:
    body = (
        f'<{operation}Response xmlns="{_NS}"><{operation}Result>{result}</{operation}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    )
    return 200, {"Content-Type": "text/xml"}, body.encode()


class StsHandler:
    def __init__(self, credentials: CredentialStore, directory: Directory) -> None:
        self.credentials = credentials
        self.directory = directory

    def __call__(
        self, session: Session, request: AwsRequest
    ) -> tuple[int, dict[str, str], bytes] | None:
        if request.operation == "GetCallerIdentity":
            session_name = session.caller_arn.rsplit("/", 1)[-1]
            role_id = self.directory.role_id(session.principal_arn)
            user_id = session.account if session.is_root else f"{role_id}:{session_name}"
            result = (
                f"<Arn>{escape(session.caller_arn)}</Arn><UserId>{escape(user_id)}</UserId>"
                f"<Account>{session.account}</Account>"
            )
            return _xml("GetCallerIdentity", result, request.request_id)
        if request.operation == "AssumeRole":
            return self._assume_role(session, request)
        return error_response(
            "sts",
            400,
            "InvalidAction",
            f"localcloud does not implement sts:{request.operation}; use AssumeRole",
            request.request_id,
        )

    def _assume_role(
        self, session: Session, request: AwsRequest
    ) -> tuple[int, dict[str, str], bytes]:
        role_arn = str(request.params.get("RoleArn", ""))
        name = str(request.params.get("RoleSessionName", ""))
        if session.is_root:
            # AWS: "You cannot use AWS account root user credentials to call AssumeRole."
            return error_response(
                "sts",
                403,
                "AccessDenied",
                "Roles may not be assumed by root accounts.",
                request.request_id,
            )
        if not _SESSION_NAME.match(name):
            return error_response(
                "sts",
                400,
                "ValidationError",
                "1 validation error detected: Value at 'roleSessionName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
                request.request_id,
            )
        max_duration = self.directory.role_max_session(role_arn)
        if max_duration is None:
            return error_response(
                "sts",
                403,
                "AccessDenied",
                f"User: {session.caller_arn} is not authorized to perform: sts:AssumeRole "
                f"on resource: {role_arn}",
                request.request_id,
            )
        try:
            duration = int(request.params.get("DurationSeconds", 3600))
        except ValueError:
            duration = -1
        # The caller is always a role session here: assuming from it is role chaining.
        limit = min(_CHAINED_MAX, max_duration)
        if not 900 <= duration <= limit:
            return error_response(
                "sts",
                400,
                "ValidationError",
                f"The requested DurationSeconds exceeds the MaxSessionDuration set for this role"
                f" or the 1 hour limit of role chaining ({duration}s asked, {limit}s allowed)",
                request.request_id,
            )
        issued = self.credentials.issue_role_session(
            role_arn, name, duration=timedelta(seconds=duration), source_arn=session.caller_arn
        )
        role_id = self.directory.role_id(role_arn)
        result = (
            "<Credentials>"
            f"<AccessKeyId>{issued.access_key_id}</AccessKeyId>"
            f"<SecretAccessKey>{escape(issued.secret_access_key)}</SecretAccessKey>"
            f"<SessionToken>{issued.session_token}</SessionToken>"
            f"<Expiration>{issued.expiration.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>"
            "</Credentials>"
            f"<AssumedRoleUser><AssumedRoleId>{role_id}:{escape(name)}</AssumedRoleId>"
            f"<Arn>{escape(issued.caller_arn)}</Arn></AssumedRoleUser>"
        )
        return _xml("AssumeRole", result, request.request_id)
