"""``config/models.yaml``: one entry per model — pipeline, schedule, gates, deployment."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from croniter import croniter
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from hubspoke.config.names import name_too_long

# SageMaker's rule for model package group, model, endpoint config and endpoint names.
_SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_PRESETS = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"}
_ALARM_NAME = re.compile(r"^[^\x00-\x1f]{1,255}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricGate(_Strict):
    """The quality gate a trained model must pass before it is registered in the hub."""

    metric: Literal["roc_auc", "accuracy", "precision", "recall", "f1"] = "roc_auc"
    threshold: float = Field(ge=0.0, le=1.0)
    direction: Literal["maximize", "minimize"] = "maximize"
    max_regression: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="how much worse than the live prod champion a challenger may be",
    )

    def passes(self, value: float) -> bool:
        return value >= self.threshold if self.direction == "maximize" else value <= self.threshold

    def within_regression(self, challenger: float, champion: float) -> bool:
        if self.direction == "maximize":
            return challenger >= champion - self.max_regression
        return challenger <= champion + self.max_regression


_STATISTIC = re.compile(r"^(SampleCount|Average|Sum|Minimum|Maximum|p(\d{1,2}(\.\d{1,2})?|100))$")
COMPARISONS = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}


class RollbackAlarm(_Strict):
    """A CloudWatch alarm on the endpoint's own metrics (namespace ``AWS/SageMaker``,
    dimensions EndpointName and VariantName) that hubspoke creates or updates in the spoke
    before each deployment, so the blue/green update it guards always has it."""

    name: str
    metric: Literal[
        "Invocation5XXErrors",
        "Invocation4XXErrors",
        "ModelLatency",
        "OverheadLatency",
        "Invocations",
    ]
    statistic: str = Field(default="Sum", description="Sum, Average, ..., or a percentile p95")
    comparison: Literal[">", ">=", "<", "<="] = ">="
    threshold: float = Field(description="in the metric's unit (latencies in microseconds)")
    period_seconds: int = 60
    evaluation_periods: int = Field(default=1, ge=1, le=100)
    datapoints_to_alarm: int | None = Field(default=None, ge=1)
    treat_missing_data: Literal["missing", "ignore", "breaching", "notBreaching"] = "notBreaching"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ALARM_NAME.match(value):
            raise ValueError(f"not a CloudWatch alarm name: {value!r}")
        return value

    @field_validator("statistic")
    @classmethod
    def _statistic(cls, value: str) -> str:
        if not _STATISTIC.match(value):
            raise ValueError(
                f"statistic {value!r}: use SampleCount, Average, Sum, Minimum, Maximum "
                "or a percentile such as p95 or p99.9"
            )
        return value

    @field_validator("period_seconds")
    @classmethod
    def _period(cls, value: int) -> int:
        # CloudWatch's rule: 10, 30, or a multiple of 60 seconds.
        if value not in (10, 30) and (value < 60 or value % 60):
            raise ValueError(f"period_seconds {value}: use 10, 30 or a multiple of 60")
        return value

    @model_validator(mode="after")
    def _datapoints(self) -> RollbackAlarm:
        if self.datapoints_to_alarm and self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError(
                f"alarm {self.name}: datapoints_to_alarm ({self.datapoints_to_alarm}) "
                f"exceeds evaluation_periods ({self.evaluation_periods})"
            )
        return self


def _alarm_kind(value: object) -> str:
    return "name" if isinstance(value, str) else "definition"


# Validated as one or the other (not both), so an error names the definition's field.
AlarmEntry = Annotated[
    Annotated[str, Tag("name")] | Annotated[RollbackAlarm, Tag("definition")],
    Discriminator(_alarm_kind),
]


class _Strategy(_Strict):
    wait_seconds: int = Field(default=0, ge=0, le=3600, description="bake time per traffic step")
    termination_wait_seconds: int = Field(default=0, ge=0, le=3600)
    # A name: an alarm that exists already (managed elsewhere; checked before deploying).
    # A definition: an alarm hubspoke creates or updates before deploying.
    rollback_alarms: list[AlarmEntry] = Field(default_factory=list)

    @field_validator("rollback_alarms")
    @classmethod
    def _alarms(cls, value: list[str | RollbackAlarm]) -> list[str | RollbackAlarm]:
        seen: set[str] = set()
        for alarm in value:
            name = alarm if isinstance(alarm, str) else alarm.name
            if not _ALARM_NAME.match(name):
                raise ValueError(f"not a CloudWatch alarm name: {name!r}")
            if name in seen:
                raise ValueError(f"alarm {name!r} is listed twice")
            seen.add(name)
        return value

    @property
    def alarm_names(self) -> list[str]:
        return [a if isinstance(a, str) else a.name for a in self.rollback_alarms]


class AllAtOnce(_Strategy):
    type: Literal["all-at-once"]


class Canary(_Strategy):
    type: Literal["canary"]
    # AWS caps the canary step at half of the fleet.
    canary_percent: int = Field(ge=1, le=50)


class Linear(_Strategy):
    type: Literal["linear"]
    step_percent: int = Field(ge=1, le=50)


Strategy = Annotated[AllAtOnce | Canary | Linear, Field(discriminator="type")]
STRATEGY_TAGS = frozenset({"all-at-once", "canary", "linear"})


class EndpointSettings(_Strict):
    """How the model is hosted in one spoke."""

    instance_type: str = Field(default="ml.m5.large", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(default=1, ge=1, le=100)
    variant_name: str = Field(default="AllTraffic", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    data_capture_percent: int = Field(default=0, ge=0, le=100)
    deployment: Strategy = Field(default_factory=lambda: AllAtOnce(type="all-at-once"))


class ValidationThresholds(_Strict):
    """What a freshly deployed endpoint must show on held-out rows."""

    sample_rows: int = Field(default=50, ge=1, le=10_000)
    min_agreement: float = Field(default=0.99, ge=0.0, le=1.0)
    p95_latency_ms: float = Field(default=500.0, gt=0)
    max_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)


class Approval(_Strict):
    production: Literal["manual", "auto"] = "manual"


class Environments(_Strict):
    staging: EndpointSettings = EndpointSettings()
    prod: EndpointSettings = EndpointSettings()


class ModelConfig(_Strict):
    """One model: where its pipeline lives, when it retrains, what it must meet, how it ships."""

    name: str
    description: str = ""
    pipeline: str = Field(description="directory holding pipeline.py with get_pipeline()")
    schedule: str | None = None
    data_uri: str | None = Field(default=None, pattern=r"^s3://[a-z0-9.-]{3,63}/.+")
    hyperparameters: dict[str, int | float | str] = Field(default_factory=dict)
    metric_gate: MetricGate
    approval: Approval = Approval()
    validation: ValidationThresholds = ValidationThresholds()
    environments: Environments = Environments()
    owner: str = "ml-platform"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SAGEMAKER_NAME.match(value):
            raise ValueError(
                "must be 1-63 letters, digits or hyphens, starting and ending with a letter "
                "or digit (it names the SageMaker model package group, models, endpoint "
                "configs and endpoints)"
            )
        too_long = name_too_long(value, Environments.model_fields)
        if too_long:
            raise ValueError(too_long)
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is None or value in _PRESETS or croniter.is_valid(value):
            return value
        raise ValueError(
            "not a cron expression or an Airflow preset (@daily, @weekly, ...); "
            "use null for manual runs only"
        )

    @property
    def dag_suffix(self) -> str:
        """The model's name as it appears in DAG ids: ``retrain_<suffix>``."""
        return self.name.replace("-", "_")


class ModelsConfig(_Strict):
    """The whole of ``config/models.yaml``."""

    models: list[ModelConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ModelsConfig:
        seen: set[str] = set()
        for model in self.models:
            # DAG ids replace '-' with '_', so 'a-b' and 'a_b' would collide there too.
            if model.dag_suffix in seen:
                raise ValueError(f"model name {model.name!r} is used twice")
            seen.add(model.dag_suffix)
        return self

    def get(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        known = ", ".join(m.name for m in self.models)
        raise KeyError(f"no model named {name!r} in config/models.yaml (known: {known})")
