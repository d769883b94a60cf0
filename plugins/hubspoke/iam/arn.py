"""Amazon Resource Names: parsing and the few ARN shapes the engine reasons about.

An ARN has six colon-separated parts: ``arn:partition:service:region:account:resource``.
The resource part may itself contain colons (S3 object keys, log streams), so only the
first five separators split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "Arn",
    "account_root",
    "is_account_id",
    "is_service_principal",
    "parse_arn",
    "try_parse_arn",
]

_ACCOUNT_ID = re.compile(r"^\d{12}$")


@dataclass(frozen=True, slots=True)
class Arn:
    """A parsed ARN. ``resource`` is everything after the fifth colon."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def resource_type(self) -> str:
        """The part of the resource before the first ``/`` (``role``, ``model-package``...)."""
        return self.resource.split("/", 1)[0]

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


@lru_cache(maxsize=8192)
def try_parse_arn(text: str) -> Arn | None:
    """Parse ``text`` as an ARN, or return None when it is not one."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def parse_arn(text: str) -> Arn:
    """Parse ``text`` as an ARN; raise ValueError naming the value when it is not one."""
    arn = try_parse_arn(text)
    if arn is None:
        raise ValueError(
            f"{text!r} is not an ARN (expected arn:partition:service:region:account:resource)"
        )
    return arn


def is_account_id(text: str) -> bool:
    """True for a bare 12-digit AWS account ID."""
    return bool(_ACCOUNT_ID.match(text))


def account_root(account: str, partition: str = "aws") -> str:
    """The ARN that stands for a whole account in policies: ``arn:aws:iam::ACCT:root``."""
    return f"arn:{partition}:iam::{account}:root"


def is_service_principal(text: str) -> bool:
    """True for an AWS service principal such as ``sagemaker.amazonaws.com``."""
    return not text.startswith("arn:") and (
        text.endswith(".amazonaws.com") or text.endswith(".amazonaws.com.cn")
    )
