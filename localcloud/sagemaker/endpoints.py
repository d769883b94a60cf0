"""CreateEndpoint, UpdateEndpoint, DescribeEndpoint, DeleteEndpoint with endpoints that serve.

moto keeps the endpoint record (so ListEndpoints, tags and ARNs work) but marks endpoints
InService at once and cannot update them; here each endpoint runs real model servers
(:mod:`localcloud.runtime.deployments`) and moto's record follows their status. Model
artifacts are read from S3 as the model's execution role through localcloud's own S3 endpoint,
so the bucket, key and identity policies decide, as they do for SageMaker hosting.
"""

from __future__ import annotations

import json
import threading
import weakref
from typing import TYPE_CHECKING, Any

from moto.core.utils import utcnow
from moto.sagemaker.models import sagemaker_backends

from localcloud.protocol import error_response
from localcloud.runtime.deployments import Endpoint, VariantSpec
from localcloud.runtime.fleet import ModelSpec
from localcloud.runtime.metric_store import evaluate_alarm_named
from localcloud.sagemaker.jobs_api import cannot_assume_message, sagemaker_may_assume

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]
_JSON = {"Content-Type": "application/x-amz-json-1.1"}
_ROUTING_TYPES = {"ALL_AT_ONCE", "CANARY", "LINEAR"}


class RequestError(Exception):
    """A request SageMaker would refuse: answered as ValidationException."""


def endpoint_arn(name: str, account: str, region: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:endpoint/{name.lower()}"


def _ok(payload: dict[str, Any]) -> Response:
    return 200, dict(_JSON), json.dumps(payload).encode()


class EndpointService:
    """Every serving endpoint of one localcloud, keyed by (account, region, name)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self._endpoints: dict[tuple[str, str, str], Endpoint] = {}
        # Names a CreateEndpoint is creating: reserved under the lock before anything else, so
        # two concurrent creates of one name cannot both pass the existence check.
        self._reserved: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def find(self, account: str, region: str, name: str) -> Endpoint | None:
        with self._lock:
            return self._endpoints.get((account, region, name))

    # ------------------------------------------------------------------ the operations
    def handle(self, session: Session, request: AwsRequest) -> Response | None:
        operations: dict[str, Callable[[str, str, dict[str, Any]], Response]] = {
            "CreateEndpoint": self._create,
            "UpdateEndpoint": self._update,
            "DescribeEndpoint": self._describe,
            "DeleteEndpoint": self._delete,
        }
        operation = operations[request.operation or ""]
        try:
            return operation(session.account, request.region, request.params)
        except RequestError as error:
            return error_response(
                "sagemaker", 400, "ValidationException", str(error), request.request_id
            )

    def _create(self, account: str, region: str, params: dict[str, Any]) -> Response:
        name, config_name = (
            str(params.get("EndpointName", "")),
            str(params.get("EndpointConfigName", "")),
        )
        arn = endpoint_arn(name, account, region)
        backend = sagemaker_backends[account][region]
        key = (account, region, name)
        with self._lock:
            if key in self._endpoints or key in self._reserved or name in backend.endpoints:
                raise RequestError(f'Cannot create already existing endpoint "{arn}".')
            self._reserved.add(key)
        try:
            variants = self._variants(account, region, config_name)
            backend.create_endpoint(name, config_name, params.get("Tags") or [])
            endpoint = Endpoint(
                name,
                arn,
                self._fetch_as_role(account, region, arn),
                self._alarm_watch(account, region),
                self._sync(account, region),
            )
            with self._lock:
                self._endpoints[key] = endpoint
        finally:
            with self._lock:
                self._reserved.discard(key)
        self._sync(account, region)(endpoint)
        endpoint.start_create(config_name, variants)
        return _ok({"EndpointArn": arn})

    def _update(self, account: str, region: str, params: dict[str, Any]) -> Response:
        name, config_name = (
            str(params.get("EndpointName", "")),
            str(params.get("EndpointConfigName", "")),
        )
        endpoint = self._existing(account, region, name)
        variants = self._variants(account, region, config_name)
        deployment = params.get("DeploymentConfig")
        # The check and the move to Updating are one critical section (``lock`` is re-entrant
        # and start_update takes it): of two concurrent updates exactly one is accepted, the
        # other is refused as in progress, as SageMaker refuses it.
        with endpoint.lock:
            if endpoint.status != "InService":
                state = "in-progress" if endpoint.status in {"Creating", "Updating"} else "failed"
                raise RequestError(f'Cannot update {state} endpoint "{endpoint.arn}".')
            if deployment is None and params.get("RetainDeploymentConfig"):
                deployment = endpoint.last_deployment_config
            _check_deployment(deployment, sorted(endpoint.blue), [v.name for v in variants])
            endpoint.start_update(config_name, variants, deployment)
        return _ok({"EndpointArn": endpoint.arn})

    def _describe(self, account: str, region: str, params: dict[str, Any]) -> Response:
        endpoint = self._existing(account, region, str(params.get("EndpointName", "")))
        return _ok(describe(endpoint))

    def _delete(self, account: str, region: str, params: dict[str, Any]) -> Response:
        self.delete(account, region, str(params.get("EndpointName", "")))
        return _ok({})

    def delete(self, account: str, region: str, name: str) -> None:
        """Stop the endpoint's model servers and forget it (DeleteEndpoint)."""
        endpoint = self._existing(account, region, name)
        with self._lock:
            self._endpoints.pop((account, region, name), None)
        endpoint.close()
        sagemaker_backends[account][region].endpoints.pop(name, None)

    def shutdown(self) -> None:
        """Stop every endpoint's model servers (localcloud is stopping)."""
        with self._lock:
            endpoints, self._endpoints = list(self._endpoints.values()), {}
        for endpoint in endpoints:
            endpoint.close()

    # ------------------------------------------------------------------ helpers
    def _existing(self, account: str, region: str, name: str) -> Endpoint:
        endpoint = self.find(account, region, name)
        if endpoint is None:
            raise RequestError(f'Could not find endpoint "{endpoint_arn(name, account, region)}".')
        return endpoint

    def _variants(self, account: str, region: str, config_name: str) -> list[VariantSpec]:
        backend = sagemaker_backends[account][region]
        config = backend.endpoint_configs.get(config_name)
        if config is None:
            arn = f"arn:aws:sagemaker:{region}:{account}:endpoint-config/{config_name.lower()}"
            raise RequestError(f'Could not find endpoint configuration "{arn}".')
        variants = []
        for variant in config.production_variants:
            model = backend._models.get(variant["ModelName"])
            if model is None:
                raise RequestError(f'Could not find model "{variant["ModelName"]}".')
            variants.append(
                VariantSpec(
                    name=str(variant["VariantName"]),
                    weight=float(variant.get("InitialVariantWeight", 1.0)),
                    instance_count=int(variant.get("InitialInstanceCount", 1)),
                    instance_type=str(variant.get("InstanceType", "")),
                    model=_model_spec(model, region),
                )
            )
        return variants

    def _fetch_as_role(self, account: str, region: str, arn: str) -> Callable[[str, str], bytes]:
        """How the endpoint ``arn`` reads a model's S3 objects, as SageMaker hosting does: it
        assumes the model's execution role (whose trust policy must let SageMaker do so for
        this account and endpoint) and reads with that role's session."""

        def fetch(role_arn: str, url: str) -> bytes:
            if not sagemaker_may_assume(
                self.cloud, role_arn, account=account, region=region, source_arn=arn
            ):
                raise RuntimeError(cannot_assume_message(role_arn))
            session = self.cloud.credentials.issue_role_session(role_arn, "SageMaker")
            bucket, _, key = url[len("s3://") :].partition("/")
            s3 = self.cloud.client("s3", session)
            body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return body

        return fetch

    @staticmethod
    def _alarm_watch(account: str, region: str) -> Callable[[list[str]], str | None]:
        """What a deployment checks during its bakes: each rollback alarm of the endpoint's
        account is evaluated from the metrics stored so far (the endpoint's own invocations
        among them), then its state is read, so traffic that breaches an alarm rolls the
        update back, and so does an alarm set to ALARM with SetAlarmState."""

        def first_in_alarm(names: list[str]) -> str | None:
            for name in names:
                if evaluate_alarm_named(account, region, name) == "ALARM":
                    return name
            return None

        return first_in_alarm

    @staticmethod
    def _sync(account: str, region: str) -> Callable[[Endpoint], None]:
        """Keep moto's endpoint record (ListEndpoints) in step with the serving state."""

        def sync(endpoint: Endpoint) -> None:
            record = sagemaker_backends[account][region].endpoints.get(endpoint.name)
            if record is None:
                return
            with endpoint.lock:
                record.endpoint_status = endpoint.status
                record.endpoint_config_name = endpoint.config_name
                record.failure_reason = endpoint.failure_reason  # type: ignore[assignment]
            record.last_modified_time = utcnow()

        return sync


def _model_spec(model: Any, region: str) -> ModelSpec:
    container = dict(model.primary_container or (model.containers or [{}])[0] or {})
    if not container.get("ModelDataUrl") and container.get("ModelPackageName"):
        container = {**_package_container(str(container["ModelPackageName"]), region), **container}
    return ModelSpec(
        model_name=model.model_name,
        execution_role_arn=model.execution_role_arn,
        model_data_url=str(container.get("ModelDataUrl", "")),
        image=str(container.get("Image", "")),
        environment={str(k): str(v) for k, v in (container.get("Environment") or {}).items()},
    )


def _package_container(package_arn: str, region: str) -> dict[str, Any]:
    """The first inference container of a model package, possibly another account's."""
    account = package_arn.split(":")[4] if package_arn.startswith("arn:") else ""
    try:
        package = sagemaker_backends[account][region].describe_model_package(package_arn)
    except Exception:
        return {}
    containers = (package.inference_specification or {}).get("Containers") or [{}]
    return {k: v for k, v in containers[0].items() if k != "ModelPackageName"}


def _check_deployment(deployment: dict[str, Any] | None, live: list[str], new: list[str]) -> None:
    policy = (deployment or {}).get("BlueGreenUpdatePolicy")
    if not policy:
        return
    if sorted(new) != live:
        raise RequestError(
            f"A blue/green deployment must keep the variant names {live}; the new endpoint "
            f"config has {sorted(new)}. Use the same names or update without DeploymentConfig."
        )
    routing = policy.get("TrafficRoutingConfiguration") or {}
    kind = routing.get("Type")
    if kind not in _ROUTING_TYPES:
        raise RequestError(
            f"TrafficRoutingConfiguration.Type must be one of {sorted(_ROUTING_TYPES)}."
        )
    size_field = {"CANARY": "CanarySize", "LINEAR": "LinearStepSize"}.get(str(kind))
    if size_field is not None:
        size = routing.get(size_field) or {}
        if size.get("Type") not in {"INSTANCE_COUNT", "CAPACITY_PERCENT"} or not size.get("Value"):
            raise RequestError(f"{kind} traffic routing requires {size_field} with Type and Value.")
        if kind == "CANARY" and size["Type"] == "CAPACITY_PERCENT" and float(size["Value"]) > 50:
            raise RequestError("CanarySize must be at most 50% of the new fleet's capacity.")


def describe(endpoint: Endpoint) -> dict[str, Any]:
    """DescribeEndpoint's answer for ``endpoint``, in SageMaker's shape.

    After a rolled-back update: ``InService``, the OLD ``EndpointConfigName`` and its variants,
    ``FailureReason`` set (EndpointMetadata.FailureReason: "the status is InService but update
    operation fails"), ``LastDeploymentConfig`` = the update's DeploymentConfig ("the most
    recent deployment configuration for the endpoint"), no ``PendingDeploymentSummary`` (only
    "when the endpoint is creating or updating"). Sources: the SageMaker API reference pages
    API_EndpointMetadata, API_DescribeEndpoint and API_PendingDeploymentSummary.
    """
    with endpoint.lock:
        out: dict[str, Any] = {
            "EndpointName": endpoint.name,
            "EndpointArn": endpoint.arn,
            "EndpointConfigName": endpoint.config_name,
            "EndpointStatus": endpoint.status,
            "CreationTime": endpoint.created,
            "LastModifiedTime": endpoint.modified,
        }
        if endpoint.blue:
            out["ProductionVariants"] = [
                {
                    "VariantName": name,
                    "DeployedImages": [_image(v.spec.model.image, v.process.started_at)],
                    "CurrentWeight": v.spec.weight,
                    "DesiredWeight": v.spec.weight,
                    "CurrentInstanceCount": v.spec.instance_count,
                    "DesiredInstanceCount": v.spec.instance_count,
                }
                for name, v in endpoint.blue.items()
            ]
        if endpoint.failure_reason:
            out["FailureReason"] = endpoint.failure_reason
        if endpoint.last_deployment_config:
            out["LastDeploymentConfig"] = endpoint.last_deployment_config
        pending = endpoint.pending
        if pending is not None:
            out["PendingDeploymentSummary"] = {
                "EndpointConfigName": pending.config_name,
                "StartTime": pending.started,
                "ProductionVariants": [
                    {
                        "VariantName": spec.name,
                        "DeployedImages": [_image(spec.model.image, pending.started)],
                        "CurrentWeight": spec.weight,
                        "DesiredWeight": spec.weight,
                        "CurrentInstanceCount": spec.instance_count
                        if spec.name in endpoint.green
                        else 0,
                        "DesiredInstanceCount": spec.instance_count,
                        "InstanceType": spec.instance_type,
                        "VariantStatus": [
                            {
                                "Status": pending.status,
                                "StatusMessage": pending.message,
                                "StartTime": pending.status_since or pending.started,
                            }
                        ],
                    }
                    for spec in pending.variants
                ],
            }
    return out


def _image(image: str, when: float) -> dict[str, Any]:
    # Images are not pulled locally (the project's Python runs the model): no digest to resolve.
    return {"SpecifiedImage": image, "ResolvedImage": image, "ResolutionTime": when}


_services: weakref.WeakKeyDictionary[LocalCloud, EndpointService] = weakref.WeakKeyDictionary()
_services_lock = threading.Lock()


def endpoints_of(cloud: LocalCloud) -> EndpointService:
    """The one endpoint service of ``cloud`` (shared by the SageMaker and runtime handlers)."""
    with _services_lock:
        if cloud not in _services:
            _services[cloud] = EndpointService(cloud)
        return _services[cloud]


def shutdown_endpoints(cloud: LocalCloud) -> None:
    """Stop every model server of ``cloud``'s endpoints."""
    with _services_lock:
        service = _services.get(cloud)
    if service is not None:
        service.shutdown()


def register(cloud: LocalCloud) -> dict[str, Callable[[Session, AwsRequest], Response | None]]:
    service = endpoints_of(cloud)
    return {
        operation: service.handle
        for operation in ("CreateEndpoint", "UpdateEndpoint", "DescribeEndpoint", "DeleteEndpoint")
    }
