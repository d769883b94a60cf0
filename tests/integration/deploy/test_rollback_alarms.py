"""Rollback alarms made sure of before a deployment, as the spoke's deployer role over
localcloud's CloudWatch API: defined ones created and kept up to date, named ones checked."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hubspoke.alarms import MissingRollbackAlarm, definition, ensure_rollback_alarms
from hubspoke.config import ModelConfig, load_accounts, load_models
from localcloud.server import LocalCloud

ROOT = Path(__file__).resolve().parents[3]
ACCOUNTS = load_accounts()
ENVIRONMENT = "prod"


@pytest.fixture
def cloudwatch(localcloud: LocalCloud) -> Any:
    deployer = localcloud.credentials.issue_role_session(ACCOUNTS.deployer_arn(ENVIRONMENT), "t")
    return localcloud.client("cloudwatch", deployer)


@pytest.fixture
def model_with(tmp_path: Path) -> Callable[..., ModelConfig]:
    """The shipped model with its prod alarms changed by ``mutate`` (given the YAML list),
    their names suffixed (fresh unless given) so tests do not see each other's alarms."""

    def build(mutate: Callable[[list[Any]], None], suffix: str | None = None) -> ModelConfig:
        data = yaml.safe_load((ROOT / "config" / "models.yaml").read_text())
        alarms = data["models"][0]["environments"]["prod"]["deployment"]["rollback_alarms"]
        suffix = suffix or uuid.uuid4().hex[:6]
        for alarm in alarms:
            alarm["name"] = f"{alarm['name']}-{suffix}"
        mutate(alarms)
        path = tmp_path / f"models-{suffix}.yaml"
        path.write_text(yaml.safe_dump(data))
        return load_models(path, root=ROOT).models[0]

    return build


def _described(cloudwatch: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    return {a["AlarmName"]: a for a in alarms}


def test_defined_alarms_are_created_then_left_alone(cloudwatch: Any, model_with: Any) -> None:
    model = model_with(lambda alarms: None)
    endpoint = f"{model.name}-prod"
    names = model.environments.prod.deployment.alarm_names

    assert ensure_rollback_alarms(cloudwatch, model, ENVIRONMENT, endpoint) == dict.fromkeys(
        names, "created"
    )
    described = _described(cloudwatch, names)
    errors, latency = (described[name] for name in names)
    assert errors["MetricName"] == "Invocation5XXErrors"
    assert errors["Namespace"] == "AWS/SageMaker"
    assert errors["Statistic"] == "Sum"
    assert errors["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert errors["Threshold"] == 1.0
    assert errors["TreatMissingData"] == "notBreaching"
    assert sorted((d["Name"], d["Value"]) for d in errors["Dimensions"]) == [
        ("EndpointName", endpoint),
        ("VariantName", "AllTraffic"),
    ]
    assert latency["ExtendedStatistic"] == "p95"
    assert (latency["Period"], latency["EvaluationPeriods"], latency["DatapointsToAlarm"]) == (
        60,
        2,
        2,
    )
    assert latency["ComparisonOperator"] == "GreaterThanThreshold"
    assert latency["Threshold"] == 500000.0

    assert ensure_rollback_alarms(cloudwatch, model, ENVIRONMENT, endpoint) == dict.fromkeys(
        names, "unchanged"
    )
    assert (
        _described(cloudwatch, names)[names[0]]["AlarmConfigurationUpdatedTimestamp"]
        == (errors["AlarmConfigurationUpdatedTimestamp"])
    )


def test_a_changed_definition_updates_only_that_alarm(cloudwatch: Any, model_with: Any) -> None:
    first = model_with(lambda alarms: None)
    endpoint = f"{first.name}-prod"
    ensure_rollback_alarms(cloudwatch, first, ENVIRONMENT, endpoint)
    names = first.environments.prod.deployment.alarm_names
    suffix = names[0].rsplit("-", 1)[-1]
    changed = model_with(lambda alarms: alarms[1].update(threshold=750000), suffix)
    assert changed.environments.prod.deployment.alarm_names == names
    outcome = ensure_rollback_alarms(cloudwatch, changed, ENVIRONMENT, endpoint)
    assert outcome == {names[0]: "unchanged", names[1]: "updated"}
    assert _described(cloudwatch, [names[1]])[names[1]]["Threshold"] == 750000.0


def test_a_named_alarm_must_exist_and_nothing_is_created_otherwise(
    cloudwatch: Any, model_with: Any
) -> None:
    missing = f"nobody-made-this-{uuid.uuid4().hex[:6]}"
    model = model_with(lambda alarms: alarms.append(missing))
    names = model.environments.prod.deployment.alarm_names
    with pytest.raises(MissingRollbackAlarm) as info:
        ensure_rollback_alarms(cloudwatch, model, ENVIRONMENT, f"{model.name}-prod")
    assert str(info.value).startswith(f"rollback alarm(s) {missing} of {model.name} in prod ")
    assert "define them under rollback_alarms in config/models.yaml" in str(info.value)
    assert _described(cloudwatch, names) == {}  # the defined ones were not created either


def test_a_named_alarm_that_exists_is_used_as_it_is(cloudwatch: Any, model_with: Any) -> None:
    existing = f"team-owned-{uuid.uuid4().hex[:6]}"
    cloudwatch.put_metric_alarm(
        AlarmName=existing,
        Namespace="AWS/SageMaker",
        MetricName="Invocation4XXErrors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    model = model_with(lambda alarms: alarms.append(existing))
    outcome = ensure_rollback_alarms(cloudwatch, model, ENVIRONMENT, f"{model.name}-prod")
    assert outcome[existing] == "exists"
    assert _described(cloudwatch, [existing])[existing]["Threshold"] == 10.0


def test_definition_is_what_put_metric_alarm_takes(model_with: Any) -> None:
    model = model_with(lambda alarms: alarms[0].update(datapoints_to_alarm=None))
    alarm = model.environments.prod.deployment.rollback_alarms[0]
    put = definition(alarm, model, ENVIRONMENT, "ep")
    assert put["DatapointsToAlarm"] == put["EvaluationPeriods"] == 1
    assert "ExtendedStatistic" not in put
    assert "managed from config/models.yaml" in put["AlarmDescription"]
