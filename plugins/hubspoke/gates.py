"""Quality gates with thresholds from config: a challenger must clear the bar and must not
fall behind the live prod champion by more than the configured margin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from hubspoke.config import AccountsConfig, ModelConfig


class QualityGateFailed(AirflowFailException):
    """The model is not good enough: retrying the task cannot change that."""


def champion_metric(
    model: ModelConfig, accounts: AccountsConfig, sagemaker: Any, s3: Any
) -> tuple[int, float] | None:
    """(version, metric) of the version live in prod according to the ledger, if any."""
    from hubspoke.ledger import Ledger
    from hubspoke.registry import package_arn

    records = Ledger(s3, accounts.artifacts_bucket).records(model.name)
    live = [
        r for r in records if r.environment == "prod" and r.event in {"deployed", "rolled_back"}
    ]
    if not live or live[-1].version is None:
        return None
    version = live[-1].version
    described = sagemaker.describe_model_package(
        ModelPackageName=package_arn(accounts, model, version)
    )
    value = described.get("CustomerMetadataProperties", {}).get(
        f"hubspoke:metric:{model.metric_gate.metric}"
    )
    return (version, float(value)) if value is not None else None


def check_quality(
    model: ModelConfig, accounts: AccountsConfig, metrics: dict[str, float], sagemaker: Any, s3: Any
) -> dict[str, Any]:
    """Raise :class:`QualityGateFailed` naming the metric and the bar; else the verdict."""
    gate = model.metric_gate
    value = metrics.get(gate.metric)
    if value is None:
        raise QualityGateFailed(
            f"the evaluation has no {gate.metric}; it reported {sorted(metrics)}"
        )
    if not gate.passes(value):
        raise QualityGateFailed(
            f"{gate.metric} {value:.4f} does not meet the threshold {gate.threshold} "
            f"({gate.direction})"
        )
    champion = champion_metric(model, accounts, sagemaker, s3)
    if champion is not None and not gate.within_regression(value, champion[1]):
        raise QualityGateFailed(
            f"{gate.metric} {value:.4f} trails the prod champion v{champion[0]} "
            f"({champion[1]:.4f}) by more than {gate.max_regression}"
        )
    return {
        "metric": gate.metric,
        "value": value,
        "threshold": gate.threshold,
        "champion": {"version": champion[0], "value": champion[1]} if champion else None,
    }
