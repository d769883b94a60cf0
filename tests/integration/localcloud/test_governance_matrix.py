"""The governance matrix of the hub-and-spoke flow, enforced by localcloud over HTTP.

Every case signs its call with the credentials of the real bootstrapped role (spoke deployers
are reached through the orchestrator's own ``sts:AssumeRole``) and asserts either that the
call succeeds or the exact AccessDenied AWS would answer: code, HTTP status and
``User: <caller> is not authorized to perform: <action> on resource: <arn> <reason>``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from hubspoke.config import load_config

if TYPE_CHECKING:
    from localcloud.credentials import Session
    from localcloud.server import LocalCloud

ACCOUNTS = load_config().accounts
REGION = ACCOUNTS.region
HUB = ACCOUNTS.account_id("hub")
DEV = ACCOUNTS.account_id("dev")
STAGING = ACCOUNTS.account_id("staging")
PROD = ACCOUNTS.account_id("prod")
OUTSIDER = "999999999999"  # an account that is not a member of the organization
OTHER_REGION = "eu-west-1"  # not in allowed_regions

HUB_BUCKET = f"hubspoke-artifacts-{HUB}"
DEV_BUCKET = f"hubspoke-dev-{DEV}"
MODEL_KEY = "models/matrix/model.tar.gz"
LEDGER_KEY = "ledger/matrix/0001.json"
DEV_KEY = "outputs/matrix/model.tar.gz"
GROUP = "breast-cancer"
GROUP_ARN = f"arn:aws:sagemaker:{REGION}:{HUB}:model-package-group/{GROUP}"
QUEUE = "hubspoke-model-package-events"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{HUB}:{QUEUE}"
IMAGE = f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


ORCHESTRATOR = role_arn(HUB, "hubspoke-orchestrator")
APPROVER = role_arn(HUB, "hubspoke-approver")
DEPLOYER = {a: role_arn(a, "hubspoke-spoke-deployer") for a in (DEV, STAGING, PROD)}
EXECUTION = {a: role_arn(a, "hubspoke-sagemaker-execution") for a in (DEV, STAGING, PROD)}

# Why AWS says no, as the end of its AccessDenied message.
SCP_DENY = "with an explicit deny in a service control policy"
IDENTITY_DENY = "with an explicit deny in an identity-based policy"
RESOURCE_DENY = "with an explicit deny in a resource-based policy"
NO_IDENTITY = "because no identity-based policy allows the {action} action"
NO_RESOURCE = "because no resource-based policy allows the {action} action"


@dataclass(frozen=True)
class World:
    """What the cases refer to once the matrix fixture has seeded it."""

    package_arn: str  # PendingManualApproval
    approved_arn: str
    staging_model: str  # a staging model created from the approved hub package
    queue_url: str
    hub_key_arn: str
    dev_key_arn: str
    spoke_key_arn: dict[str, str]


@dataclass(frozen=True)
class Denied:
    """The AccessDenied a case must get; ``resource`` may name fields of :class:`World`."""

    action: str
    resource: str
    reason: str


ALLOWED = "allowed"  # the call succeeds

Expectation = str | Denied
Call = Callable[[Any, World], Any]


@dataclass(frozen=True)
class Case:
    id: str
    caller: str  # a key of the callers fixture
    service: str
    call: Call
    expect: Expectation
    region: str = REGION


def _unique(name: str) -> str:
    """A fresh name for a call that may succeed (the session's store outlives this module)."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _endpoint_config(name: str, kms: bool) -> Call:
    def call(sm: Any, w: World) -> Any:
        extra = {"KmsKeyId": w.spoke_key_arn[STAGING]} if kms else {}
        return sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": w.staging_model,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
            **extra,
        )

    return call


def _training_job(name: str, kms: bool, role: str) -> Call:
    def call(sm: Any, w: World) -> Any:
        key = w.spoke_key_arn[DEV]
        return sm.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            RoleArn=role,
            OutputDataConfig={
                "S3OutputPath": f"s3://{DEV_BUCKET}/matrix/",
                **({"KmsKeyId": key} if kms else {}),
            },
            ResourceConfig={
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
                **({"VolumeKmsKeyId": key} if kms else {}),
            },
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )

    return call


def _create_model(name: str, account: str) -> Call:
    def call(sm: Any, w: World) -> Any:
        return sm.create_model(
            ModelName=name,
            PrimaryContainer={"ModelPackageName": w.approved_arn},
            ExecutionRoleArn=EXECUTION[account],
        )

    return call


def _register(status: str, group: str = GROUP) -> Callable[[Any, World | None], Any]:
    """CreateModelPackage into the hub group (by name from the hub, by ARN from a spoke)."""

    def call(sm: Any, w: World | None) -> Any:
        return sm.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{HUB_BUCKET}/{MODEL_KEY}"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )

    return call


def _assume(target: str) -> Call:
    return lambda sts, w: sts.assume_role(RoleArn=target, RoleSessionName="matrix-chain")


def _get(bucket: str, key: str) -> Call:
    return lambda s3, w: s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def _put(bucket: str, key: str) -> Call:
    return lambda s3, w: s3.put_object(Bucket=bucket, Key=key, Body=b"{}")


def _hub_queue_url(sqs: Any, w: World) -> str:
    return w.queue_url


CASES: list[Case] = [
    # ---------------------------------------------------------------- model registry
    Case(
        "orchestrator-registers-pending",
        "orchestrator",
        "sagemaker",
        _register("PendingManualApproval"),
        ALLOWED,
    ),
    Case(
        "orchestrator-cannot-register-approved",
        "orchestrator",
        "sagemaker",
        _register("Approved"),
        Denied(
            "sagemaker:CreateModelPackage",
            f"arn:aws:sagemaker:{REGION}:{HUB}:model-package/{GROUP}/*",
            NO_IDENTITY,
        ),
    ),
    Case(
        "orchestrator-cannot-approve",
        "orchestrator",
        "sagemaker",
        lambda sm, w: sm.update_model_package(
            ModelPackageArn=w.package_arn, ModelApprovalStatus="Approved"
        ),
        Denied("sagemaker:UpdateModelPackage", "{package_arn}", IDENTITY_DENY),
    ),
    Case(
        "orchestrator-cannot-delete-package",
        "orchestrator",
        "sagemaker",
        lambda sm, w: sm.delete_model_package(ModelPackageName=w.package_arn),
        Denied("sagemaker:DeleteModelPackage", "{package_arn}", IDENTITY_DENY),
    ),
    Case(
        "orchestrator-cannot-reshare-group",
        "orchestrator",
        "sagemaker",
        lambda sm, w: sm.put_model_package_group_policy(
            ModelPackageGroupName=GROUP, ResourcePolicy="{}"
        ),
        Denied("sagemaker:PutModelPackageGroupPolicy", GROUP_ARN, IDENTITY_DENY),
    ),
    Case(
        "orchestrator-describes-group",
        "orchestrator",
        "sagemaker",
        lambda sm, w: sm.describe_model_package_group(ModelPackageGroupName=GROUP),
        ALLOWED,
    ),
    Case(
        "approver-approves",
        "approver",
        "sagemaker",
        lambda sm, w: sm.update_model_package(
            ModelPackageArn=w.package_arn, ModelApprovalStatus="Approved"
        ),
        ALLOWED,
    ),
    Case(
        "approver-cannot-reset-to-pending",
        "approver",
        "sagemaker",
        lambda sm, w: sm.update_model_package(
            ModelPackageArn=w.package_arn, ModelApprovalStatus="PendingManualApproval"
        ),
        Denied("sagemaker:UpdateModelPackage", "{package_arn}", NO_IDENTITY),
    ),
    Case(
        "approver-cannot-register",
        "approver",
        "sagemaker",
        _register("PendingManualApproval"),
        Denied(
            "sagemaker:CreateModelPackage",
            f"arn:aws:sagemaker:{REGION}:{HUB}:model-package/{GROUP}/*",
            NO_IDENTITY,
        ),
    ),
    Case(
        "approver-cannot-read-artifacts",
        "approver",
        "s3",
        _get(HUB_BUCKET, MODEL_KEY),
        Denied("s3:GetObject", f"arn:aws:s3:::{HUB_BUCKET}/{MODEL_KEY}", NO_IDENTITY),
    ),
    Case(
        "staging-deployer-cannot-approve-hub-package",
        "staging-deployer",
        "sagemaker",
        lambda sm, w: sm.update_model_package(
            ModelPackageArn=w.package_arn, ModelApprovalStatus="Approved"
        ),
        Denied("sagemaker:UpdateModelPackage", "{package_arn}", SCP_DENY),
    ),
    Case(
        "dev-deployer-cannot-register-in-hub",
        "dev-deployer",
        "sagemaker",
        _register("PendingManualApproval", GROUP_ARN),
        Denied(
            "sagemaker:CreateModelPackage",
            f"arn:aws:sagemaker:{REGION}:{HUB}:model-package/{GROUP}/*",
            SCP_DENY,
        ),
    ),
    Case(
        "prod-deployer-cannot-delete-hub-package",
        "prod-deployer",
        "sagemaker",
        lambda sm, w: sm.delete_model_package(ModelPackageName=w.package_arn),
        Denied("sagemaker:DeleteModelPackage", "{package_arn}", SCP_DENY),
    ),
    Case(
        # Cross-account: the deployer's identity policy and the group's share both allow.
        "prod-deployer-describes-hub-group",
        "prod-deployer",
        "sagemaker",
        lambda sm, w: sm.describe_model_package_group(ModelPackageGroupName=GROUP_ARN),
        ALLOWED,
    ),
    Case(
        "staging-deployer-describes-hub-package",
        "staging-deployer",
        "sagemaker",
        lambda sm, w: sm.describe_model_package(ModelPackageName=w.package_arn),
        ALLOWED,
    ),
    Case(
        "dev-deployer-cannot-describe-hub-group",
        "dev-deployer",
        "sagemaker",
        lambda sm, w: sm.describe_model_package_group(ModelPackageGroupName=GROUP_ARN),
        Denied("sagemaker:DescribeModelPackageGroup", GROUP_ARN, NO_IDENTITY),
    ),
    Case(
        "outsider-cannot-describe-hub-group",
        "outsider",
        "sagemaker",
        lambda sm, w: sm.describe_model_package_group(ModelPackageGroupName=GROUP_ARN),
        Denied("sagemaker:DescribeModelPackageGroup", GROUP_ARN, NO_RESOURCE),
    ),
    Case(
        "outsider-cannot-describe-hub-package",
        "outsider",
        "sagemaker",
        lambda sm, w: sm.describe_model_package(ModelPackageName=w.package_arn),
        Denied("sagemaker:DescribeModelPackage", "{package_arn}", NO_RESOURCE),
    ),
    # ---------------------------------------------------------------- serving in the spokes
    Case(
        # CreateModel, PassRole of the execution role and the hub package read all pass.
        "prod-deployer-creates-model-from-hub-package",
        "prod-deployer",
        "sagemaker",
        _create_model(_unique("matrix-prod"), PROD),
        ALLOWED,
    ),
    Case(
        "staging-execution-role-cannot-create-model",
        "staging-execution",
        "sagemaker",
        _create_model("matrix-by-execution-role", STAGING),
        Denied(
            "sagemaker:CreateModel",
            f"arn:aws:sagemaker:{REGION}:{STAGING}:model/matrix-by-execution-role",
            SCP_DENY,
        ),
    ),
    Case(
        "staging-endpoint-config-without-kms-key",
        "staging-deployer",
        "sagemaker",
        _endpoint_config("matrix-no-kms", kms=False),
        Denied(
            "sagemaker:CreateEndpointConfig",
            f"arn:aws:sagemaker:{REGION}:{STAGING}:endpoint-config/matrix-no-kms",
            SCP_DENY,
        ),
    ),
    Case(
        "staging-endpoint-config-with-kms-key",
        "staging-deployer",
        "sagemaker",
        _endpoint_config(_unique("matrix-kms"), kms=True),
        ALLOWED,
    ),
    Case(
        "prod-deployer-cannot-delete-endpoint",
        "prod-deployer",
        "sagemaker",
        lambda sm, w: sm.delete_endpoint(EndpointName="breast-cancer-prod"),
        Denied(
            "sagemaker:DeleteEndpoint",
            f"arn:aws:sagemaker:{REGION}:{PROD}:endpoint/breast-cancer-prod",
            NO_IDENTITY,
        ),
    ),
    Case(
        "prod-deployer-lists-models",
        "prod-deployer",
        "sagemaker",
        lambda sm, w: sm.list_models(),
        ALLOWED,
    ),
    # ---------------------------------------------------------------- jobs in dev
    Case(
        "dev-training-job-without-kms-keys",
        "dev-execution",
        "sagemaker",
        _training_job("matrix-no-kms", kms=False, role=EXECUTION[DEV]),
        Denied(
            "sagemaker:CreateTrainingJob",
            f"arn:aws:sagemaker:{REGION}:{DEV}:training-job/matrix-no-kms",
            SCP_DENY,
        ),
    ),
    Case(
        # With both keys the SCP and CreateTrainingJob pass; the call then stops at PassRole
        # of a role that is not the execution role itself.
        "dev-execution-role-cannot-pass-deployer",
        "dev-execution",
        "sagemaker",
        _training_job("matrix-passes-deployer", kms=True, role=DEPLOYER[DEV]),
        Denied("iam:PassRole", DEPLOYER[DEV], NO_IDENTITY),
    ),
    Case(
        "dev-deployer-training-job-without-kms-keys",
        "dev-deployer",
        "sagemaker",
        _training_job("matrix-deployer-no-kms", kms=False, role=EXECUTION[DEV]),
        Denied(
            "sagemaker:CreateTrainingJob",
            f"arn:aws:sagemaker:{REGION}:{DEV}:training-job/matrix-deployer-no-kms",
            SCP_DENY,
        ),
    ),
    # ---------------------------------------------------------------- assuming roles
    *[
        Case(
            f"orchestrator-assumes-{name}-deployer",
            "orchestrator",
            "sts",
            _assume(DEPLOYER[account]),
            ALLOWED,
        )
        for name, account in (("dev", DEV), ("staging", STAGING), ("prod", PROD))
    ],
    Case(
        "dev-deployer-cannot-assume-staging-deployer",
        "dev-deployer",
        "sts",
        _assume(DEPLOYER[STAGING]),
        Denied("sts:AssumeRole", DEPLOYER[STAGING], NO_IDENTITY),
    ),
    Case(
        "prod-execution-role-cannot-assume-prod-deployer",
        "prod-execution",
        "sts",
        _assume(DEPLOYER[PROD]),
        # Same account: the trust policy (the role's resource-based policy) must allow.
        Denied("sts:AssumeRole", DEPLOYER[PROD], NO_RESOURCE),
    ),
    Case(
        "orchestrator-cannot-assume-approver",
        "orchestrator",
        "sts",
        _assume(APPROVER),
        Denied("sts:AssumeRole", APPROVER, NO_RESOURCE),
    ),
    Case(
        "outsider-cannot-assume-deployer",
        "outsider",
        "sts",
        _assume(DEPLOYER[PROD]),
        Denied("sts:AssumeRole", DEPLOYER[PROD], NO_RESOURCE),
    ),
    # ---------------------------------------------------------------- artifacts bucket
    Case(
        "staging-execution-reads-hub-models",
        "staging-execution",
        "s3",
        _get(HUB_BUCKET, MODEL_KEY),
        ALLOWED,
    ),
    Case(
        "prod-execution-heads-hub-models",
        "prod-execution",
        "s3",
        lambda s3, w: s3.head_object(Bucket=HUB_BUCKET, Key=MODEL_KEY),
        ALLOWED,
    ),
    Case(
        "staging-execution-cannot-read-ledger",
        "staging-execution",
        "s3",
        _get(HUB_BUCKET, LEDGER_KEY),
        Denied("s3:GetObject", f"arn:aws:s3:::{HUB_BUCKET}/{LEDGER_KEY}", RESOURCE_DENY),
    ),
    Case(
        "staging-execution-cannot-list-hub-bucket",
        "staging-execution",
        "s3",
        lambda s3, w: s3.list_objects_v2(Bucket=HUB_BUCKET, Prefix="models/"),
        Denied("s3:ListBucket", f"arn:aws:s3:::{HUB_BUCKET}", RESOURCE_DENY),
    ),
    Case(
        "staging-execution-cannot-use-hub-key-outside-s3",
        "staging-execution",
        "kms",
        lambda kms, w: kms.describe_key(KeyId=w.hub_key_arn),
        Denied("kms:DescribeKey", "{hub_key_arn}", NO_IDENTITY),
    ),
    Case(
        "dev-execution-cannot-read-hub-models",
        "dev-execution",
        "s3",
        _get(HUB_BUCKET, MODEL_KEY),
        Denied("s3:GetObject", f"arn:aws:s3:::{HUB_BUCKET}/{MODEL_KEY}", NO_IDENTITY),
    ),
    Case(
        "outsider-cannot-read-hub-models",
        "outsider",
        "s3",
        _get(HUB_BUCKET, MODEL_KEY),
        Denied("s3:GetObject", f"arn:aws:s3:::{HUB_BUCKET}/{MODEL_KEY}", NO_RESOURCE),
    ),
    Case(
        "outsider-cannot-read-ledger",
        "outsider",
        "s3",
        _get(HUB_BUCKET, LEDGER_KEY),
        Denied("s3:GetObject", f"arn:aws:s3:::{HUB_BUCKET}/{LEDGER_KEY}", RESOURCE_DENY),
    ),
    Case(
        "orchestrator-appends-to-ledger",
        "orchestrator",
        "s3",
        _put(HUB_BUCKET, "ledger/matrix/0002.json"),
        ALLOWED,
    ),
    Case("orchestrator-reads-ledger", "orchestrator", "s3", _get(HUB_BUCKET, LEDGER_KEY), ALLOWED),
    Case(
        "orchestrator-cannot-delete-ledger",
        "orchestrator",
        "s3",
        lambda s3, w: s3.delete_object(Bucket=HUB_BUCKET, Key=LEDGER_KEY),
        Denied("s3:DeleteObject", f"arn:aws:s3:::{HUB_BUCKET}/{LEDGER_KEY}", RESOURCE_DENY),
    ),
    Case(
        "orchestrator-writes-models",
        "orchestrator",
        "s3",
        _put(HUB_BUCKET, "models/matrix/copied.tar.gz"),
        ALLOWED,
    ),
    *[
        Case(
            f"{name}-deployer-cannot-write-hub-bucket",
            f"{name}-deployer",
            "s3",
            _put(HUB_BUCKET, "models/matrix/smuggled.tar.gz"),
            Denied(
                "s3:PutObject",
                f"arn:aws:s3:::{HUB_BUCKET}/models/matrix/smuggled.tar.gz",
                RESOURCE_DENY,
            ),
        )
        for name in ("dev", "staging", "prod")
    ],
    # ---------------------------------------------------------------- dev bucket
    Case(
        "orchestrator-reads-dev-outputs",
        "orchestrator",
        "s3",
        _get(DEV_BUCKET, DEV_KEY),
        ALLOWED,
    ),
    Case(
        "orchestrator-lists-dev-outputs",
        "orchestrator",
        "s3",
        lambda s3, w: s3.list_objects_v2(Bucket=DEV_BUCKET, Prefix="outputs/"),
        ALLOWED,
    ),
    Case(
        "orchestrator-cannot-write-dev-bucket",
        "orchestrator",
        "s3",
        _put(DEV_BUCKET, "outputs/matrix/pushed.json"),
        Denied(
            "s3:PutObject", f"arn:aws:s3:::{DEV_BUCKET}/outputs/matrix/pushed.json", NO_IDENTITY
        ),
    ),
    Case(
        "dev-deployer-uploads-to-dev-bucket",
        "dev-deployer",
        "s3",
        _put(DEV_BUCKET, "code/matrix/source.json"),
        ALLOWED,
    ),
    Case(
        "prod-deployer-cannot-read-dev-bucket",
        "prod-deployer",
        "s3",
        _get(DEV_BUCKET, DEV_KEY),
        Denied("s3:GetObject", f"arn:aws:s3:::{DEV_BUCKET}/{DEV_KEY}", NO_IDENTITY),
    ),
    Case(
        "prod-execution-cannot-read-dev-bucket",
        "prod-execution",
        "s3",
        _get(DEV_BUCKET, DEV_KEY),
        Denied("s3:GetObject", f"arn:aws:s3:::{DEV_BUCKET}/{DEV_KEY}", NO_IDENTITY),
    ),
    # ---------------------------------------------------------------- events queue
    Case(
        "orchestrator-receives-events",
        "orchestrator",
        "sqs",
        lambda sqs, w: sqs.receive_message(
            QueueUrl=w.queue_url, WaitTimeSeconds=0, VisibilityTimeout=0
        ),
        ALLOWED,
    ),
    *[
        Case(
            f"{who}-cannot-receive-events",
            who,
            "sqs",
            lambda sqs, w: sqs.receive_message(QueueUrl=w.queue_url, WaitTimeSeconds=0),
            Denied("sqs:ReceiveMessage", QUEUE_ARN, NO_IDENTITY),
        )
        for who in ("staging-deployer", "dev-execution")
    ],
    # ---------------------------------------------------------------- organization guardrails
    *[
        Case(
            f"{who}-cannot-leave-organization",
            who,
            "organizations",
            lambda org, w: org.leave_organization(),
            Denied("organizations:LeaveOrganization", "*", SCP_DENY),
        )
        for who in ("dev-deployer", "prod-execution", "hub-root")
    ],
    *[
        Case(
            f"{who}-cannot-stop-logging",
            who,
            "cloudtrail",
            lambda trail, w: trail.stop_logging(Name="organization-trail"),
            Denied("cloudtrail:StopLogging", "*", SCP_DENY),
        )
        for who in ("staging-deployer", "dev-root")
    ],
    Case(
        "staging-deployer-outside-allowed-regions",
        "staging-deployer",
        "sagemaker",
        lambda sm, w: sm.list_models(),
        Denied("sagemaker:ListModels", "*", SCP_DENY),
        region=OTHER_REGION,
    ),
    Case(
        "hub-root-s3-outside-allowed-regions",
        "hub-root",
        "s3",
        lambda s3, w: s3.list_objects_v2(Bucket=HUB_BUCKET, MaxKeys=1),
        Denied("s3:ListBucket", f"arn:aws:s3:::{HUB_BUCKET}", SCP_DENY),
        region=OTHER_REGION,
    ),
    Case(
        # IAM is global: the region guardrail exempts it.
        "hub-root-iam-is-global",
        "hub-root",
        "iam",
        lambda iam, w: iam.get_role(RoleName="hubspoke-orchestrator"),
        ALLOWED,
        region=OTHER_REGION,
    ),
]


@pytest.fixture(scope="module")
def world(localcloud: LocalCloud, callers: dict[str, Session]) -> World:
    """Seed what the cases read, as the account roots and the hub-and-spoke roles would."""
    hub_root = localcloud.root_session(HUB)
    dev_root = localcloud.root_session(DEV)
    hub_s3 = localcloud.client("s3", hub_root)
    hub_s3.put_object(Bucket=HUB_BUCKET, Key=MODEL_KEY, Body=b"model")
    hub_s3.put_object(Bucket=HUB_BUCKET, Key=LEDGER_KEY, Body=b'{"seq": 1}')
    localcloud.client("s3", dev_root).put_object(Bucket=DEV_BUCKET, Key=DEV_KEY, Body=b"trained")
    registry = localcloud.client("sagemaker", callers["orchestrator"])
    register = _register("PendingManualApproval")
    pending = register(registry, None)["ModelPackageArn"]
    approved = register(registry, None)["ModelPackageArn"]
    localcloud.client("sagemaker", callers["approver"]).update_model_package(
        ModelPackageArn=approved, ModelApprovalStatus="Approved"
    )
    staging_model = _unique("matrix-staging")
    localcloud.client("sagemaker", callers["staging-deployer"]).create_model(
        ModelName=staging_model,
        PrimaryContainer={"ModelPackageName": approved},
        ExecutionRoleArn=EXECUTION[STAGING],
    )

    def key_arn(session: Session) -> str:
        kms = localcloud.client("kms", session)
        alias = "alias/hubspoke-artifacts" if session is hub_root else "alias/hubspoke-spoke"
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])

    spoke_keys = {a: key_arn(localcloud.root_session(a)) for a in (DEV, STAGING, PROD)}
    return World(
        package_arn=pending,
        approved_arn=approved,
        staging_model=staging_model,
        queue_url=localcloud.client("sqs", hub_root).get_queue_url(QueueName=QUEUE)["QueueUrl"],
        hub_key_arn=key_arn(hub_root),
        dev_key_arn=spoke_keys[DEV],
        spoke_key_arn=spoke_keys,
    )


@pytest.fixture(scope="module")
def callers(localcloud: LocalCloud) -> dict[str, Session]:
    """Each principal of the matrix as the session it really acts as."""
    issue = localcloud.credentials.issue_role_session
    orchestrator = issue(ORCHESTRATOR, "matrix")
    sessions: dict[str, Session] = {
        "orchestrator": orchestrator,
        "approver": issue(APPROVER, "matrix"),
        "hub-root": localcloud.root_session(HUB),
        "dev-root": localcloud.root_session(DEV),
        "outsider": localcloud.root_session(OUTSIDER),
    }
    for name, account in (("dev", DEV), ("staging", STAGING), ("prod", PROD)):
        sessions[f"{name}-deployer"] = localcloud.assume(
            DEPLOYER[account], "matrix", via=orchestrator
        )
        sessions[f"{name}-execution"] = issue(EXECUTION[account], "matrix")
    return sessions


def _client(localcloud: LocalCloud, session: Session, service: str, region: str) -> Any:
    return localcloud.boto3_session(session).client(
        service, region_name=region, endpoint_url=localcloud.url
    )


_DENIAL_SHAPE = {
    # service → (error code, HTTP status) of an AccessDenied in its protocol
    "s3": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "sagemaker": ("AccessDeniedException", 400),
    "kms": ("AccessDeniedException", 400),
    "organizations": ("AccessDeniedException", 400),
    "cloudtrail": ("AccessDeniedException", 400),
    "sqs": ("AccessDenied", 400),
}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_governance_matrix(
    localcloud: LocalCloud, world: World, callers: dict[str, Session], case: Case
) -> None:
    session = callers[case.caller]
    client = _client(localcloud, session, case.service, case.region)
    if case.expect == ALLOWED:
        case.call(client, world)
        return
    assert isinstance(case.expect, Denied)
    with pytest.raises(ClientError) as info:
        case.call(client, world)
    error = info.value.response
    expected_code, expected_status = _DENIAL_SHAPE[case.service]
    resource = case.expect.resource.format(**vars(world))
    reason = case.expect.reason.format(action=case.expect.action)
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        expected_code,
        expected_status,
    )
    assert error["Error"]["Message"] == (
        f"User: {session.caller_arn} is not authorized to perform: {case.expect.action} "
        f"on resource: {resource} {reason}"
    )


def test_a_call_in_another_region_leaves_the_home_region_intact(
    localcloud: LocalCloud, world: World, callers: dict[str, Session]
) -> None:
    """KMS keys are regional: after a policy change, the first call signed for another region
    must not leave the home region evaluated without its key policies."""
    assert localcloud.enforcer is not None
    localcloud.enforcer.invalidate()
    _client(localcloud, callers["hub-root"], "iam", OTHER_REGION).get_role(
        RoleName="hubspoke-orchestrator"
    )
    s3 = _client(localcloud, callers["staging-execution"], "s3", REGION)
    assert s3.get_object(Bucket=HUB_BUCKET, Key=MODEL_KEY)["Body"].read() == b"model"
