"""Creating the resolved resources of one stack in its account, idempotently.

Each handler converges the account to what the template declares (create when missing,
put the declared policy and settings every time), acting as the account's root through the
AWS APIs. Only IDs that AWS would invent (KMS key IDs) are set in-process, to the values the
template resolver computed, so ARNs in policies point at real keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from moto.kms.models import kms_backends

if TYPE_CHECKING:
    from hubspoke.governance.cfn import ResolvedResource, ResolvedStack
    from localcloud.server import LocalCloud

Clients = Callable[[str], Any]


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _tags(props: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": str(t["Value"])} for t in props.get("Tags", [])]


def _role(client: Clients, r: ResolvedResource, stack: ResolvedStack) -> str | None:
    iam = client("iam")
    props = r.properties
    name = props["RoleName"]
    trust = _json(props["AssumeRolePolicyDocument"])
    change = None
    try:
        iam.get_role(RoleName=name)
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=trust,
            Path=props.get("Path", "/"),
            Description=props.get("Description", ""),
            MaxSessionDuration=int(props.get("MaxSessionDuration", 3600)),
            Tags=_tags(props),
        )
        change = f"role {name}"
    declared = {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies", [])}
    for policy_name, document in declared.items():
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=_json(document))
    for existing in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        if existing not in declared:
            iam.delete_role_policy(RoleName=name, PolicyName=existing)
    return change


def _key(client: Clients, r: ResolvedResource, stack: ResolvedStack) -> str | None:
    cloud = client.cloud  # type: ignore[attr-defined]
    backend = kms_backends[stack.env.account][stack.env.region]
    key_id = str(r.ref)
    change = None
    if key_id not in backend.keys:
        key = backend.create_key(
            policy=None,
            key_usage=r.properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=r.properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=r.properties.get("Description", ""),
            tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in _tags(r.properties)],
        )
        backend.keys.pop(key.id)
        key.id = key_id
        key.arn = (
            f"arn:{stack.env.partition}:kms:{stack.env.region}:{stack.env.account}:key/{key_id}"
        )
        backend.keys[key_id] = key
        if cloud.enforcer is not None:
            cloud.enforcer.invalidate()  # the engine must see the new key's policy
        change = f"KMS key {key_id}"
    kms = client("kms")
    if r.properties.get("KeyPolicy"):
        kms.put_key_policy(
            KeyId=key_id, PolicyName="default", Policy=_json(r.properties["KeyPolicy"])
        )
    if r.properties.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key_id)
    return change


def _alias(client: Clients, r: ResolvedResource, stack: ResolvedStack) -> str | None:
    kms = client("kms")
    name = r.properties["AliasName"]
    target = str(r.properties["TargetKeyId"]).rsplit("/", 1)[-1]
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    if name not in aliases:
        kms.create_alias(AliasName=name, TargetKeyId=target)
        return f"KMS alias {name}"
    if aliases[name] != target:
        kms.update_alias(AliasName=name, TargetKeyId=target)
    return None


def _bucket(client: Clients, r: ResolvedResource, stack: ResolvedStack) -> str | None:
    s3 = client("s3")
    props = r.properties
    name = props["BucketName"]
    change = None
    try:
        s3.head_bucket(Bucket=name)
    except ClientError:
        s3.create_bucket(Bucket=name)
        change = f"bucket {name}"
    encryption = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
    if encryption:
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                **(
                    {"BucketKeyEnabled": rule["BucketKeyEnabled"]}
                    if "BucketKeyEnabled" in rule
                    else {}
                ),
            }
            for rule in encryption
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if props.get("VersioningConfiguration"):
        s3.put_bucket_versioning(
            Bucket=name,
            VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]},
        )
    if props.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if props.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(props)})
    return change


def _bucket_policy(client: Clients, r: ResolvedResource, stack: ResolvedStack) -> str | None:
    client("s3").put_bucket_policy(
        Bucket=r.properties["Bucket"], Policy=_json(r.properties["PolicyDocument"])
    )
    return None


def _queue(client: Clients, r: ResolvedResource, stack: ResolvedStack) -> str | None:
    sqs = client("sqs")
    props = r.properties
    attributes = {
        key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        for key in ("MessageRetentionPeriod", "VisibilityTimeout", "SqsManagedSseEnabled")
        if key in props
    }
    try:
        sqs.get_queue_url(QueueName=props["QueueName"])
        return None
    except ClientError:
        sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)
        return f"queue {props['QueueName']}"


def _queue_policy(client: Clients, r: ResolvedResource, stack: ResolvedStack) -> str | None:
    sqs = client("sqs")
    for url in r.properties["Queues"]:
        name = str(url).rstrip("/").rsplit("/", 1)[-1]
        local_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(
            QueueUrl=local_url, Attributes={"Policy": _json(r.properties["PolicyDocument"])}
        )
    return None


def _rule(client: Clients, r: ResolvedResource, stack: ResolvedStack) -> str | None:
    events = client("events")
    props = r.properties
    bus = props.get("EventBusName", "default")
    existing = {rule["Name"] for rule in events.list_rules(EventBusName=bus)["Rules"]}
    events.put_rule(
        Name=props["Name"],
        EventPattern=_json(props["EventPattern"]),
        State=props.get("State", "ENABLED"),
        Description=props.get("Description", ""),
        EventBusName=bus,
    )
    targets = [{"Id": t["Id"], "Arn": t["Arn"]} for t in props.get("Targets", [])]
    if targets:
        events.put_targets(Rule=props["Name"], EventBusName=bus, Targets=targets)
    return None if props["Name"] in existing else f"rule {props['Name']}"


def _group(client: Clients, r: ResolvedResource, stack: ResolvedStack) -> str | None:
    sagemaker = client("sagemaker")
    props = r.properties
    name = props["ModelPackageGroupName"]
    change = None
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=name)
    except ClientError:
        sagemaker.create_model_package_group(
            ModelPackageGroupName=name,
            ModelPackageGroupDescription=props.get("ModelPackageGroupDescription", ""),
            Tags=_tags(props),
        )
        change = f"model package group {name}"
    if props.get("ModelPackageGroupPolicy"):
        sagemaker.put_model_package_group_policy(
            ModelPackageGroupName=name, ResourcePolicy=_json(props["ModelPackageGroupPolicy"])
        )
    return change


# Creation order: what a resource's settings name must exist first.
HANDLERS: dict[str, Callable[[Clients, ResolvedResource, ResolvedStack], str | None]] = {
    "AWS::IAM::Role": _role,
    "AWS::KMS::Key": _key,
    "AWS::KMS::Alias": _alias,
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::Events::Rule": _rule,
    "AWS::SageMaker::ModelPackageGroup": _group,
}


class UnsupportedTemplate(ValueError):
    """The stack declares something localcloud cannot create; nothing was created."""


def check_supported(stack: ResolvedStack) -> None:
    """Refuse a stack before creating any of it, so a refusal leaves no half-built account."""
    unknown = sorted({r.type for r in stack.resources.values()} - set(HANDLERS))
    if unknown:
        raise UnsupportedTemplate(
            f"{stack.source}: localcloud cannot bootstrap {', '.join(unknown)} yet"
        )
    for role in stack.of_type("AWS::IAM::Role"):
        if role.properties.get("ManagedPolicyArns") or role.properties.get("PermissionsBoundary"):
            raise UnsupportedTemplate(
                f"{stack.source}: {role.logical_id}: managed policies and boundaries are not "
                "bootstrapped locally; declare policies inline"
            )


def apply_stack(cloud: LocalCloud, stack: ResolvedStack) -> list[str]:
    """Converge ``stack.env.account`` to the stack; return a line per created resource."""
    check_supported(stack)
    root = cloud.root_session(stack.env.account)
    cache: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in cache:
            cache[service] = cloud.client(service, root)
        return cache[service]

    client.cloud = cloud  # type: ignore[attr-defined]

    changes = []
    for resource_type, handler in HANDLERS.items():
        for resource in stack.of_type(resource_type):
            change = handler(client, resource, stack)
            if change:
                changes.append(change)
    return changes
