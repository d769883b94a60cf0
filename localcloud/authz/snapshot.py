"""The governance state of every account, read from moto's store into a ``hubspoke.iam`` World.

Rebuilt only when something that feeds it changed (IAM, Organizations, bucket/key/queue/
model-package-group policies), so evaluating a request costs a lookup, not a rebuild.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.organizations.models import organizations_backends
from moto.s3.models import s3_backends
from moto.sqs.models import sqs_backends

_ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


_SCP = "SERVICE_CONTROL_POLICY"


def _doc(text: str | bytes | dict[str, Any] | None) -> dict[str, Any] | None:
    if text is None or text == "":
        return None
    if isinstance(text, dict):
        return text
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        loaded: dict[str, Any] = json.loads(text)
    except ValueError:
        # IAM's query API carries documents URL-encoded; moto may keep them that way.
        loaded = json.loads(unquote(text))
    return loaded


def _tags(raw: Any) -> dict[str, str]:
    """moto keeps role tags as a list of {"Key", "Value"} (older: a dict keyed by tag)."""
    items = raw.values() if isinstance(raw, dict) else (raw or [])
    return {str(t["Key"]): str(t["Value"]) for t in items}


def _managed_document(policy: Any) -> dict[str, Any] | None:
    for version in policy.versions:
        if version.is_default:
            return _doc(version.document)
    return None


def _principals(accounts: list[str]) -> dict[str, Any]:
    principals: dict[str, Any] = {}
    for account in accounts:
        backend = iam_backends[account]["aws"]
        managed_by_arn = dict(backend.managed_policies)
        for role in list(backend.roles.values()):
            policies: dict[str, Any] = {}
            for name, text in role.policies.items():
                doc = _doc(text)
                if doc:
                    policies[name] = doc
            for arn, managed in role.managed_policies.items():
                doc = _managed_document(managed)
                if doc:
                    policies[arn] = doc
            boundary = None
            if role.permissions_boundary_arn:
                boundary_policy = managed_by_arn.get(role.permissions_boundary_arn)
                boundary = _managed_document(boundary_policy) if boundary_policy else None
            principals[role.arn] = {
                "policies": policies,
                "permissions_boundary": boundary,
                "trust_policy": _doc(role.assume_role_policy_document),
                "tags": _tags(role.tags),
            }
    return principals


def _organization(management: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    backend = organizations_backends[management]["aws"]
    org = backend.org
    if org is None:
        return None, {}
    scps: dict[str, Any] = {}
    for policy in backend.policies:
        if policy.type == _SCP:
            scps[str(policy.name)] = _doc(policy.content)

    def node(ou: Any) -> dict[str, Any]:
        return {
            "id": ou.id,
            "name": ou.name,
            "policies": [p.name for p in ou.attached_policies if p.type == _SCP],
            "accounts": [a.id for a in backend.accounts if a.parent_id == ou.id],
            "children": [node(child) for child in backend.ou if child.parent_id == ou.id],
        }

    root = next(ou for ou in backend.ou if ou.id == org.root_id)
    tree = {
        "id": org.id,
        "management_account": org.master_account_id,
        "root": node(root),
        "account_policies": {
            a.id: [p.name for p in a.attached_policies if p.type == _SCP]
            for a in backend.accounts
            if a.attached_policies
        },
    }
    return tree, scps


def _resources(accounts: list[str], region: str) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for account in accounts:
        for bucket in list(s3_backends[account]["aws"].buckets.values()):
            if bucket.account_id == account:
                # Every bucket gets an entry: its account decides same- vs cross-account.
                resources[f"arn:aws:s3:::{bucket.name}"] = {
                    "policy": _doc(bucket.policy) or {"Version": "2012-10-17", "Statement": []},
                    "account": account,
                    "name": bucket.name,
                }
        for key in list(kms_backends[account][region].keys.values()):
            resources[key.arn] = {"policy": _doc(key.policy), "account": account}
        for queue in list(sqs_backends[account][region].queues.values()):
            if queue.policy:
                resources[queue.queue_arn] = {"policy": _doc(queue.policy), "account": account}
    return resources


def build_world_dict(
    accounts: list[str],
    management: str,
    region: str,
    extra_resource_policies: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The World (``hubspoke.iam`` schema) of ``accounts`` as moto holds them now."""
    organization, scps = _organization(management)
    resources = _resources(accounts, region)
    for arn, entry in (extra_resource_policies or {}).items():
        resources[arn] = entry
    world: dict[str, Any] = {
        "scps": scps,
        "principals": _principals(accounts),
        "resources": resources,
    }
    if organization is not None:
        world["organization"] = organization
    return world
