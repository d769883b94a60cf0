"""Deploying a hub model version into a serving spoke, and checking what went live.

Names are derived from the model, version and settings, so a retried task finds what the
first attempt created instead of creating twice. After the endpoint settles, the live
endpoint config is compared with the one requested: an update that SageMaker rolled back
(a failed health check, an alarm during the canary bake) leaves the endpoint InService on
the old config — that is a failed deployment, reported with SageMaker's reason.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig, ModelConfig
    from hubspoke.config.models import EndpointSettings


class DeploymentRolledBack(RuntimeError):
    """The endpoint is serving something other than what was deployed."""


@dataclass(frozen=True)
class DeploymentPlan:
    environment: str
    endpoint: str
    model_name: str
    config_name: str
    package_arn: str
    version: int
    deployment_config: dict[str, Any] | None


def endpoint_name(model: ModelConfig, environment: str) -> str:
    return f"{model.name}-{environment}"


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
    ).hexdigest()[:8]
    return DeploymentPlan(
        environment=environment,
        endpoint=endpoint_name(model, environment),
        model_name=f"{model.name}-v{version}",
        config_name=f"{model.name}-v{version}-{environment}-{digest}",
        package_arn=package_arn,
        version=version,
        deployment_config=None if restore else deployment_config(settings),
    )


def _exists(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"ValidationException", "ResourceNotFound"}:
            return False
        raise
    return True


def apply(
    sagemaker: Any,
    model: ModelConfig,
    accounts: AccountsConfig,
    deployment: DeploymentPlan,
    kms_key_arn: str,
) -> str:
    """Create what is missing and start the endpoint change: created|updated|unchanged."""
    settings: EndpointSettings = getattr(model.environments, deployment.environment)
    role = accounts.execution_role_arn(deployment.environment)
    if not _exists(sagemaker.describe_model, ModelName=deployment.model_name):
        sagemaker.create_model(
            ModelName=deployment.model_name,
            PrimaryContainer={"ModelPackageName": deployment.package_arn},
            ExecutionRoleArn=role,
        )
    if not _exists(sagemaker.describe_endpoint_config, EndpointConfigName=deployment.config_name):
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
    try:
        live = sagemaker.describe_endpoint(EndpointName=deployment.endpoint)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in {"ValidationException", "ResourceNotFound"}:
            raise
        sagemaker.create_endpoint(
            EndpointName=deployment.endpoint, EndpointConfigName=deployment.config_name
        )
        return "created"
    if live["EndpointConfigName"] == deployment.config_name:
        return "unchanged"
    update: dict[str, Any] = {
        "EndpointName": deployment.endpoint,
        "EndpointConfigName": deployment.config_name,
    }
    if deployment.deployment_config:
        update["DeploymentConfig"] = deployment.deployment_config
    sagemaker.update_endpoint(**update)
    return "updated"


def verify_live(sagemaker: Any, deployment: DeploymentPlan) -> dict[str, Any]:
    """Raise :class:`DeploymentRolledBack` unless the endpoint serves the requested config."""
    live = sagemaker.describe_endpoint(EndpointName=deployment.endpoint)
    status = live["EndpointStatus"]
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
