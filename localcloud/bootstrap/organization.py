"""The Organization, its OUs, member accounts and SCPs, with the IDs the configuration names.

AWS invents organization, root, OU and account IDs; localcloud gives them the stable values
the template resolver uses, so a policy condition such as ``aws:PrincipalOrgID`` means the
same thing in the governance check and at runtime.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from moto.organizations.models import organizations_backends

if TYPE_CHECKING:
    from hubspoke.governance.world import GovernanceModel
    from localcloud.server import LocalCloud

ACCOUNT_NAMES = ("hub", "dev", "staging", "prod")


def _backend(model: GovernanceModel) -> Any:
    return organizations_backends[model.accounts["management"]]["aws"]


def ensure_organization(cloud: LocalCloud, model: GovernanceModel) -> list[str]:
    """Create what is missing of the organization tree; return a line per change."""
    changes: list[str] = []
    org_stack = model.stacks["organization"]
    backend = _backend(model)
    client = cloud.client("organizations", cloud.admin)
    if backend.org is None:
        client.create_organization(FeatureSet="ALL")
        org: Any = backend.org
        old_root = org.root_id
        org.id, org.root_id = model.organization_id, org_stack.env.organization_root_id
        for node in backend.ou:
            node.organization_id = org.id
            if node.id == old_root:
                node.id = org.root_id
        for account in backend.accounts:
            account.organization_id = org.id
            account.parent_id = org.root_id
        changes.append(f"organization {org.id} (root {org.root_id})")
    ou_ids = {node.id for node in backend.ou}
    # Parents before children: the resolved ParentId names an OU created earlier.
    pending = list(org_stack.of_type("AWS::Organizations::OrganizationalUnit"))
    while pending:
        progressed = False
        for resource in list(pending):
            parent = resource.properties["ParentId"]
            if parent not in ou_ids:
                continue
            pending.remove(resource)
            progressed = True
            if resource.ref in ou_ids:
                continue
            created = client.create_organizational_unit(
                ParentId=parent, Name=resource.properties["Name"]
            )["OrganizationalUnit"]
            node = next(n for n in backend.ou if n.id == created["Id"])
            node.id = resource.ref
            ou_ids.add(node.id)
            changes.append(f"OU {resource.properties['Name']} ({node.id})")
        if not progressed:
            missing = ", ".join(r.logical_id for r in pending)
            raise RuntimeError(f"organization.yaml: OUs with unknown parents: {missing}")
    _ensure_accounts(cloud, model, backend, changes)
    return changes


def _ou_id_for_path(model: GovernanceModel, backend: Any, path: str) -> str:
    parent = backend.org.root_id
    for name in path.split("/"):
        parent = next(n.id for n in backend.ou if n.parent_id == parent and n.name == name)
    return str(parent)


def _ensure_accounts(
    cloud: LocalCloud, model: GovernanceModel, backend: Any, changes: list[str]
) -> None:
    client = cloud.client("organizations", cloud.admin)
    accounts = model.config.accounts
    for name in ACCOUNT_NAMES:
        wanted = model.accounts[name]
        account = next((a for a in backend.accounts if a.id == wanted), None)
        if account is None:
            status = client.create_account(
                AccountName=f"hubspoke-{name}", Email=f"{name}@hubspoke.invalid"
            )["CreateAccountStatus"]
            account = next(a for a in backend.accounts if a.id == status["AccountId"])
            account.id = wanted
            changes.append(f"account {name} {wanted}")
        destination = _ou_id_for_path(model, backend, getattr(accounts.accounts, name).ou)
        if account.parent_id != destination:
            client.move_account(
                AccountId=wanted, SourceParentId=account.parent_id, DestinationParentId=destination
            )
            changes.append(f"account {name} moved to {destination}")


def ensure_scps(cloud: LocalCloud, model: GovernanceModel) -> list[str]:
    """Create or update every SCP of organization.yaml and attach it to its targets."""
    changes: list[str] = []
    backend = _backend(model)
    client = cloud.client("organizations", cloud.admin)
    for resource in model.stacks["organization"].of_type("AWS::Organizations::Policy"):
        props = resource.properties
        content = json.dumps(props["Content"], sort_keys=True)
        policy = next((p for p in backend.policies if p.id == resource.ref), None)
        if policy is None:
            created = client.create_policy(
                Name=props["Name"],
                Type=props.get("Type", "SERVICE_CONTROL_POLICY"),
                Content=content,
                Description=props.get("Description", ""),
            )["Policy"]["PolicySummary"]
            policy = next(p for p in backend.policies if p.id == created["Id"])
            policy.id = resource.ref
            changes.append(f"SCP {props['Name']}")
        elif json.loads(policy.content) != props["Content"]:
            client.update_policy(PolicyId=policy.id, Content=content)
            changes.append(f"SCP {props['Name']} updated")
        attached = {getattr(t, "id", None) for t in policy.attachments}
        for target in props.get("TargetIds", []):
            if target not in attached:
                client.attach_policy(PolicyId=policy.id, TargetId=target)
                changes.append(f"SCP {props['Name']} attached to {target}")
    return changes
