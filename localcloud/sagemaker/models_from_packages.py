"""CreateModel from a model package, including another account's package by ARN.

SageMaker creates the model in the caller's account and takes the container from the
package's inference specification (image, model data, environment); DescribeModel then shows
the container with its ``ModelPackageName``. moto stores whatever it is given and accepts a
missing or unapproved package. A versioned package must be ``Approved`` to deploy (the
CreateModelPackage API reference: "For versioned models, the value of this parameter must be
set to Approved to deploy the model"); whether another account may use it at all is the
group policy's decision, already taken by the enforcer (``sagemaker:DescribeModelPackage``
on the package ARN).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.sagemaker.registry_shapes import (
    RegistryError,
    answering,
    backend,
    find_package,
    ok,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]


def _from_package(container: dict[str, Any], session: Session, region: str) -> dict[str, Any]:
    """The container as SageMaker stores it: the package's inference container, resolved."""
    reference = container.get("ModelPackageName")
    if not reference:
        return dict(container)
    package = find_package(str(reference), session, region)
    if package.model_package_version is not None and package.model_approval_status != "Approved":
        raise RegistryError(
            f"Model package {package.arn} cannot be deployed: its ModelApprovalStatus is "
            f"{package.model_approval_status}, and a versioned model package must be Approved."
        )
    spec = package.inference_specification or {}
    source = (spec.get("Containers") or [{}])[0]
    resolved: dict[str, Any] = {
        key: source[key] for key in ("Image", "ModelDataUrl", "ModelDataSource") if key in source
    }
    environment = {**(source.get("Environment") or {}), **(container.get("Environment") or {})}
    if environment:
        resolved["Environment"] = environment
    for key, value in container.items():
        if key != "Environment":
            resolved[key] = value
    return resolved


def create_model(session: Session, request: AwsRequest) -> Response | None:
    params = request.params
    primary = params.get("PrimaryContainer") or {}
    containers = [c for c in params.get("Containers") or [] if isinstance(c, dict)]
    if not any(c.get("ModelPackageName") for c in [primary, *containers] if isinstance(c, dict)):
        return None  # a model from an image: moto stores it as given
    name = str(params.get("ModelName", ""))
    store = backend(session.account, request.region)
    if name in store._models:
        arn = f"arn:aws:sagemaker:{request.region}:{session.account}:model/{name.lower()}"
        raise RegistryError(f'Cannot create already existing model "{arn}".')
    model = store.create_model(
        model_name=name,
        execution_role_arn=params.get("ExecutionRoleArn", ""),
        primary_container=_from_package(primary, session, request.region) if primary else None,
        vpc_config=params.get("VpcConfig"),
        containers=[_from_package(c, session, request.region) for c in containers],
        tags=params.get("Tags"),
    )
    model.enable_network_isolation = bool(params.get("EnableNetworkIsolation", False))
    return ok({"ModelArn": model.arn})


def register(cloud: LocalCloud) -> dict[str, Callable[[Session, AwsRequest], Response | None]]:
    return {"CreateModel": answering(create_model)}
