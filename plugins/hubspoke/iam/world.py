"""The World: every policy the engine may consult, validated and compiled up front.

Shape (all keys but ``principals`` optional)::

    {
      "organization": {"id": "o-...", "management_account": "123456789012",
                       "root": {"id": "r-...", "name": "Root", "policies": [...],
                                "accounts": [...], "children": [ ...OUs... ]},
                       "account_policies": {"<account>": ["<scp name>", ...]}},
      "scps": {"<name>": <policy document>},
      "principals": {"<role or user ARN>": {"policies": {"<name>": <doc>},
                                            "permissions_boundary": <doc> | null,
                                            "trust_policy": <doc> | null,
                                            "tags": {"k": "v"}}},
      "resources": {"<ARN>": {"policy": <doc>, "name": "<label>", "account": "<id>"}}
    }

A World is read-only once built, which is what makes its caches safe.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubspoke.iam.arn import is_account_id, is_service_principal, try_parse_arn
from hubspoke.iam.errors import PolicyValidationError, RequestError, WorldValidationError
from hubspoke.iam.organization import Organization, ScpLevel, parse_organization, parse_scps
from hubspoke.iam.policy import Policy, parse_policy
from hubspoke.iam.principals import KIND_ROLE, KIND_ROOT, KIND_USER, Caller, service_caller

__all__ = ["PrincipalEntry", "ResourcePolicy", "World"]

_TOP_KEYS = frozenset({"organization", "scps", "principals", "resources"})
_PRINCIPAL_KEYS = frozenset({"policies", "permissions_boundary", "trust_policy", "tags"})
_RESOURCE_KEYS = frozenset({"policy", "name", "account"})


@dataclass(frozen=True, slots=True)
class PrincipalEntry:
    """An IAM role or user with its compiled policies."""

    arn: str
    kind: str
    account: str
    name: str
    policies: tuple[Policy, ...]
    boundary: Policy | None
    trust: Policy | None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def service_linked(self) -> bool:
        """Service-linked roles are exempt from SCPs."""
        return self.kind == KIND_ROLE and (
            ":role/aws-service-role/" in self.arn or self.name.startswith("AWSServiceRoleFor")
        )


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    """The resource-based policy governing a requested resource."""

    arn: str
    name: str
    policy: Policy
    account: str | None
    trust: bool = False


def _fail(path: str, problem: str) -> WorldValidationError:
    return WorldValidationError(f"{path}: {problem}")


def _policy(doc: object, name: str, path: str, *, resource_based: bool = False) -> Policy:
    try:
        return parse_policy(doc, name, resource_based=resource_based)
    except PolicyValidationError as exc:
        raise _fail(path, str(exc)) from None


def _principal(arn: str, raw: object) -> PrincipalEntry:
    path = f"principals[{arn!r}]"
    parsed = try_parse_arn(arn)
    kind = parsed.resource_type if parsed is not None and parsed.service == "iam" else ""
    if parsed is None or kind not in (KIND_ROLE, KIND_USER) or not is_account_id(parsed.account):
        raise _fail(path, "keys must be IAM role or user ARNs (arn:aws:iam::ACCOUNT:role/NAME)")
    if not isinstance(raw, Mapping):
        raise _fail(path, "must be an object")
    unknown = sorted(set(raw) - _PRINCIPAL_KEYS)
    if unknown:
        raise _fail(path, f"unknown key(s) {', '.join(unknown)}")
    docs = raw.get("policies") or {}
    if not isinstance(docs, Mapping):
        raise _fail(f"{path}.policies", "must be an object of policy name -> document")
    policies = tuple(_policy(doc, str(n), f"{path}.policies[{n!r}]") for n, doc in docs.items())
    boundary_doc = raw.get("permissions_boundary")
    boundary = None
    if boundary_doc is not None:
        boundary = _policy(boundary_doc, "PermissionsBoundary", f"{path}.permissions_boundary")
    trust_doc = raw.get("trust_policy")
    if trust_doc is not None and kind != KIND_ROLE:
        raise _fail(f"{path}.trust_policy", "only roles have a trust policy; use null for users")
    trust = None
    if trust_doc is not None:
        trust = _policy(
            trust_doc, "AssumeRolePolicyDocument", f"{path}.trust_policy", resource_based=True
        )
    tags = raw.get("tags") or {}
    if not isinstance(tags, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise _fail(f"{path}.tags", "must be an object of string -> string")
    name = parsed.resource.rsplit("/", 1)[-1]
    return PrincipalEntry(arn, kind, parsed.account, name, policies, boundary, trust, dict(tags))


def _resource(arn: str, raw: object) -> tuple[Policy, str, str | None]:
    path = f"resources[{arn!r}]"
    parsed = try_parse_arn(arn)
    if parsed is None:
        raise _fail(path, "keys must be ARNs")
    if not isinstance(raw, Mapping):
        raise _fail(path, "must be an object with a policy")
    unknown = sorted(set(raw) - _RESOURCE_KEYS)
    if unknown:
        raise _fail(path, f"unknown key(s) {', '.join(unknown)}")
    if "policy" not in raw:
        raise _fail(f"{path}.policy", "is required")
    name = raw.get("name") or arn
    account = raw.get("account")
    if account is not None and (not isinstance(account, str) or not is_account_id(account)):
        raise _fail(f"{path}.account", "must be a 12-digit account ID")
    policy = _policy(raw["policy"], str(name), f"{path}.policy", resource_based=True)
    # S3 bucket ARNs carry no account: the entry's "account" supplies it.
    return policy, str(name), account or parsed.account or None


class World:
    """Organization, SCPs, principals and resource policies, compiled once."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        """Validate ``data`` (see module docstring); prefer :meth:`from_dict`."""
        if not isinstance(data, Mapping):
            raise WorldValidationError("the world must be a JSON object")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise _fail("world", f"unknown top-level key(s) {', '.join(unknown)}")
        self._data: dict[str, Any] = copy.deepcopy(dict(data))
        self.scps: dict[str, Policy] = parse_scps(data.get("scps"))
        org_raw = data.get("organization")
        self.organization: Organization | None = (
            parse_organization(org_raw, self.scps) if org_raw is not None else None
        )
        principals_raw = data.get("principals") or {}
        if not isinstance(principals_raw, Mapping):
            raise _fail("principals", "must be an object of ARN -> principal")
        self.principals: dict[str, PrincipalEntry] = {
            str(arn): _principal(str(arn), raw) for arn, raw in principals_raw.items()
        }
        self._by_name = {(p.account, p.kind, p.name): p for p in self.principals.values()}
        resources_raw = data.get("resources") or {}
        if not isinstance(resources_raw, Mapping):
            raise _fail("resources", "must be an object of ARN -> {policy, name, account}")
        self.resources: dict[str, ResourcePolicy] = {}
        for arn, raw in resources_raw.items():
            policy, name, account = _resource(str(arn), raw)
            self.resources[str(arn)] = ResourcePolicy(str(arn), name, policy, account)
        self._callers: dict[str, Caller] = {}
        self._governing: dict[str, str | None] = {}
        # Derived condition keys per (principal, resource account), filled by the evaluator.
        # Safe because the world never changes after construction.
        self.memo: dict[tuple[str, str | None], dict[str, tuple[str, ...]]] = {}

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> World:
        """Build from the documented dictionary shape; raises WorldValidationError."""
        return cls(data)

    @classmethod
    def from_json_file(cls, path: str | Path) -> World:
        """Load a world from a JSON file; errors name the file and the bad key."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise WorldValidationError(f"{path}: cannot read world JSON ({exc})") from None
        try:
            return cls(data)
        except WorldValidationError as exc:
            raise WorldValidationError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The validated input, as a fresh dictionary (round-trips through from_dict)."""
        return copy.deepcopy(self._data)

    # -- lookups ------------------------------------------------------------------------
    def principal(self, arn: str) -> PrincipalEntry | None:
        """The role or user entry for ``arn``, if the world knows it."""
        return self.principals.get(arn)

    def find(self, account: str, kind: str, name: str) -> PrincipalEntry | None:
        """Look a role or user up by account and name (paths do not appear in sessions)."""
        return self._by_name.get((account, kind, name))

    def _governing_arn(self, arn: str) -> str | None:
        if arn in self._governing:
            return self._governing[arn]
        found: str | None = arn if arn in self.resources else None
        parsed = try_parse_arn(arn)
        if found is None and parsed is not None:
            candidate = None
            if parsed.service == "s3" and "/" in parsed.resource:
                candidate = f"arn:{parsed.partition}:s3:::{parsed.resource.split('/', 1)[0]}"
            elif parsed.service == "sagemaker" and parsed.resource_type == "model-package":
                parts = parsed.resource.split("/")
                if len(parts) >= 3:
                    candidate = (
                        f"arn:{parsed.partition}:sagemaker:{parsed.region}:{parsed.account}:"
                        f"model-package-group/{parts[1]}"
                    )
            if candidate in self.resources:
                found = candidate
        if len(self._governing) < 65536:
            self._governing[arn] = found
        return found

    def resource_policy_for(
        self, resource_arn: str, action: str | None = None
    ) -> ResourcePolicy | None:
        """The resource-based policy that governs ``resource_arn``.

        Exact ARN first; an S3 object falls back to its bucket; a SageMaker model package
        version to its model package group; a role ARN to its trust policy, but only for
        ``sts:`` actions (AssumeRole*, TagSession...) or when ``action`` is not given.
        """
        governing = self._governing_arn(resource_arn)
        if governing is not None:
            return self.resources[governing]
        role = self.principals.get(resource_arn)
        trusting = action is None or action.lower().startswith("sts:")
        if role is not None and role.trust is not None and trusting:
            return ResourcePolicy(resource_arn, role.trust.name, role.trust, role.account, True)
        return None

    def account_of(self, arn: str) -> str | None:
        """The account owning ``arn``; S3 buckets need an ``account`` on their entry."""
        governing = self._governing_arn(arn)
        if governing is not None:
            return self.resources[governing].account
        parsed = try_parse_arn(arn)
        if parsed is None:
            return None
        return parsed.account or None

    def ou_path(self, account: str) -> str | None:
        """``aws:PrincipalOrgPaths`` value for ``account`` (``o-x/r-x/ou-x/``), or None."""
        return self.organization.ou_path(account) if self.organization else None

    def scp_levels(self, account: str) -> tuple[ScpLevel, ...] | None:
        """The SCP chain for principals of ``account``, or None when no SCP applies."""
        return self.organization.scp_levels(account) if self.organization else None

    @property
    def org_id(self) -> str | None:
        return self.organization.id if self.organization else None

    def caller(self, principal: str) -> Caller:
        """Resolve a request principal (session, role, user, root or service principal)."""
        cached = self._callers.get(principal)
        if cached is None:
            cached = self._resolve(principal)
            if len(self._callers) < 65536:
                self._callers[principal] = cached
        return cached

    def _resolve(self, principal: str) -> Caller:
        if is_service_principal(principal):
            return service_caller(principal)
        parsed = try_parse_arn(principal)
        problem = (
            f"principal {principal!r} is not an IAM role, user, assumed-role session, "
            "account root or service principal; pass an ARN such as "
            "arn:aws:sts::111111111111:assumed-role/ROLE/SESSION"
        )
        if parsed is None or not is_account_id(parsed.account):
            raise RequestError(problem)
        account, partition = parsed.account, parsed.partition
        parts = parsed.resource.split("/")
        if parsed.service == "sts" and parts[0] == "assumed-role" and len(parts) >= 3:
            entry = self.find(account, KIND_ROLE, parts[1])
            role_arn = entry.arn if entry else f"arn:{partition}:iam::{account}:role/{parts[1]}"
            return Caller(principal, KIND_ROLE, account, role_arn, principal, parts[1], partition)
        if parsed.service == "iam" and parsed.resource == "root":
            return Caller(principal, KIND_ROOT, account, principal, None, None, partition)
        if parsed.service == "iam" and parts[0] in (KIND_ROLE, KIND_USER) and len(parts) >= 2:
            entry = self.find(account, parts[0], parts[-1])
            arn = entry.arn if entry else principal
            return Caller(principal, parts[0], account, arn, None, parts[-1], partition)
        raise RequestError(problem)
