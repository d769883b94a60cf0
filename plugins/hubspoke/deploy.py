"""Deploying a hub model version into a serving spoke, and checking what went live.

Names are derived from the model, version and settings, so a retried task finds what the
first attempt created instead of creating twice. After the endpoint settles, the live
endpoint config is compared with the one requested: an update that SageMaker rolled back
(a failed health check, an alarm during the canary bake) leaves the endpoint InService on
the old config — that is a failed deployment, reported with SageMaker's reason.

The endpoint's state is read before anything is created:

- ``Failed`` (a first creation whose model could not load) or ``UpdateRollbackFailed``: SageMaker
  accepts no update, and the spoke's deployer role may not delete endpoints, so the deployment
  stops with what a person with delete rights has to run;
- another deployment in progress (``Updating`` to another config, ``RollingBack``, ...): the
  deployment stops, naming the endpoint and its status; it can be re-run once that one ends;
- a deployment of the very config requested in progress (an earlier try started it and its
  worker died before it could wait): waited for, not started again.

A deployment that fails or is rolled back leaves behind no endpoint config or model of its own
that nothing uses (:func:`discard_unused`); the live endpoint keeps its config and model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from hubspoke.config import names

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig, ModelConfig
    from hubspoke.config.models import EndpointSettings

log = logging.getLogger(__name__)

# Statuses in which SageMaker accepts no UpdateEndpoint until they end.
IN_PROGRESS = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
# Statuses that only deleting the endpoint ends (UpdateEndpoint is refused).
BROKEN = frozenset({"Failed", "UpdateRollbackFailed"})
# How long an endpoint change may take on top of its traffic shifting: launching instances and
# loading the model (create, or the green fleet of an update), and a margin for the rollback.
PROVISIONING_SECONDS = 30 * 60
SETTLE_MARGIN_SECONDS = 10 * 60


class DeploymentError(RuntimeError):
    """A deployment that cannot succeed as things stand; the message says what to do."""


class DeploymentRolledBack(DeploymentError):
    """The endpoint is serving something other than what was deployed."""


class EndpointUnavailable(DeploymentError):
    """The endpoint cannot take a deployment now: it failed, or another change is under way."""


class NameTooLong(DeploymentError):
    """A derived SageMaker name would exceed SageMaker's limit."""


@dataclass(frozen=True)
class DeploymentPlan:
    environment: str
    endpoint: str
    model_name: str
    config_name: str
    package_arn: str
    version: int
    deployment_config: dict[str, Any] | None


@dataclass(frozen=True)
class Applied:
    """What :func:`apply` did: ``action`` is created, updated (the endpoint is changing),
    resumed (a change to the requested config was already under way) or unchanged (the
    endpoint serves the requested config); ``created`` names what this call made of the
    plan's ``"model"`` and ``"config"``."""

    action: str
    created: tuple[str, ...] = ()

    @property
    def settling(self) -> bool:
        """Whether the endpoint is still changing (wait before verifying)."""
        return self.action != "unchanged"


@dataclass
class Discarded:
    """What :func:`discard_unused` removed, and what it could not."""

    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def sentence(self) -> str:
        parts = []
        if self.removed:
            parts.append(f"Removed {' and '.join(self.removed)}, which nothing uses.")
        if self.failed:
            parts.append(f"Could not remove {'; '.join(self.failed)}.")
        return " ".join(parts)


def endpoint_name(model: ModelConfig, environment: str) -> str:
    return names.endpoint_name(model.name, environment)


def spoke(accounts: AccountsConfig, environment: str) -> str:
    """``account 444444444444 (us-east-1)``: where an environment's endpoint lives."""
    return f"account {accounts.account_id(environment)} ({accounts.region})"


def deployment_config(settings: EndpointSettings) -> dict[str, Any] | None:
    """SageMaker's DeploymentConfig for the environment's strategy (None: replace the fleet)."""
    strategy = settings.deployment
    routing: dict[str, Any] = {"WaitIntervalInSeconds": strategy.wait_seconds}
    if strategy.type == "all-at-once":
        if not strategy.alarm_names and not strategy.wait_seconds:
            return None
        routing["Type"] = "ALL_AT_ONCE"
    elif strategy.type == "canary":
        routing["Type"] = "CANARY"
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": strategy.canary_percent}
    else:
        routing["Type"] = "LINEAR"
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": strategy.step_percent}
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": strategy.termination_wait_seconds,
        }
    }
    if strategy.alarm_names:
        config["AutoRollbackConfiguration"] = {
            "Alarms": [{"AlarmName": name} for name in strategy.alarm_names]
        }
    return config


def traffic_steps(deployment: dict[str, Any] | None, instances: int = 1) -> int:
    """How many times a blue/green update shifts traffic (and bakes after it)."""
    policy = (deployment or {}).get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {}
    kind = routing.get("Type", "ALL_AT_ONCE")
    if kind == "ALL_AT_ONCE":
        return 1
    size = routing.get("CanarySize" if kind == "CANARY" else "LinearStepSize") or {}
    value = float(size.get("Value") or 0)
    if value <= 0:
        return 1
    total = float(instances) if size.get("Type") == "INSTANCE_COUNT" else 100.0
    if value >= total:
        return 1
    return 2 if kind == "CANARY" else math.ceil(total / value)


def settle_seconds(deployment: dict[str, Any] | None, instances: int = 1) -> int:
    """How long an endpoint change with ``deployment`` may take to settle: provisioning, every
    traffic step's bake, the wait before the old fleet is terminated, and a margin."""
    policy = (deployment or {}).get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {}
    bake = int(routing.get("WaitIntervalInSeconds") or 0)
    termination = int(policy.get("TerminationWaitInSeconds") or 0)
    steps = traffic_steps(deployment, instances)
    return PROVISIONING_SECONDS + steps * bake + termination + SETTLE_MARGIN_SECONDS


def plan(
    model: ModelConfig,
    environment: str,
    package_arn: str,
    kms_key_arn: str,
    restore: bool = False,
) -> DeploymentPlan:
    """What deploying ``package_arn`` means. ``restore`` (a rollback to a known-good version)
    replaces the fleet at once, without baking or alarm-driven auto-rollback: the alarms may
    be in ALARM because of the very version being replaced, and would undo the restore."""
    settings: EndpointSettings = getattr(model.environments, environment)
    version = int(package_arn.rsplit("/", 1)[-1])
    digest = hashlib.sha256(
        json.dumps([settings.model_dump(), kms_key_arn], sort_keys=True).encode()
    ).hexdigest()[: names.DIGEST_LENGTH]
    deployment = DeploymentPlan(
        environment=environment,
        endpoint=endpoint_name(model, environment),
        model_name=names.model_name(model.name, version),
        config_name=names.endpoint_config_name(model.name, version, environment, digest),
        package_arn=package_arn,
        version=version,
        deployment_config=None if restore else deployment_config(settings),
    )
    for name in (deployment.endpoint, deployment.model_name, deployment.config_name):
        if len(name) > names.SAGEMAKER_NAME_LIMIT:
            raise NameTooLong(
                f"cannot deploy v{version} of {model.name} to {environment}: the SageMaker name "
                f"{name} has {len(name)} characters and SageMaker allows at most "
                f"{names.SAGEMAKER_NAME_LIMIT} (names of {model.name} fit for versions up to "
                f"{names.MAX_VERSION}); register the model under a shorter name"
            )
    return deployment


def _missing(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in {"ValidationException", "ResourceNotFound"}


def _exists(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as exc:
        if _missing(exc):
            return False
        raise
    return True


def describe(sagemaker: Any, endpoint: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when the endpoint does not exist."""
    try:
        described: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=endpoint)
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return described


def _target(live: dict[str, Any]) -> str:
    """The config the endpoint is moving to while it changes, else the one it serves."""
    pending = (live.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    return str(pending or live.get("EndpointConfigName") or "")


def broken_message(deployment: DeploymentPlan, live: dict[str, Any], where: str) -> str:
    status = live["EndpointStatus"]
    reason = (live.get("FailureReason") or "no reason given").rstrip(".")
    why = (
        "SageMaker cannot update a failed endpoint"
        if status == "Failed"
        else "both an update and its rollback failed, and SageMaker accepts no update now"
    )
    return (
        f"{deployment.endpoint} in {deployment.environment} is {status}: {reason}. {why}, and "
        f"hubspoke's deployer role may not delete endpoints: someone allowed to delete "
        f"endpoints in {where} runs `aws sagemaker delete-endpoint --endpoint-name "
        f"{deployment.endpoint}`, then re-runs this deployment."
    )


def busy_message(deployment: DeploymentPlan, live: dict[str, Any], where: str) -> str:
    status = live["EndpointStatus"]
    if status == "Deleting":
        return (
            f"{deployment.endpoint} in {deployment.environment} ({where}) is being deleted; "
            f"re-run this deployment of v{deployment.version} once it is gone, to create it "
            "afresh."
        )
    target = _target(live)
    towards = f" (endpoint config {target})" if target else ""
    return (
        f"{deployment.endpoint} in {deployment.environment} ({where}) is {status}{towards}: "
        f"another change of the endpoint is under way, and SageMaker accepts no update until "
        f"it ends. Wait for it to finish (`aws sagemaker describe-endpoint --endpoint-name "
        f"{deployment.endpoint}` shows InService), then re-run this deployment of "
        f"v{deployment.version}."
    )


def timed_out_message(
    deployment: DeploymentPlan, where: str, status: str, waited_seconds: float
) -> str:
    minutes = max(1, round(waited_seconds / 60))
    return (
        f"{deployment.endpoint} in {deployment.environment} is still {status} after {minutes} "
        f"min, longer than deploying v{deployment.version} ({deployment.config_name}) should "
        f"take; SageMaker carries on with it. Check the endpoint {deployment.endpoint} in "
        f"{where}, then re-run this deployment: it waits for the change under way."
    )


def _standing(live: dict[str, Any] | None, deployment: DeploymentPlan, where: str) -> str | None:
    """What the endpoint as it stands means: None (go ahead), resumed or unchanged; raises
    :class:`EndpointUnavailable` when it can take no deployment now."""
    if live is None:
        return None
    status = live["EndpointStatus"]
    if status in BROKEN:
        raise EndpointUnavailable(broken_message(deployment, live, where))
    if status in IN_PROGRESS:
        if status != "Deleting" and _target(live) == deployment.config_name:
            return "resumed"
        raise EndpointUnavailable(busy_message(deployment, live, where))
    if live["EndpointConfigName"] == deployment.config_name:
        return "unchanged"
    return None


def apply(
    sagemaker: Any,
    model: ModelConfig,
    accounts: AccountsConfig,
    deployment: DeploymentPlan,
    kms_key_arn: str,
) -> Applied:
    """Create what is missing and start the endpoint change (see :class:`Applied`).

    Raises :class:`EndpointUnavailable` before creating anything when the endpoint failed or
    another change of it is under way. Should starting the change fail, what this call
    created is removed again."""
    where = spoke(accounts, deployment.environment)
    live = describe(sagemaker, deployment.endpoint)
    standing = _standing(live, deployment, where)
    if standing is not None:
        return Applied(standing)
    created = _create_missing(sagemaker, model, accounts, deployment, kms_key_arn)
    try:
        if live is None:
            sagemaker.create_endpoint(
                EndpointName=deployment.endpoint, EndpointConfigName=deployment.config_name
            )
            return Applied("created", created)
        update: dict[str, Any] = {
            "EndpointName": deployment.endpoint,
            "EndpointConfigName": deployment.config_name,
        }
        if deployment.deployment_config:
            update["DeploymentConfig"] = deployment.deployment_config
        sagemaker.update_endpoint(**update)
        return Applied("updated", created)
    except ClientError as exc:
        # Another change may have started since the endpoint was read: say which, as above.
        try:
            standing = _standing(describe(sagemaker, deployment.endpoint), deployment, where)
        except EndpointUnavailable:
            discard_unused(sagemaker, deployment, created)
            raise
        except ClientError:
            discard_unused(sagemaker, deployment, created)
            raise exc from None
        if standing is not None:
            return Applied(standing, created)
        discard_unused(sagemaker, deployment, created)
        raise exc from None


def _create_missing(
    sagemaker: Any,
    model: ModelConfig,
    accounts: AccountsConfig,
    deployment: DeploymentPlan,
    kms_key_arn: str,
) -> tuple[str, ...]:
    settings: EndpointSettings = getattr(model.environments, deployment.environment)
    role = accounts.execution_role_arn(deployment.environment)
    created: list[str] = []
    try:
        if not _exists(sagemaker.describe_model, ModelName=deployment.model_name):
            sagemaker.create_model(
                ModelName=deployment.model_name,
                PrimaryContainer={"ModelPackageName": deployment.package_arn},
                ExecutionRoleArn=role,
            )
            created.append("model")
        if not _exists(
            sagemaker.describe_endpoint_config, EndpointConfigName=deployment.config_name
        ):
            config: dict[str, Any] = {
                "EndpointConfigName": deployment.config_name,
                "KmsKeyId": kms_key_arn,
                "ProductionVariants": [
                    {
                        "VariantName": settings.variant_name,
                        "ModelName": deployment.model_name,
                        "InstanceType": settings.instance_type,
                        "InitialInstanceCount": settings.instance_count,
                        "InitialVariantWeight": 1.0,
                    }
                ],
            }
            if settings.data_capture_percent:
                account = accounts.account_id(deployment.environment)
                config["DataCaptureConfig"] = {
                    "EnableCapture": True,
                    "InitialSamplingPercentage": settings.data_capture_percent,
                    "DestinationS3Uri": f"s3://hubspoke-capture-{account}/{model.name}",
                    "KmsKeyId": kms_key_arn,
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                }
            sagemaker.create_endpoint_config(**config)
            created.append("config")
    except Exception:
        discard_unused(sagemaker, deployment, created)
        raise
    return tuple(created)


def _configs_in_use(live: dict[str, Any] | None) -> set[str]:
    """The endpoint configs an endpoint serves or is moving to (none once it failed: a failed
    endpoint serves nothing and has to be deleted)."""
    if live is None or live["EndpointStatus"] == "Failed":
        return set()
    pending = (live.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    return {str(n) for n in (live.get("EndpointConfigName"), pending) if n}


def _model_in_use(sagemaker: Any, model_name: str, configs: set[str]) -> bool:
    """Whether any of ``configs``, or any endpoint config named after the model (as hubspoke
    names them), has a variant of ``model_name``."""
    candidates = set(configs)
    for page in sagemaker.get_paginator("list_endpoint_configs").paginate(
        NameContains=f"{model_name}-"
    ):
        candidates.update(c["EndpointConfigName"] for c in page["EndpointConfigs"])
    for name in sorted(candidates):
        try:
            config = sagemaker.describe_endpoint_config(EndpointConfigName=name)
        except ClientError as exc:
            if _missing(exc):
                continue
            raise
        variants = [
            *config.get("ProductionVariants", []),
            *config.get("ShadowProductionVariants", []),
        ]
        if any(v.get("ModelName") == model_name for v in variants):
            return True
    return False


def discard_unused(sagemaker: Any, deployment: DeploymentPlan, owned: Iterable[str]) -> Discarded:
    """Delete the deployment's endpoint config (``"config"`` in ``owned``) and model
    (``"model"``) unless something uses them: the endpoint serves or is moving to the config,
    or an endpoint config has a variant of the model. Never raises: what could not be removed
    is reported."""
    owned = set(owned)
    result = Discarded()
    config, model = (
        f"the endpoint config {deployment.config_name}",
        f"the model {deployment.model_name}",
    )
    if not owned:
        return result
    try:
        in_use = _configs_in_use(describe(sagemaker, deployment.endpoint))
    except ClientError as exc:
        for key, label in (("config", config), ("model", model)):
            if key in owned:
                _failed(result, label, exc)
        return result
    if "config" in owned and deployment.config_name not in in_use:
        _remove(
            result,
            config,
            sagemaker.delete_endpoint_config,
            EndpointConfigName=deployment.config_name,
        )
    if "model" in owned:
        try:
            used = _model_in_use(sagemaker, deployment.model_name, in_use)
        except ClientError as exc:
            _failed(result, model, exc)
            return result
        if not used:
            _remove(result, model, sagemaker.delete_model, ModelName=deployment.model_name)
    return result


def _remove(result: Discarded, label: str, call: Any, **kwargs: Any) -> None:
    try:
        call(**kwargs)
    except ClientError as exc:
        if not _missing(exc):  # gone already: nothing left behind
            _failed(result, label, exc)
        return
    result.removed.append(label)


def _failed(result: Discarded, label: str, exc: ClientError) -> None:
    error = exc.response["Error"]
    result.failed.append(f"{label} ({error.get('Code')}: {error.get('Message')})")
    log.warning("could not remove %s: %s", label, error)


def verify_live(
    sagemaker: Any, deployment: DeploymentPlan, accounts: AccountsConfig | None = None
) -> dict[str, Any]:
    """Raise a :class:`DeploymentError` unless the endpoint serves the requested config."""
    where = spoke(accounts, deployment.environment) if accounts else "its spoke account"
    live = describe(sagemaker, deployment.endpoint)
    if live is None:
        raise DeploymentRolledBack(
            f"{deployment.endpoint} in {deployment.environment} ({where}) no longer exists: it "
            f"was deleted while v{deployment.version} was being deployed; re-run this "
            "deployment to create it again."
        )
    status = live["EndpointStatus"]
    if status in BROKEN:
        raise EndpointUnavailable(broken_message(deployment, live, where))
    if status != "InService":
        reason = live.get("FailureReason", "no reason given")
        raise DeploymentRolledBack(
            f"{deployment.endpoint} in {deployment.environment} is {status}: {reason}"
        )
    if live["EndpointConfigName"] != deployment.config_name:
        reason = live.get("FailureReason") or "SageMaker restored the previous configuration"
        raise DeploymentRolledBack(
            f"{deployment.endpoint} in {deployment.environment} was rolled back to "
            f"{live['EndpointConfigName']} instead of serving v{deployment.version} "
            f"({deployment.config_name}): {reason}"
        )
    return {"endpoint": deployment.endpoint, "config": live["EndpointConfigName"], "status": status}
