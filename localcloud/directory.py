"""Looking up IAM state (roles and their documents) in moto's store, in-process."""

from __future__ import annotations

from moto.core.exceptions import ServiceException, _RESTError
from moto.iam.models import iam_backends


class Directory:
    """Read access to the IAM entities every account holds."""

    def _role(self, role_arn: str):
        parts = role_arn.split(":")
        if len(parts) < 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
            return None
        try:
            return iam_backends[parts[4]]["aws"].get_role_by_arn(role_arn)
        except (ServiceException, _RESTError, KeyError):
            return None

    def role_exists(self, role_arn: str) -> bool:
        return self._role(role_arn) is not None

    def role_id(self, role_arn: str) -> str:
        role = self._role(role_arn)
        return str(role.id) if role is not None else "AROAUNKNOWN"

    def role_max_session(self, role_arn: str) -> int | None:
        """The role's MaxSessionDuration in seconds, or None if there is no such role."""
        role = self._role(role_arn)
        return int(role.max_session_duration) if role is not None else None
