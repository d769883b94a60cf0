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
    """(version, metric) of the prod champion according to the ledger, if any: the version
    live in prod once it passed validation there; while the live version has not passed (its
    validation failed), the validated version it replaced, which a rollback would restore."""
    from hubspoke.ledger import Ledger, champion_version
    from hubspoke.registry import package_arn

    records = Ledger(s3, accounts.artifacts_bucket).records(model.name)
    version = champion_version(records, "prod")
    if version is None:
        return None
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
