"""The organization tree and its SCPs, from the resolved organization stack and the accounts.

OUs come from ``AWS::Organizations::OrganizationalUnit`` resources (``Name`` and ``ParentId``,
which is the root id or another OU's ``Ref``). Accounts are placed by their ``ou`` path in
``config/accounts.yaml`` (``ml-workloads/dev`` is the OU ``dev`` under the OU ``ml-workloads``);
the management account sits at the root. SCPs come from ``AWS::Organizations::Policy``
resources of type ``SERVICE_CONTROL_POLICY``; each ``TargetIds`` entry is the root id, an OU id
or an account id. ``FullAWSAccess`` (AWS's default SCP, built into the engine) stays attached
everywhere, as AWS attaches it to every root, OU and account unless someone detaches it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hubspoke.governance.cfn import ResolvedStack
from hubspoke.governance.cfn_errors import TemplateError
from hubspoke.governance.stack_policies import normalise_document

FULL_AWS_ACCESS = "FullAWSAccess"


@dataclass(frozen=True)
class OrganizationTree:
    """The ``organization`` and ``scps`` parts of the World, plus each OU path's id."""

    organization: dict[str, Any]
    scps: dict[str, Any]
    ou_ids: dict[str, str]  # "ml-workloads/dev" -> "ou-..."


def build_organization(
    stack: ResolvedStack,
    *,
    organization_id: str,
    root_id: str,
    management_account: str,
    account_ous: Mapping[str, str | None],
) -> OrganizationTree:
    """Build the tree. ``account_ous`` maps account id to OU path (None for the root)."""
    source = stack.source

    def fail(path: str, problem: str) -> TemplateError:
        return TemplateError(source, path, problem)

    nodes: dict[str, dict[str, Any]] = {
        root_id: {
            "id": root_id,
            "name": "Root",
            "policies": [FULL_AWS_ACCESS],
            "accounts": [],
            "children": [],
        }
    }
    parents: dict[str, str] = {}
    names: dict[str, str] = {}
    for ou in stack.of_type("AWS::Organizations::OrganizationalUnit"):
        ou_id = str(ou.ref)
        name = ou.properties.get("Name")
        if not isinstance(name, str) or not name:
            raise fail(f"Resources.{ou.logical_id}.Properties.Name", "an OU needs a Name")
        nodes[ou_id] = {
            "id": ou_id,
            "name": name,
            "policies": [FULL_AWS_ACCESS],
            "accounts": [],
            "children": [],
        }
        parents[ou_id] = str(ou.properties.get("ParentId"))
        names[ou_id] = ou.logical_id
    for ou_id, parent in parents.items():
        if parent not in nodes:
            raise fail(
                f"Resources.{names[ou_id]}.Properties.ParentId",
                f"parent {parent!r} is neither the organization root ({root_id}) nor an OU here",
            )
        nodes[parent]["children"].append(nodes[ou_id])

    ou_ids: dict[str, str] = {}

    def index(node: dict[str, Any], prefix: str) -> None:
        for child in node["children"]:
            path = f"{prefix}{child['name']}"
            if path in ou_ids:
                raise fail("Resources", f"two OUs share the path {path!r}")
            ou_ids[path] = child["id"]
            index(child, f"{path}/")

    index(nodes[root_id], "")
    for ou_id in parents:
        if ou_id not in ou_ids.values():
            raise fail(f"Resources.{names[ou_id]}", "OU is not reachable from the root (a cycle?)")

    accounts_known = set(account_ous)
    for account, path in account_ous.items():
        if path is None:
            nodes[root_id]["accounts"].append(account)
            continue
        if path not in ou_ids:
            known = ", ".join(sorted(ou_ids)) or "none"
            raise fail(
                "Resources",
                f"config/accounts.yaml places account {account} in OU {path!r}, which this "
                f"template does not declare (OUs: {known})",
            )
        nodes[ou_ids[path]]["accounts"].append(account)

    scps: dict[str, Any] = {}
    account_policies: dict[str, list[str]] = {}
    for policy in stack.of_type("AWS::Organizations::Policy"):
        props = policy.properties
        if props.get("Type") != "SERVICE_CONTROL_POLICY":
            continue
        where = f"Resources.{policy.logical_id}.Properties"
        name = str(props.get("Name") or policy.logical_id)
        if name in scps or name == FULL_AWS_ACCESS:
            raise fail(f"{where}.Name", f"SCP name {name!r} is used twice")
        content = props.get("Content")
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except json.JSONDecodeError as exc:
                raise fail(f"{where}.Content", f"not valid JSON ({exc.msg})") from None
        if not isinstance(content, dict):
            raise fail(f"{where}.Content", "an SCP needs a policy document")
        scps[name] = normalise_document(content)
        for i, target in enumerate(props.get("TargetIds") or []):
            target = str(target)
            if target in nodes:
                nodes[target]["policies"].append(name)
            elif target in accounts_known:
                account_policies.setdefault(target, [FULL_AWS_ACCESS]).append(name)
            else:
                raise fail(
                    f"{where}.TargetIds[{i}]",
                    f"{target!r} is not the root, an OU of this template or a known account",
                )
    organization: dict[str, Any] = {
        "id": organization_id,
        "management_account": management_account,
        "root": nodes[root_id],
        "account_policies": account_policies,
    }
    return OrganizationTree(organization, scps, ou_ids)
