"""Principals and resource policies declared by one resolved stack, in the World's shapes.

Roles become principals: inline ``Policies``, ``AWS::IAM::Policy``/``RolePolicy``/
``ManagedPolicy`` resources attached to them, ``ManagedPolicyArns`` and ``PermissionsBoundary``
that point at a ``ManagedPolicy`` of the same stack, ``AssumeRolePolicyDocument`` as the trust
policy and ``Tags``. An AWS-managed policy ARN (``arn:aws:iam::aws:policy/...``) is an error:
no AWS-managed document is shipped, so access it grants could not be checked; inline the
statements instead.

Resource policies: ``AWS::S3::BucketPolicy``, ``AWS::KMS::Key`` ``KeyPolicy`` (AWS's default key
policy when absent, as AWS itself applies it), ``AWS::SageMaker::ModelPackageGroup``
``ModelPackageGroupPolicy``, ``AWS::SQS::QueuePolicy`` and ``AWS::SNS::TopicPolicy``. Buckets,
groups, queues and topics without a policy still get an entry with no statements, so the
World knows which account owns them (an S3 ARN does not say).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hubspoke.governance.cfn import ResolvedResource, ResolvedStack
from hubspoke.governance.cfn_errors import TemplateError
from hubspoke.governance.cfn_resources import attribute_value


def empty_policy() -> dict[str, Any]:
    """A policy with no statements: the entry only records who owns the resource."""
    return {"Version": "2012-10-17", "Statement": []}


def default_key_policy(account: str, partition: str) -> dict[str, Any]:
    """The key policy AWS gives a KMS key created without one."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def normalise_document(value: Any) -> Any:
    """Scalars as IAM compares them: booleans ``"true"``/``"false"``, numbers as text."""
    if isinstance(value, dict):
        return {str(k): normalise_document(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise_document(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


@dataclass
class StackPolicies:
    """What one stack contributes to the World."""

    principals: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # logical id -> ARN, for callers that need to find a declared role, bucket or key again.
    arns: dict[str, str] = field(default_factory=dict)


class _Extractor:
    def __init__(self, stack: ResolvedStack, label: str) -> None:
        self.stack = stack
        self.label = label
        self.out = StackPolicies()
        self.managed: dict[str, tuple[str, dict[str, Any]]] = {}  # ARN -> (name, doc)
        self.roles_by_name: dict[str, str] = {}  # role name -> ARN

    def fail(self, resource: ResolvedResource, where: str, problem: str) -> TemplateError:
        path = f"Resources.{resource.logical_id}.Properties.{where}".rstrip(".")
        return TemplateError(self.stack.source, path, f"[{self.label}] {problem}")

    def arn(self, resource: ResolvedResource, attribute: str = "Arn") -> str:
        return str(
            attribute_value(
                resource.type,
                attribute,
                self.stack.env,
                resource.logical_id,
                resource.properties.get,
            )
        )

    def document(self, resource: ResolvedResource, where: str, raw: Any) -> dict[str, Any]:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise self.fail(resource, where, f"policy is not valid JSON ({exc.msg})") from None
        if not isinstance(raw, dict):
            raise self.fail(resource, where, "a policy document must be a mapping")
        doc: dict[str, Any] = normalise_document(raw)
        return doc

    def add_resource(self, resource: ResolvedResource, arn: str, doc: dict[str, Any]) -> None:
        existing = self.out.resources.get(arn)
        if existing is not None and existing["policy"]["Statement"]:
            raise self.fail(resource, "", f"{arn} already has a policy from {existing['name']}")
        name = f"{self.label}/{resource.logical_id}"
        self.out.resources[arn] = {"policy": doc, "name": name, "account": self.stack.env.account}

    def run(self) -> StackPolicies:
        resources = list(self.stack.resources.values())
        for r in resources:
            if r.type == "AWS::IAM::ManagedPolicy":
                arn = self.arn(r, "PolicyArn")
                doc = self.document(r, "PolicyDocument", r.properties.get("PolicyDocument"))
                # Named as IAM shows it: the (given or generated) policy name.
                self.managed[arn] = (arn.rsplit("/", 1)[-1], doc)
        for r in resources:
            if r.type == "AWS::IAM::Role":
                self.role(r)
        for r in resources:
            self.attachment(r)
            self.resource_policy(r)
        return self.out

    def managed_document(
        self, r: ResolvedResource, where: str, arn: Any
    ) -> tuple[str, dict[str, Any]]:
        if arn in self.managed:
            return self.managed[arn]
        if isinstance(arn, str) and ":iam::aws:policy/" in arn:
            raise self.fail(
                r,
                where,
                f"{arn} is an AWS-managed policy; its document is not shipped, so the access it "
                "grants cannot be checked: inline the statements the role needs",
            )
        raise self.fail(r, where, f"{arn!r} is not a ManagedPolicy declared in this template")

    def role(self, r: ResolvedResource) -> None:
        arn = self.arn(r)
        props = r.properties
        policies: dict[str, Any] = {}
        for i, inline in enumerate(props.get("Policies") or []):
            where = f"Policies[{i}]"
            if not isinstance(inline, dict) or "PolicyName" not in inline:
                raise self.fail(r, where, "needs PolicyName and PolicyDocument")
            policies[str(inline["PolicyName"])] = self.document(
                r, f"{where}.PolicyDocument", inline.get("PolicyDocument")
            )
        for i, managed_arn in enumerate(props.get("ManagedPolicyArns") or []):
            name, doc = self.managed_document(r, f"ManagedPolicyArns[{i}]", managed_arn)
            policies[name] = doc
        boundary = None
        if props.get("PermissionsBoundary") is not None:
            _, boundary = self.managed_document(
                r, "PermissionsBoundary", props["PermissionsBoundary"]
            )
        trust_raw = props.get("AssumeRolePolicyDocument")
        if trust_raw is None:
            raise self.fail(r, "AssumeRolePolicyDocument", "a role needs a trust policy")
        tags = {
            str(t["Key"]): str(t["Value"])
            for t in props.get("Tags") or []
            if isinstance(t, dict) and "Key" in t and "Value" in t
        }
        self.out.principals[arn] = {
            "policies": policies,
            "permissions_boundary": boundary,
            "trust_policy": self.document(r, "AssumeRolePolicyDocument", trust_raw),
            "tags": tags,
        }
        self.out.arns[r.logical_id] = arn
        self.roles_by_name[str(r.ref)] = arn

    def attach(self, r: ResolvedResource, where: str, role: Any, name: str, doc: Any) -> None:
        arn = self.roles_by_name.get(str(role))
        if arn is None:
            raise self.fail(
                r, where, f"attaches to role {role!r}, which this template does not declare"
            )
        self.out.principals[arn]["policies"][name] = doc

    def attachment(self, r: ResolvedResource) -> None:
        props = r.properties
        if r.type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            if r.type == "AWS::IAM::Policy":
                name = str(props.get("PolicyName") or r.logical_id)
                doc = self.document(r, "PolicyDocument", props.get("PolicyDocument"))
            else:
                name, doc = self.managed[self.arn(r, "PolicyArn")]
            for i, role in enumerate(props.get("Roles") or []):
                self.attach(r, f"Roles[{i}]", role, name, doc)
            if props.get("Users") or props.get("Groups"):
                raise self.fail(r, "Users", "policies on IAM users or groups are not modelled")
        elif r.type == "AWS::IAM::RolePolicy":
            doc = self.document(r, "PolicyDocument", props.get("PolicyDocument"))
            self.attach(r, "RoleName", props.get("RoleName"), str(props.get("PolicyName")), doc)

    def resource_policy(self, r: ResolvedResource) -> None:
        props = r.properties
        env = self.stack.env
        if r.type == "AWS::S3::Bucket":
            arn = self.arn(r)
            self.out.arns[r.logical_id] = arn
            self.out.resources.setdefault(
                arn,
                {
                    "policy": empty_policy(),
                    "name": f"{self.label}/{r.logical_id}",
                    "account": env.account,
                },
            )
        elif r.type == "AWS::S3::BucketPolicy":
            bucket = str(props.get("Bucket"))
            doc = self.document(r, "PolicyDocument", props.get("PolicyDocument"))
            self.add_resource(r, f"arn:{env.partition}:s3:::{bucket}", doc)
        elif r.type == "AWS::KMS::Key":
            arn = self.arn(r)
            self.out.arns[r.logical_id] = arn
            raw = props.get("KeyPolicy")
            doc = (
                self.document(r, "KeyPolicy", raw)
                if raw is not None
                else default_key_policy(env.account, env.partition)
            )
            self.add_resource(r, arn, doc)
        elif r.type == "AWS::SageMaker::ModelPackageGroup":
            arn = self.arn(r, "ModelPackageGroupArn")
            self.out.arns[r.logical_id] = arn
            raw = props.get("ModelPackageGroupPolicy")
            doc = (
                self.document(r, "ModelPackageGroupPolicy", raw)
                if raw is not None
                else empty_policy()
            )
            self.add_resource(r, arn, doc)
        elif r.type in ("AWS::SQS::Queue", "AWS::SNS::Topic"):
            arn = self.arn(r, "Arn" if r.type == "AWS::SQS::Queue" else "TopicArn")
            self.out.arns[r.logical_id] = arn
            self.out.resources.setdefault(
                arn,
                {
                    "policy": empty_policy(),
                    "name": f"{self.label}/{r.logical_id}",
                    "account": env.account,
                },
            )
        elif r.type == "AWS::SQS::QueuePolicy":
            doc = self.document(r, "PolicyDocument", props.get("PolicyDocument"))
            for url in props.get("Queues") or []:
                # https://sqs.<region>.amazonaws.com/<account>/<name>
                parts = str(url).rstrip("/").split("/")
                region = parts[2].split(".")[1] if len(parts) >= 5 else env.region
                arn = f"arn:{env.partition}:sqs:{region}:{parts[-2]}:{parts[-1]}"
                self.add_resource(r, arn, doc)
        elif r.type == "AWS::SNS::TopicPolicy":
            doc = self.document(r, "PolicyDocument", props.get("PolicyDocument"))
            for topic in props.get("Topics") or []:
                self.add_resource(r, str(topic), doc)


def stack_policies(stack: ResolvedStack, label: str) -> StackPolicies:
    """Extract principals and resource policies from ``stack``; ``label`` names it in errors
    and in each resource entry's ``name`` (``hub/ArtifactsBucketPolicy``)."""
    return _Extractor(stack, label).run()
