"""How long a deployment waits for its endpoint: derived from the environment's strategy (so a
slow linear rollout is not given up on while SageMaker carries on), kept through the
trigger's serialization."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hubspoke.config import ModelConfig, load_config
from hubspoke.deploy import (
    PROVISIONING_SECONDS,
    SETTLE_MARGIN_SECONDS,
    deployment_config,
    plan,
    settle_seconds,
    traffic_steps,
)
from hubspoke.operators.deploy import DeployToSpokeOperator
from hubspoke.triggers.endpoint import EndpointSettledTrigger
from localcloud.runtime import deployments

CONFIG = load_config()
MODEL = CONFIG.models.get("breast-cancer")
ARN = f"arn:aws:sagemaker:us-east-1:{CONFIG.accounts.account_id('hub')}:model-package/bc/7"
KMS = "arn:aws:kms:us-east-1:444444444444:key/k"
BASE = PROVISIONING_SECONDS + SETTLE_MARGIN_SECONDS


def _with_prod(deployment: dict[str, Any], instances: int = 2) -> ModelConfig:
    data = MODEL.model_dump()
    data["environments"]["prod"]["deployment"] = deployment
    data["environments"]["prod"]["instance_count"] = instances
    return ModelConfig.model_validate(data)


def _operator(model: ModelConfig, restore: bool = False) -> DeployToSpokeOperator:
    return DeployToSpokeOperator(
        task_id="deploy",
        model=model,
        accounts=CONFIG.accounts,
        environment="prod",
        package_arn=ARN,
        restore=restore,
    )


def test_the_shipped_prod_canary_waits_for_both_bakes_and_the_termination_wait() -> None:
    strategy = MODEL.environments.prod.deployment
    assert (strategy.type, strategy.wait_seconds, strategy.termination_wait_seconds) == (
        "canary",
        300,
        120,
    )
    operator = _operator(MODEL)
    assert operator.settle_timeout(plan(MODEL, "prod", ARN, KMS)) == BASE + 2 * 300 + 120


def test_a_slow_linear_rollout_gets_all_its_steps() -> None:
    # 1% steps baking an hour each: 100 hours of shifting, far beyond a fixed 40 minutes.
    model = _with_prod(
        {"type": "linear", "step_percent": 1, "wait_seconds": 3600, "termination_wait_seconds": 600}
    )
    operator = _operator(model)
    timeout = operator.settle_timeout(plan(model, "prod", ARN, KMS))
    assert timeout == BASE + 100 * 3600 + 600
    assert timeout > 100 * 3600


@pytest.mark.parametrize(
    ("deployment", "steps"),
    [
        ({"type": "all-at-once", "wait_seconds": 60}, 1),
        ({"type": "canary", "canary_percent": 10, "wait_seconds": 60}, 2),
        ({"type": "canary", "canary_percent": 50, "wait_seconds": 60}, 2),
        ({"type": "linear", "step_percent": 25, "wait_seconds": 60}, 4),
        ({"type": "linear", "step_percent": 30, "wait_seconds": 60}, 4),
        ({"type": "linear", "step_percent": 1, "wait_seconds": 60}, 100),
    ],
)
def test_traffic_steps_are_those_the_blue_green_update_takes(
    deployment: dict[str, Any], steps: int
) -> None:
    config = deployment_config(_with_prod(deployment).environments.prod)
    assert config is not None
    assert traffic_steps(config, 2) == steps
    # localcloud's runtime shifts traffic in as many steps, each followed by a bake.
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert len(deployments.traffic_steps(routing, 2)) == steps


def test_replacing_the_fleet_waits_for_provisioning_only() -> None:
    # A restore sends no DeploymentConfig: no bakes, no termination wait.
    operator = _operator(MODEL, restore=True)
    assert operator.settle_timeout(plan(MODEL, "prod", ARN, KMS, restore=True)) == BASE
    assert settle_seconds(None) == BASE
    instance_steps = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": 10,
            },
            "TerminationWaitInSeconds": 0,
        }
    }
    assert settle_seconds(instance_steps, instances=4) == BASE + 4 * 10


def test_the_trigger_keeps_its_deadline_through_serialization() -> None:
    before = time.time()
    trigger = EndpointSettledTrigger("ep", "aws_prod", poll_interval=5, timeout_seconds=3600)
    path, kwargs = trigger.serialize()
    assert path == "hubspoke.triggers.endpoint.EndpointSettledTrigger"
    assert all(isinstance(v, str | int | float) for v in kwargs.values())
    assert before + 3600 <= kwargs["deadline"] <= time.time() + 3600
    # A triggerer that restarts rebuilds it from these kwargs: the same deadline, not a new one.
    time.sleep(0.01)
    assert EndpointSettledTrigger(**kwargs).serialize() == (path, kwargs)


def test_a_trigger_serialized_as_a_number_of_polls_still_loads() -> None:
    trigger = EndpointSettledTrigger("ep", "aws_prod", poll_interval=5.0, max_attempts=480)
    assert trigger.timeout_seconds == 2400
    assert trigger.deadline == pytest.approx(time.time() + 2400, abs=5)
