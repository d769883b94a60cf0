"""``DeployToSpokeOperator`` against localcloud's staging spoke, as Airflow runs it: the hub
orchestrator's credentials, the ``aws_staging`` connection (the spoke deployer role), the
endpoint trigger, and ``resume_execution`` with the trigger's event.

Each test deploys a model of its own name (its own endpoint) from hub packages of the
``breast-cancer`` group, whose artifacts are a small scikit-learn model that loads, one that
cannot load (no ``model.joblib``), and one that takes seconds to load."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import joblib
import pytest
from airflow.sdk.exceptions import TaskDeferred
from botocore.exceptions import ClientError

from hubspoke.config import ModelConfig, load_config
from hubspoke.deploy import DeploymentPlan, EndpointUnavailable, apply, plan
from hubspoke.operators.deploy import DeploymentFailed, DeployToSpokeOperator
from hubspoke.training import spoke_key_arn
from hubspoke.triggers.endpoint import EndpointSettledTrigger
from localcloud.runtime.deployments import TIME_SCALE_ENV
from localcloud.sagemaker.endpoints import endpoints_of
from localcloud.server import LocalCloud
from pipelines.breast_cancer import inference

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("airflow_as_orchestrator")]

CONFIG = load_config()
ACCOUNTS = CONFIG.accounts
MODEL = CONFIG.models.get("breast-cancer")
STAGING = ACCOUNTS.account_id("staging")
WHERE = f"account {STAGING} ({ACCOUNTS.region})"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SLOW_LOAD_SECONDS = 4


@pytest.fixture(autouse=True)
def fast_bakes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Bakes last seconds on localcloud instead of minutes (WaitIntervalInSeconds times 0.01).
    monkeypatch.setenv(TIME_SCALE_ENV, "0.01")


# --- hub packages ---------------------------------------------------------------------------


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _artifacts() -> dict[str, bytes]:
    """model.tar.gz contents: ``good`` loads, ``broken`` has no model.joblib, ``slow`` loads
    after a few seconds."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    features = [f"f{i}" for i in range(data.data.shape[1])]
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    estimator.fit(data.data, data.target)
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    metadata = json.dumps({"feature_names": features, "decision_threshold": 0.5}).encode()
    script = Path(inference.__file__).read_bytes()
    slow_script = (
        script
        + (
            "\n\nimport time as _time\n\n_load = model_fn\n\n\n"
            "def model_fn(model_dir):\n"
            f"    _time.sleep({SLOW_LOAD_SECONDS})\n"
            "    return _load(model_dir)\n"
        ).encode()
    )
    model_files = {inference.MODEL_FILE: buffer.getvalue(), inference.METADATA_FILE: metadata}
    return {
        "good": _tarball({**model_files, "code/inference.py": script}),
        "broken": _tarball({inference.METADATA_FILE: metadata, "code/inference.py": script}),
        "slow": _tarball({**model_files, "code/inference.py": slow_script}),
    }


@pytest.fixture(scope="module")
def package(localcloud: LocalCloud, approve: Callable[..., None]) -> Callable[[str], str]:
    """``package(kind)``: a new approved hub version whose artifact is ``kind``."""
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "tests")
    s3 = localcloud.client("s3", orchestrator)
    sagemaker = localcloud.client("sagemaker", orchestrator)
    artifacts = _artifacts()

    def register(kind: str) -> str:
        key = f"models/deploy-tests/{kind}-{uuid.uuid4().hex[:8]}/model.tar.gz"
        s3.put_object(Bucket=ACCOUNTS.artifacts_bucket, Key=key, Body=artifacts[kind])
        arn = str(
            sagemaker.create_model_package(
                ModelPackageGroupName=MODEL.name,
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [
                        {
                            "Image": IMAGE,
                            "ModelDataUrl": f"s3://{ACCOUNTS.artifacts_bucket}/{key}",
                            "Environment": {
                                "SAGEMAKER_PROGRAM": "inference.py",
                                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                            },
                        }
                    ],
                    "SupportedContentTypes": ["text/csv", "application/json"],
                    "SupportedResponseMIMETypes": ["text/csv", "application/json"],
                },
            )["ModelPackageArn"]
        )
        approve(arn, reason=f"deploy test: {kind}")
        return arn

    return register


# --- the staging spoke ----------------------------------------------------------------------


class Spoke:
    """The staging deployer's view (what the operator's connection assumes), and endpoint
    clean-up after each test."""

    def __init__(self, cloud: LocalCloud) -> None:
        orchestrator = cloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "tests")
        deployer = cloud.assume(ACCOUNTS.deployer_arn("staging"), "tests", via=orchestrator)
        self.cloud = cloud
        self.deployer = deployer
        self.sagemaker = cloud.client("sagemaker", deployer)
        self.runtime = cloud.client("sagemaker-runtime", deployer)
        self.key = spoke_key_arn(cloud.client("kms", deployer))
        self.endpoints: list[str] = []

    def plan(self, model: ModelConfig, arn: str, restore: bool = False) -> DeploymentPlan:
        deployment = plan(model, "staging", arn, self.key, restore=restore)
        if deployment.endpoint not in self.endpoints:
            self.endpoints.append(deployment.endpoint)
        return deployment

    def describe(self, endpoint: str) -> dict[str, Any]:
        described: dict[str, Any] = self.sagemaker.describe_endpoint(EndpointName=endpoint)
        return described

    def has_model(self, name: str) -> bool:
        return self._exists(self.sagemaker.describe_model, ModelName=name)

    def has_config(self, name: str) -> bool:
        return self._exists(self.sagemaker.describe_endpoint_config, EndpointConfigName=name)

    @staticmethod
    def _exists(call: Any, **kwargs: Any) -> bool:
        try:
            call(**kwargs)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ValidationException", exc
            return False
        return True

    def predicts(self, endpoint: str) -> list[dict[str, Any]]:
        answer = self.runtime.invoke_endpoint(
            EndpointName=endpoint,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps({"instances": [[1.0] * 30]}),
        )
        predictions: list[dict[str, Any]] = json.loads(answer["Body"].read())["predictions"]
        return predictions

    def delete_endpoint(self, endpoint: str) -> None:
        """What a person with delete rights does (no bootstrapped role may delete endpoints:
        the SCP lets only the deployer, whose policy leaves DeleteEndpoint out)."""
        endpoints_of(self.cloud).delete(STAGING, self.cloud.region, endpoint)


@pytest.fixture
def spoke(localcloud: LocalCloud) -> Iterator[Spoke]:
    spoke = Spoke(localcloud)
    yield spoke
    for endpoint in spoke.endpoints:
        with contextlib.suppress(Exception):  # never created, or deleted by the test
            spoke.delete_endpoint(endpoint)


def _model(staging_deployment: dict[str, Any] | None = None) -> ModelConfig:
    """The shipped model under a name of its own, with ``staging_deployment`` if given."""
    data = MODEL.model_dump()
    data["name"] = f"dt-{uuid.uuid4().hex[:8]}"
    if staging_deployment is not None:
        data["environments"]["staging"]["deployment"] = staging_deployment
    return ModelConfig.model_validate(data)


def _operator(model: ModelConfig, arn: str, restore: bool = False) -> DeployToSpokeOperator:
    return DeployToSpokeOperator(
        task_id="deploy",
        model=model,
        accounts=ACCOUNTS,
        environment="staging",
        package_arn=arn,
        poll_interval=0.05,
        restore=restore,
    )


def _context(try_number: int = 1) -> Any:
    return {"ti": SimpleNamespace(try_number=try_number)}


async def _first_event(trigger: EndpointSettledTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger ended without an event")


def _resume(
    operator: DeployToSpokeOperator,
    deferred: TaskDeferred,
    context: Any,
    trigger: EndpointSettledTrigger | None = None,
) -> dict[str, Any]:
    """What the triggerer and the resumed task do: run the trigger, hand its event back."""
    event = asyncio.run(asyncio.wait_for(_first_event(trigger or deferred.trigger), 120))
    kwargs = {**(deferred.kwargs or {}), "event": event}
    result: dict[str, Any] = operator.resume_execution(deferred.method_name, kwargs, context)
    return result


def _deploy(operator: DeployToSpokeOperator, try_number: int = 1) -> dict[str, Any]:
    context = _context(try_number)
    try:
        result: dict[str, Any] = operator.execute(context)
    except TaskDeferred as deferred:
        return _resume(operator, deferred, context)
    return result


def _failure(operator: DeployToSpokeOperator, try_number: int = 1) -> str:
    with pytest.raises(DeploymentFailed) as info:
        _deploy(operator, try_number)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- a failed endpoint ----------------------------------------------------------------------


def test_a_first_creation_that_fails_stops_clearly_until_someone_deletes_the_endpoint(
    spoke: Spoke, package: Callable[[str], str]
) -> None:
    model = _model()
    broken_arn, good_arn = package("broken"), package("good")
    broken, good = spoke.plan(model, broken_arn), spoke.plan(model, good_arn)
    endpoint = broken.endpoint
    delete_hint = f"runs `aws sagemaker delete-endpoint --endpoint-name {endpoint}`"

    message = _failure(_operator(model, broken_arn))

    assert message.startswith(f"{endpoint} in staging is Failed: "), message
    assert "has no model.joblib" in message  # SageMaker's FailureReason
    assert delete_hint in message and f"delete endpoints in {WHERE}" in message
    assert message.endswith(
        f"then re-runs this deployment. Removed the endpoint config {broken.config_name} "
        f"and the model {broken.model_name}, which nothing uses."
    ), message
    assert spoke.describe(endpoint)["EndpointStatus"] == "Failed"
    assert not spoke.has_config(broken.config_name) and not spoke.has_model(broken.model_name)

    # A re-run of the same version, and a deployment of another one, stop the same way at
    # once (no SageMaker error, nothing created).
    for arn, deployment in ((broken_arn, broken), (good_arn, good)):
        again = _failure(_operator(model, arn))
        assert again.startswith(f"{endpoint} in staging is Failed: "), again
        assert delete_hint in again and "Removed" not in again
        assert not spoke.has_config(deployment.config_name)
        assert not spoke.has_model(deployment.model_name)

    # The deployer may not delete it (hence the message); once someone has, the next
    # deployment creates the endpoint afresh.
    with pytest.raises(ClientError) as refused:
        spoke.sagemaker.delete_endpoint(EndpointName=endpoint)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    spoke.delete_endpoint(endpoint)
    deployed = _deploy(_operator(model, good_arn))
    assert (deployed["action"], deployed["status"]) == ("created", "InService")
    assert deployed["config"] == good.config_name
    assert spoke.describe(endpoint)["EndpointConfigName"] == good.config_name
    assert 0.0 <= spoke.predicts(endpoint)[0]["probability"] <= 1.0


# --- a rolled-back update -------------------------------------------------------------------


def test_a_rolled_back_update_removes_its_config_and_model_and_keeps_what_is_live(
    spoke: Spoke, package: Callable[[str], str]
) -> None:
    model = _model({"type": "canary", "canary_percent": 50, "wait_seconds": 60})
    good_arn, broken_arn = package("good"), package("broken")
    good, broken = spoke.plan(model, good_arn), spoke.plan(model, broken_arn)
    assert _deploy(_operator(model, good_arn))["config"] == good.config_name

    message = _failure(_operator(model, broken_arn))

    assert message.startswith(
        f"{good.endpoint} in staging was rolled back to {good.config_name} instead of serving "
        f"v{broken.version} ({broken.config_name}): "
    ), message
    assert message.endswith(
        "has no model.joblib. "  # SageMaker's FailureReason, then what was removed
        f"Removed the endpoint config {broken.config_name} and the model {broken.model_name}, "
        "which nothing uses."
    ), message
    assert not spoke.has_config(broken.config_name) and not spoke.has_model(broken.model_name)
    live = spoke.describe(good.endpoint)
    assert (live["EndpointStatus"], live["EndpointConfigName"]) == ("InService", good.config_name)
    assert spoke.has_config(good.config_name) and spoke.has_model(good.model_name)
    assert 0.0 <= spoke.predicts(good.endpoint)[0]["probability"] <= 1.0


def test_a_failed_retry_keeps_the_model_the_live_config_uses(
    localcloud: LocalCloud, spoke: Spoke, package: Callable[[str], str]
) -> None:
    """A retry counts the plan's config and model as its own (an earlier try may have made
    them); after a rollback it still removes only what nothing uses. Here the same version is
    redeployed with new settings and a rollback alarm in ALARM rolls it back: the new config
    goes, the model stays, since the live config serves it."""
    alarm = {
        "name": f"dt-{uuid.uuid4().hex[:8]}-errors",
        "metric": "Invocation5XXErrors",
        "threshold": 1,
    }
    first = _model({"type": "canary", "canary_percent": 50, "rollback_alarms": [alarm]})
    changed = ModelConfig.model_validate(
        {
            **first.model_dump(),
            "environments": {
                **first.environments.model_dump(),
                "staging": {
                    **first.environments.staging.model_dump(),
                    "deployment": {
                        **first.environments.staging.deployment.model_dump(),
                        "wait_seconds": 60,
                    },
                },
            },
        }
    )
    arn = package("good")
    live, redeployed = spoke.plan(first, arn), spoke.plan(changed, arn)
    assert live.model_name == redeployed.model_name and live.config_name != redeployed.config_name
    assert _deploy(_operator(first, arn))["config"] == live.config_name

    cloudwatch = localcloud.client("cloudwatch", localcloud.root_session(STAGING))
    cloudwatch.set_alarm_state(AlarmName=alarm["name"], StateValue="ALARM", StateReason="test")
    try:
        message = _failure(_operator(changed, arn), try_number=2)
    finally:
        cloudwatch.set_alarm_state(AlarmName=alarm["name"], StateValue="OK", StateReason="test")

    assert message.startswith(f"{live.endpoint} in staging was rolled back to {live.config_name}")
    assert f"CloudWatch alarm {alarm['name']} went into ALARM" in message
    assert message.endswith(
        f"Removed the endpoint config {redeployed.config_name}, which nothing uses."
    ), message
    assert not spoke.has_config(redeployed.config_name)
    assert spoke.has_config(live.config_name) and spoke.has_model(live.model_name)
    assert spoke.describe(live.endpoint)["EndpointConfigName"] == live.config_name


# --- retries and other deployments under way ------------------------------------------------


def test_a_retry_waits_for_the_creation_an_earlier_try_started(
    spoke: Spoke, package: Callable[[str], str]
) -> None:
    model = _model()
    arn = package("slow")
    deployment = spoke.plan(model, arn)
    # The first try created the endpoint, then its worker died before it could defer.
    assert apply(spoke.sagemaker, model, ACCOUNTS, deployment, spoke.key).action == "created"
    assert spoke.describe(deployment.endpoint)["EndpointStatus"] == "Creating"

    operator, context = _operator(model, arn), _context(try_number=2)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    deployed = _resume(operator, deferred.value, context)

    assert (deployed["action"], deployed["status"]) == ("resumed", "InService")
    assert deployed["config"] == deployment.config_name


def test_a_retry_waits_for_the_update_an_earlier_try_started(
    spoke: Spoke, package: Callable[[str], str]
) -> None:
    model = _model({"type": "all-at-once", "wait_seconds": 300})  # a 3 s bake
    first_arn, second_arn = package("good"), package("good")
    first, second = spoke.plan(model, first_arn), spoke.plan(model, second_arn)
    _deploy(_operator(model, first_arn))
    assert apply(spoke.sagemaker, model, ACCOUNTS, second, spoke.key).action == "updated"
    described = spoke.describe(second.endpoint)
    assert described["EndpointStatus"] == "Updating"
    assert described["EndpointConfigName"] == first.config_name
    assert described["PendingDeploymentSummary"]["EndpointConfigName"] == second.config_name

    operator, context = _operator(model, second_arn), _context(try_number=2)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    deployed = _resume(operator, deferred.value, context)

    assert (deployed["action"], deployed["config"]) == ("resumed", second.config_name)
    assert spoke.describe(second.endpoint)["EndpointConfigName"] == second.config_name


def test_a_deployment_while_another_is_under_way_stops_clearly(
    spoke: Spoke, package: Callable[[str], str]
) -> None:
    """A rollback run (restore) while a promotion's canary bakes, and another promotion, are
    told which endpoint is busy with what, and create nothing."""
    model = _model({"type": "canary", "canary_percent": 50, "wait_seconds": 500})
    live_arn, baking_arn, other_arn = package("good"), package("good"), package("good")
    live, baking = spoke.plan(model, live_arn), spoke.plan(model, baking_arn)
    other = spoke.plan(model, other_arn)
    _deploy(_operator(model, live_arn))
    promotion, context = _operator(model, baking_arn), _context()
    with pytest.raises(TaskDeferred) as deferred:
        promotion.execute(context)
    assert spoke.describe(live.endpoint)["EndpointStatus"] == "Updating"

    for operator, version in (
        (_operator(model, live_arn, restore=True), live.version),
        (_operator(model, other_arn), other.version),
    ):
        message = _failure(operator)
        assert message == (
            f"{live.endpoint} in staging ({WHERE}) is Updating (endpoint config "
            f"{baking.config_name}): another change of the endpoint is under way, and "
            "SageMaker accepts no update until it ends. Wait for it to finish (`aws sagemaker "
            f"describe-endpoint --endpoint-name {live.endpoint}` shows InService), then re-run "
            f"this deployment of v{version}."
        ), message
    assert not spoke.has_config(other.config_name) and not spoke.has_model(other.model_name)

    deployed = _resume(promotion, deferred.value, context)
    assert (deployed["action"], deployed["config"]) == ("updated", baking.config_name)


def test_a_change_started_meanwhile_is_reported_and_leaves_nothing_behind(
    spoke: Spoke, package: Callable[[str], str]
) -> None:
    """Another deployment starts between reading the endpoint and updating it: SageMaker
    refuses the update, and the deployment says so as above and removes what it created."""
    model = _model({"type": "canary", "canary_percent": 50, "wait_seconds": 500})
    live_arn, other_arn, late_arn = package("good"), package("good"), package("good")
    live, other, late = (spoke.plan(model, arn) for arn in (live_arn, other_arn, late_arn))
    _deploy(_operator(model, live_arn))

    racing = spoke.cloud.client("sagemaker", spoke.deployer)
    started: list[str] = []

    def other_deployment_first(**_: Any) -> None:
        if not started:
            started.append(apply(spoke.sagemaker, model, ACCOUNTS, other, spoke.key).action)

    racing.meta.events.register("before-call.sagemaker.UpdateEndpoint", other_deployment_first)
    with pytest.raises(EndpointUnavailable) as info:
        apply(racing, model, ACCOUNTS, late, spoke.key)

    assert started == ["updated"]
    assert str(info.value).startswith(
        f"{live.endpoint} in staging ({WHERE}) is Updating (endpoint config "
        f"{other.config_name}): another change of the endpoint is under way"
    ), info.value
    assert not spoke.has_config(late.config_name) and not spoke.has_model(late.model_name)
    assert spoke.has_config(other.config_name) and spoke.has_model(other.model_name)


# --- the wait's limit -----------------------------------------------------------------------


def test_a_wait_that_outlasts_its_limit_fails_clearly_and_leaves_the_change_running(
    spoke: Spoke, package: Callable[[str], str]
) -> None:
    model = _model()
    arn = package("slow")
    deployment = spoke.plan(model, arn)
    operator, context = _operator(model, arn), _context()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, EndpointSettledTrigger)
    assert trigger.timeout_seconds == operator.settle_timeout(deployment) >= 40 * 60

    # The same wait with a limit far shorter than the model takes to load.
    short = EndpointSettledTrigger(
        deployment.endpoint, "aws_staging", poll_interval=0.05, timeout_seconds=0.3
    )
    with pytest.raises(DeploymentFailed) as info:
        _resume(operator, deferred.value, context, trigger=short)

    assert str(info.value) == (
        f"{deployment.endpoint} in staging is still Creating after 1 min, longer than "
        f"deploying v{deployment.version} ({deployment.config_name}) should take; SageMaker "
        f"carries on with it. Check the endpoint {deployment.endpoint} in {WHERE}, then "
        "re-run this deployment: it waits for the change under way."
    )
    # Nothing was removed from under the change, and a re-run waits for it to end.
    assert spoke.has_config(deployment.config_name) and spoke.has_model(deployment.model_name)
    assert spoke.describe(deployment.endpoint)["EndpointStatus"] == "Creating"
    deployed = _deploy(_operator(model, arn), try_number=2)
    assert (deployed["status"], deployed["config"]) == ("InService", deployment.config_name)
