"""InvokeEndpoint (sagemaker-runtime): route to a variant's model server and answer as AWS does.

``POST /endpoints/<name>/invocations``: the variant is chosen by weight unless
``X-Amzn-SageMaker-Target-Variant`` names one; during a blue/green update the variant's
traffic is split between the old and new fleet by the current step. ``Content-Type`` and
``Accept`` go to the container; the answer names ``x-Amzn-Invoked-Production-Variant``.
Errors: ``ValidationError`` (400) for an endpoint that does not serve, ``ModelError`` (424,
with ``OriginalStatusCode``, ``OriginalMessage`` and ``LogStreamArn``) when the container
answers with an error, ``ServiceUnavailable`` (503) when no server of the variant answers.

Every request that reaches a variant publishes SageMaker's invocation metrics
(:func:`localcloud.runtime.metric_store.publish_invocation`) under the variant of the model
server that answered; requests refused before a variant is chosen publish nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import unquote

from localcloud.runtime.metric_store import Invocation, publish_invocation
from localcloud.sagemaker.endpoints import endpoints_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest
    from localcloud.runtime.fleet import ModelProcess
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]


def _error(status: int, code: str, message: str, **extra: object) -> Response:
    request_id = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": code,
        "x-amzn-RequestId": request_id,
    }
    return status, headers, json.dumps({"Message": message, "message": message, **extra}).encode()


def _endpoint_name(path: str) -> str | None:
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations":
        return unquote(parts[1])
    return None


def invoke_handler(cloud: LocalCloud) -> Callable[[Session, AwsRequest], Response | None]:
    """The gateway handler for the ``sagemaker-runtime`` service."""
    service = endpoints_of(cloud)

    def invoke(session: Session, request: AwsRequest) -> Response | None:
        received = time.perf_counter()
        name = _endpoint_name(request.path)
        if name is None or request.method != "POST":
            return _error(404, "UnknownOperationException", "Only InvokeEndpoint is served.")
        account, region = session.account, request.region
        not_found = f"Endpoint {name} of account {account} not found."
        endpoint = service.find(account, region, name)
        if endpoint is None:
            return _error(400, "ValidationError", not_found)
        target = request.headers.get("x-amzn-sagemaker-target-variant")
        try:
            variant, processes = endpoint.choose(target)
        except KeyError:
            if target is not None and endpoint.blue:
                return _error(
                    400,
                    "ValidationError",
                    f"The variant {target} does not exist for endpoint {name}.",
                )
            return _error(400, "ValidationError", not_found)
        served = _forward(processes, request)
        if served is None:
            _publish(account, region, name, variant, None, None, received)
            return _error(503, "ServiceUnavailable", f"No model server of {variant} answered.")
        (status, content_type, body), process, model_seconds = served
        answered_by = process.variant or variant
        if status >= 400:
            response = _model_error(status, body, name, account, region)
        else:
            headers = {
                "Content-Type": content_type or "application/octet-stream",
                "x-Amzn-Invoked-Production-Variant": answered_by,
                "x-amzn-RequestId": request.request_id,
            }
            response = 200, headers, body
        _publish(account, region, name, answered_by, status, model_seconds, received)
        return response

    return invoke


def _model_error(status: int, body: bytes, name: str, account: str, region: str) -> Response:
    """ModelError (424): the container answered ``status``, as InvokeEndpoint words it."""
    text = body.decode("utf-8", "replace")
    kind = "client" if status < 500 else "server"
    log_group = f"/aws/sagemaker/Endpoints/{name}"
    return _error(
        424,
        "ModelError",
        f'Received {kind} error ({status}) from primary with message "{text}". '
        f"See https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEventViewer:group={log_group} in account {account} for more information.",
        OriginalStatusCode=status,
        OriginalMessage=text,
        LogStreamArn=f"arn:aws:logs:{region}:{account}:log-group:{log_group}",
    )


def _forward(
    processes: list[ModelProcess], request: AwsRequest
) -> tuple[tuple[int, str, bytes], ModelProcess, float] | None:
    """The first answer of ``processes`` (a fleet stopping mid-request: the other one
    answers), the process that gave it and how long its round trip took (ModelLatency)."""
    for process in processes:
        started = time.perf_counter()
        try:
            answer = process.invoke(
                request.body, request.headers.get("content-type"), request.headers.get("accept")
            )
        except OSError:
            continue
        return answer, process, time.perf_counter() - started
    return None


def _publish(
    account: str,
    region: str,
    endpoint: str,
    variant: str,
    status: int | None,
    model_seconds: float | None,
    received: float,
) -> None:
    """The invocation's metrics; OverheadLatency runs from when this handler got the request
    (authentication and authorization are behind it) to the answer, less ModelLatency."""
    total = time.perf_counter() - received
    publish_invocation(account, region, Invocation(endpoint, variant, status, model_seconds, total))
