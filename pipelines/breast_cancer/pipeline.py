"""SageMaker Pipeline for the breast-cancer model: preprocess -> train -> evaluate -> metric gate.

``get_pipeline`` builds the pipeline with the SageMaker Python SDK v3. The step scripts next to
this module (``preprocess.py``, ``train.py``, ``evaluate.py``) are shipped as the step code; they
run in the scikit-learn framework container (or in the local runtime, which maps ``/opt/ml``).

The pipeline only trains and gates on the metric. Registration is not a step: the hub pulls the
artifact and the evaluation report and registers the model package itself.

Importing this module makes no AWS call and needs no region: the SDK is imported inside
``get_pipeline`` (importing ``sagemaker.mlops`` builds boto3 clients at import time).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.pipeline import Pipeline

__all__ = [
    "CODE_DIR",
    "METRIC_JSON_PATH",
    "PROPERTY_FILE_EVALUATION",
    "SDK_CONFIG",
    "STEP_CHECK_METRIC",
    "STEP_EVALUATE",
    "STEP_FAIL",
    "STEP_PREPROCESS",
    "STEP_TRAIN",
    "code_fingerprint",
    "get_pipeline",
    "make_pipeline_session",
]

#: Directory holding the step scripts; shipped as the source bundle of every job.
CODE_DIR = Path(__file__).resolve().parent

PREPROCESS_SCRIPT = "preprocess.py"
TRAIN_SCRIPT = "train.py"
EVALUATE_SCRIPT = "evaluate.py"

STEP_PREPROCESS = "Preprocess"
STEP_TRAIN = "Train"
STEP_EVALUATE = "Evaluate"
STEP_CHECK_METRIC = "CheckMetric"
STEP_FAIL = "MetricBelowThreshold"

PROPERTY_FILE_EVALUATION = "EvaluationReport"
EVALUATION_FILE = "evaluation.json"
METRIC_JSON_PATH = "binary_classification_metrics.roc_auc.value"

# Container paths of the processing jobs (the step scripts' defaults, passed explicitly so a
# local runtime can remap them).
PROCESSING_ROOT = "/opt/ml/processing"
PREPROCESS_INPUT_DIR = f"{PROCESSING_ROOT}/input/data"
PREPROCESS_OUTPUT_DIR = f"{PROCESSING_ROOT}/output"
EVALUATE_MODEL_DIR = f"{PROCESSING_ROOT}/model"
EVALUATE_TEST_DIR = f"{PROCESSING_ROOT}/test"
EVALUATE_OUTPUT_DIR = f"{PROCESSING_ROOT}/evaluation"
SPLITS = ("train", "validation", "test")

STEP_SCRIPTS = (PREPROCESS_SCRIPT, TRAIN_SCRIPT, EVALUATE_SCRIPT)

DEFAULT_INSTANCE_TYPE = "ml.m5.large"
INSTANCE_COUNT = 1

CODE_FINGERPRINT_LENGTH = 16

# The SDK names jobs "<base_job_prefix>-<step>-<timestamp>" and cuts names at 63 characters;
# up to 40 characters the training timestamp ("-" and 14 digits) is never cut.
BASE_JOB_PREFIX_MAX_LENGTH = 40
_BASE_JOB_PREFIX = re.compile(r"[A-Za-z0-9](?:-*[A-Za-z0-9])*")

# Files that never belong to the code fingerprint (byte code, editor and OS litter).
_FINGERPRINT_IGNORED_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints", ".pytest_cache"})
_FINGERPRINT_IGNORED_SUFFIXES = (".pyc", ".pyo")
_FINGERPRINT_IGNORED_NAMES = frozenset({".DS_Store"})

#: SDK configuration of the sessions built here: no usage telemetry (otherwise, for every job it
#: builds, the SDK calls sts:GetCallerIdentity and sends an HTTPS request with the account id to
#: an AWS-owned bucket), and, being explicit, no machine-local SDK config files, so the
#: definition depends only on the arguments. Cost: the SDK re-validates any non-empty config
#: against its JSON schema at every lookup, about 3 s per build.
SDK_CONFIG: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}

_ENV_LOCK = threading.RLock()


def code_fingerprint(code_dir: Path = CODE_DIR) -> str:
    """Return a short SHA-256 over the relative names and bytes of the files in ``code_dir``.

    The fingerprint is part of every code S3 URI in the definition: builds of the same code
    agree on it, and a change to any shipped file changes the (normalised) definition.
    Byte code and editor/OS litter are left out.
    """
    digest = hashlib.sha256()
    for path in sorted(code_dir.rglob("*")):
        relative = path.relative_to(code_dir)
        if (
            not path.is_file()
            or _FINGERPRINT_IGNORED_DIRS.intersection(relative.parts)
            or path.name in _FINGERPRINT_IGNORED_NAMES
            or path.suffix in _FINGERPRINT_IGNORED_SUFFIXES
        ):
            continue
        digest.update(relative.as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:CODE_FINGERPRINT_LENGTH]


def _check_arguments(base_job_prefix: str, code_dir: Path) -> None:
    if len(base_job_prefix) > BASE_JOB_PREFIX_MAX_LENGTH or not _BASE_JOB_PREFIX.fullmatch(
        base_job_prefix
    ):
        raise ValueError(
            f"base_job_prefix {base_job_prefix!r} is not valid: use 1 to "
            f"{BASE_JOB_PREFIX_MAX_LENGTH} letters, digits and hyphens, starting and ending "
            "with a letter or digit."
        )
    missing = [name for name in STEP_SCRIPTS if not (code_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"step script(s) {', '.join(missing)} not found in {code_dir}; "
            "the pipeline ships them as its step code."
        )


@contextlib.contextmanager
def _scoped_environ(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, previous in saved.items():
                if previous is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = previous


def _region_environ(region: str) -> dict[str, str]:
    """Environment the SDK needs to build steps: a region, if the process has none configured.

    Some SDK code builds clients from the default boto3 session, not from the session passed to
    it: importing ``sagemaker.mlops`` creates boto3 clients at class-definition time, and
    ``ProcessingStep()`` instantiates a local-mode client to read a method name. Both raise
    ``NoRegionError``/``ValueError`` without a region even though every client this module uses
    gets ``region`` explicitly. Neither makes a request.
    """
    import boto3

    return {} if boto3.session.Session().region_name else {"AWS_DEFAULT_REGION": region}


def make_pipeline_session(boto_session: Any, *, default_bucket: str) -> PipelineSession:
    """Return a ``PipelineSession`` over ``boto_session`` suitable for ``get_pipeline``.

    ``default_bucket`` becomes the session's default bucket (the SDK stages training code there).
    The session opts out of the SDK's usage telemetry and does not read machine-local SDK config
    files. Clients follow ``boto_session``'s credentials and region, and the usual botocore
    endpoint settings (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``, config file).
    """
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    return PipelineSession(
        boto_session=boto_session,
        default_bucket=default_bucket,
        sagemaker_config=copy.deepcopy(SDK_CONFIG),
    )


def _check_session(session: PipelineSession, region: str, default_bucket: str) -> None:
    """Reject a session that would build jobs in another region or stage code elsewhere."""
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    if not isinstance(session, PipelineSession):
        raise TypeError(
            f"sagemaker_session must be a PipelineSession, not {type(session).__name__}; "
            "pass a PipelineSession or None to build one."
        )
    if session.boto_region_name != region:
        raise ValueError(
            f"sagemaker_session is in region {session.boto_region_name!r} but region is "
            f"{region!r}; build the session in {region!r}."
        )
    # The SDK stages ModelTrainer code in the session's default bucket. Without an explicit
    # one it would derive and create ``sagemaker-<region>-<account>``.
    session_bucket = getattr(session, "_default_bucket_name_override", None)
    if session_bucket != default_bucket:
        raise ValueError(
            f"sagemaker_session has default bucket {session_bucket!r} but default_bucket is "
            f"{default_bucket!r}; create the PipelineSession with default_bucket="
            f"{default_bucket!r}."
        )


def get_pipeline(
    *,
    region: str,
    role_arn: str,
    default_bucket: str,
    pipeline_name: str = "breast-cancer",
    base_job_prefix: str = "breast-cancer",
    sagemaker_session: PipelineSession | None = None,
    framework_version: str = "1.2-1",
    kms_key_id: str | None = None,
) -> Pipeline:
    """Build the breast-cancer training pipeline.

    Steps: ``Preprocess`` (processing: raw CSV -> train/validation/test CSVs), ``Train``
    (training, script mode), ``Evaluate`` (processing: ``evaluation.json`` declared as the
    property file ``EvaluationReport``), ``CheckMetric`` (ROC AUC >= ``MetricThreshold``, else
    the fail step ``MetricBelowThreshold``). All jobs use the scikit-learn framework image of
    ``framework_version`` in ``region``, run as ``role_arn`` on one instance.

    Parameters of the pipeline (overridable per execution): ``InputDataUri``,
    ``ProcessingInstanceType``, ``TrainingInstanceType``, ``NEstimators``, ``MaxDepth``,
    ``LearningRate``, ``MetricThreshold``.

    S3 layout in ``default_bucket``: code under ``{base_job_prefix}/code/<code fingerprint>/``,
    step outputs under ``{base_job_prefix}/executions/<execution id>/<output>``, model artifacts
    under ``{base_job_prefix}/models/<training job>/``.

    Args:
        region: AWS region of the jobs and of the framework image.
        role_arn: execution role of the processing and training jobs.
        default_bucket: bucket for code, step outputs and model artifacts.
        pipeline_name: name of the pipeline.
        base_job_prefix: S3 key prefix and job base name.
        sagemaker_session: ``PipelineSession`` in ``region`` with ``default_bucket`` as its
            default bucket; built from a default boto3 session in ``region`` when None.
        framework_version: scikit-learn framework image version.
        kms_key_id: KMS key (id, ARN or alias) for job volumes, job outputs and uploaded code;
            none named when None.

    Returns:
        The pipeline. Building it makes no AWS call. ``definition()`` (and ``upsert()``) uploads
        the step code to ``default_bucket`` (S3 ListBuckets, HeadBucket, PutObject) and lets the
        SDK try ``iam:SimulatePrincipalPolicy`` on ``role_arn`` (a failure is ignored).

    Raises:
        ValueError: ``base_job_prefix`` is not a valid job name prefix, or ``sagemaker_session``
            is in another region or has another default bucket.
        FileNotFoundError: a step script is missing from ``CODE_DIR``.

    While building, ``os.environ`` carries ``AWS_DEFAULT_REGION=region`` (only if no region is
    configured) and ``SAGEMAKER_VALIDATE_ROLE=false`` (see ``_build_pipeline``); both are
    restored afterwards and builds in one process are serialised.
    """
    _check_arguments(base_job_prefix, CODE_DIR)
    with _scoped_environ(**_region_environ(region)):
        return _build_pipeline(
            region=region,
            role_arn=role_arn,
            default_bucket=default_bucket,
            pipeline_name=pipeline_name,
            base_job_prefix=base_job_prefix,
            sagemaker_session=sagemaker_session,
            framework_version=framework_version,
            kms_key_id=kms_key_id,
        )


def _build_pipeline(
    *,
    region: str,
    role_arn: str,
    default_bucket: str,
    pipeline_name: str,
    base_job_prefix: str,
    sagemaker_session: PipelineSession | None,
    framework_version: str,
    kms_key_id: str | None,
) -> Pipeline:
    """Build the pipeline; see ``get_pipeline``. Runs with a region in the environment."""
    from sagemaker.core import image_uris
    from sagemaker.core.processing import FrameworkProcessor
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.training.configs import (
        Compute,
        InputData,
        OutputDataConfig,
        SourceCode,
    )
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
    from sagemaker.train.model_trainer import ModelTrainer

    if sagemaker_session is None:
        import boto3

        sagemaker_session = make_pipeline_session(
            boto3.Session(region_name=region), default_bucket=default_bucket
        )
    else:
        _check_session(sagemaker_session, region, default_bucket)

    input_data_uri = ParameterString(
        name="InputDataUri", default_value=f"s3://{default_bucket}/data/breast-cancer/data.csv"
    )
    processing_instance_type = ParameterString(
        name="ProcessingInstanceType", default_value=DEFAULT_INSTANCE_TYPE
    )
    training_instance_type = ParameterString(
        name="TrainingInstanceType", default_value=DEFAULT_INSTANCE_TYPE
    )
    n_estimators = ParameterInteger(name="NEstimators", default_value=200)
    max_depth = ParameterInteger(name="MaxDepth", default_value=3)
    learning_rate = ParameterFloat(name="LearningRate", default_value=0.1)
    metric_threshold = ParameterFloat(name="MetricThreshold", default_value=0.9)

    image_uri = image_uris.retrieve("sklearn", region, version=framework_version)
    code_key_prefix = f"{base_job_prefix}/code/{code_fingerprint()}"

    def execution_output(name: str) -> Any:
        return Join(
            on="/",
            values=[
                "s3:/",
                default_bucket,
                base_job_prefix,
                "executions",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                name,
            ],
        )

    # Under a PipelineSession, run() and train() only record their arguments: the code is
    # packed and uploaded when the definition is built. The output KMS key also encrypts it.
    def processor(step: str) -> Any:
        return FrameworkProcessor(
            image_uri=image_uri,
            command=["python3"],
            role=role_arn,
            instance_count=INSTANCE_COUNT,
            instance_type=processing_instance_type,
            volume_kms_key=kms_key_id,
            output_kms_key=kms_key_id,
            code_location=f"s3://{default_bucket}/{code_key_prefix}",
            base_job_name=f"{base_job_prefix}-{step}",
            sagemaker_session=sagemaker_session,
        )

    # Preprocess ----------------------------------------------------------------------------
    preprocess_args = processor("preprocess").run(
        code=str(CODE_DIR / PREPROCESS_SCRIPT),
        source_dir=str(CODE_DIR),
        inputs=[
            ProcessingInput(
                input_name="data",
                s3_input=ProcessingS3Input(
                    s3_uri=input_data_uri,
                    local_path=PREPROCESS_INPUT_DIR,
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            )
        ],
        outputs=[
            ProcessingOutput(
                output_name=split,
                s3_output=ProcessingS3Output(
                    s3_uri=execution_output(split),
                    local_path=f"{PREPROCESS_OUTPUT_DIR}/{split}",
                    s3_upload_mode="EndOfJob",
                ),
            )
            for split in SPLITS
        ],
        arguments=["--input-dir", PREPROCESS_INPUT_DIR, "--output-dir", PREPROCESS_OUTPUT_DIR],
    )
    step_preprocess = ProcessingStep(name=STEP_PREPROCESS, step_args=preprocess_args)

    def split_uri(split: str) -> Any:
        return step_preprocess.properties.ProcessingOutputConfig.Outputs[split].S3Output.S3Uri

    # Train ---------------------------------------------------------------------------------
    # ModelTrainer validates the role when it is constructed (iam:SimulatePrincipalPolicy and
    # iam:GetRole, with the caller's identity). The SDK's validate_role=False is not reachable
    # through ModelTrainer; SAGEMAKER_VALIDATE_ROLE=false is its only switch. The check needs
    # IAM read access a deployer role should not have, and an endpoint that does not implement
    # IAM simulation (moto) fails it outright; SageMaker checks the role when the job starts.
    with _scoped_environ(SAGEMAKER_VALIDATE_ROLE="false"):
        trainer = ModelTrainer(
            sagemaker_session=sagemaker_session,
            role=role_arn,
            training_image=image_uri,
            base_job_name=f"{base_job_prefix}-train",
            input_s3_key_prefix=code_key_prefix,
            source_code=SourceCode(source_dir=str(CODE_DIR), entry_script=TRAIN_SCRIPT),
            compute=Compute(
                instance_type=training_instance_type,
                instance_count=INSTANCE_COUNT,
                volume_kms_key_id=kms_key_id,
            ),
            output_data_config=OutputDataConfig(
                s3_output_path=f"s3://{default_bucket}/{base_job_prefix}/models",
                kms_key_id=kms_key_id,
                compression_type="GZIP",
            ),
            hyperparameters={
                "n-estimators": n_estimators.to_string(),
                "max-depth": max_depth.to_string(),
                "learning-rate": learning_rate.to_string(),
            },
        )
    train_args = trainer.train(
        input_data_config=[
            InputData(channel_name=split, data_source=split_uri(split), content_type="text/csv")
            for split in ("train", "validation")
        ]
    )
    step_train = TrainingStep(name=STEP_TRAIN, step_args=train_args)

    # Evaluate ------------------------------------------------------------------------------
    evaluation_report = PropertyFile(
        name=PROPERTY_FILE_EVALUATION, output_name="evaluation", path=EVALUATION_FILE
    )
    evaluate_args = processor("evaluate").run(
        code=str(CODE_DIR / EVALUATE_SCRIPT),
        source_dir=str(CODE_DIR),
        inputs=[
            ProcessingInput(
                input_name="model",
                s3_input=ProcessingS3Input(
                    s3_uri=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                    local_path=EVALUATE_MODEL_DIR,
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            ),
            ProcessingInput(
                input_name="test",
                s3_input=ProcessingS3Input(
                    s3_uri=split_uri("test"),
                    local_path=EVALUATE_TEST_DIR,
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            ),
        ],
        outputs=[
            ProcessingOutput(
                output_name="evaluation",
                s3_output=ProcessingS3Output(
                    s3_uri=execution_output("evaluation"),
                    local_path=EVALUATE_OUTPUT_DIR,
                    s3_upload_mode="EndOfJob",
                ),
            )
        ],
        arguments=[
            "--model-dir",
            EVALUATE_MODEL_DIR,
            "--test-dir",
            EVALUATE_TEST_DIR,
            "--output-dir",
            EVALUATE_OUTPUT_DIR,
        ],
    )
    step_evaluate = ProcessingStep(
        name=STEP_EVALUATE, step_args=evaluate_args, property_files=[evaluation_report]
    )

    # Metric gate ---------------------------------------------------------------------------
    def roc_auc() -> Any:
        return JsonGet(
            step_name=step_evaluate.name,
            property_file=evaluation_report,
            json_path=METRIC_JSON_PATH,
        )

    step_fail = FailStep(
        name=STEP_FAIL,
        error_message=Join(
            on=" ",
            values=["ROC AUC", roc_auc(), "is below the threshold", metric_threshold],
        ),
    )
    step_check = ConditionStep(
        name=STEP_CHECK_METRIC,
        conditions=[ConditionGreaterThanOrEqualTo(left=roc_auc(), right=metric_threshold)],
        if_steps=[],
        else_steps=[step_fail],
    )

    return Pipeline(
        name=pipeline_name,
        parameters=[
            input_data_uri,
            processing_instance_type,
            training_instance_type,
            n_estimators,
            max_depth,
            learning_rate,
            metric_threshold,
        ],
        steps=[step_preprocess, step_train, step_evaluate, step_check],
        sagemaker_session=sagemaker_session,
        # Lineage is recorded in the hub's model registry; no SageMaker Experiments trial.
        pipeline_experiment_config=None,
    )
