"""The unit of authorization: one IAM action on one resource with its condition keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Check:
    """``action`` on ``resource`` must be allowed, given ``context`` condition keys.

    ``implied`` marks checks AWS makes on the caller's behalf beyond the named operation
    (``kms:Decrypt`` behind an SSE-KMS ``GetObject``, ``iam:PassRole`` behind ``CreateModel``).
    """

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    implied: bool = False


@dataclass(frozen=True)
class Target:
    """Where a request runs: the caller's account and the signed region."""

    account: str
    region: str

    def arn(self, service: str, resource: str, account: str | None = None) -> str:
        return f"arn:aws:{service}:{self.region}:{account or self.account}:{resource}"


def is_arn(value: object) -> bool:
    return isinstance(value, str) and value.startswith("arn:")
