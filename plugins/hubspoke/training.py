"""Training in the dev spoke: upsert a model's SageMaker pipeline, then read what it produced.

Functions take boto3 clients/sessions of the dev account (from the ``aws_dev`` connection);
they hold the logic the retrain DAG's operators call, so it is testable on its own.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    import boto3

    from hubspoke.config import AccountsConfig, ModelConfig

SPOKE_KEY_ALIAS = "alias/hubspoke-spoke"
# Pipeline parameter for each hyperparameter key of config/models.yaml.
HYPERPARAMETER_PARAMETERS = {
    "n_estimators": "NEstimators",
    "max_depth": "MaxDepth",
    "learning_rate": "LearningRate",
}


def pipeline_module(model: ModelConfig) -> Any:
    """The model's ``pipelines/<dir>/pipeline.py`` module (imported when asked, never at parse)."""
    return importlib.import_module(f"{model.pipeline.strip('/').replace('/', '.')}.pipeline")


def spoke_key_arn(kms: Any) -> str:
    """The spoke's KMS key, which the organization requires on every SageMaker job."""
    return str(kms.describe_key(KeyId=SPOKE_KEY_ALIAS)["KeyMetadata"]["Arn"])


def build_definition(
    model: ModelConfig, accounts: AccountsConfig, session: boto3.Session, kms_key_arn: str
) -> str:
    """The pipeline definition JSON for ``model`` in the dev account (uploads step code)."""
    module = pipeline_module(model)
    pipeline = module.get_pipeline(
        region=accounts.region,
        role_arn=accounts.execution_role_arn("dev"),
        default_bucket=accounts.dev_bucket,
        pipeline_name=model.name,
        base_job_prefix=model.name,
        sagemaker_session=module.make_pipeline_session(session, default_bucket=accounts.dev_bucket),
        kms_key_id=kms_key_arn,
    )
    return str(pipeline.definition())


def upsert_pipeline(sagemaker: Any, name: str, definition: str, role_arn: str) -> str:
    """Create the pipeline or update it when its definition changed: created|updated|unchanged."""
    try:
        current = sagemaker.describe_pipeline(PipelineName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in {"ResourceNotFound", "ValidationException"}:
            raise
        sagemaker.create_pipeline(
            PipelineName=name, PipelineDefinition=definition, RoleArn=role_arn
        )
        return "created"
    from hubspoke.pipeline_definition import normalised_definition

    if normalised_definition(current["PipelineDefinition"]) == normalised_definition(definition):
        return "unchanged"
    sagemaker.update_pipeline(PipelineName=name, PipelineDefinition=definition, RoleArn=role_arn)
    return "updated"


def execution_parameters(
    model: ModelConfig, data_uri: str | None, overrides: dict[str, Any] | None
) -> dict[str, str]:
    """PipelineParameters for one execution: config values, then the run's overrides."""
    hyper = {**model.hyperparameters, **(overrides or {})}
    unknown = sorted(set(hyper) - set(HYPERPARAMETER_PARAMETERS))
    if unknown:
        known = ", ".join(sorted(HYPERPARAMETER_PARAMETERS))
        raise ValueError(f"unknown hyperparameters {unknown} for {model.name}; known: {known}")
    params = {HYPERPARAMETER_PARAMETERS[k]: str(v) for k, v in hyper.items()}
    params["MetricThreshold"] = str(model.metric_gate.threshold)
    uri = data_uri or model.data_uri
    if uri:
        params["InputDataUri"] = uri
    return params


@dataclass(frozen=True)
class TrainingOutputs:
    execution_arn: str
    model_artifact: str  # s3:// URI of model.tar.gz in the dev bucket
    evaluation_report: str  # s3:// URI of evaluation.json
    predictions: str  # s3:// URI of predictions.csv
    training_image: str
    metrics: dict[str, float]


def _split(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


def read_outputs(sagemaker: Any, s3: Any, execution_arn: str) -> TrainingOutputs:
    """Find the trained artifact and the evaluation report of a finished execution."""
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=execution_arn)
    by_name = {s["StepName"]: s for s in steps["PipelineExecutionSteps"]}
    try:
        training_arn = by_name["Train"]["Metadata"]["TrainingJob"]["Arn"]
        evaluation_arn = by_name["Evaluate"]["Metadata"]["ProcessingJob"]["Arn"]
    except KeyError as exc:
        raise ValueError(
            f"{execution_arn} has no finished Train/Evaluate step ({exc}); did it succeed?"
        ) from None
    training = sagemaker.describe_training_job(TrainingJobName=training_arn.rsplit("/", 1)[-1])
    evaluation = sagemaker.describe_processing_job(
        ProcessingJobName=evaluation_arn.rsplit("/", 1)[-1]
    )
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"]
        for o in evaluation["ProcessingOutputConfig"]["Outputs"]
    }
    report_uri = outputs["evaluation"].rstrip("/") + "/evaluation.json"
    bucket, key = _split(report_uri)
    report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    metrics = {
        name: float(entry["value"])
        for name, entry in report["binary_classification_metrics"].items()
        if isinstance(entry, dict) and "value" in entry
    }
    return TrainingOutputs(
        execution_arn=execution_arn,
        model_artifact=training["ModelArtifacts"]["S3ModelArtifacts"],
        evaluation_report=report_uri,
        predictions=outputs["evaluation"].rstrip("/") + "/predictions.csv",
        training_image=training["AlgorithmSpecification"].get("TrainingImage", ""),
        metrics=metrics,
    )
