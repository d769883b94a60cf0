"""The World the policy engine evaluates, built from ``infra/`` and ``config/`` alone.

:func:`build_model` resolves ``organization.yaml`` in the management account, ``hub.yaml`` in the
hub account and ``spoke.yaml`` once per spoke (``Environment`` dev, staging, prod, each in its
own account), then collects the organization tree, SCPs, roles and resource policies. Every
policy comes from the templates; the only document not written there is AWS's built-in
``FullAWSAccess`` SCP (and AWS's default key policy for a key declared without one).

Template parameters are bound by name (case-insensitive) from the configuration, see
:func:`known_parameters`; a spoke parameter named like a hub stack output gets that output
(for instance ``HubKmsKeyArn``); anything else keeps its ``Default``.

The JSON written by :func:`world_to_json` (``hubspoke governance world --json``) is what
``hubspoke iam simulate --world FILE`` reads::

    {
      "organization": {
        "id": "o-...",                      # organization id
        "management_account": "123456789012",
        "root": {                           # the root and, recursively, its OUs
          "id": "r-...", "name": "Root",
          "policies": ["FullAWSAccess", "<scp name>", ...],   # SCPs attached here
          "accounts": ["123456789012"],     # accounts directly in this node
          "children": [{"id": "ou-...", "name": "ml-hub", "policies": [...],
                        "accounts": ["111111111111"], "children": []}]
        },
        "account_policies": {"<account id>": ["FullAWSAccess", "<scp name>"]}
      },
      "scps": {"<scp name>": <policy document>},
      "principals": {                       # every IAM role the templates declare
        "arn:aws:iam::<account>:role/<name>": {
          "policies": {"<policy name>": <policy document>},   # inline and attached
          "permissions_boundary": <policy document> | null,
          "trust_policy": <policy document>,                   # AssumeRolePolicyDocument
          "tags": {"<key>": "<value>"}
        }
      },
      "resources": {                        # resource-based policies, keyed by ARN
        "arn:aws:s3:::<bucket>": {"policy": <doc>, "name": "hub/ArtifactsBucketPolicy",
                                  "account": "111111111111"}
      }
    }
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubspoke.config.accounts import SPOKES
from hubspoke.governance.cfn import ResolvedStack, StackEnv, resolve_stack
from hubspoke.governance.cfn_errors import TemplateError
from hubspoke.governance.cfn_resources import attribute_value
from hubspoke.governance.cfn_yaml import load_template
from hubspoke.governance.organization_tree import build_organization
from hubspoke.governance.stack_policies import stack_policies
from hubspoke.iam import World

if TYPE_CHECKING:
    from hubspoke.config import Config

TEMPLATES = {"organization": "organization.yaml", "hub": "hub.yaml", "spoke": "spoke.yaml"}


def organization_ids(organization_name: str, management_account: str) -> tuple[str, str]:
    """Stable local stand-ins for the ids AWS invents: (``o-...``, ``r-...``)."""
    digest = hashlib.sha256(f"{organization_name}/{management_account}".encode()).hexdigest()
    return f"o-{digest[:10]}", f"r-{digest[10:14]}"


def known_parameters(
    config: Config, organization_id: str, root_id: str, environment: str | None = None
) -> dict[str, Any]:
    """Parameter values derived from the configuration, keyed by lower-case parameter name."""
    accounts = config.accounts
    ids = {name: accounts.account_id(name) for name in ("management", "hub", *SPOKES)}
    models = [m.name for m in config.models.models]
    values: dict[str, Any] = {
        "organizationname": accounts.organization_name,
        "projectname": accounts.organization_name,
        "organizationid": organization_id,
        "orgid": organization_id,
        "principalorgid": organization_id,
        "rootid": root_id,
        "organizationrootid": root_id,
        "region": accounts.region,
        "homeregion": accounts.region,
        "allowedregions": list(accounts.allowed_regions),
        "spokeaccountids": [ids[s] for s in SPOKES],
        "workloadaccountids": [ids[s] for s in SPOKES],
        "orchestratorrolename": accounts.roles.orchestrator,
        "approverrolename": accounts.roles.approver,
        "deployerrolename": accounts.roles.spoke_deployer,
        "spokedeployerrolename": accounts.roles.spoke_deployer,
        "executionrolename": accounts.roles.sagemaker_execution,
        "sagemakerexecutionrolename": accounts.roles.sagemaker_execution,
        "orchestratorrolearn": accounts.orchestrator_arn,
        "approverrolearn": accounts.approver_arn,
        "artifactsbucketname": accounts.artifacts_bucket,
        "hubbucketname": accounts.artifacts_bucket,
        "hubartifactsbucketname": accounts.artifacts_bucket,
        "devbucketname": accounts.dev_bucket,
        "modelnames": models,
        "models": models,
        "modelpackagegroupnames": models,
    }
    for name, account_id in ids.items():
        values[f"{name}accountid"] = account_id
    if environment is not None:
        values["environment"] = environment
        values["environmentname"] = environment
        values["spokename"] = environment
    return values


@dataclass(frozen=True)
class GovernanceModel:
    """The resolved infrastructure: the World plus the names the invariants ask about."""

    config: Config
    world_dict: dict[str, Any]
    stacks: dict[str, ResolvedStack]
    accounts: dict[str, str]  # "hub" -> "111111111111"
    organization_id: str
    declared: dict[str, dict[str, str]] = field(default_factory=dict)  # label -> logical id -> ARN

    @cached_property
    def world(self) -> World:
        """The engine's compiled World (raises WorldValidationError for a bad document)."""
        return World.from_dict(self.world_dict)

    @property
    def region(self) -> str:
        return self.config.accounts.region

    def account_name(self, account_id: str) -> str | None:
        for name, known in self.accounts.items():
            if known == account_id:
                return name
        return None

    def arns_of_type(self, label: str, resource_type: str) -> list[str]:
        """ARNs of the ``resource_type`` resources the ``label`` stack declares."""
        stack = self.stacks[label]
        declared = self.declared.get(label, {})
        return [
            declared[r.logical_id] for r in stack.of_type(resource_type) if r.logical_id in declared
        ]

    @property
    def hub_key_arns(self) -> list[str]:
        return self.arns_of_type("hub", "AWS::KMS::Key")

    @property
    def artifact_key_arns(self) -> list[str]:
        """The hub key(s) encrypting the artifacts bucket (every hub key if it names none)."""
        return artifact_key_arns(
            self.stacks["hub"], self.config.accounts.artifacts_bucket, self.hub_key_arns
        )

    @property
    def hub_group_arns(self) -> list[str]:
        return self.arns_of_type("hub", "AWS::SageMaker::ModelPackageGroup")


def artifact_key_arns(hub: ResolvedStack, bucket_name: str, keys: list[str]) -> list[str]:
    """Keys among ``keys`` that the bucket ``bucket_name`` of ``hub`` names for SSE-KMS."""
    for bucket in hub.of_type("AWS::S3::Bucket"):
        if bucket.properties.get("BucketName") != bucket_name:
            continue
        encryption = bucket.properties.get("BucketEncryption") or {}
        named = {
            str((rule.get("ServerSideEncryptionByDefault") or {}).get("KMSMasterKeyID"))
            for rule in encryption.get("ServerSideEncryptionConfiguration") or []
            if isinstance(rule, dict)
        }
        used = [k for k in keys if k in named or k.rsplit("/", 1)[-1] in named]
        if used:
            return used
    return keys


def _bind(
    template: Mapping[str, Any], known: Mapping[str, Any], outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """Values for the template's declared parameters: config first, then upstream outputs."""
    given: dict[str, Any] = {}
    by_lower_output = {str(k).lower(): v for k, v in outputs.items()}
    for name in template.get("Parameters") or {}:
        lowered = str(name).lower()
        if lowered in known:
            given[name] = known[lowered]
        elif lowered in by_lower_output:
            given[name] = by_lower_output[lowered]
    return given


def _hub_parameters(hub: ResolvedStack, bucket_name: str) -> dict[str, Any]:
    """Spoke parameters only the resolved hub stack can supply (the key ARN AWS invents)."""
    keys = [
        str(attribute_value(r.type, "Arn", hub.env, r.logical_id, r.properties.get))
        for r in hub.of_type("AWS::KMS::Key")
    ]
    used = artifact_key_arns(hub, bucket_name, keys)
    if len(used) != 1:
        return {}
    return {name: used[0] for name in ("hubkeyarn", "hubkmskeyarn", "artifactskeyarn")}


@dataclass(frozen=True)
class _Deployment:
    """Where and with what each stack is deployed."""

    infra_dir: Path
    config: Config
    ids: dict[str, str]
    organization_id: str
    root_id: str

    def env(self, stack: str, account: str) -> StackEnv:
        accounts = self.config.accounts
        return StackEnv(
            stack_name=f"{accounts.organization_name}-{stack}",
            account=account,
            region=accounts.region,
            organization_id=self.organization_id,
            organization_root_id=self.root_id,
            management_account=self.ids["management"],
        )

    def resolve(
        self,
        template: Mapping[str, Any],
        filename: str,
        stack: str,
        account: str,
        environment: str | None = None,
        upstream: ResolvedStack | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ResolvedStack:
        known = {
            **known_parameters(self.config, self.organization_id, self.root_id, environment),
            **(extra or {}),
        }
        outputs = upstream.outputs if upstream else {}
        return resolve_stack(
            template,
            self.env(stack, account),
            _bind(template, known, outputs),
            source=str(self.infra_dir / filename),
            exports=upstream.exports if upstream else {},
        )


def _resolve_stacks(deployment: _Deployment) -> dict[str, ResolvedStack]:
    templates: dict[str, dict[str, Any]] = {}
    for key, filename in TEMPLATES.items():
        path = deployment.infra_dir / filename
        if not path.is_file():
            raise TemplateError(str(path), "", "template not found")
        templates[key] = load_template(path)
    ids = deployment.ids
    stacks: dict[str, ResolvedStack] = {}
    org = TEMPLATES["organization"]
    stacks["organization"] = deployment.resolve(
        templates["organization"], org, "organization", ids["management"]
    )
    stacks["hub"] = deployment.resolve(
        templates["hub"], TEMPLATES["hub"], "hub", ids["hub"], upstream=stacks["organization"]
    )
    hub_facts = _hub_parameters(stacks["hub"], deployment.config.accounts.artifacts_bucket)
    for spoke in SPOKES:
        stacks[spoke] = deployment.resolve(
            templates["spoke"],
            TEMPLATES["spoke"],
            f"spoke-{spoke}",
            ids[spoke],
            environment=spoke,
            upstream=stacks["hub"],
            extra=hub_facts,
        )
    return stacks


def _collect(
    stacks: Mapping[str, ResolvedStack],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, str]]]:
    """(principals, resources, declared ARNs by stack) over every stack."""
    principals: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    declared: dict[str, dict[str, str]] = {}
    for label, stack in stacks.items():
        extracted = stack_policies(stack, label)
        for arn in extracted.principals:
            if arn in principals:
                raise TemplateError(stack.source, "Resources", f"[{label}] {arn} is declared twice")
        principals.update(extracted.principals)
        for arn, entry in extracted.resources.items():
            has_policy = bool(entry["policy"].get("Statement"))
            previous = resources.get(arn)
            if previous is not None and has_policy and previous["policy"].get("Statement"):
                raise TemplateError(
                    stack.source,
                    "Resources",
                    f"[{label}] {arn} already has a policy from {previous['name']}",
                )
            if previous is None or has_policy:
                resources[arn] = entry
        declared[label] = extracted.arns
    return principals, resources, declared


def build_model(infra_dir: Path, config: Config) -> GovernanceModel:
    """Resolve every template for every account and assemble the World.

    Raises :class:`TemplateError` (one line naming template, location and problem) when a
    template is missing, malformed or references something unresolvable.
    """
    accounts = config.accounts
    ids = {name: accounts.account_id(name) for name in ("management", "hub", *SPOKES)}
    org_id, root_id = organization_ids(accounts.organization_name, ids["management"])
    stacks = _resolve_stacks(_Deployment(infra_dir, config, ids, org_id, root_id))
    tree = build_organization(
        stacks["organization"],
        organization_id=org_id,
        root_id=root_id,
        management_account=ids["management"],
        account_ous={
            ids[name]: getattr(accounts.accounts, name).ou
            for name in ("management", "hub", *SPOKES)
        },
    )
    principals, resources, declared = _collect(stacks)
    world_dict = {
        "organization": tree.organization,
        "scps": tree.scps,
        "principals": principals,
        "resources": resources,
    }
    return GovernanceModel(config, world_dict, stacks, ids, org_id, declared)


def build_world(infra_dir: Path, config: Config) -> World:
    """The :class:`hubspoke.iam.World` of the shipped templates and configuration."""
    return build_model(infra_dir, config).world


def world_to_json(world: GovernanceModel | World | Mapping[str, Any]) -> str:
    """The World as JSON in the format ``hubspoke iam simulate --world`` reads."""
    if isinstance(world, GovernanceModel):
        data: Any = world.world_dict
    elif isinstance(world, Mapping):
        data = world
    else:
        data = world.to_dict()
    return json.dumps(data, indent=2) + "\n"
