"""What ``Ref`` and ``Fn::GetAtt`` return for the resource types hubspoke's templates use.

A physical name the template does not set is generated the way CloudFormation does it
(``<stack>-<logical id>-<suffix>``), with a suffix derived from the stack and logical id so the
same template always resolves to the same names. Identifiers AWS invents at creation time
(KMS key ids, OU and SCP ids) are derived the same way: stable, well-formed, obviously local.

Type: what ``Ref`` returns; ``Fn::GetAtt`` attributes (``acct``/``region`` of the stack).

- ``AWS::IAM::Role``: role name; ``Arn`` = ``arn:aws:iam::<acct>:role<Path><name>``, ``RoleId``
- ``AWS::IAM::User`` / ``Group`` / ``InstanceProfile``: name; ``Arn`` (``user/``, ``group/``,
  ``instance-profile/`` with the ``Path``)
- ``AWS::IAM::ManagedPolicy``: policy ARN ``arn:aws:iam::<acct>:policy<Path><name>``;
  ``PolicyArn``, ``PolicyId``
- ``AWS::S3::Bucket``: bucket name; ``Arn`` = ``arn:aws:s3:::<name>``, ``DomainName``,
  ``RegionalDomainName``
- ``AWS::KMS::Key``: key id (a UUID); ``Arn`` = ``arn:aws:kms:<region>:<acct>:key/<id>``,
  ``KeyId``
- ``AWS::KMS::Alias``: alias name
- ``AWS::SQS::Queue``: queue URL ``https://sqs.<region>.amazonaws.com/<acct>/<name>``;
  ``Arn`` = ``arn:aws:sqs:<region>:<acct>:<name>``, ``QueueName``, ``QueueUrl``
- ``AWS::SNS::Topic``: topic ARN; ``TopicArn``, ``TopicName``
- ``AWS::SageMaker::ModelPackageGroup``: group ARN
  ``arn:aws:sagemaker:<region>:<acct>:model-package-group/<name>``; ``ModelPackageGroupArn``
  (it has no ``Arn`` attribute: CloudFormation would reject one, so this does too)
- ``AWS::Events::Rule``: rule name; ``Arn`` = ``arn:aws:events:<region>:<acct>:rule/[<bus>/]<name>``
- ``AWS::Events::EventBus``: bus name; ``Arn``, ``Name``
- ``AWS::Organizations::Organization``: organization id; ``Id``, ``Arn``, ``RootId``,
  ``ManagementAccountId``, ``ManagementAccountArn``
- ``AWS::Organizations::OrganizationalUnit`` / ``Policy``: OU / policy id; ``Id``, ``Arn``
- ``AWS::Logs::LogGroup``: name; ``Arn`` = ``arn:aws:logs:<region>:<acct>:log-group:<name>:*``
- ``AWS::Lambda::Function``, ``AWS::CloudTrail::Trail``, ``AWS::ECR::Repository``,
  ``AWS::CloudWatch::Alarm``, ``AWS::MWAA::Environment``, ``AWS::SageMaker::Pipeline``: name;
  ``Arn``
- ``AWS::RAM::ResourceShare``: share ARN; ``Arn``
- policy attachments (``AWS::S3::BucketPolicy``, ``AWS::SQS::QueuePolicy``,
  ``AWS::SNS::TopicPolicy``, ``AWS::IAM::Policy``, ``AWS::IAM::RolePolicy``...): a generated
  physical id, no attributes

Any other type or attribute is an error naming it, rather than a guess.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Reads one (resolved) property of the resource being named, or None when it is not set.
PropertyReader = Callable[[str], Any]


class UnknownAttribute(LookupError):
    """Raised for a type or attribute outside the table; the message says which exist."""


@dataclass(frozen=True)
class StackEnv:
    """Where a stack is deployed: everything a generated name or ARN depends on."""

    stack_name: str
    account: str
    region: str
    partition: str = "aws"
    organization_id: str = "o-exampleorgid"
    organization_root_id: str = "r-exam"
    management_account: str = "000000000000"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def generated_name(env: StackEnv, logical_id: str, *, limit: int = 64, lower: bool = False) -> str:
    """``<stack>-<logical id>-<SUFFIX>`` within ``limit`` characters, as CloudFormation names."""
    suffix = _digest(env.account, env.region, env.stack_name, logical_id)[:12].upper()
    head = f"{env.stack_name}-{logical_id}"[: max(1, limit - len(suffix) - 1)]
    name = f"{head}-{suffix}"
    return name.lower() if lower else name


def generated_id(env: StackEnv, logical_id: str, alphabet_len: int = 8) -> str:
    return _digest(env.account, env.stack_name, logical_id)[:alphabet_len]


def _path(read: PropertyReader) -> str:
    path = read("Path") or "/"
    return str(path)


@dataclass(frozen=True)
class _Kind:
    """How one resource type names itself."""

    name_property: str | None
    ref: str  # "name", "arn", "id" or "url": what Ref returns
    arn: Callable[[StackEnv, str, PropertyReader], str] | None
    attributes: tuple[str, ...]
    name_limit: int = 64
    lower: bool = False


def _iam(kind: str) -> Callable[[StackEnv, str, PropertyReader], str]:
    def arn(env: StackEnv, name: str, read: PropertyReader) -> str:
        return f"arn:{env.partition}:iam::{env.account}:{kind}{_path(read)}{name}"

    return arn


def _regional(service: str, shape: str) -> Callable[[StackEnv, str, PropertyReader], str]:
    def arn(env: StackEnv, name: str, read: PropertyReader) -> str:
        resource = shape.format(name=name)
        return f"arn:{env.partition}:{service}:{env.region}:{env.account}:{resource}"

    return arn


def _bucket_arn(env: StackEnv, name: str, read: PropertyReader) -> str:
    return f"arn:{env.partition}:s3:::{name}"


def _rule_arn(env: StackEnv, name: str, read: PropertyReader) -> str:
    bus = read("EventBusName")
    middle = f"{bus}/" if bus and bus != "default" and not str(bus).startswith("arn:") else ""
    return f"arn:{env.partition}:events:{env.region}:{env.account}:rule/{middle}{name}"


def _org_arn(kind: str) -> Callable[[StackEnv, str, PropertyReader], str]:
    def arn(env: StackEnv, name: str, read: PropertyReader) -> str:
        head = f"arn:{env.partition}:organizations::{env.management_account}:{kind}/"
        if kind == "organization":
            return f"{head}{env.organization_id}"
        return f"{head}{env.organization_id}/{name}"

    return arn


_KINDS: dict[str, _Kind] = {
    "AWS::IAM::Role": _Kind("RoleName", "name", _iam("role"), ("Arn", "RoleId")),
    "AWS::IAM::User": _Kind("UserName", "name", _iam("user"), ("Arn",)),
    "AWS::IAM::Group": _Kind("GroupName", "name", _iam("group"), ("Arn",)),
    "AWS::IAM::InstanceProfile": _Kind(
        "InstanceProfileName", "name", _iam("instance-profile"), ("Arn",)
    ),
    "AWS::IAM::ManagedPolicy": _Kind(
        "ManagedPolicyName", "arn", _iam("policy"), ("PolicyArn", "PolicyId")
    ),
    "AWS::S3::Bucket": _Kind(
        "BucketName",
        "name",
        _bucket_arn,
        ("Arn", "DomainName", "RegionalDomainName"),
        name_limit=63,
        lower=True,
    ),
    "AWS::KMS::Key": _Kind(None, "id", _regional("kms", "key/{name}"), ("Arn", "KeyId")),
    "AWS::KMS::Alias": _Kind("AliasName", "name", None, ()),
    "AWS::SQS::Queue": _Kind(
        "QueueName", "url", _regional("sqs", "{name}"), ("Arn", "QueueName", "QueueUrl"), 80
    ),
    "AWS::SNS::Topic": _Kind(
        "TopicName", "arn", _regional("sns", "{name}"), ("TopicArn", "TopicName"), 256
    ),
    "AWS::SageMaker::ModelPackageGroup": _Kind(
        "ModelPackageGroupName",
        "arn",
        _regional("sagemaker", "model-package-group/{name}"),
        ("ModelPackageGroupArn", "CreationTime", "ModelPackageGroupStatus"),
    ),
    "AWS::SageMaker::Pipeline": _Kind(
        "PipelineName", "name", _regional("sagemaker", "pipeline/{name}"), ("Arn",)
    ),
    "AWS::Events::Rule": _Kind("Name", "name", _rule_arn, ("Arn",)),
    "AWS::Events::EventBus": _Kind(
        "Name", "name", _regional("events", "event-bus/{name}"), ("Arn", "Name")
    ),
    "AWS::Organizations::OrganizationalUnit": _Kind("Name", "id", _org_arn("ou"), ("Id", "Arn")),
    "AWS::Organizations::Organization": _Kind(
        None,
        "id",
        _org_arn("organization"),
        ("Id", "Arn", "RootId", "ManagementAccountId", "ManagementAccountArn"),
    ),
    "AWS::Organizations::Policy": _Kind(
        "Name", "id", _org_arn("policy/service_control_policy"), ("Id", "Arn")
    ),
    "AWS::Logs::LogGroup": _Kind(
        "LogGroupName", "name", _regional("logs", "log-group:{name}:*"), ("Arn",), 512
    ),
    "AWS::Lambda::Function": _Kind(
        "FunctionName", "name", _regional("lambda", "function:{name}"), ("Arn",)
    ),
    "AWS::CloudTrail::Trail": _Kind(
        "TrailName", "name", _regional("cloudtrail", "trail/{name}"), ("Arn",)
    ),
    "AWS::ECR::Repository": _Kind(
        "RepositoryName", "name", _regional("ecr", "repository/{name}"), ("Arn",), 256, True
    ),
    "AWS::CloudWatch::Alarm": _Kind(
        "AlarmName", "name", _regional("cloudwatch", "alarm:{name}"), ("Arn",), 255
    ),
    "AWS::MWAA::Environment": _Kind(
        "Name", "name", _regional("airflow", "environment/{name}"), ("Arn",)
    ),
    "AWS::RAM::ResourceShare": _Kind(
        None, "arn", _regional("ram", "resource-share/{name}"), ("Arn",)
    ),
}

# Types whose Ref is only an opaque physical id and which have no attributes.
_OPAQUE = {
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::IAM::Policy",
    "AWS::IAM::RolePolicy",
    "AWS::Organizations::ResourcePolicy",
    "AWS::Events::EventBusPolicy",
}


def physical_name(resource_type: str, env: StackEnv, logical_id: str, read: PropertyReader) -> str:
    """The name (or invented id) the resource gets when deployed."""
    kind = _KINDS.get(resource_type)
    if kind is None:
        if resource_type in _OPAQUE:
            return generated_name(env, logical_id)
        raise UnknownAttribute(
            f"Ref/GetAtt of type {resource_type} is not modelled; add it to the table in "
            "hubspoke.governance.cfn_resources"
        )
    if resource_type == "AWS::KMS::Key":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{env.account}/{env.stack_name}/{logical_id}"))
    if resource_type == "AWS::Organizations::Organization":
        return env.organization_id
    if resource_type == "AWS::Organizations::OrganizationalUnit":
        return f"ou-{generated_id(env, 'root', 4)}-{generated_id(env, logical_id)}"
    if resource_type == "AWS::Organizations::Policy":
        return f"p-{generated_id(env, logical_id)}"
    if resource_type == "AWS::RAM::ResourceShare":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{env.account}/{env.stack_name}/{logical_id}"))
    name = read(kind.name_property) if kind.name_property else None
    if name is None:
        return generated_name(env, logical_id, limit=kind.name_limit, lower=kind.lower)
    return str(name)


def ref_value(resource_type: str, env: StackEnv, logical_id: str, read: PropertyReader) -> str:
    """What ``Ref`` of the resource returns."""
    name = physical_name(resource_type, env, logical_id, read)
    kind = _KINDS.get(resource_type)
    if kind is None or kind.ref in {"name", "id"}:
        return name
    if kind.ref == "url":
        return f"https://sqs.{env.region}.amazonaws.com/{env.account}/{name}"
    assert kind.arn is not None
    return kind.arn(env, name, read)


def attribute_value(
    resource_type: str, attribute: str, env: StackEnv, logical_id: str, read: PropertyReader
) -> Any:
    """What ``Fn::GetAtt [logical_id, attribute]`` returns."""
    kind = _KINDS.get(resource_type)
    if kind is None or attribute not in kind.attributes:
        known = ", ".join(kind.attributes) if kind and kind.attributes else "none modelled"
        raise UnknownAttribute(f"{resource_type} has no attribute {attribute!r} (known: {known})")
    name = physical_name(resource_type, env, logical_id, read)
    if attribute in {"Arn", "PolicyArn", "TopicArn", "ModelPackageGroupArn"}:
        assert kind.arn is not None
        return kind.arn(env, name, read)
    if attribute in {"KeyId", "QueueName", "TopicName", "Name", "Id"}:
        return name
    if attribute == "RootId":
        return env.organization_root_id
    if attribute == "ManagementAccountId":
        return env.management_account
    if attribute == "ManagementAccountArn":
        head = f"arn:{env.partition}:organizations::{env.management_account}"
        return f"{head}:account/{name}/{env.management_account}"
    if attribute == "QueueUrl":
        return f"https://sqs.{env.region}.amazonaws.com/{env.account}/{name}"
    if attribute == "DomainName":
        return f"{name}.s3.amazonaws.com"
    if attribute == "RegionalDomainName":
        return f"{name}.s3.{env.region}.amazonaws.com"
    if attribute in {"RoleId", "PolicyId"}:
        prefix = "AROA" if attribute == "RoleId" else "ANPA"
        return prefix + generated_id(env, logical_id, 17).upper()
    if attribute == "ModelPackageGroupStatus":
        return "Completed"
    return "1970-01-01T00:00:00Z"  # CreationTime
