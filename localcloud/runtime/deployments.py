"""An endpoint's serving state and its deployments: create, replace, blue/green with rollback.

Creating starts every variant's model server; the endpoint is ``InService`` once all answer
``/ping``, else ``Failed`` with the load error as FailureReason. An update brings up the new
(green) fleet beside the serving (blue) one, which keeps serving throughout:

- without ``BlueGreenUpdatePolicy`` all traffic moves at once when green is healthy;
- with it, traffic moves in steps — ``ALL_AT_ONCE`` (one step), ``CANARY`` (``CanarySize``, then
  the rest) or ``LINEAR`` (``LinearStepSize`` each step) — and after every step the deployment
  bakes for ``WaitIntervalInSeconds`` while watching the ``AutoRollbackConfiguration`` alarms
  and green's health; ``MaximumExecutionTimeoutInSeconds`` bounds the whole update; the blue
  fleet is stopped ``TerminationWaitInSeconds`` after the last step.

Any failure (green does not load, dies, an alarm is in ALARM, the time limit passes) rolls back:
traffic returns to blue, green is stopped, and the endpoint is ``InService`` on the OLD config
with a FailureReason, which is what DescribeEndpoint shows after a failed update on AWS (the
API reference's EndpointMetadata.FailureReason: "If the status of the endpoint is Failed, or
the status is InService but update operation fails, this provides the reason why it failed";
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_EndpointMetadata.html). The
FailureReason wording here is localcloud's own. Waits are multiplied by
``LOCALCLOUD_TIME_SCALE`` (default 1; tests use 0.01).
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.runtime.fleet import FetchAsRole, ModelProcess, ModelSpec, VariantLoadError
from localcloud.runtime.fleet import start_model_server as _start_server

TIME_SCALE_ENV = "LOCALCLOUD_TIME_SCALE"
POLL_SECONDS = 0.02
FAILURE_REASON_LIMIT = 1024  # DescribeEndpoint's FailureReason is at most 1024 characters
PING_SECONDS = 0.5  # green's /ping during a bake, as SageMaker health-checks its instances

# alarm names → the first one in ALARM, or None; called on every check of a bake, so the
# endpoint service evaluates each alarm from the stored metrics before reading its state.
AlarmWatch = Callable[[list[str]], "str | None"]


def time_scale() -> float:
    """How much faster than AWS local waits run (``LOCALCLOUD_TIME_SCALE``, default 1)."""
    try:
        return max(0.0, float(os.environ.get(TIME_SCALE_ENV, "1")))
    except ValueError:
        return 1.0


@dataclass(frozen=True)
class VariantSpec:
    """One production variant of an endpoint config."""

    name: str
    weight: float
    instance_count: int
    instance_type: str
    model: ModelSpec


@dataclass
class LiveVariant:
    spec: VariantSpec
    process: ModelProcess


@dataclass
class PendingDeployment:
    """An update in progress (DescribeEndpoint's PendingDeploymentSummary)."""

    config_name: str
    variants: list[VariantSpec]
    started: float
    status: str = "Creating"
    status_since: float = 0.0
    message: str = ""


def traffic_steps(routing: dict[str, Any], green_instances: int) -> list[float]:
    """The share of traffic green holds after each step, ending at 1.0."""
    kind = routing.get("Type", "ALL_AT_ONCE")
    if kind == "ALL_AT_ONCE":
        return [1.0]
    size = routing.get("CanarySize" if kind == "CANARY" else "LinearStepSize") or {}
    value = float(size.get("Value", 0))
    if size.get("Type") == "INSTANCE_COUNT":
        fraction = value / max(green_instances, 1)
    else:
        fraction = value / 100.0
    fraction = min(max(fraction, 0.01), 1.0)
    if kind == "CANARY":
        return [fraction, 1.0] if fraction < 1.0 else [1.0]
    steps = math.ceil(1.0 / fraction - 1e-9)
    return [min(1.0, fraction * (k + 1)) for k in range(steps)]


def now_ping(last: float) -> tuple[bool, float]:
    """Whether a health check is due (every ``PING_SECONDS``), and when the last one was."""
    now = time.monotonic()
    return (True, now) if now - last >= PING_SECONDS else (False, last)


class RolledBack(Exception):
    """A deployment gave up; the message is the FailureReason."""


class Endpoint:
    """One endpoint's fleets and status. ``lock`` guards every attribute; ``on_change`` is
    called (outside the lock) whenever status or config changes."""

    def __init__(
        self,
        name: str,
        arn: str,
        fetch: FetchAsRole,
        alarms_in_alarm: AlarmWatch,
        on_change: Callable[[Endpoint], None],
    ) -> None:
        self.name, self.arn = name, arn
        self._fetch, self._alarms, self._on_change = fetch, alarms_in_alarm, on_change
        self.lock = threading.RLock()
        self.status = "Creating"
        self.failure_reason: str | None = None
        self.config_name = ""
        self.blue: dict[str, LiveVariant] = {}
        self.green: dict[str, LiveVariant] = {}
        self.green_share = 0.0
        self.pending: PendingDeployment | None = None
        self.last_deployment_config: dict[str, Any] | None = None
        self.created = self.modified = time.time()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start_create(self, config_name: str, variants: list[VariantSpec]) -> None:
        self.config_name = config_name
        self.pending = PendingDeployment(config_name, variants, time.time())
        self._run(lambda: self._create(variants))

    def start_update(
        self, config_name: str, variants: list[VariantSpec], deployment: dict[str, Any] | None
    ) -> None:
        with self.lock:
            self.status, self.modified = "Updating", time.time()
            self.pending = PendingDeployment(config_name, variants, time.time())
        self._changed()
        self._run(lambda: self._update(config_name, variants, deployment))

    def close(self) -> None:
        """Stop every model server of this endpoint (DeleteEndpoint, shutdown)."""
        self._closed.set()
        with self.lock:
            self.status = "Deleting"
            fleets = [*self.blue.values(), *self.green.values()]
            self.blue, self.green = {}, {}
        for variant in fleets:
            variant.process.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def choose(self, target_variant: str | None) -> tuple[str, list[ModelProcess]]:
        """The variant to serve a request and its processes, preferred first.

        Raises ``KeyError`` when nothing serves (or ``target_variant`` is not a variant)."""
        with self.lock:
            if not self.blue:
                raise KeyError(self.name)
            if target_variant is not None:
                if target_variant not in self.blue:
                    raise KeyError(target_variant)
                name = target_variant
            else:
                names = list(self.blue)
                weights = [max(self.blue[n].spec.weight, 0.0) for n in names]
                name = random.choices(names, weights)[0] if sum(weights) else names[0]
            blue = self.blue[name].process
            green = self.green.get(name)
            if green is not None and random.random() < self.green_share:
                return name, [green.process, blue]
            return name, [blue] + ([green.process] if green is not None else [])

    # ------------------------------------------------------------------ workers
    def _run(self, work: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=work, name=f"endpoint-{self.name}", daemon=True)
        self._thread.start()

    def _changed(self) -> None:
        self._on_change(self)

    def _start_fleet(self, variants: list[VariantSpec]) -> dict[str, LiveVariant]:
        fleet: dict[str, LiveVariant] = {}
        try:
            for spec in variants:
                if self._closed.is_set():
                    raise RolledBack("the endpoint was deleted")
                process = _start_server(spec.model, self._fetch, spec.name)
                fleet[spec.name] = LiveVariant(spec, process)
        except (VariantLoadError, RolledBack) as error:
            for variant in fleet.values():
                variant.process.stop()
            raise RolledBack(str(error)) from None
        if self._closed.is_set():
            for variant in fleet.values():
                variant.process.stop()
            raise RolledBack("the endpoint was deleted")
        return fleet

    def _create(self, variants: list[VariantSpec]) -> None:
        try:
            fleet = self._start_fleet(variants)
        except RolledBack as error:
            with self.lock:
                if not self._closed.is_set():
                    self.status = "Failed"
                    self.failure_reason = str(error)[:FAILURE_REASON_LIMIT]
                self.pending, self.modified = None, time.time()
        else:
            with self.lock:
                self.blue, self.status, self.pending = fleet, "InService", None
                self.modified = time.time()
        self._changed()

    def _update(
        self, config_name: str, variants: list[VariantSpec], deployment: dict[str, Any] | None
    ) -> None:
        policy = (deployment or {}).get("BlueGreenUpdatePolicy") or {}
        routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE"}
        alarms = [
            str(a.get("AlarmName"))
            for a in ((deployment or {}).get("AutoRollbackConfiguration") or {}).get("Alarms") or []
        ]
        scale = time_scale()
        limit = policy.get("MaximumExecutionTimeoutInSeconds")
        deadline = time.monotonic() + float(limit) * scale if limit else None
        try:
            green = self._start_fleet(variants)
            with self.lock:
                self.green = green
            instances = sum(v.instance_count for v in variants)
            wait = float(routing.get("WaitIntervalInSeconds", 0)) * scale if policy else 0.0
            for share in traffic_steps(routing, instances):
                self._set_pending("ActivatingTraffic", f"{share:.0%} of traffic on the new fleet")
                with self.lock:
                    self.green_share = share
                self._set_pending("Baking", f"baking at {share:.0%} for {wait:g}s")
                self._bake(wait, alarms, deadline, config_name)
        except RolledBack as error:
            self._roll_back(str(error), deployment)
            return
        with self.lock:
            old = self.blue
            self.blue, self.green, self.green_share = self.green, {}, 0.0
            self.config_name, self.status, self.failure_reason = config_name, "InService", None
            self.pending, self.last_deployment_config = None, deployment
            self.modified = time.time()
        self._changed()
        termination = float(policy.get("TerminationWaitInSeconds", 0)) * scale
        self._closed.wait(termination)
        for variant in old.values():
            variant.process.stop()

    def _bake(
        self, seconds: float, alarms: list[str], deadline: float | None, config_name: str
    ) -> None:
        end = time.monotonic() + seconds
        last_ping = 0.0
        while True:
            if self._closed.is_set():
                raise RolledBack("the endpoint was deleted")
            tripped = self._alarms(alarms) if alarms else None
            if tripped is not None:
                raise RolledBack(
                    f"Update to endpoint config {config_name} was rolled back: CloudWatch "
                    f"alarm {tripped} went into ALARM during the deployment."
                )
            with self.lock:
                green = list(self.green.items())
            pinged, last_ping = now_ping(last_ping)
            dead = [n for n, v in green if not (v.process.ping() if pinged else v.process.alive())]
            if dead:
                raise RolledBack(
                    f"Update to endpoint config {config_name} was rolled back: production "
                    f"variant {dead[0]} of the new fleet stopped passing health checks."
                )
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise RolledBack(
                    f"Update to endpoint config {config_name} was rolled back: it exceeded "
                    "MaximumExecutionTimeoutInSeconds."
                )
            if now >= end:
                return
            time.sleep(min(POLL_SECONDS, end - now))

    def _roll_back(self, reason: str, deployment: dict[str, Any] | None) -> None:
        with self.lock:
            green, self.green, self.green_share = self.green, {}, 0.0
            if not self._closed.is_set():
                self.status, self.failure_reason = "InService", reason[:FAILURE_REASON_LIMIT]
                self.last_deployment_config = deployment
            self.pending, self.modified = None, time.time()
        for variant in green.values():
            variant.process.stop()
        self._changed()

    def _set_pending(self, status: str, message: str) -> None:
        with self.lock:
            if self.pending is not None:
                self.pending.status, self.pending.message = status, message
                self.pending.status_since = time.time()
