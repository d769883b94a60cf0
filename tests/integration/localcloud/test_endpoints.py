"""Endpoints that really serve, over HTTP with the bootstrapped roles: a staging endpoint loads a
trained model from the hub bucket as the staging execution role and answers like the model
loaded directly; blue/green updates shift traffic, bake, and roll back on a model that cannot
load or an alarm in ALARM, serving the old model throughout; no model server outlives
DeleteEndpoint or localcloud's shutdown.

The trained ``model.tar.gz`` holds only the model files; it is repacked with the inference
script under ``code/`` (what the SageMaker SDK's repack does for an ``entry_point``) and the
model names it with ``SAGEMAKER_PROGRAM`` / ``SAGEMAKER_SUBMIT_DIRECTORY``."""

from __future__ import annotations

import json
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from botocore.exceptions import ClientError
from staging_deployer import (
    ACCOUNTS,
    BUCKET,
    ENVIRONMENT,
    IMAGE,
    STAGING,
    StagingDeployer,
    tarball,
)

import pipelines.breast_cancer
from localcloud.runtime.deployments import TIME_SCALE_ENV, traffic_steps
from localcloud.runtime.fleet import live_processes
from localcloud.runtime.local_run import run_pipeline_locally
from localcloud.sagemaker import endpoints
from localcloud.sagemaker.endpoints import endpoints_of
from localcloud.server import LocalCloud
from pipelines.breast_cancer import inference
from pipelines.breast_cancer.dataset import export_dataset

pytestmark = pytest.mark.slow

PIPELINE_DIR = Path(pipelines.breast_cancer.__file__).parent


def _repack(model_files: dict[str, bytes], code_dir: str | None = "code/") -> bytes:
    """A tar.gz of ``model_files`` at the root and the inference script in ``code_dir``."""
    files = dict(model_files)
    if code_dir is not None:
        files[f"{code_dir}inference.py"] = Path(inference.__file__).read_bytes()
    return tarball(files)


class Staging(StagingDeployer):
    """The staging deployer serving the breast-cancer model trained here."""

    prefix = "bc"

    def __init__(self, cloud: LocalCloud, workdir: Path) -> None:
        super().__init__(cloud)
        data_csv = export_dataset(workdir / "data.csv")
        run = run_pipeline_locally(PIPELINE_DIR, data_csv, workdir / "run", {"n-estimators": "20"})
        with tarfile.open(run.model_artifact) as tar:
            self.files = {m.name.lstrip("./"): tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
        (workdir / "model").mkdir()
        for name, data in self.files.items():
            (workdir / "model" / name).write_bytes(data)
        self.direct = inference.model_fn(workdir / "model")
        rows = data_csv.read_text().splitlines()[1:31]
        self.payload = "\n".join(row.rsplit(",", 1)[0] for row in rows)
        self.good = self.model("good", _repack(self.files))

    def model(
        self,
        label: str,
        artifact: bytes,
        prefix: str = "models",
        source: bytes | None = None,
    ) -> str:
        """Upload ``artifact`` to the hub bucket; create a staging model and config for it.

        With ``source`` (a source tarball), the code comes from S3 as
        ``SAGEMAKER_SUBMIT_DIRECTORY``, as for a framework model deployed without repacking."""
        name = f"bc-{label}-{uuid.uuid4().hex[:8]}"
        key = f"{prefix}/{name}/model.tar.gz"
        self.hub_s3.put_object(Bucket=BUCKET, Key=key, Body=artifact)
        environment = dict(ENVIRONMENT)
        if source is not None:
            source_key = f"{prefix}/{name}/sourcedir.tar.gz"
            self.hub_s3.put_object(Bucket=BUCKET, Key=source_key, Body=source)
            environment["SAGEMAKER_SUBMIT_DIRECTORY"] = f"s3://{BUCKET}/{source_key}"
        self.create_model(name, key, environment)
        self.create_config(name, [("AllTraffic", name, 1.0)], instances=2)
        return name

    def predict(self, endpoint: str, **extra: Any) -> tuple[list[dict[str, Any]], str]:
        answer = self.runtime.invoke_endpoint(
            EndpointName=endpoint,
            Body=self.payload,
            ContentType="text/csv",
            Accept="application/json",
            **extra,
        )
        return json.loads(answer["Body"].read())["predictions"], answer["InvokedProductionVariant"]

    def expected(self, model: Any = None) -> list[dict[str, Any]]:
        data = inference.input_fn(self.payload, "text/csv")
        body, _ = inference.output_fn(
            inference.predict_fn(data, model or self.direct), "application/json"
        )
        predictions: list[dict[str, Any]] = json.loads(body)["predictions"]
        return predictions


@pytest.fixture(scope="module")
def staging(localcloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staging]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TIME_SCALE_ENV, "0.01")
        yield Staging(localcloud, tmp_path_factory.mktemp("endpoints"))


@pytest.fixture(scope="module")
def relabelled(staging: Staging) -> tuple[str, Any]:
    """A second model that labels every row 1 (threshold 0): easy to tell from the first."""
    metadata = json.loads(staging.files[inference.METADATA_FILE])
    metadata["decision_threshold"] = 0.0
    files = {**staging.files, inference.METADATA_FILE: json.dumps(metadata).encode()}
    model = inference.ServedModel(staging.direct.estimator, staging.direct.feature_names, 0.0)
    return staging.model("relabelled", _repack(files)), model


@pytest.fixture(scope="module")
def broken(staging: Staging) -> str:
    """A model whose artifact lacks model.joblib: model_fn raises."""
    files = {inference.METADATA_FILE: staging.files[inference.METADATA_FILE]}
    return staging.model("broken", _repack(files))


def _invoking(staging: Staging, endpoint: str) -> tuple[threading.Event, list[Any]]:
    """Invoke in a loop on a thread until the event is set; collect label sets or errors."""
    stop, seen = threading.Event(), []

    def loop() -> None:
        while not stop.is_set():
            try:
                predictions, _ = staging.predict(endpoint)
                seen.append(predictions)
            except ClientError as error:
                seen.append(error)

    threading.Thread(target=loop, daemon=True).start()
    return stop, seen


def _blue_green(
    kind: str, wait: int, size: int = 25, alarms: list[str] | None = None
) -> dict[str, Any]:
    routing: dict[str, Any] = {"Type": kind, "WaitIntervalInSeconds": wait}
    if kind == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": size}
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": 3600,
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def test_endpoint_serves_the_hub_model_as_the_staging_execution_role(staging: Staging) -> None:
    endpoint = staging.endpoint(staging.good)
    predictions, variant = staging.predict(endpoint)
    assert predictions == staging.expected()
    assert variant == "AllTraffic"
    described = staging.describe(endpoint)
    assert described["EndpointConfigName"] == staging.good
    [summary] = described["ProductionVariants"]
    assert summary["CurrentWeight"] == summary["DesiredWeight"] == 1.0
    assert summary["CurrentInstanceCount"] == 2
    assert summary["DeployedImages"][0]["SpecifiedImage"] == IMAGE
    assert "FailureReason" not in described and "PendingDeploymentSummary" not in described
    [listed] = staging.sagemaker.list_endpoints(NameContains=endpoint)["Endpoints"]
    assert listed["EndpointStatus"] == "InService"
    csv = staging.runtime.invoke_endpoint(
        EndpointName=endpoint,
        Body=staging.payload,
        ContentType="text/csv",
        Accept="text/csv",
        TargetVariant="AllTraffic",
    )
    assert csv["ContentType"] == "text/csv"
    assert [float(v) for v in csv["Body"].read().decode().split()] == [
        p["probability"] for p in predictions
    ]
    staging.delete(endpoint)


def test_traffic_follows_variant_weights_and_target_variant(
    staging: Staging, relabelled: tuple[str, Any]
) -> None:
    config, model = relabelled
    name = f"bc-two-{uuid.uuid4().hex[:8]}"
    staging.create_config(name, [("Blue", staging.good, 3.0), ("Green", config, 1.0)])
    endpoint = staging.endpoint(name)
    expected = {"Blue": staging.expected(), "Green": staging.expected(model)}
    counts = {"Blue": 0, "Green": 0}
    for _ in range(200):
        predictions, variant = staging.predict(endpoint)
        assert predictions == expected[variant]
        counts[variant] += 1
    assert 110 <= counts["Blue"] <= 190  # 3:1 weights, far from 50:50 and from all-or-nothing
    for _ in range(10):
        predictions, variant = staging.predict(endpoint, TargetVariant="Green")
        assert variant == "Green" and predictions == expected["Green"]
    with pytest.raises(ClientError) as info:
        staging.predict(endpoint, TargetVariant="Purple")
    assert info.value.response["Error"]["Code"] == "ValidationError"
    weights = {
        v["VariantName"]: v["CurrentWeight"]
        for v in staging.describe(endpoint)["ProductionVariants"]
    }
    assert weights == {"Blue": 3.0, "Green": 1.0}
    staging.delete(endpoint)


def test_the_script_can_come_from_an_s3_source_tarball(staging: Staging) -> None:
    bare = _repack(staging.files, code_dir=None)
    source = _repack({}, code_dir="")
    endpoint = staging.endpoint(staging.model("sourcedir", bare, source=source))
    assert staging.predict(endpoint)[0] == staging.expected()
    staging.delete(endpoint)


def test_script_errors_and_unknown_endpoints_are_worded_as_aws(staging: Staging) -> None:
    endpoint = staging.endpoint(staging.good)
    with pytest.raises(ClientError) as info:
        staging.runtime.invoke_endpoint(
            EndpointName=endpoint, Body=b"1,2,3", ContentType="text/csv"
        )
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 500
    assert "each row must have 30 feature values" in error["OriginalMessage"]
    assert error["LogStreamArn"].endswith(f"/aws/sagemaker/Endpoints/{endpoint}")
    with pytest.raises(ClientError) as info:
        staging.runtime.invoke_endpoint(
            EndpointName="no-such-endpoint", Body=b"1", ContentType="text/csv"
        )
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert (
        info.value.response["Error"]["Message"]
        == f"Endpoint no-such-endpoint of account {STAGING} not found."
    )
    with pytest.raises(ClientError) as info:
        staging.sagemaker.describe_endpoint(EndpointName="no-such-endpoint")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    staging.delete(endpoint)


def test_a_model_that_cannot_load_fails_the_endpoint(staging: Staging, broken: str) -> None:
    name = f"bc-{uuid.uuid4().hex[:8]}"
    staging.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=broken)
    described = staging.wait(name, lambda d: d["EndpointStatus"] != "Creating")
    assert described["EndpointStatus"] == "Failed"
    assert "did not pass the ping health check" in described["FailureReason"]
    assert "has no model.joblib" in described["FailureReason"]
    staging.delete(name)


def test_the_artifact_is_read_under_the_execution_roles_governance(staging: Staging) -> None:
    # Outside models/ the staging execution role may not read the hub bucket.
    elsewhere = staging.model("elsewhere", _repack(staging.files), prefix="evaluations")
    name = f"bc-{uuid.uuid4().hex[:8]}"
    staging.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=elsewhere)
    described = staging.wait(name, lambda d: d["EndpointStatus"] != "Creating")
    assert described["EndpointStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("Failed to download model data for container of production variant")
    assert "assumed-role/hubspoke-sagemaker-execution/SageMaker is not authorized" in reason
    staging.delete(name)


def test_blue_green_to_an_unloadable_model_rolls_back_serving_the_old_one(
    staging: Staging, broken: str
) -> None:
    endpoint = staging.endpoint(staging.good)
    stop, seen = _invoking(staging, endpoint)
    deployment = _blue_green("CANARY", 60)
    staging.sagemaker.update_endpoint(
        EndpointName=endpoint, EndpointConfigName=broken, DeploymentConfig=deployment
    )
    assert staging.describe(endpoint)["EndpointStatus"] == "Updating"
    described = staging.wait(endpoint, lambda d: d["EndpointStatus"] != "Updating")
    time.sleep(0.2)
    stop.set()
    # What AWS shows after a failed update: in service on the OLD config, with the reason.
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == staging.good
    assert "has no model.joblib" in described["FailureReason"]
    assert described["LastDeploymentConfig"] == deployment
    assert "PendingDeploymentSummary" not in described
    assert seen and all(result == staging.expected() for result in seen)
    staging.delete(endpoint)


def test_healthy_canary_shifts_traffic_then_ends_on_the_new_config(
    staging: Staging, relabelled: tuple[str, Any]
) -> None:
    config, model = relabelled
    endpoint = staging.endpoint(staging.good)
    stop, seen = _invoking(staging, endpoint)
    deployment = _blue_green("CANARY", 150, size=50)  # a 1.5 s bake at the test time scale
    staging.sagemaker.update_endpoint(
        EndpointName=endpoint, EndpointConfigName=config, DeploymentConfig=deployment
    )
    baking = staging.wait(
        endpoint,
        lambda d: "Baking" in json.dumps(d.get("PendingDeploymentSummary", ""), default=str),
    )
    assert baking["EndpointConfigName"] == staging.good
    assert baking["PendingDeploymentSummary"]["EndpointConfigName"] == config
    described = staging.wait(endpoint, lambda d: d["EndpointStatus"] != "Updating")
    stop.set()
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == config
    assert "FailureReason" not in described
    assert described["LastDeploymentConfig"] == deployment
    old, new = staging.expected(), staging.expected(model)
    assert all(result in (old, new) for result in seen)
    assert old in seen and new in seen  # both fleets served during the canary
    assert staging.predict(endpoint)[0] == new
    staging.delete(endpoint)


def test_an_update_without_deployment_config_replaces_the_fleet(
    staging: Staging, relabelled: tuple[str, Any]
) -> None:
    config, model = relabelled
    endpoint = staging.endpoint(staging.good)
    before = _pids(staging.cloud, endpoint)
    staging.sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    described = staging.wait(endpoint, lambda d: d["EndpointStatus"] != "Updating")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == config
    assert "LastDeploymentConfig" not in described and "FailureReason" not in described
    assert staging.predict(endpoint)[0] == staging.expected(model)
    assert not _running(before)  # the old fleet is gone once the new one serves
    staging.delete(endpoint)


def _at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` on threads released together; each result or ClientError, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except ClientError as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _slowed(function: Callable[..., Any], seconds: float = 0.3) -> Callable[..., Any]:
    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return function(*args, **kwargs)

    return slow


def test_of_two_concurrent_updates_exactly_one_is_accepted(
    staging: Staging, relabelled: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, model = relabelled
    before = _model_servers()
    endpoint = staging.endpoint(staging.good)
    arn = staging.describe(endpoint)["EndpointArn"]
    # However long validating an update takes, the second caller must find it in progress.
    monkeypatch.setattr(endpoints, "_check_deployment", _slowed(endpoints._check_deployment))
    update = lambda: staging.sagemaker.update_endpoint(  # noqa: E731
        EndpointName=endpoint, EndpointConfigName=config
    )
    results = _at_once([update, update])
    accepted = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, ClientError)]
    assert len(accepted) == 1 and len(refused) == 1, results
    assert accepted[0]["EndpointArn"] == arn
    assert refused[0].response["Error"]["Code"] == "ValidationException"
    assert refused[0].response["Error"]["Message"] == f'Cannot update in-progress endpoint "{arn}".'
    described = staging.wait(endpoint, lambda d: d["EndpointStatus"] != "Updating")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == config
    assert staging.predict(endpoint)[0] == staging.expected(model)
    staging.delete(endpoint)
    # No fleet of a second update was started, so none is left once the endpoint is gone.
    assert not _running(_model_servers() - before)


def test_of_two_concurrent_creates_of_one_name_exactly_one_is_accepted(
    staging: Staging, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _model_servers()
    name = f"bc-{uuid.uuid4().hex[:8]}"
    service = endpoints.EndpointService
    monkeypatch.setattr(service, "_variants", _slowed(service._variants))
    create = lambda: staging.sagemaker.create_endpoint(  # noqa: E731
        EndpointName=name, EndpointConfigName=staging.good
    )
    results = _at_once([create, create])
    accepted = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, ClientError)]
    assert len(accepted) == 1 and len(refused) == 1, results
    arn = accepted[0]["EndpointArn"]
    assert refused[0].response["Error"]["Code"] == "ValidationException"
    assert refused[0].response["Error"]["Message"] == (
        f'Cannot create already existing endpoint "{arn}".'
    )
    described = staging.wait(name, lambda d: d["EndpointStatus"] != "Creating")
    assert described["EndpointStatus"] == "InService"
    assert staging.predict(name)[0] == staging.expected()
    staging.delete(name)
    assert not _running(_model_servers() - before)


def test_a_model_whose_role_does_not_trust_sagemaker_fails_the_endpoint(
    localcloud: LocalCloud,
) -> None:
    """SageMaker assumes the model's execution role to fetch its artifact: a role whose trust
    policy does not allow ``sagemaker.amazonaws.com`` fails the endpoint with SageMaker's
    words, and no artifact is read. (In dev, where the account root may create models.)"""
    dev = ACCOUNTS.account_id("dev")
    root = localcloud.root_session(dev)
    iam, sagemaker = localcloud.client("iam", root), localcloud.client("sagemaker", root)
    label = uuid.uuid4().hex[:8]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": dev}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(
        RoleName=f"people-only-{label}", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    name = f"untrusted-{label}"
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=role,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{ACCOUNTS.dev_bucket}/models/{name}/model.tar.gz",
            "Environment": ENVIRONMENT,
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        KmsKeyId="alias/hubspoke-spoke",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.monotonic() + 30
    while (described := sagemaker.describe_endpoint(EndpointName=name))[
        "EndpointStatus"
    ] == "Creating":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"].endswith(
        f"Could not assume role {role}. Please ensure that the role exists and allows "
        "principal 'sagemaker.amazonaws.com' to assume the role."
    )
    endpoints_of(localcloud).delete(dev, localcloud.region, name)


def test_traffic_steps_follow_the_routing_configuration() -> None:
    assert traffic_steps({"Type": "ALL_AT_ONCE"}, 4) == [1.0]
    canary = {"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}}
    assert traffic_steps(canary, 4) == [0.25, 1.0]
    linear = {"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 30}}
    assert traffic_steps(linear, 2) == pytest.approx([0.3, 0.6, 0.9, 1.0])


def test_an_alarm_during_the_canary_bake_rolls_back(
    staging: Staging, relabelled: tuple[str, Any]
) -> None:
    config, _ = relabelled
    # Over HTTP: the staging deployer (as the orchestrator assumes it) creates the rollback
    # alarm; the account root, standing for an operator, forces it into ALARM.
    cloud = staging.cloud
    deployer = cloud.assume(
        ACCOUNTS.deployer_arn("staging"), "rollback-alarms", via=staging.orchestrator
    )
    operator = cloud.client("cloudwatch", cloud.root_session(STAGING))
    alarm = f"bc-errors-{uuid.uuid4().hex[:6]}"
    cloud.client("cloudwatch", deployer).put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        EvaluationPeriods=1,
        Period=60,
        Threshold=1,
        Statistic="Sum",
        AlarmDescription="5XX errors on the endpoint",
        Dimensions=[],
        AlarmActions=[],
    )
    endpoint = staging.endpoint(staging.good)
    deployment = _blue_green("CANARY", 3000, alarms=[alarm])  # 30 s bake: the alarm cuts it short
    staging.sagemaker.update_endpoint(
        EndpointName=endpoint, EndpointConfigName=config, DeploymentConfig=deployment
    )
    staging.wait(
        endpoint,
        lambda d: "Baking" in json.dumps(d.get("PendingDeploymentSummary", ""), default=str),
    )
    with pytest.raises(ClientError) as info:
        staging.sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "in-progress" in info.value.response["Error"]["Message"]
    started = time.monotonic()
    operator.set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="5XX errors on the canary"
    )
    described = staging.wait(endpoint, lambda d: d["EndpointStatus"] != "Updating", timeout=10)
    assert time.monotonic() - started < 5
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == staging.good
    assert alarm in described["FailureReason"]
    assert described["LastDeploymentConfig"] == deployment
    assert staging.predict(endpoint)[0] == staging.expected()
    staging.delete(endpoint)


def _model_servers() -> set[int]:
    return {
        p.pid
        for p in psutil.Process().children(recursive=True)
        if any("model_server.py" in part for part in p.cmdline())
    }


def test_automation_may_not_delete_a_staging_endpoint(staging: Staging) -> None:
    endpoint = staging.endpoint(staging.good)
    with pytest.raises(ClientError) as info:
        staging.sagemaker.delete_endpoint(EndpointName=endpoint)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert staging.predict(endpoint)[0] == staging.expected()
    staging.delete(endpoint)


def test_no_model_server_outlives_delete_endpoint_or_shutdown(staging: Staging) -> None:
    # Endpoints other tests of the run left serving on the shared localcloud are not ours.
    before = _model_servers()
    live_before = {process.pid for process in live_processes()}
    # A second localcloud on the same moto state, enforcement off (no SCP on DeleteEndpoint).
    with LocalCloud(port=0, enforce=False) as other:
        sagemaker = other.client("sagemaker", other.root_session(STAGING))
        deleted, kept = f"bc-{uuid.uuid4().hex[:8]}", f"bc-{uuid.uuid4().hex[:8]}"
        for name in (deleted, kept):
            sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=staging.good)
        for name in (deleted, kept):
            deadline = time.monotonic() + 60
            while sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating":
                assert time.monotonic() < deadline
                time.sleep(0.05)
        servers = {name: _pids(other, name) for name in (deleted, kept)}
        assert _model_servers() - before == servers[deleted] | servers[kept]
        assert servers[deleted] and servers[kept]
        sagemaker.delete_endpoint(EndpointName=deleted)
        assert not _running(servers[deleted])
        assert _running(servers[kept])
    assert not _running(servers[kept])
    assert not (_model_servers() - before)
    assert not ({process.pid for process in live_processes()} - live_before)


def _pids(cloud: LocalCloud, name: str) -> set[int]:
    """The model servers serving endpoint ``name`` of staging."""
    endpoint = endpoints_of(cloud).find(STAGING, cloud.region, name)
    assert endpoint is not None
    return {variant.process.pid for variant in endpoint.blue.values()}


def _running(pids: set[int]) -> set[int]:
    return {
        pid
        for pid in pids
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    }
