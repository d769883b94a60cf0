"""Who is calling, and whether a Principal/NotPrincipal element names them.

A resource-based policy can name a caller at different levels, and the level decides how
much else must allow the request (see "Policy evaluation logic" and "Permissions boundaries
for IAM entities"):

* ``GRANT_DIRECT`` -- the statement names exactly who is calling: the assumed-role session
  ARN, an IAM user ARN, a service principal, or everyone (``"*"``). Within one account that
  grant stands on its own.
* ``GRANT_ROLE`` -- the statement names the role ARN behind a session. Within one account it
  needs no identity-based allow, but an implicit deny in the role's permissions boundary or
  in the session policy still limits it.
* ``GRANT_ACCOUNT`` -- the statement names the caller's account (``"111111111111"`` or
  ``arn:aws:iam::111111111111:root``): it delegates to the account, whose identity-based
  policies must then allow the request too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hubspoke.iam.arn import is_account_id, is_service_principal, try_parse_arn
from hubspoke.iam.errors import PolicyValidationError

__all__ = [
    "GRANT_ACCOUNT",
    "GRANT_DIRECT",
    "GRANT_NONE",
    "GRANT_ROLE",
    "Caller",
    "PrincipalSpec",
    "parse_principal",
    "service_caller",
]

GRANT_NONE, GRANT_ACCOUNT, GRANT_ROLE, GRANT_DIRECT = 0, 1, 2, 3

KIND_ROLE, KIND_USER, KIND_ROOT, KIND_SERVICE = "role", "user", "root", "service"


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal of a request, resolved.

    ``arn`` is what ``aws:PrincipalArn`` carries: the role ARN for a session (never the
    session ARN), the user ARN, the account root ARN, or the service principal name.
    """

    given: str
    kind: str
    account: str | None
    arn: str
    session_arn: str | None
    name: str | None
    partition: str = "aws"

    @property
    def is_service(self) -> bool:
        return self.kind == KIND_SERVICE

    @property
    def principal_type(self) -> str:
        """The value of ``aws:PrincipalType``."""
        return {
            KIND_ROLE: "AssumedRole",
            KIND_USER: "User",
            KIND_ROOT: "Account",
            KIND_SERVICE: "Service",
        }[self.kind]


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A parsed Principal or NotPrincipal element."""

    everyone: bool
    accounts: frozenset[str]
    arns: frozenset[str]
    services: frozenset[str]

    def grant_for(self, caller: Caller) -> int:
        """How strongly this element names ``caller`` (a ``GRANT_*`` level)."""
        if self.everyone:
            return GRANT_DIRECT
        if caller.kind == KIND_SERVICE:
            return GRANT_DIRECT if caller.arn in self.services else GRANT_NONE
        if caller.session_arn is not None and caller.session_arn in self.arns:
            return GRANT_DIRECT
        if caller.arn in self.arns:
            return GRANT_ROLE if caller.kind == KIND_ROLE else GRANT_DIRECT
        if caller.account is not None and caller.account in self.accounts:
            # The account root acting itself is the account.
            return GRANT_DIRECT if caller.kind == KIND_ROOT else GRANT_ACCOUNT
        return GRANT_NONE

    def excludes(self, caller: Caller) -> bool:
        """For NotPrincipal: True when the element lists the caller at every level.

        AWS may evaluate the account, then the role, then the session, and advises listing
        all of them; a caller is exempt from a NotPrincipal statement only when each of its
        identities is listed, which is the documented way to make NotPrincipal work.
        """
        if self.everyone:
            return True
        if caller.kind == KIND_SERVICE:
            return caller.arn in self.services
        if caller.account is None or caller.account not in self.accounts:
            return False
        if caller.kind == KIND_ROOT:
            return True
        if caller.arn not in self.arns:
            return False
        return caller.session_arn is None or caller.session_arn in self.arns


def _strings(raw: object, where: str) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(item, str) for item in items):
        raise PolicyValidationError(where, "principal values must be strings")
    return [str(item) for item in items]


def parse_principal(raw: object, where: str) -> PrincipalSpec:
    """Parse ``"*"``, ``{"AWS": ...}`` or ``{"Service": ...}``.

    Federated and CanonicalUser entries are valid grammar but never match the callers this
    engine models (roles, users, account roots and service principals).
    """
    if raw == "*":
        return PrincipalSpec(True, frozenset(), frozenset(), frozenset())
    if not isinstance(raw, Mapping):
        raise PolicyValidationError(
            where, 'must be "*" or an object such as {"AWS": [...]} or {"Service": [...]}'
        )
    everyone = False
    accounts: set[str] = set()
    arns: set[str] = set()
    services: set[str] = set()
    for kind, value in raw.items():
        here = f"{where}.{kind}"
        if kind == "AWS":
            for entry in _strings(value, here):
                if entry == "*":
                    everyone = True
                elif is_account_id(entry):
                    accounts.add(entry)
                elif entry.endswith(":root") and (parsed := try_parse_arn(entry)) is not None:
                    accounts.add(parsed.account)
                elif try_parse_arn(entry) is not None:
                    arns.add(entry)
                else:
                    raise PolicyValidationError(
                        here, f'{entry!r} is not an account ID, an ARN or "*"'
                    )
        elif kind == "Service":
            services.update(entry.lower() for entry in _strings(value, here))
        elif kind in ("Federated", "CanonicalUser"):
            _strings(value, here)  # valid grammar; such callers are out of scope here
        else:
            raise PolicyValidationError(
                here, "principal type must be AWS, Service, Federated or CanonicalUser"
            )
    return PrincipalSpec(everyone, frozenset(accounts), frozenset(arns), frozenset(services))


def service_caller(name: str) -> Caller:
    """A caller that is an AWS service principal."""
    if not is_service_principal(name):
        raise ValueError(f"{name!r} is not a service principal")
    return Caller(name, KIND_SERVICE, None, name.lower(), None, None)
