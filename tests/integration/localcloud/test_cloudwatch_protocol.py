"""CloudWatch over HTTP as the SDKs speak it, enforced like every other service.

CloudWatch accepts three wire protocols. botocore 1.43 sends awsJson1_0 (it ranks JSON above
the service's first-listed Smithy RPC v2 CBOR); SDKs that take the model's order send RPC v2
CBOR; older ones query. Every case runs over each wire with botocore's own serializers and
parsers (for CBOR and query, a client whose CloudWatch model lists only that protocol), signed
as principals of the prod account: the bootstrapped spoke deployer (``cloudwatch:DescribeAlarms``
and ``cloudwatch:PutMetricAlarm`` on its alarms) and SageMaker execution role
(``cloudwatch:PutMetricData`` in the ``aws/sagemaker/*`` namespaces), the account root, and a
role scoped to ``team-*`` alarms that may only notify SNS.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session
import cbor2
import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from hubspoke.config import load_config

if TYPE_CHECKING:
    from localcloud.credentials import Session
    from localcloud.server import LocalCloud

ACCOUNTS = load_config().accounts
REGION = ACCOUNTS.region
PROD = ACCOUNTS.account_id("prod")
DEPLOYER = ACCOUNTS.deployer_arn("prod")
EXECUTION = ACCOUNTS.execution_role_arn("prod")
NAMESPACE = "aws/sagemaker/Endpoints"  # the execution role may put metrics here
CBOR = "smithy-rpc-v2-cbor"
WIRES = ["json", CBOR, "query"]
TARGET_PREFIX = "GraniteServiceVersion20100801"


def _alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{PROD}:alarm:{name}"


def _unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _boto3_speaking(wire: str, models: Path) -> boto3.Session:
    """A boto3 session whose CloudWatch clients speak ``wire``: botocore's default (JSON) as
    shipped, or its own CBOR or query serializer through a model listing only that one."""
    core = botocore.session.get_session()
    if wire != "json":
        model = botocore.loaders.Loader().load_service_model("cloudwatch", "service-2")
        model["metadata"].update(protocol=wire, protocols=[wire])
        folder = models / wire / "cloudwatch" / model["metadata"]["apiVersion"]
        folder.mkdir(parents=True)
        (folder / "service-2.json").write_text(json.dumps(model))
        core.get_component("data_loader").search_paths.insert(0, str(models / wire))
    return boto3.Session(botocore_session=core, region_name=REGION)


@dataclass
class Prod:
    """CloudWatch clients of the prod account's principals, all speaking one wire."""

    wire: str
    cloud: LocalCloud
    sessions: dict[str, Session]
    sdk: boto3.Session

    def client(self, who: str, *, secret: str | None = None) -> Any:
        session = self.sessions[who]
        return self.sdk.client(
            "cloudwatch",
            endpoint_url=self.cloud.url,
            aws_access_key_id=session.access_key_id,
            aws_secret_access_key=secret or session.secret_access_key,
            aws_session_token=session.session_token,
        )


@pytest.fixture(scope="module")
def sessions(localcloud: LocalCloud) -> dict[str, Session]:
    """The deployer as the hub orchestrator really reaches it (sts:AssumeRole), the execution
    role as SageMaker would hold it, the account root and the team role."""
    orchestrator = localcloud.credentials.issue_role_session(ACCOUNTS.orchestrator_arn, "cw")
    deployer = localcloud.assume(DEPLOYER, "cloudwatch", via=orchestrator)
    root = localcloud.root_session(PROD)
    return {
        "deployer": deployer,
        "execution": localcloud.credentials.issue_role_session(EXECUTION, "cloudwatch"),
        "root": root,
        "team": localcloud.credentials.issue_role_session(_team_role(localcloud, root), "team"),
    }


TEAM_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
            "Resource": f"arn:aws:cloudwatch:{REGION}:{PROD}:alarm:team-*",
        },
        {
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricAlarm",
            "Resource": f"arn:aws:cloudwatch:{REGION}:{PROD}:alarm:team-*",
            "Condition": {"ForAllValues:StringLike": {"cloudwatch:AlarmActions": "arn:aws:sns:*"}},
        },
    ],
}


def _team_role(localcloud: LocalCloud, root: Session) -> str:
    """A role of the prod account whose alarms are those named ``team-*`` and may only notify
    SNS topics (created by the account root, as an administrator would)."""
    iam = localcloud.client("iam", root)
    name = _unique("cloudwatch-team")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": PROD}, "Action": "sts:AssumeRole"}],
    }
    arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )
    iam.put_role_policy(RoleName=name, PolicyName="alarms", PolicyDocument=json.dumps(TEAM_POLICY))
    return arn


@pytest.fixture(scope="module", params=WIRES)
def prod(
    request: pytest.FixtureRequest,
    localcloud: LocalCloud,
    sessions: dict[str, Session],
    tmp_path_factory: pytest.TempPathFactory,
) -> Prod:
    wire = str(request.param)
    sdk = _boto3_speaking(wire, tmp_path_factory.mktemp("models"))
    return Prod(wire, localcloud, sessions, sdk)


def _put_alarm(cloudwatch: Any, name: str, **extra: Any) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=3,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        **extra,
    )


def _error(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


# ------------------------------------------------------------------ what works


def _header(request: Any, name: str) -> str:
    value = request.headers.get(name, b"")
    return value.decode() if isinstance(value, bytes) else str(value)


def test_each_client_speaks_the_wire_it_stands_for(prod: Prod) -> None:
    """The cases below prove the wire named in their id, not botocore's default twice."""
    sent: list[tuple[str, str, str]] = []
    root = prod.client("root")
    root.meta.events.register(
        "before-send.cloudwatch.ListMetrics",
        lambda request, **_: sent.append(
            (_header(request, "Content-Type"), _header(request, "smithy-protocol"), request.url)
        ),
    )
    root.list_metrics(Namespace=NAMESPACE)
    content_type, smithy, url = sent[0]
    expected = {
        "json": ("application/x-amz-json-1.0", "", "/"),
        CBOR: (
            "application/cbor",
            "rpc-v2-cbor",
            f"/service/{TARGET_PREFIX}/operation/ListMetrics",
        ),
        "query": ("application/x-www-form-urlencoded; charset=utf-8", "", "/"),
    }[prod.wire]
    assert (content_type, smithy, url.removeprefix(prod.cloud.url)) == expected


def test_the_deployer_puts_an_alarm_and_reads_it_back_exactly(prod: Prod) -> None:
    deployer = prod.client("deployer")
    name = _unique("bc-latency")
    before = datetime.now(UTC) - timedelta(seconds=1)
    wanted = {
        "AlarmDescription": "p99 latency of the prod endpoint — über 0.25 s",
        "Namespace": "AWS/SageMaker",
        "MetricName": "ModelLatency",
        # An endpoint of its own: no traffic, so the read's evaluation finds no data.
        "Dimensions": [
            {"Name": "EndpointName", "Value": f"{name}-endpoint"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        "ExtendedStatistic": "p99",
        "Period": 60,
        "EvaluationPeriods": 5,
        "DatapointsToAlarm": 3,
        "Threshold": 0.25,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "ActionsEnabled": False,
    }
    deployer.put_metric_alarm(AlarmName=name, **wanted)

    [alarm] = deployer.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert {key: alarm.get(key) for key in wanted} == wanted
    assert alarm["AlarmArn"] == _alarm_arn(name)
    assert alarm["StateValue"] == "OK"  # no data, treated as not breaching
    for stamp in ("AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp"):
        assert isinstance(alarm[stamp], datetime)
        assert before <= alarm[stamp] <= datetime.now(UTC) + timedelta(seconds=1)
    # By prefix, DescribeAlarms reads alarm:bc-latency-*, within the deployer's alarm:*.
    listed = deployer.describe_alarms(AlarmNamePrefix="bc-latency-")["MetricAlarms"]
    assert name in {a["AlarmName"] for a in listed}


def test_metrics_go_in_as_the_execution_role_and_come_back_exactly(prod: Prod) -> None:
    metric = _unique("Errors")
    dimensions = [{"Name": "EndpointName", "Value": "breast-cancer-prod"}]
    first = datetime.now(UTC).replace(microsecond=250000) - timedelta(minutes=4)
    stamps = [first + timedelta(minutes=i) for i in range(3)]
    values = [0.1, 1e-7, 123456.789]
    prod.client("execution").put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": dimensions,
                "Timestamp": stamp,
                "Value": value,
                "Unit": "Count",
            }
            for stamp, value in zip(stamps, values, strict=True)
        ],
    )

    root = prod.client("root")
    start = first.replace(microsecond=0) - timedelta(minutes=5)
    window = {"StartTime": start, "EndTime": first + timedelta(minutes=5)}
    statistics = root.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=dimensions,
        Period=60,
        Statistics=["Sum", "SampleCount"],
        **window,
    )
    datapoints = sorted(statistics["Datapoints"], key=lambda d: d["Timestamp"])
    # One datapoint per period, each period starting at the first datapoint, to the
    # millisecond: timestamps and doubles have made the trip both ways unchanged.
    assert [d["Timestamp"] for d in datapoints] == stamps
    assert [d["Sum"] for d in datapoints] == values
    assert all(d["SampleCount"] == 1.0 and d["Unit"] == "Count" for d in datapoints)

    data = root.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": dimensions,
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        **window,
    )
    [result] = data["MetricDataResults"]
    assert (result["Id"], result["StatusCode"]) == ("errors", "Complete")
    assert sorted(result["Values"]) == sorted(values)
    assert all((t - start).total_seconds() % 60 == 0 for t in result["Timestamps"])

    listed = root.list_metrics(Namespace=NAMESPACE, MetricName=metric)["Metrics"]
    assert listed == [{"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions}]


def test_a_large_put_metric_data_is_compressed_and_still_authorized_by_namespace(
    prod: Prod,
) -> None:
    execution = prod.client("execution")
    encodings: list[str] = []

    def seen(request: Any, **_: Any) -> None:
        encoding = request.headers.get("Content-Encoding", b"")
        encodings.append(encoding.decode() if isinstance(encoding, bytes) else encoding)

    execution.meta.events.register("before-send.cloudwatch.PutMetricData", seen)
    metric = _unique("Batch")
    execution.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": metric,
                "Value": float(i),
                "Dimensions": [{"Name": "n", "Value": str(i)}],
            }
            for i in range(400)
        ],
    )
    assert encodings == ["gzip"]  # botocore compresses bodies over 10 KiB
    listed = prod.client("root").list_metrics(Namespace=NAMESPACE, MetricName=metric)
    assert len(listed["Metrics"]) == 400


def test_the_root_sets_an_alarm_state_and_deletes_the_alarm(prod: Prod) -> None:
    name = _unique("bc-errors")
    _put_alarm(prod.client("deployer"), name, Dimensions=[])
    root = prod.client("root")
    root.set_alarm_state(
        AlarmName=name,
        StateValue="ALARM",
        StateReason="5XX errors on the canary",
        StateReasonData=json.dumps({"errors": 3}),
    )
    [alarm] = prod.client("deployer").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "5XX errors on the canary")
    assert json.loads(alarm["StateReasonData"]) == {"errors": 3}

    root.delete_alarms(AlarmNames=[name])
    assert root.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


# ------------------------------------------------------------------ what is refused


@dataclass(frozen=True)
class Refusal:
    id: str
    caller: str
    call: Callable[[Any, str], Any]  # (client, a fresh alarm name)
    action: str
    resource: str  # may name the alarm as {alarm}


REFUSALS = [
    Refusal(
        "execution-role-may-not-put-alarms",
        "execution",
        lambda cw, alarm: _put_alarm(cw, alarm),
        "cloudwatch:PutMetricAlarm",
        _alarm_arn("{alarm}"),
    ),
    Refusal(
        "deployer-may-not-set-alarm-state",
        "deployer",
        lambda cw, alarm: cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="x"),
        "cloudwatch:SetAlarmState",
        _alarm_arn("{alarm}"),
    ),
    Refusal(
        "deployer-may-not-delete-alarms",
        "deployer",
        lambda cw, alarm: cw.delete_alarms(AlarmNames=[alarm]),
        "cloudwatch:DeleteAlarms",
        _alarm_arn("{alarm}"),
    ),
    Refusal(
        "execution-role-may-not-list-alarms",
        "execution",
        lambda cw, alarm: cw.describe_alarms(),
        "cloudwatch:DescribeAlarms",
        _alarm_arn("*"),
    ),
    Refusal(
        "execution-role-may-not-put-metrics-outside-sagemaker-namespaces",
        "execution",
        lambda cw, alarm: cw.put_metric_data(
            Namespace="hubspoke/Custom", MetricData=[{"MetricName": "m", "Value": 1.0}]
        ),
        "cloudwatch:PutMetricData",
        "*",
    ),
    Refusal(
        "deployer-may-not-read-metrics",
        "deployer",
        lambda cw, alarm: cw.list_metrics(Namespace=NAMESPACE),
        "cloudwatch:ListMetrics",
        "*",
    ),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.id for r in REFUSALS])
def test_calls_outside_a_role_policy_are_denied_as_aws_words_it(
    prod: Prod, refusal: Refusal
) -> None:
    alarm = _unique("bc-denied")
    code, message, status = _error(lambda: refusal.call(prod.client(refusal.caller), alarm))
    caller = prod.sessions[refusal.caller].caller_arn
    resource = refusal.resource.format(alarm=alarm)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: {caller} is not authorized to perform: {refusal.action} on resource: "
        f"{resource} because no identity-based policy allows the {refusal.action} action"
    )


def test_alarm_names_and_actions_are_what_a_scoped_policy_judges(prod: Prod) -> None:
    team = prod.client("team")
    topic = f"arn:aws:sns:{REGION}:{PROD}:team-pager"
    mine, other = _unique("team-errors"), _unique("billing-errors")
    _put_alarm(team, mine, AlarmActions=[topic], OKActions=[topic])
    assert [a["AlarmName"] for a in team.describe_alarms(AlarmNamePrefix=mine)["MetricAlarms"]] == [
        mine
    ]

    stop_instance = f"arn:aws:automate:{REGION}:ec2:stop"
    code, message, _ = _error(lambda: _put_alarm(team, mine, AlarmActions=[topic, stop_instance]))
    assert code == "AccessDenied"
    assert f"cloudwatch:PutMetricAlarm on resource: {_alarm_arn(mine)}" in message
    _, message, _ = _error(lambda: _put_alarm(team, other, AlarmActions=[topic]))
    assert f"on resource: {_alarm_arn(other)}" in message
    _, message, _ = _error(lambda: team.describe_alarms())
    assert f"cloudwatch:DescribeAlarms on resource: {_alarm_arn('*')}" in message
    _, message, _ = _error(lambda: team.delete_alarms(AlarmNames=[mine, other]))
    assert f"cloudwatch:DeleteAlarms on resource: {_alarm_arn(other)}" in message

    team.delete_alarms(AlarmNames=[mine])
    assert team.describe_alarms(AlarmNames=[mine])["MetricAlarms"] == []


def test_an_unknown_alarm_is_resource_not_found(prod: Prod) -> None:
    root = prod.client("root")
    code, _, status = _error(
        lambda: root.set_alarm_state(
            AlarmName=_unique("no-such-alarm"), StateValue="ALARM", StateReason="x"
        )
    )
    assert (code, status) == ("ResourceNotFound", 404)


def test_bad_parameters_come_back_with_the_service_codes(prod: Prod) -> None:
    root = prod.client("root")
    now = datetime.now(UTC).replace(microsecond=0)
    code, message, status = _error(
        lambda: root.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="Errors",
            StartTime=now,
            EndTime=now,
            Period=60,
            Statistics=["Sum"],
        )
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "StartTime" in message

    code, message, _ = _error(
        lambda: root.put_metric_data(
            Namespace=NAMESPACE, MetricData=[{"MetricName": "Errors", "Value": math.nan}]
        )
    )
    assert code == "InvalidParameterValue"
    assert "NaN" in message

    code, _, _ = _error(
        lambda: root.set_alarm_state(
            AlarmName="any", StateValue="ALARM", StateReason="x", StateReasonData="{not json"
        )
    )
    assert code == "InvalidFormat"


def test_bad_credentials_are_refused_in_the_wire_of_the_request(prod: Prod) -> None:
    code, _, status = _error(lambda: prod.client("root", secret="wrong").list_metrics())
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    stranger = prod.sdk.client(
        "cloudwatch",
        endpoint_url=prod.cloud.url,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="not-a-secret",
    )
    code, message, status = _error(lambda: stranger.list_metrics())
    assert (code, status) == ("InvalidClientTokenId", 403)
    assert message == "The security token included in the request is invalid."


# ------------------------------------------------------------------ malformed CBOR


def _send_cbor(
    cloud: LocalCloud, session: Session, body: bytes, operation: str = "ListMetrics"
) -> tuple[int, dict[str, str], Any]:
    """A signed RPC v2 CBOR request with any body: (status, headers, decoded answer)."""
    request = AWSRequest(
        method="POST",
        url=f"{cloud.url}/service/{TARGET_PREFIX}/operation/{operation}",
        data=body,
        headers={
            "Content-Type": "application/cbor",
            "Accept": "application/cbor",
            "smithy-protocol": "rpc-v2-cbor",
        },
    )
    credentials = Credentials(
        session.access_key_id, session.secret_access_key, session.session_token
    )
    SigV4Auth(credentials, "monitoring", REGION).add_auth(request)
    prepared = request.prepare()
    answer = urllib3.request(
        "POST", prepared.url, body=prepared.body, headers=dict(prepared.headers)
    )
    headers = {k.lower(): v for k, v in answer.headers.items()}
    return answer.status, headers, cbor2.loads(answer.data) if answer.data else None


@pytest.mark.parametrize(
    ("body", "operation", "status", "code", "words"),
    [
        (b"\xbf\x69Namespace", "ListMetrics", 400, "SerializationException", "CBOR"),
        (
            cbor2.dumps({"Namespace": "x"}) + b"\x00",
            "ListMetrics",
            400,
            "SerializationException",
            "after",
        ),
        (cbor2.dumps(["Namespace"]), "ListMetrics", 400, "SerializationException", "map"),
        (cbor2.dumps({"Namespace": 7}), "ListMetrics", 400, "SerializationException", "Namespace"),
        (cbor2.dumps({}), "PutMetricAlarms", 404, "UnknownOperationException", "PutMetricAlarms"),
    ],
    ids=["truncated", "trailing-bytes", "not-a-map", "wrong-member-type", "unknown-operation"],
)
def test_a_malformed_cbor_request_gets_a_clear_cbor_error(
    localcloud: LocalCloud,
    sessions: dict[str, Session],
    body: bytes,
    operation: str,
    status: int,
    code: str,
    words: str,
) -> None:
    got_status, headers, answer = _send_cbor(localcloud, sessions["root"], body, operation)
    assert got_status == status
    assert headers["content-type"] == "application/cbor"
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert answer["__type"] == code
    assert words in answer["message"]


def test_an_unsigned_cbor_request_is_refused_in_cbor(localcloud: LocalCloud) -> None:
    answer = urllib3.request(
        "POST",
        f"{localcloud.url}/service/{TARGET_PREFIX}/operation/ListMetrics",
        body=cbor2.dumps({}),
        headers={"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
    )
    assert (answer.status, answer.headers["Content-Type"]) == (403, "application/cbor")
    assert cbor2.loads(answer.data)["__type"] == "MissingAuthenticationToken"


def test_a_well_formed_cbor_request_by_hand_is_answered_in_cbor(
    localcloud: LocalCloud, sessions: dict[str, Session]
) -> None:
    metric = _unique("ByHand")
    status, _, _ = _send_cbor(
        localcloud,
        sessions["root"],
        cbor2.dumps(
            {
                "Namespace": NAMESPACE,
                "MetricData": [
                    {
                        "MetricName": metric,
                        "Value": 2.5,
                        "Timestamp": cbor2.CBORTag(1, int(datetime.now(UTC).timestamp())),
                    }
                ],
            }
        ),
        "PutMetricData",
    )
    assert status == 200
    status, headers, answer = _send_cbor(
        localcloud, sessions["root"], cbor2.dumps({"MetricName": metric}), "ListMetrics"
    )
    assert (status, headers["content-type"]) == (200, "application/cbor")
    assert answer["Metrics"] == [{"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": []}]
