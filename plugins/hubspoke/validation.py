"""Validating a live endpoint against the offline evaluation.

Held-out rows come from the ``predictions.csv`` the evaluation step wrote (features, label,
offline probability); the endpoint must reproduce the offline predictions at the configured
agreement rate, with p95 latency and error rate within the thresholds of config/models.yaml.
"""

from __future__ import annotations

import csv
import io
import statistics
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from hubspoke.config.models import ValidationThresholds

OFFLINE_COLUMNS = {"label", "probability", "prediction"}


class ValidationFailed(AirflowFailException):
    """The endpoint does not behave as the offline evaluation says it should (a verdict on
    the deployed model, not a transient error: the task fails without retrying)."""


@dataclass(frozen=True)
class ValidationReport:
    rows: int
    agreement: float
    p95_latency_ms: float
    error_rate: float
    max_probability_gap: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def held_out_rows(predictions_csv: bytes, limit: int) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(predictions_csv.decode("utf-8")))
    missing = OFFLINE_COLUMNS - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"predictions.csv lacks columns {sorted(missing)}")
    return [row for _, row in zip(range(limit), reader, strict=False)]


def validate_endpoint(
    runtime: Any, endpoint: str, predictions_csv: bytes, thresholds: ValidationThresholds
) -> ValidationReport:
    """Invoke ``endpoint`` once per held-out row; raise :class:`ValidationFailed` naming what
    missed its threshold, else return the figures."""
    rows = held_out_rows(predictions_csv, thresholds.sample_rows)
    if not rows:
        raise ValidationFailed("no held-out rows to validate with")
    features = [name for name in rows[0] if name not in OFFLINE_COLUMNS]
    latencies: list[float] = []
    errors = agreeing = 0
    max_gap = 0.0
    for row in rows:
        body = ",".join(row[name] for name in features)
        started = time.perf_counter()
        try:
            answer = runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=body
            )
            served = float(answer["Body"].read().decode().strip().splitlines()[0])
        except (ClientError, ValueError, IndexError):
            errors += 1
            continue
        finally:
            latencies.append((time.perf_counter() - started) * 1000)
        gap = abs(served - float(row["probability"]))
        max_gap = max(max_gap, gap)
        agreeing += gap <= 1e-6
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0]
    report = ValidationReport(
        rows=len(rows),
        agreement=agreeing / len(rows),
        p95_latency_ms=round(p95, 2),
        error_rate=errors / len(rows),
        max_probability_gap=max_gap,
    )
    problems = []
    if report.agreement < thresholds.min_agreement:
        problems.append(
            f"agreement {report.agreement:.3f} < {thresholds.min_agreement} "
            f"(largest probability gap {max_gap:.6f})"
        )
    if report.p95_latency_ms > thresholds.p95_latency_ms:
        problems.append(f"p95 latency {report.p95_latency_ms} ms > {thresholds.p95_latency_ms} ms")
    if report.error_rate > thresholds.max_error_rate:
        problems.append(f"error rate {report.error_rate:.3f} > {thresholds.max_error_rate}")
    if problems:
        raise ValidationFailed(f"{endpoint}: " + "; ".join(problems))
    return report
