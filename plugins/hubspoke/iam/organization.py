"""AWS Organizations: the OU tree, SCP attachment and each account's path.

SCP evaluation needs, for one account, the chain of levels from the root down to the
account. AWS requires *every* level to allow a request (an allow at the root does not carry
down past an OU whose SCPs do not allow it), and an explicit deny at any level wins.

Attachment rules of this data model:

* a node's ``policies`` lists SCP names; when the key is absent the node carries
  ``FullAWSAccess``, which AWS attaches to every root, OU and account by default;
* an empty ``policies`` list means nothing is allowed below that node (AWS itself refuses
  to detach the last SCP, so this only happens in hand-written worlds);
* the account level is evaluated only when ``account_policies`` has an entry for the
  account; otherwise the account keeps the default ``FullAWSAccess``;
* ``FullAWSAccess`` is built in: it need not appear in ``scps`` (an entry there overrides it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hubspoke.iam.arn import is_account_id
from hubspoke.iam.errors import PolicyValidationError, WorldValidationError
from hubspoke.iam.policy import Policy, parse_policy

__all__ = ["FULL_AWS_ACCESS", "Organization", "ScpLevel", "parse_organization"]

FULL_AWS_ACCESS = "FullAWSAccess"
_FULL_AWS_ACCESS_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
_NODE_KEYS = frozenset({"id", "name", "policies", "accounts", "children"})
_ORG_KEYS = frozenset({"id", "management_account", "root", "account_policies"})


@dataclass(frozen=True, slots=True)
class ScpLevel:
    """The SCPs attached at one level (root, an OU, or the account itself)."""

    label: str
    policies: tuple[Policy, ...]


@dataclass(frozen=True, slots=True)
class Organization:
    """A validated organization with each member account's SCP chain precomputed."""

    id: str
    management_account: str
    root_id: str
    paths: Mapping[str, str]
    levels: Mapping[str, tuple[ScpLevel, ...]]

    def ou_path(self, account: str) -> str | None:
        """``aws:PrincipalOrgPaths`` form, e.g. ``o-abc/r-root/ou-1/``; None if not a member."""
        return self.paths.get(account)

    def scp_levels(self, account: str) -> tuple[ScpLevel, ...] | None:
        """The levels that must all allow, or None when SCPs do not apply to ``account``.

        The management account is never restricted by SCPs.
        """
        if account == self.management_account:
            return None
        return self.levels.get(account)


def _fail(path: str, problem: str) -> WorldValidationError:
    return WorldValidationError(f"{path}: {problem}")


def _str_list(raw: object, path: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise _fail(path, "must be a list of strings")
    return [str(x) for x in raw]


def _scp(name: str, scps: Mapping[str, Policy], path: str) -> Policy:
    if name in scps:
        return scps[name]
    if name == FULL_AWS_ACCESS:
        return parse_policy(_FULL_AWS_ACCESS_DOC, FULL_AWS_ACCESS)
    raise _fail(path, f"SCP {name!r} is not defined under scps")


def parse_scps(raw: object) -> dict[str, Policy]:
    """Validate the top-level ``scps`` mapping of name -> document."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _fail("scps", "must be an object of SCP name -> policy document")
    out: dict[str, Policy] = {}
    for name, doc in raw.items():
        try:
            out[str(name)] = parse_policy(doc, str(name))
        except PolicyValidationError as exc:
            raise _fail(f"scps[{name!r}]", str(exc)) from None
    return out


def parse_organization(raw: object, scps: Mapping[str, Policy]) -> Organization:
    """Validate the ``organization`` object and precompute every account's SCP chain."""
    if not isinstance(raw, Mapping):
        raise _fail("organization", "must be an object")
    unknown = sorted(set(raw) - _ORG_KEYS)
    if unknown:
        raise _fail("organization", f"unknown key(s) {', '.join(unknown)}")
    org_id = raw.get("id")
    if not isinstance(org_id, str) or not org_id:
        raise _fail("organization.id", "must be the organization ID, e.g. o-abc123example")
    management = raw.get("management_account")
    if not isinstance(management, str) or not is_account_id(management):
        raise _fail("organization.management_account", "must be a 12-digit account ID")
    account_raw = raw.get("account_policies", {})
    if not isinstance(account_raw, Mapping):
        raise _fail("organization.account_policies", "must be an object of account -> [SCPs]")
    account_levels: dict[str, ScpLevel] = {}
    for account, names in account_raw.items():
        path = f"organization.account_policies[{account!r}]"
        if not is_account_id(str(account)):
            raise _fail(path, "keys must be 12-digit account IDs")
        policies = tuple(
            _scp(n, scps, f"{path}[{i}]") for i, n in enumerate(_str_list(names, path))
        )
        account_levels[str(account)] = ScpLevel(f"account {account}", policies)

    paths: dict[str, str] = {}
    levels: dict[str, tuple[ScpLevel, ...]] = {}

    def walk(node: object, path: str, prefix: str, chain: tuple[ScpLevel, ...]) -> str:
        if not isinstance(node, Mapping):
            raise _fail(path, "must be an object")
        unknown_keys = sorted(set(node) - _NODE_KEYS)
        if unknown_keys:
            raise _fail(path, f"unknown key(s) {', '.join(unknown_keys)}")
        node_id = node.get("id")
        if not isinstance(node_id, str) or not node_id:
            raise _fail(f"{path}.id", "must be a non-empty string")
        names = _str_list(node.get("policies", [FULL_AWS_ACCESS]), f"{path}.policies")
        policies = tuple(_scp(n, scps, f"{path}.policies[{i}]") for i, n in enumerate(names))
        label = str(node.get("name") or node_id)
        here = (*chain, ScpLevel(label, policies))
        own_prefix = f"{prefix}{node_id}/"
        for i, account in enumerate(_str_list(node.get("accounts", []), f"{path}.accounts")):
            if not is_account_id(account):
                raise _fail(f"{path}.accounts[{i}]", f"{account!r} is not a 12-digit account ID")
            if account in paths:
                raise _fail(f"{path}.accounts[{i}]", f"account {account} appears twice")
            paths[account] = own_prefix
            extra = (account_levels[account],) if account in account_levels else ()
            levels[account] = here + extra
        children = node.get("children", [])
        if not isinstance(children, list):
            raise _fail(f"{path}.children", "must be a list of OU objects")
        for i, child in enumerate(children):
            walk(child, f"{path}.children[{i}]", own_prefix, here)
        return node_id

    root_id = walk(raw.get("root"), "organization.root", f"{org_id}/", ())
    for account in account_levels:
        if account not in paths:
            raise _fail(
                f"organization.account_policies[{account!r}]",
                "account is not placed anywhere in the organization tree",
            )
    return Organization(org_id, management, root_id, paths, levels)
