"""Routing SageMaker operations to what localcloud adds on top of moto.

Each module under ``localcloud.sagemaker`` exposes ``register(cloud) -> dict[operation,
handler]``; an operation no module claims goes to moto. A handler receives the caller's
session and the decoded request and returns ``(status, headers, body)`` — or None to let moto
answer after all (for instance a same-account call moto already gets right).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]
OperationHandler = Callable[["Session", "AwsRequest"], "Response | None"]

# Modules that add SageMaker operations, in order; a later module may not claim an
# operation an earlier one claimed (checked at start-up).
MODULES = [
    "localcloud.sagemaker.group_policies",
    "localcloud.sagemaker.registry",
    "localcloud.sagemaker.models_from_packages",
    "localcloud.sagemaker.pipelines_api",
    "localcloud.sagemaker.endpoints",
    "localcloud.sagemaker.jobs_api",
    "localcloud.sagemaker.pipelines_runtime",
]


class SageMakerDispatcher:
    def __init__(self, cloud: LocalCloud, modules: list[str] | None = None) -> None:
        self.operations: dict[str, OperationHandler] = {}
        for name in modules or MODULES:
            module = importlib.import_module(name)
            for operation, handler in module.register(cloud).items():
                if operation in self.operations:
                    raise RuntimeError(f"{name} claims {operation}, already claimed")
                self.operations[operation] = handler

    def __call__(self, session: Session, request: AwsRequest) -> Response | None:
        handler = self.operations.get(request.operation or "")
        return handler(session, request) if handler is not None else None
